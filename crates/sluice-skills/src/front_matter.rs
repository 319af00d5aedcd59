//! `SKILL.md`: a small YAML front matter (name, description, version) and a usage section.
//!
//! Writing quotes the description whenever a YAML reader could take it for anything but a plain
//! one-line string. Reading accepts only the subset the store writes plus what a person plausibly
//! writes by hand (single quotes, comments, extra keys), and rejects the rest with the line number:
//! a skill whose file is ambiguous is better reported than guessed.

use std::collections::BTreeSet;
use std::path::Path;

use crate::error::SkillError;
use crate::validate::{validate_description, validate_name};

/// The fields of a `SKILL.md` front matter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrontMatter {
    /// The skill's name (its folder's name).
    pub name: String,
    /// One line saying what the skill does.
    pub description: String,
    /// The version, from 1; a hand-written file without one is version 1.
    pub version: u32,
    /// Who saved it (the gateway's name for the client connection), when the store was told;
    /// written as `savedBy`.
    pub saved_by: Option<String>,
}

/// Longest `savedBy`, in characters.
pub const MAX_SAVED_BY_CHARS: usize = 128;

/// The `SKILL.md` of a skill: front matter, the description, and how to import the exports.
/// `name` and `description` must have passed validation; exports are identifiers.
pub fn render_skill_md(front_matter: &FrontMatter, exports: &[String]) -> String {
    let FrontMatter {
        name,
        description,
        version,
        saved_by,
    } = front_matter;
    let saved_by = saved_by
        .as_deref()
        .map(|by| format!("savedBy: {}\n", yaml_scalar(by)))
        .unwrap_or_default();
    let mut text = format!(
        "---\nname: {name}\ndescription: {}\nversion: {version}\n{saved_by}---\n\n# {name}\n\n{description}\n\n## Usage\n\n",
        yaml_scalar(description)
    );
    let path = format!("./skills/{name}");
    let default_export = exports.iter().any(|export| export == "default");
    let named: Vec<&str> = exports
        .iter()
        .map(String::as_str)
        .filter(|export| *export != "default")
        .collect();
    if exports.is_empty() {
        text.push_str(&format!(
            "The module exports nothing; importing it runs it:\n\n```ts\nimport '{path}';\n```\n"
        ));
        return text;
    }
    let mut clause = Vec::new();
    if default_export {
        clause.push(camel_case(name));
    }
    if !named.is_empty() {
        clause.push(format!("{{ {} }}", named.join(", ")));
    }
    text.push_str(&format!(
        "```ts\nimport {} from '{path}';\n```\n\nExports: {}.\n",
        clause.join(", "),
        exports
            .iter()
            .map(|export| format!("`{export}`"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    text
}

/// `save-sheet-as-csv` as `saveSheetAsCsv`, the local name of a default import.
fn camel_case(name: &str) -> String {
    let mut words = name.split('-');
    let mut camel = words.next().unwrap_or_default().to_owned();
    for word in words {
        let mut characters = word.chars();
        if let Some(first) = characters.next() {
            camel.push(first.to_ascii_uppercase());
            camel.push_str(characters.as_str());
        }
    }
    camel
}

/// Words a YAML reader would take as a boolean or null rather than a string.
const YAML_KEYWORDS: [&str; 11] = [
    "true", "false", "yes", "no", "on", "off", "y", "n", "null", "~", "",
];

/// The description as a YAML scalar: plain when no YAML reader could misread it, else a
/// double-quoted string with JSON escapes (which YAML double quotes accept).
fn yaml_scalar(text: &str) -> String {
    let plain = text.starts_with(|first: char| first.is_alphabetic())
        && !text.contains(": ")
        && !text.contains(" #")
        && !text.ends_with(':')
        && !text.ends_with(char::is_whitespace)
        && !text.chars().any(char::is_control)
        && !YAML_KEYWORDS.contains(&text.to_ascii_lowercase().as_str());
    if plain {
        text.to_owned()
    } else {
        // Serializing a `str` cannot fail; the fallback only keeps this free of `expect`.
        serde_json::to_string(text).unwrap_or_else(|_| "\"\"".to_owned())
    }
}

/// Parse the front matter of `text`, the `SKILL.md` at `path` (for error messages). The name must
/// be a valid skill name and the description a valid description.
pub fn parse_skill_md(path: &Path, text: &str) -> Result<FrontMatter, SkillError> {
    let invalid = |line: Option<usize>, reason: String| SkillError::InvalidSkillFile {
        path: path.to_owned(),
        line,
        reason,
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(index, line)| (index + 1, line));
    match lines.next() {
        Some((_, "---")) => {}
        _ => {
            return Err(invalid(
                Some(1),
                "the file does not start with a `---` line opening the front matter".to_owned(),
            ));
        }
    }

    let mut name = None;
    let mut description = None;
    let mut version = None;
    let mut saved_by = None;
    let mut seen = BTreeSet::new();
    // Whether indented lines may follow: only under a key we do not read (a list of allowed
    // tools, say), never under one of ours, which must be one line.
    let mut in_foreign_block = false;
    let mut closed = false;
    for (number, line) in lines.by_ref() {
        if line == "---" {
            closed = true;
            break;
        }
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        if line.starts_with([' ', '\t', '-']) {
            if in_foreign_block {
                continue;
            }
            return Err(invalid(
                Some(number),
                "a continued or indented line; name, description and version are one line each"
                    .to_owned(),
            ));
        }
        let Some((key, value)) = line.split_once(':') else {
            return Err(invalid(
                Some(number),
                format!("expected `key: value`, found {line:?}"),
            ));
        };
        if key.is_empty()
            || !key.chars().all(|character| {
                character.is_ascii_alphanumeric() || matches!(character, '_' | '-')
            })
        {
            return Err(invalid(Some(number), format!("`{key}` is not a key")));
        }
        if !value.is_empty() && !value.starts_with([' ', '\t']) {
            return Err(invalid(
                Some(number),
                format!("expected a space after `{key}:`"),
            ));
        }
        if !seen.insert(key.to_owned()) {
            return Err(invalid(Some(number), format!("`{key}` appears twice")));
        }
        in_foreign_block = false;
        match key {
            "name" => {
                let value = parse_scalar(value).map_err(|reason| invalid(Some(number), reason))?;
                validate_name(&value).map_err(|error| invalid(Some(number), error.to_string()))?;
                name = Some(value);
            }
            "description" => {
                let value = parse_scalar(value).map_err(|reason| invalid(Some(number), reason))?;
                let value = validate_description(&value)
                    .map_err(|error| invalid(Some(number), error.to_string()))?;
                description = Some(value.to_owned());
            }
            "version" => {
                let value = parse_scalar(value).map_err(|reason| invalid(Some(number), reason))?;
                let parsed = value
                    .parse::<u32>()
                    .ok()
                    .filter(|version| *version >= 1)
                    .ok_or_else(|| {
                        invalid(
                            Some(number),
                            format!("the version `{value}` is not a whole number from 1"),
                        )
                    })?;
                version = Some(parsed);
            }
            "savedBy" => {
                let value = parse_scalar(value).map_err(|reason| invalid(Some(number), reason))?;
                if value.chars().count() > MAX_SAVED_BY_CHARS || value.chars().any(char::is_control)
                {
                    return Err(invalid(
                        Some(number),
                        format!("`savedBy` is one line of at most {MAX_SAVED_BY_CHARS} characters"),
                    ));
                }
                saved_by = Some(value);
            }
            _ => in_foreign_block = value.trim().is_empty(),
        }
    }
    if !closed {
        return Err(invalid(
            None,
            "the front matter has no closing `---` line".to_owned(),
        ));
    }
    let name = name.ok_or_else(|| invalid(None, "the front matter has no `name`".to_owned()))?;
    let description = description
        .ok_or_else(|| invalid(None, "the front matter has no `description`".to_owned()))?;
    Ok(FrontMatter {
        name,
        description,
        version: version.unwrap_or(1),
        saved_by,
    })
}

/// One YAML scalar on one line: double-quoted (JSON escapes), single-quoted (`''` for a quote) or
/// plain (up to a ` #` comment). Anything needing more of YAML is refused.
fn parse_scalar(value: &str) -> Result<String, String> {
    let value = value.trim();
    match value.chars().next() {
        Some('"') => {
            let end = closing_double_quote(value)
                .ok_or("the quoted value has no closing `\"`; values are one line each")?;
            ensure_only_comment(&value[end + 1..])?;
            serde_json::from_str::<String>(&value[..=end]).map_err(|error| {
                format!("the quoted value is not valid ({error}); use JSON-style escapes such as \\\" and \\\\")
            })
        }
        Some('\'') => {
            let mut text = String::new();
            let mut rest = value[1..].chars().peekable();
            loop {
                match rest.next() {
                    None => {
                        return Err(
                            "the quoted value has no closing `'`; values are one line each"
                                .to_owned(),
                        );
                    }
                    Some('\'') if rest.peek() == Some(&'\'') => {
                        rest.next();
                        text.push('\'');
                    }
                    Some('\'') => break,
                    Some(character) => text.push(character),
                }
            }
            ensure_only_comment(&rest.collect::<String>())?;
            Ok(text)
        }
        Some('|' | '>') => Err(
            "multi-line (block) values are not supported; write the value on one line".to_owned(),
        ),
        Some(first @ ('[' | '{' | '&' | '*' | '!' | '%' | '@' | '`')) => Err(format!(
            "a value starting with `{first}` means something else in YAML; put it in double quotes"
        )),
        _ => {
            let plain = match value.find(" #") {
                Some(comment) => value[..comment].trim_end(),
                None => value,
            };
            if plain.contains(": ") || plain.ends_with(':') {
                return Err("a value containing `: ` must be put in double quotes".to_owned());
            }
            Ok(plain.to_owned())
        }
    }
}

/// The byte index of the `"` closing the string that opens `value`, skipping escaped ones.
fn closing_double_quote(value: &str) -> Option<usize> {
    let mut escaped = false;
    for (index, character) in value.char_indices().skip(1) {
        match character {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return Some(index),
            _ => {}
        }
    }
    None
}

fn ensure_only_comment(rest: &str) -> Result<(), String> {
    let rest = rest.trim();
    if rest.is_empty() || rest.starts_with('#') {
        Ok(())
    } else {
        Err(format!("unexpected {rest:?} after the quoted value"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn front(name: &str, description: &str, version: u32) -> FrontMatter {
        FrontMatter {
            name: name.to_owned(),
            description: description.to_owned(),
            version,
            saved_by: None,
        }
    }

    fn parse(text: &str) -> Result<FrontMatter, String> {
        parse_skill_md(Path::new("skills/x/SKILL.md"), text).map_err(|error| match error {
            SkillError::InvalidSkillFile { line, reason, .. } => {
                format!("{}: {reason}", line.unwrap_or(0))
            }
            other => panic!("{other}"),
        })
    }

    fn exports(names: &[&str]) -> Vec<String> {
        names.iter().map(|name| (*name).to_owned()).collect()
    }

    #[test]
    fn renders_front_matter_and_usage() {
        let text = render_skill_md(
            &front("save-sheet-as-csv", "Save a sheet as a CSV file", 3),
            &exports(&["saveSheetAsCsv", "toCsv"]),
        );
        assert_eq!(
            text,
            "---\nname: save-sheet-as-csv\ndescription: Save a sheet as a CSV file\nversion: 3\n---\n\n\
             # save-sheet-as-csv\n\nSave a sheet as a CSV file\n\n## Usage\n\n\
             ```ts\nimport { saveSheetAsCsv, toCsv } from './skills/save-sheet-as-csv';\n```\n\n\
             Exports: `saveSheetAsCsv`, `toCsv`.\n"
        );
        assert_eq!(
            parse(&text).unwrap(),
            front("save-sheet-as-csv", "Save a sheet as a CSV file", 3)
        );
    }

    #[test]
    fn renders_default_exports_and_modules_without_exports() {
        let text = render_skill_md(
            &front("sum-orders", "Sum orders", 1),
            &exports(&["default", "helper"]),
        );
        assert!(
            text.contains("import sumOrders, { helper } from './skills/sum-orders';"),
            "{text}"
        );
        let text = render_skill_md(&front("setup", "Set up", 1), &[]);
        assert!(text.contains("import './skills/setup';"), "{text}");
    }

    #[test]
    fn awkward_descriptions_are_quoted_and_read_back_unchanged() {
        for description in [
            "Note: this has a colon",
            "--- looks like a fence ---",
            "\"quoted\" at the start",
            "'single' at the start",
            "# a heading",
            "ends with colon:",
            "has a #hash and a comment # here",
            "true",
            "No",
            "null",
            "~",
            "42",
            "[not a list]",
            "{not: a map}",
            "| not a block",
            "> not a block",
            "- not a list item",
            "back\\slash and \u{1F600} emoji",
            "&anchor *alias !tag %directive @at `tick`",
            "ünïcödé first",
        ] {
            let text = render_skill_md(&front("x", description, 1), &[]);
            let parsed =
                parse(&text).unwrap_or_else(|error| panic!("{description}: {error}\n{text}"));
            assert_eq!(parsed.description, description, "{text}");
            // The front matter stays three lines whatever the description holds.
            let front_matter: Vec<&str> = text.lines().take(5).collect();
            assert_eq!(front_matter[0], "---");
            assert!(front_matter[2].starts_with("description: "));
            assert_eq!(front_matter[4], "---", "{text}");
        }
        assert_eq!(yaml_scalar("Plain words, fine."), "Plain words, fine.");
        assert_eq!(yaml_scalar("a: b"), "\"a: b\"");
    }

    #[test]
    fn reads_hand_written_files() {
        let parsed = parse(
            "\u{feff}---\r\n# a comment\r\nname: 'csv-export'   # trailing comment\r\ndescription: It's   fine, really  # comment\r\nlicense: MIT\r\nallowed-tools:\r\n  - Read\r\n  - Write\r\n---\r\nbody\r\n",
        )
        .unwrap();
        assert_eq!(parsed, front("csv-export", "It's   fine, really", 1));
        let parsed =
            parse("---\nname: \"a\"\ndescription: 'it''s \"x\"'\nversion: 12\n---\n").unwrap();
        assert_eq!(parsed, front("a", "it's \"x\"", 12));
        let parsed =
            parse("---\nname: a\ndescription: \"tab\\u0041 \\\"q\\\"\" # c\n---\n").unwrap();
        assert_eq!(parsed.description, "tabA \"q\"");
    }

    #[test]
    fn rejects_what_it_cannot_read_safely_with_the_line() {
        for (text, error) in [
            (
                "",
                "1: the file does not start with a `---` line opening the front matter",
            ),
            (
                "name: a\n",
                "1: the file does not start with a `---` line opening the front matter",
            ),
            (
                "---\nname: a\ndescription: b\n",
                "0: the front matter has no closing `---` line",
            ),
            (
                "---\ndescription: b\n---\n",
                "0: the front matter has no `name`",
            ),
            (
                "---\nname: a\n---\n",
                "0: the front matter has no `description`",
            ),
            (
                "---\nname: a\nname: b\ndescription: c\n---\n",
                "3: `name` appears twice",
            ),
            (
                "---\nname: a\ndescription: >\n  folded\n---\n",
                "3: multi-line (block) values are not supported; write the value on one line",
            ),
            (
                "---\nname: a\ndescription:\n  indented\n---\n",
                "3: invalid skill description: it is empty; give one line of at most 1024 characters saying what the skill does, for example `Save a sheet of the documents server as a CSV file`",
            ),
            (
                "---\nname: a\ndescription: \"open\n---\n",
                "3: the quoted value has no closing `\"`; values are one line each",
            ),
            (
                "---\nname: a\ndescription: \"a\" b\n---\n",
                "3: unexpected \"b\" after the quoted value",
            ),
            (
                "---\nname: a\ndescription: \"bad \\x41\"\n---\n",
                "3: the quoted value is not valid (invalid escape at line 1 column 7); use JSON-style escapes such as \\\" and \\\\",
            ),
            (
                "---\nname: a\ndescription: \"two\\nlines\"\n---\n",
                "3: invalid skill description: it has a line break; give one line of at most 1024 characters saying what the skill does, for example `Save a sheet of the documents server as a CSV file`",
            ),
            (
                "---\nname: a\ndescription: key: value\n---\n",
                "3: a value containing `: ` must be put in double quotes",
            ),
            (
                "---\nname: a\ndescription: [x]\n---\n",
                "3: a value starting with `[` means something else in YAML; put it in double quotes",
            ),
            (
                "---\nname: a\ndescription: b\nversion: 0\n---\n",
                "4: the version `0` is not a whole number from 1",
            ),
            (
                "---\nname: a\ndescription: b\nversion: -1\n---\n",
                "4: the version `-1` is not a whole number from 1",
            ),
            (
                "---\nname: a\ndescription: b\nversion: 99999999999\n---\n",
                "4: the version `99999999999` is not a whole number from 1",
            ),
            (
                "---\nname: Bad_Name\ndescription: b\n---\n",
                "2: invalid skill name `Bad_Name`: it must start with a lowercase letter; a skill name is kebab-case: lowercase letters and digits in words joined by single hyphens, starting with a letter, at most 64 characters, for example `save-sheet-as-csv`",
            ),
            ("---\nname:a\n---\n", "2: expected a space after `name:`"),
            (
                "---\njust text\n---\n",
                "2: expected `key: value`, found \"just text\"",
            ),
            ("---\nna me: a\n---\n", "2: `na me` is not a key"),
            (
                "---\nname: a\n  more\n---\n",
                "3: a continued or indented line; name, description and version are one line each",
            ),
        ] {
            assert_eq!(parse(text).unwrap_err(), error, "{text:?}");
        }
        let message = parse_skill_md(Path::new("skills/x/SKILL.md"), "---\n")
            .unwrap_err()
            .to_string();
        assert!(
            message.starts_with("skills/x/SKILL.md: the front matter has no closing"),
            "{message}"
        );
    }

    #[test]
    fn camel_case_of_names() {
        assert_eq!(camel_case("save-sheet-as-csv"), "saveSheetAsCsv");
        assert_eq!(camel_case("a"), "a");
        assert_eq!(camel_case("v2-x"), "v2X");
    }

    #[test]
    fn saved_by_round_trips_and_stays_one_line() {
        let mut front_matter = front("to-csv", "Turn rows into CSV", 2);
        front_matter.saved_by = Some("mcp-3: \"quoted\" # not a comment".to_owned());
        let text = render_skill_md(&front_matter, &["toCsv".to_owned()]);
        let parsed = parse_skill_md(Path::new("SKILL.md"), &text).unwrap();
        assert_eq!(parsed, front_matter);
        let forged = text.replace("savedBy: ", "savedBy: x\u{1b}");
        let long = text.replace("savedBy: ", &format!("savedBy: {}", "y".repeat(200)));
        for bad in [forged, long] {
            assert!(
                parse_skill_md(Path::new("SKILL.md"), &bad).is_err(),
                "{bad}"
            );
        }
    }
}
