//! Python names of tools: `snake_case`, never a Python keyword, unique per server, stable.
//!
//! A tool's Python name is derived from its TypeScript identifier (itself deterministic and unique
//! per server, see `sluice_catalog`): words split where case changes (`getURLInfo` is
//! `get_url_info`), lowercased and joined with `_`; a keyword gets a trailing `_` (`import_`).
//! Two identifiers of one server that give the same name (`getUrl` and `getURL`) are told apart
//! in the order of their identifiers: the first keeps it, the next gets `_2`, and so on. So the
//! names depend only on the server's tool list, not on the order it arrived in.

use std::collections::{BTreeMap, BTreeSet};

/// Python's keywords (soft keywords such as `match` are fine as names).
const KEYWORDS: [&str; 35] = [
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield",
];

/// The Python module name of a server: `from servers.<module> import ...`. A server's config key
/// with characters a Python name cannot hold has them replaced by `_` (`github-enterprise` is
/// `github_enterprise`); a key starting with a digit gets a leading `_`, a keyword a trailing one.
pub fn module_name(server: &str) -> String {
    let mut name: String = server
        .chars()
        .map(|character| {
            if character.is_ascii_alphanumeric() || character == '_' {
                character
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty() || name.starts_with(|first: char| first.is_ascii_digit()) {
        name.insert(0, '_');
    }
    if KEYWORDS.contains(&name.as_str()) {
        name.push('_');
    }
    name
}

/// The snake_case form of one TypeScript identifier, before making it unique.
pub fn snake_case(identifier: &str) -> String {
    let characters: Vec<char> = identifier.trim_end_matches('_').chars().collect();
    let mut name = String::with_capacity(characters.len() + 4);
    for (index, &character) in characters.iter().enumerate() {
        if character.is_ascii_uppercase() {
            let previous = index.checked_sub(1).map(|before| characters[before]);
            let next = characters.get(index + 1);
            let starts_word = match previous {
                None => false,
                Some(previous) if previous.is_ascii_lowercase() || previous.is_ascii_digit() => {
                    true
                }
                Some(previous) if previous.is_ascii_uppercase() => {
                    next.is_some_and(|next| next.is_ascii_lowercase())
                }
                Some(_) => false,
            };
            if starts_word && !name.ends_with('_') {
                name.push('_');
            }
            name.push(character.to_ascii_lowercase());
        } else if character == '$' {
            name.push('_');
        } else {
            name.push(character);
        }
    }
    if name.is_empty() || name.starts_with(|first: char| first.is_ascii_digit()) {
        name.insert(0, '_');
    }
    if KEYWORDS.contains(&name.as_str()) {
        name.push('_');
    }
    name
}

/// The Python name of each identifier of one server, by identifier.
pub fn python_names<'a>(
    identifiers: impl IntoIterator<Item = &'a str>,
) -> BTreeMap<String, String> {
    let sorted: BTreeSet<&str> = identifiers.into_iter().collect();
    let mut taken = BTreeSet::new();
    let mut names = BTreeMap::new();
    for identifier in sorted {
        let base = snake_case(identifier);
        let mut name = base.clone();
        let mut counter = 2;
        while !taken.insert(name.clone()) {
            name = format!("{base}_{counter}");
            counter += 1;
        }
        names.insert(identifier.to_owned(), name);
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_snake_case_without_keywords() {
        assert_eq!(snake_case("createIssue"), "create_issue");
        assert_eq!(snake_case("getURLInfo"), "get_url_info");
        assert_eq!(snake_case("listV2Items"), "list_v2_items");
        assert_eq!(snake_case("delete_"), "delete");
        assert_eq!(snake_case("import"), "import_");
        assert_eq!(snake_case("pass"), "pass_");
        assert_eq!(snake_case("readFile"), "read_file");
        assert_eq!(snake_case("a$b"), "a_b");
    }

    #[test]
    fn module_names_are_python_names() {
        assert_eq!(module_name("github-enterprise"), "github_enterprise");
        assert_eq!(module_name("1password"), "_1password");
        assert_eq!(module_name("a.b"), "a_b");
        assert_eq!(module_name("import"), "import_");
        assert_eq!(module_name("fs"), "fs");
    }

    #[test]
    fn colliding_names_are_numbered_in_identifier_order() {
        let names = python_names(["getUrl", "getURL", "list"]);
        assert_eq!(names["getURL"], "get_url");
        assert_eq!(names["getUrl"], "get_url_2");
        assert_eq!(names["list"], "list");
        let again = python_names(["list", "getUrl", "getURL"]);
        assert_eq!(names, again);
    }
}
