//! What can go wrong with skills. Every error says what was wrong and what a valid value looks
//! like, because most of them go back to the agent that tried to save a skill.

use std::io;
use std::path::PathBuf;

/// An error of the skills store.
#[derive(Debug, thiserror::Error)]
pub enum SkillError {
    /// The name is not kebab-case, too long, or reserved.
    #[error(
        "invalid skill name `{name}`: {reason}; a skill name is kebab-case: lowercase letters and digits in words joined by single hyphens, starting with a letter, at most 64 characters, for example `save-sheet-as-csv`"
    )]
    InvalidName {
        /// The name as given.
        name: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The description is empty, too long or not one line.
    #[error(
        "invalid skill description: {reason}; give one line of at most 1024 characters saying what the skill does, for example `Save a sheet of the documents server as a CSV file`"
    )]
    InvalidDescription {
        /// What is wrong with it.
        reason: String,
    },

    /// The code is empty or too large.
    #[error("invalid skill code: {reason}")]
    InvalidCode {
        /// What is wrong with it.
        reason: String,
    },

    /// An export name is not a JavaScript identifier.
    #[error(
        "invalid export name `{export}`: exports are JavaScript identifiers (letters, digits, `_` and `$`, not starting with a digit), for example `saveSheetAsCsv`"
    )]
    InvalidExport {
        /// The export name as given.
        export: String,
    },

    /// The store is full.
    #[error(
        "there are already {limit} skills, the most a store holds; remove skills no longer used (`sluice skills remove NAME`) or save this code under the name of one it replaces"
    )]
    TooMany {
        /// The limit ([`crate::MAX_SKILLS`]).
        limit: usize,
    },

    /// No skill has this name.
    #[error("no skill named `{name}`; {}", available_skills(.available))]
    NotFound {
        /// The name asked for.
        name: String,
        /// The names of the skills there are, sorted.
        available: Vec<String>,
    },

    /// The skill has no such version.
    #[error("skill `{name}` has no version {version}; its versions are {}", versions(.available))]
    VersionNotFound {
        /// The skill.
        name: String,
        /// The version asked for.
        version: u32,
        /// The versions there are, current included, ascending.
        available: Vec<u32>,
    },

    /// A skill's files on disk are not as the store writes them.
    #[error(
        "{path}{}: {reason}; fix the file (it starts with `---`, then `name: <name>`, `description: <one line>`, `version: <number>`, then `---`) or save the skill again",
        at_line(.line)
    )]
    InvalidSkillFile {
        /// The file.
        path: PathBuf,
        /// The 1-based line, when the problem is on one.
        line: Option<usize>,
        /// What is wrong.
        reason: String,
    },

    /// A skill's folder has a `SKILL.md` but no code.
    #[error(
        "{path}: the skill's code is missing (index.ts or skill.py); save the skill again, or remove it with `sluice skills remove`"
    )]
    MissingCode {
        /// The skill's folder.
        path: PathBuf,
    },

    /// The skills folder's path is taken by something that is not a folder.
    #[error(
        "{path}: it is not a folder, but Sluice keeps the saved skills there; move or remove it"
    )]
    NotAFolder {
        /// The path.
        path: PathBuf,
    },

    /// A file operation failed.
    #[error("cannot {action} {path}: {source}; check the permissions of the skills folder")]
    Io {
        /// What was being done (`read`, `write`, `rename`, `create the folder`, …).
        action: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
}

impl SkillError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(io::Error) -> SkillError {
        let path = path.into();
        move |source| SkillError::Io {
            action,
            path,
            source,
        }
    }
}

fn available_skills(available: &[String]) -> String {
    if available.is_empty() {
        "no skills are saved yet".to_owned()
    } else {
        format!("the skills are: {}", available.join(", "))
    }
}

fn versions(available: &[u32]) -> String {
    let names: Vec<String> = available.iter().map(u32::to_string).collect();
    names.join(", ")
}

fn at_line(line: &Option<usize>) -> String {
    line.map(|line| format!(", line {line}"))
        .unwrap_or_default()
}
