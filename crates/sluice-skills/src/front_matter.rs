//! `SKILL.md`: a small YAML front matter (name, description, version) and a usage section.
//!
//! Writing quotes the description whenever a YAML reader could take it for anything but a plain
//! one-line string. Reading splits the front matter off at its `---` lines and reads it with a
//! YAML parser (`saphyr-parser`, events only) against a strict schema: the front matter is one
//! mapping; `name`, `description`, `version` and `savedBy` are scalars in any YAML style, read as
//! written (`true` is the text `true`), without tags, anchors or aliases; a key appears once; the
//! values must pass the same checks as when a skill is saved. Other keys (`license`,
//! `allowed-tools`, …) may hold any YAML and are skipped without being built, so aliases are never
//! expanded. Every problem is reported with its line.
//!
//! Why the event parser and not a serde YAML crate: the schema reads scalars as written (YAML
//! would turn an unquoted `true` or `42` into a boolean or a number), needs each value's line for
//! its error, and skips foreign values without expanding their aliases; all three are what the
//! events give directly.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::path::Path;

use saphyr_parser::{Event, Parser, ScanError, Span};

use crate::error::SkillError;
use crate::language::{SkillLanguage, python_module};
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

/// The `SKILL.md` of a skill: front matter, the description, and how to import the exports in
/// the skill's `language`. `name` and `description` must have passed validation; exports are
/// identifiers.
pub fn render_skill_md(
    front_matter: &FrontMatter,
    exports: &[String],
    language: SkillLanguage,
) -> String {
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
    if language == SkillLanguage::Python {
        let module = python_module(name);
        if exports.is_empty() {
            text.push_str(&format!(
                "A Python module (`skills/{name}/skill.py`) that defines nothing to import.\n"
            ));
            return text;
        }
        text.push_str(&format!(
            "A Python module, imported from Python code (`execute_code` with `language: \"python\"`):\n\n```python\nfrom skills.{module} import {}\n```\n\nExports: {}.\n",
            exports.join(", "),
            exports
                .iter()
                .map(|export| format!("`{export}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        return text;
    }
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
        && !text
            .chars()
            .any(|character| character.is_control() || character == BOM)
        && !YAML_KEYWORDS.contains(&text.to_ascii_lowercase().as_str());
    if plain {
        text.to_owned()
    } else {
        // Serializing a `str` cannot fail; the fallback only keeps this free of `expect`.
        serde_json::to_string(text)
            .unwrap_or_else(|_| "\"\"".to_owned())
            .replace(BOM, "\\ufeff")
    }
}

/// U+FEFF, the byte order mark (or zero-width no-break space), which YAML forbids inside a
/// document except in quotes: the writer escapes it.
const BOM: char = '\u{feff}';

/// Parse the front matter of `text`, the `SKILL.md` at `path` (for error messages), against the
/// schema the module describes. The name must be a valid skill name and the description a valid
/// description.
pub fn parse_skill_md(path: &Path, text: &str) -> Result<FrontMatter, SkillError> {
    let invalid = |line: Option<usize>, reason: String| SkillError::InvalidSkillFile {
        path: path.to_owned(),
        line,
        reason,
    };
    let text = text.strip_prefix(BOM).unwrap_or(text);
    let yaml = front_matter_text(text).map_err(|problem| invalid(problem.line, problem.reason))?;
    // Older versions wrote a zero-width no-break space in a description as it was, which a YAML
    // parser refuses outside quotes; such files still read, without it.
    let yaml = if yaml.contains(BOM) {
        Cow::Owned(yaml.replace(BOM, ""))
    } else {
        Cow::Borrowed(yaml)
    };
    let fields = read_fields(&yaml)
        .map_err(|problem| invalid(problem.line.map(from_yaml_line), problem.reason))?;

    let mut name = None;
    let mut description = None;
    let mut version = None;
    let mut saved_by = None;
    for (key, Field { value, line }) in fields {
        let invalid = |reason: String| invalid(Some(line), reason);
        match key {
            "name" => {
                validate_name(&value).map_err(|error| invalid(error.to_string()))?;
                name = Some(value);
            }
            "description" => {
                let value =
                    validate_description(&value).map_err(|error| invalid(error.to_string()))?;
                description = Some(value.to_owned());
            }
            "version" => {
                let parsed = value
                    .parse::<u32>()
                    .ok()
                    .filter(|version| *version >= 1)
                    .ok_or_else(|| {
                        invalid(format!(
                            "the version `{value}` is not a whole number from 1"
                        ))
                    })?;
                version = Some(parsed);
            }
            _ => {
                if value.chars().count() > MAX_SAVED_BY_CHARS || value.chars().any(char::is_control)
                {
                    return Err(invalid(format!(
                        "`savedBy` is one line of at most {MAX_SAVED_BY_CHARS} characters"
                    )));
                }
                saved_by = Some(value);
            }
        }
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

/// What is wrong, and on which line when it is on one.
struct Problem {
    line: Option<usize>,
    reason: String,
}

impl Problem {
    fn at(line: usize, reason: String) -> Self {
        Self {
            line: Some(line),
            reason,
        }
    }
}

/// The text between the `---` line that opens the file and the next `---` line.
fn front_matter_text(text: &str) -> Result<&str, Problem> {
    let mut lines = text.split_inclusive('\n');
    let opening = lines.next().unwrap_or_default();
    if !is_fence(opening) {
        return Err(Problem::at(
            1,
            "the file does not start with a `---` line opening the front matter".to_owned(),
        ));
    }
    let start = opening.len();
    let mut end = start;
    for line in lines {
        if is_fence(line) {
            return Ok(&text[start..end]);
        }
        end += line.len();
    }
    Err(Problem {
        line: None,
        reason: "the front matter has no closing `---` line".to_owned(),
    })
}

/// Whether `line` (with its line break) is `---` alone.
fn is_fence(line: &str) -> bool {
    let line = line.strip_suffix('\n').unwrap_or(line);
    line.strip_suffix('\r').unwrap_or(line) == "---"
}

/// The line of the file that is line `line` of its front matter (the file's first line is the
/// opening `---`).
fn from_yaml_line(line: usize) -> usize {
    line + 1
}

/// The keys of the front matter that Sluice reads. Any other key may hold any YAML value; it is
/// skipped without being built (and its aliases never expanded).
const KEYS: [&str; 4] = ["name", "description", "version", "savedBy"];

/// The text of one of [`KEYS`] and the line (of the file) its value starts on.
struct Field {
    value: String,
    line: usize,
}

/// The values of [`KEYS`] in the YAML `text`, which must be a mapping (or nothing). Each must be a
/// scalar without a tag, an anchor or an alias: text is read as written (`true` and `42` are the
/// text `true` and `42`), in any YAML style. Lines are those of `text`, from 1.
fn read_fields(text: &str) -> Result<Vec<(&'static str, Field)>, Problem> {
    let mut parser = Parser::new_from_str(text);
    let mut next = move || match parser.next_event() {
        Some(Ok(event)) => Ok(event),
        Some(Err(error)) => Err(yaml_problem(&error)),
        // The parser ends every stream with `StreamEnd` and stops after it.
        None => Err(Problem {
            line: None,
            reason: "the front matter ended early".to_owned(),
        }),
    };
    let mut fields = Vec::new();
    let mut seen = BTreeSet::new();
    let (Event::StreamStart, _) = next()? else {
        return Err(not_a_mapping(1));
    };
    match next()? {
        (Event::StreamEnd, _) => return Ok(fields),
        (Event::DocumentStart(_), _) => {}
        (_, span) => return Err(not_a_mapping(span.start.line())),
    }
    match next()? {
        (Event::MappingStart(..), _) => {}
        (Event::Scalar(text, ..), span) => {
            return Err(Problem::at(
                span.start.line(),
                format!("expected `key: value` lines (a space after the colon), found {text:?}"),
            ));
        }
        (_, span) => return Err(not_a_mapping(span.start.line())),
    }
    loop {
        let (key, key_span) = match next()? {
            (Event::MappingEnd, _) => break,
            (Event::Scalar(key, ..), span) => (key, span),
            (_, span) => {
                return Err(Problem::at(
                    span.start.line(),
                    "a key that is not a word; keys are words like `name`".to_owned(),
                ));
            }
        };
        if !seen.insert(key.to_string()) {
            return Err(Problem::at(
                key_span.start.line(),
                format!("`{key}` appears twice"),
            ));
        }
        let Some(known) = KEYS.into_iter().find(|known| *known == key) else {
            skip_value(&mut next)?;
            continue;
        };
        let (value, span) = next()?;
        let line = from_yaml_line(span.start.line());
        let value = match value {
            Event::Scalar(value, _, 0, None) => {
                // An empty value is reported by the parser as a `~` of no width.
                if span.start.index() == span.end.index() {
                    String::new()
                } else {
                    value.into_owned()
                }
            }
            Event::Scalar(..) | Event::Alias(_) => {
                return Err(Problem::at(
                    span.start.line(),
                    format!(
                        "`{known}` has a YAML tag (`!`), anchor (`&`) or alias (`*`); write the value itself, in double quotes if it starts with one of those signs"
                    ),
                ));
            }
            Event::SequenceStart(..) | Event::MappingStart(..) => {
                return Err(Problem::at(
                    span.start.line(),
                    format!(
                        "`{known}` is a list or a map, not one line of text; put it in double quotes if it starts with `[`, `{{` or `-`"
                    ),
                ));
            }
            _ => return Err(not_a_mapping(span.start.line())),
        };
        fields.push((known, Field { value, line }));
    }
    match next()? {
        (Event::DocumentEnd, _) => {}
        (_, span) => return Err(not_a_mapping(span.start.line())),
    }
    match next()? {
        (Event::StreamEnd, _) => Ok(fields),
        (_, span) => Err(Problem::at(
            span.start.line(),
            "a second YAML document after a `...` line; the front matter is one".to_owned(),
        )),
    }
}

/// Pass over one YAML value whatever it holds, without building it.
fn skip_value<'input>(
    next: &mut impl FnMut() -> Result<(Event<'input>, Span), Problem>,
) -> Result<(), Problem> {
    let mut depth = 0usize;
    loop {
        match next()?.0 {
            Event::SequenceStart(..) | Event::MappingStart(..) => depth += 1,
            Event::SequenceEnd | Event::MappingEnd => depth = depth.saturating_sub(1),
            _ => {}
        }
        if depth == 0 {
            return Ok(());
        }
    }
}

fn not_a_mapping(line: usize) -> Problem {
    Problem::at(
        line,
        "the front matter is not a list of `key: value` lines".to_owned(),
    )
}

/// What the YAML parser found wrong, with a hint at the usual cause.
fn yaml_problem(error: &ScanError) -> Problem {
    let marker = error.marker();
    Problem::at(
        marker.line(),
        format!(
            "this is not valid YAML: {} at column {}; put a value that holds `: ` or ` #`, or starts with a quote or a sign such as `[`, `&` or `|`, in double quotes with JSON-style escapes",
            error.info(),
            marker.col() + 1
        ),
    )
}

#[cfg(test)]
#[path = "front_matter_tests.rs"]
mod tests;
