//! The rules for what may be saved: names, descriptions, code and export names.

use crate::error::SkillError;

/// Longest skill name, in characters.
pub const MAX_NAME_CHARS: usize = 64;
/// Longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 1024;
/// Largest `index.ts`, in bytes.
pub const MAX_CODE_BYTES: usize = 256 * 1024;
/// Most skills a store holds: each is listed in every search index and may be imported by any
/// execution, so their number is bounded.
pub const MAX_SKILLS: usize = 1_000;
/// Names that would shadow the folders an agent's code imports from, or the skills index.
pub const RESERVED_NAMES: [&str; 4] = ["index", "servers", "workspace", "skills"];

/// Check that `name` can name a skill: kebab-case (`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`), 1 to 64
/// characters, not one of [`RESERVED_NAMES`]. The error says what a valid name looks like.
pub fn validate_name(name: &str) -> Result<(), SkillError> {
    let invalid = |reason: &str| SkillError::InvalidName {
        name: name.to_owned(),
        reason: reason.to_owned(),
    };
    let Some(first) = name.chars().next() else {
        return Err(invalid("it is empty"));
    };
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(invalid("it is longer than 64 characters"));
    }
    if !first.is_ascii_lowercase() {
        return Err(invalid("it must start with a lowercase letter"));
    }
    if let Some(bad) = name
        .chars()
        .find(|character| !matches!(character, 'a'..='z' | '0'..='9' | '-'))
    {
        let reason = if bad.is_ascii_uppercase() {
            "it has an uppercase letter".to_owned()
        } else {
            format!("it has the character {bad:?}")
        };
        return Err(invalid(&reason));
    }
    if name.contains("--") {
        return Err(invalid("it has two hyphens in a row"));
    }
    if name.ends_with('-') {
        return Err(invalid("it ends with a hyphen"));
    }
    if RESERVED_NAMES.contains(&name) {
        return Err(invalid(&format!(
            "it is reserved (so are {})",
            RESERVED_NAMES.join(", ")
        )));
    }
    Ok(())
}

/// Check a description and return it without surrounding whitespace: not empty, one line (no
/// line breaks or other control characters), at most 1024 characters.
pub fn validate_description(description: &str) -> Result<&str, SkillError> {
    let invalid = |reason: String| SkillError::InvalidDescription { reason };
    let description = description.trim();
    if description.is_empty() {
        return Err(invalid("it is empty".to_owned()));
    }
    // U+2028 and U+2029 end lines in JavaScript and some editors, U+0085 in YAML.
    if let Some(bad) = description.chars().find(|character| {
        character.is_control() || matches!(character, '\u{2028}' | '\u{2029}' | '\u{85}')
    }) {
        let reason = if matches!(bad, '\n' | '\r' | '\u{2028}' | '\u{2029}' | '\u{85}') {
            "it has a line break".to_owned()
        } else {
            format!("it has the control character {bad:?}")
        };
        return Err(invalid(reason));
    }
    let chars = description.chars().count();
    if chars > MAX_DESCRIPTION_CHARS {
        return Err(invalid(format!("it has {chars} characters")));
    }
    Ok(description)
}

/// Check that the code is not blank and at most 256 KiB.
pub fn validate_code(code: &str) -> Result<(), SkillError> {
    if code.trim().is_empty() {
        return Err(SkillError::InvalidCode {
            reason: "it is empty; save the TypeScript module that exports the skill's functions"
                .to_owned(),
        });
    }
    if code.len() > MAX_CODE_BYTES {
        return Err(SkillError::InvalidCode {
            reason: format!(
                "it has {} bytes, more than the 262144 (256 KiB) a skill may have; split it into smaller skills",
                code.len()
            ),
        });
    }
    Ok(())
}

/// Check that an export name is a JavaScript identifier (ASCII: the SKILL.md shows it in code).
pub fn validate_export(export: &str) -> Result<(), SkillError> {
    if sluice_codegen::escape::is_plain_identifier(export) {
        Ok(())
    } else {
        Err(SkillError::InvalidExport {
            export: export.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name_reason(name: &str) -> String {
        match validate_name(name) {
            Err(SkillError::InvalidName { reason, .. }) => reason,
            other => panic!("{name}: {other:?}"),
        }
    }

    #[test]
    fn kebab_case_names_are_valid() {
        for name in [
            "a",
            "save-sheet-as-csv",
            "x1",
            "v2-export-3",
            &"a".repeat(64),
        ] {
            validate_name(name).unwrap();
        }
    }

    #[test]
    fn other_names_say_why_and_show_an_example() {
        for (name, reason) in [
            ("", "it is empty"),
            (&"a".repeat(65), "it is longer than 64 characters"),
            ("1abc", "it must start with a lowercase letter"),
            ("-abc", "it must start with a lowercase letter"),
            ("Save", "it must start with a lowercase letter"),
            ("saveSheet", "it has an uppercase letter"),
            ("save_sheet", "it has the character '_'"),
            ("save sheet", "it has the character ' '"),
            ("../etc", "it must start with a lowercase letter"),
            ("a/b", "it has the character '/'"),
            ("a.b", "it has the character '.'"),
            ("ça", "it must start with a lowercase letter"),
            ("aé", "it has the character 'é'"),
            ("save--sheet", "it has two hyphens in a row"),
            ("save-", "it ends with a hyphen"),
            (
                "index",
                "it is reserved (so are index, servers, workspace, skills)",
            ),
            (
                "servers",
                "it is reserved (so are index, servers, workspace, skills)",
            ),
            (
                "workspace",
                "it is reserved (so are index, servers, workspace, skills)",
            ),
            (
                "skills",
                "it is reserved (so are index, servers, workspace, skills)",
            ),
        ] {
            assert_eq!(name_reason(name), reason, "{name}");
        }
        let message = validate_name("Bad").unwrap_err().to_string();
        assert!(message.contains("`save-sheet-as-csv`"), "{message}");
    }

    #[test]
    fn descriptions_are_one_trimmed_line() {
        assert_eq!(
            validate_description("  Does it. --- ok  ").unwrap(),
            "Does it. --- ok"
        );
        validate_description(&"é".repeat(1024)).unwrap();
        for (description, reason) in [
            ("", "it is empty"),
            ("   ", "it is empty"),
            ("one\ntwo", "it has a line break"),
            ("one\r\ntwo", "it has a line break"),
            ("one\u{2028}two", "it has a line break"),
            ("tab\there", "it has the control character '\\t'"),
            ("nul\0", "it has the control character '\\0'"),
        ] {
            match validate_description(description) {
                Err(SkillError::InvalidDescription { reason: got }) => {
                    assert_eq!(got, reason, "{description:?}");
                }
                other => panic!("{description:?}: {other:?}"),
            }
        }
        let error = validate_description(&"x".repeat(1025)).unwrap_err();
        assert!(
            error.to_string().contains("it has 1025 characters"),
            "{error}"
        );
    }

    #[test]
    fn code_must_be_present_and_small() {
        validate_code("export const a = 1;").unwrap();
        validate_code(&"x".repeat(MAX_CODE_BYTES)).unwrap();
        assert!(
            validate_code(" \n\t")
                .unwrap_err()
                .to_string()
                .contains("empty")
        );
        let error = validate_code(&"x".repeat(MAX_CODE_BYTES + 1)).unwrap_err();
        assert!(error.to_string().contains("262145 bytes"), "{error}");
    }

    #[test]
    fn exports_are_identifiers() {
        for export in ["a", "saveSheetAsCsv", "_private", "$", "x1", "default"] {
            validate_export(export).unwrap();
        }
        for export in ["", "1a", "a-b", "a b", "a`b", "é", "a\n"] {
            assert!(validate_export(export).is_err(), "{export:?}");
        }
    }
}
