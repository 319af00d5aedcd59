/*!
Sluice's skills: reusable TypeScript or Python modules an agent saves and later imports, as
`import { fn } from './skills/<name>'` in TypeScript or `from skills.<module> import fn` in Python
(the module is the name with `-` as `_`).

```text
<data dir>/skills/<name>/SKILL.md             front matter (name, description, version) + usage
<data dir>/skills/<name>/index.ts             the code (TypeScript), or
<data dir>/skills/<name>/skill.py             the code (Python): a skill has one of the two
<data dir>/skills/.history/<name>/<version>/  every earlier version, and removed skills
```

[`SkillStore::save`] validates the name (kebab-case, see [`validate_name`]), the description (one
line) and the code (at most 256 KiB), keeps the current version in the history, and writes the new
files atomically (temporary file, fsync, rename). Nothing is ever deleted: removing a skill moves
it into the history. Changes take a file lock, so two Sluice processes on one data folder do not
mix their versions up.

`SKILL.md` is written so that any YAML reader gets the same name and description back, whatever
the description holds; reading it is a YAML parser behind a strict schema (see
[`parse_skill_md`]), with the file and line of any problem.
*/
#![deny(missing_docs)]

mod error;
mod front_matter;
mod language;
mod store;
mod validate;

pub use error::SkillError;
pub use front_matter::{FrontMatter, parse_skill_md, render_skill_md};
pub use language::{
    CODE_FILE, PYTHON_CODE_FILE, SkillCode, SkillLanguage, python_module, skill_of_python_module,
};
pub use store::{
    HISTORY_DIR, HistoryEntry, RemovedSkill, SKILL_FILE, SKILLS_DIR, SavedSkill, Skill,
    SkillListing, SkillProblem, SkillStore, SkillSummary,
};
pub use validate::{
    MAX_CODE_BYTES, MAX_DESCRIPTION_CHARS, MAX_NAME_CHARS, MAX_SKILLS, RESERVED_NAMES,
    validate_code, validate_description, validate_export, validate_name,
};
