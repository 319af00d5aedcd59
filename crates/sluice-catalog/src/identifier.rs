//! Code identifiers for tools: lowerCamelCase, valid in TypeScript, never reserved, unique per server.
//!
//! `get-sum` becomes `getSum`, `list_files` becomes `listFiles`, `2fa.verify` becomes `_2faVerify`,
//! `delete` becomes `delete_`. Two names that map to the same identifier inside one server (say
//! `get-file` and `get_file`) are told apart by a numeric suffix given in the order of the original
//! names, so the result does not depend on the order the server listed them in.

use std::collections::{BTreeMap, BTreeSet};

/// Words that cannot be a function name in a TypeScript module, or that would shadow something
/// agent code relies on. Strict-mode reserved words, TypeScript's own keywords that are reserved
/// in declarations, and names that a module must not export as functions.
const RESERVED: &[&str] = &[
    "arguments",
    "await",
    "break",
    "case",
    "catch",
    "class",
    "const",
    "continue",
    "debugger",
    "default",
    "delete",
    "do",
    "else",
    "enum",
    "eval",
    "export",
    "extends",
    "false",
    "finally",
    "for",
    "function",
    "if",
    "implements",
    "import",
    "in",
    "instanceof",
    "interface",
    "let",
    "new",
    "null",
    "package",
    "private",
    "protected",
    "public",
    "return",
    "static",
    "super",
    "switch",
    "this",
    "throw",
    "true",
    "try",
    "typeof",
    "undefined",
    "var",
    "void",
    "while",
    "with",
    "yield",
    // TypeScript type keywords: legal as values in some positions, confusing everywhere.
    "any",
    "boolean",
    "never",
    "number",
    "object",
    "string",
    "symbol",
    "unknown",
    "bigint",
    "declare",
    "namespace",
    "module",
    "type",
    "abstract",
    "as",
    "async",
    "from",
    "of",
    "get",
    "set",
    "constructor",
    "require",
    // Names the generated module itself uses.
    "callMCPTool",
    "ToolError",
];

/// Turn one MCP tool name into a lowerCamelCase TypeScript identifier.
///
/// Separators (anything that is not an ASCII letter or digit) start a new word; a word's first
/// letter is upper-cased except for the very first word, which is lower-cased at its start. The
/// rest of each word keeps its case, so `getHTTPStatus` stays as it is. Non-ASCII letters are
/// dropped. An empty result becomes `tool`; a leading digit gets a `_` prefix; a reserved word
/// gets a `_` suffix.
pub fn to_identifier(name: &str) -> String {
    let mut identifier = String::with_capacity(name.len());
    let mut start_word = false;
    for character in name.chars() {
        if character.is_ascii_alphanumeric() {
            if identifier.is_empty() {
                identifier.push(character.to_ascii_lowercase());
            } else if start_word {
                identifier.push(character.to_ascii_uppercase());
            } else {
                identifier.push(character);
            }
            start_word = false;
        } else {
            start_word = true;
        }
    }
    if identifier.is_empty() {
        identifier.push_str("tool");
    }
    if identifier.starts_with(|first: char| first.is_ascii_digit()) {
        identifier.insert(0, '_');
    }
    if RESERVED.contains(&identifier.as_str()) {
        identifier.push('_');
    }
    identifier
}

/// Give every name of one server its identifier, resolving collisions deterministically.
///
/// The result is in the order of `names`. When several names map to the same base identifier,
/// a name equal to that identifier keeps it (else the smallest name in byte order does), and the
/// others get `2`, `3`, ... in the byte order of their original names, skipping any suffixed form that another tool already
/// owns as its base.
pub fn assign_identifiers(names: &[&str]) -> Vec<String> {
    let bases: Vec<String> = names.iter().map(|name| to_identifier(name)).collect();
    let mut groups: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (index, base) in bases.iter().enumerate() {
        groups.entry(base.as_str()).or_default().push(index);
    }
    let mut taken: BTreeSet<String> = groups.keys().map(|base| (*base).to_owned()).collect();
    let mut result = bases.clone();
    for (base, mut members) in groups {
        if members.len() < 2 {
            continue;
        }
        // A name that already is the identifier keeps it; the rest follow in byte order.
        members.sort_by_key(|&member| (names[member] != base, names[member]));
        for &member in &members[1..] {
            let mut suffix = 2usize;
            let mut candidate = format!("{base}{suffix}");
            while taken.contains(&candidate) {
                suffix += 1;
                candidate = format!("{base}{suffix}");
            }
            taken.insert(candidate.clone());
            result[member] = candidate;
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camel_cases_separators() {
        assert_eq!(to_identifier("get-sum"), "getSum");
        assert_eq!(to_identifier("list_files"), "listFiles");
        assert_eq!(to_identifier("GetHTTPStatus"), "getHTTPStatus");
        assert_eq!(to_identifier("mcp.server.tool"), "mcpServerTool");
        assert_eq!(to_identifier("__x__"), "x");
    }

    #[test]
    fn avoids_reserved_digits_and_empty() {
        assert_eq!(to_identifier("delete"), "delete_");
        assert_eq!(to_identifier("2fa-verify"), "_2faVerify");
        assert_eq!(to_identifier("---"), "tool");
        assert_eq!(to_identifier("ééé"), "tool");
        assert_eq!(to_identifier("callMCPTool"), "callMCPTool_");
    }

    #[test]
    fn collisions_are_order_independent() {
        let forward = assign_identifiers(&["get_file", "get-file", "getFile2", "getFile"]);
        let backward = assign_identifiers(&["getFile", "getFile2", "get-file", "get_file"]);
        // `getFile` is its own identifier and keeps it; then get-file < get_file in byte order,
        // and `getFile2` is owned by the tool of that name.
        assert_eq!(forward, ["getFile4", "getFile3", "getFile2", "getFile"]);
        assert_eq!(backward, ["getFile", "getFile2", "getFile3", "getFile4"]);
    }
}
