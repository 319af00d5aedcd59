//! The language a skill is saved in, and the file that holds its code.

use std::fmt;

/// A skill's language: which engine runs it and which code can import it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SkillLanguage {
    /// `index.ts`, imported from TypeScript or JavaScript as `./skills/<name>`.
    #[default]
    TypeScript,
    /// `skill.py`, imported from Python as `from skills.<module> import ...`.
    Python,
}

/// The file of a TypeScript skill's code.
pub const CODE_FILE: &str = "index.ts";
/// The file of a Python skill's code.
pub const PYTHON_CODE_FILE: &str = "skill.py";

impl SkillLanguage {
    /// Both, TypeScript first (the order a folder's code files are looked for in).
    pub const ALL: [SkillLanguage; 2] = [SkillLanguage::TypeScript, SkillLanguage::Python];

    /// The file in the skill's folder that holds its code.
    pub fn code_file(self) -> &'static str {
        match self {
            SkillLanguage::TypeScript => CODE_FILE,
            SkillLanguage::Python => PYTHON_CODE_FILE,
        }
    }

    /// `typescript` or `python`, as agents write it.
    pub fn as_str(self) -> &'static str {
        match self {
            SkillLanguage::TypeScript => "typescript",
            SkillLanguage::Python => "python",
        }
    }
}

impl fmt::Display for SkillLanguage {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// The Python module name of a skill: `save-sheet-as-csv` is `skills.save_sheet_as_csv`.
/// Skill names hold only `a-z`, `0-9` and `-`, so the module name maps back one to one
/// ([`skill_of_python_module`]).
pub fn python_module(name: &str) -> String {
    name.replace('-', "_")
}

/// The skill name a Python module name stands for (`save_sheet_as_csv` is `save-sheet-as-csv`).
pub fn skill_of_python_module(module: &str) -> String {
    module.replace('_', "-")
}

/// One skill's code and its language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkillCode {
    /// The language.
    pub language: SkillLanguage,
    /// The source.
    pub code: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_names_map_both_ways() {
        assert_eq!(python_module("save-sheet-as-csv"), "save_sheet_as_csv");
        assert_eq!(
            skill_of_python_module("save_sheet_as_csv"),
            "save-sheet-as-csv"
        );
        assert_eq!(SkillLanguage::Python.code_file(), "skill.py");
        assert_eq!(SkillLanguage::TypeScript.code_file(), "index.ts");
    }
}
