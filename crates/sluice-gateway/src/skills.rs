//! Skills: code an agent saved to reuse (`save_skill`), importable as `./skills/<name>`, found by
//! `search_tools` beside the tools and browsable under `skills/`.
//!
//! The store on disk is `sluice-skills`; this module adds what needs the gateway: the code is
//! checked by a worker before it is saved (the gateway itself never parses agent code), and
//! searches rank skills with the tools.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use sluice_catalog::Detail;
use sluice_skills::{SkillError, SkillStore};
use sluice_worker_protocol::{ExecutionError, Language};

use crate::Gateway;
use crate::present::{SearchError, SearchRequest, SearchResponse};
use crate::worker::WorkerProcess;

/// How long a worker may take to check a skill's code.
const CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// A skill as a search hit.
#[derive(Debug, Clone, Serialize)]
pub struct SkillEntry {
    /// The skill's name (kebab-case), also its folder.
    pub name: String,
    /// What it does.
    pub description: String,
    /// Its code in the tree: `skills/<name>/index.ts`.
    pub path: String,
}

/// What `save_skill` did.
#[derive(Debug, Clone, Serialize)]
pub struct SavedSkill {
    /// The skill's name.
    pub name: String,
    /// Its new version (1 for a new skill).
    pub version: u32,
    /// The version it replaced, kept in the skills folder's history.
    pub previous_version: Option<u32>,
    /// What the module exports.
    pub exports: Vec<String>,
}

impl SavedSkill {
    /// The answer the agent reads: how to import it.
    pub fn to_text(&self) -> String {
        let replaced = match self.previous_version {
            Some(previous) => format!(" (replaces version {previous}, which is kept)"),
            None => String::new(),
        };
        let names: Vec<&str> = self
            .exports
            .iter()
            .map(String::as_str)
            .filter(|name| *name != "default")
            .collect();
        let import = if names.is_empty() {
            format!("import skill from './skills/{}';", self.name)
        } else {
            format!(
                "import {{ {} }} from './skills/{}';",
                names.join(", "),
                self.name
            )
        };
        format!(
            "Saved skill \"{}\" version {}{replaced}. Use it from code: {import}\n",
            self.name, self.version
        )
    }
}

/// Why a skill was not saved.
#[derive(Debug, thiserror::Error)]
pub enum SaveSkillError {
    /// No data folder or no worker.
    #[error("skills are not available: {0}")]
    Unavailable(&'static str),
    /// The name, description or code is not acceptable, or the store failed.
    #[error(transparent)]
    Store(#[from] SkillError),
    /// The code does not transpile.
    #[error(
        "the skill's code is not a valid module: {kind}: {message}{position}; fix it and save again"
    )]
    Code {
        /// `SyntaxError`, ...
        kind: String,
        /// What is wrong.
        message: String,
        /// ` (line L, column C)` when known.
        position: String,
    },
    /// The code exports nothing, so nothing could be imported.
    #[error(
        "the skill's code exports nothing; export the functions to reuse, e.g. `export async function saveSheetAsCsv(...) {{ ... }}`"
    )]
    NoExports,
    /// The worker that checks the code failed.
    #[error("could not check the skill's code: {0}")]
    Worker(String),
}

impl Gateway {
    fn skill_store(&self) -> Option<SkillStore> {
        let data_dir = self.data_dir()?;
        match SkillStore::open(data_dir) {
            Ok(store) => Some(store),
            Err(error) => {
                tracing::warn!("skills are unavailable: {error}");
                None
            }
        }
    }

    /// The saved skills' sources by name, for the worker's `./skills/<name>` modules.
    pub(crate) fn skill_sources(&self) -> BTreeMap<String, String> {
        let Some(store) = self.skill_store() else {
            return BTreeMap::new();
        };
        store.sources().unwrap_or_else(|error| {
            tracing::warn!("could not read the skills: {error}");
            BTreeMap::new()
        })
    }

    /// Check `code` in a worker and save it as the skill `name` (the previous version is kept).
    pub async fn save_skill(
        &self,
        name: &str,
        description: &str,
        code: &str,
    ) -> Result<SavedSkill, SaveSkillError> {
        let store = self.skill_store().ok_or(SaveSkillError::Unavailable(
            "Sluice runs without a data folder",
        ))?;
        sluice_skills::validate_name(name)?;
        let command = self
            .worker_command()
            .ok_or(SaveSkillError::Unavailable("code execution is not enabled"))?;
        let timeout_ms = CHECK_TIMEOUT.as_millis() as u64;
        let mut worker = WorkerProcess::spawn(command, &self.launch(false, timeout_ms))
            .await
            .map_err(SaveSkillError::Worker)?;
        let checked = worker
            .check(code.to_owned(), Language::Typescript, CHECK_TIMEOUT)
            .await;
        worker.stop().await;
        let (error, exports) = checked.map_err(SaveSkillError::Worker)?;
        if let Some(error) = error {
            return Err(code_error(error));
        }
        if exports.is_empty() {
            return Err(SaveSkillError::NoExports);
        }
        let saved = store.save(name, description, code, &exports)?;
        Ok(SavedSkill {
            name: saved.name,
            version: saved.version,
            previous_version: saved.previous_version,
            exports,
        })
    }

    /// Search tools and skills: tools ranked by the catalog, skills whose name or description
    /// has a word of the query (all skills for an empty query).
    pub async fn search(&self, request: &SearchRequest) -> Result<SearchResponse, SearchError> {
        let mut response = self
            .snapshot()
            .await
            .search(request, self.inner.search.encoder())?;
        if request.server.is_none()
            && let Some(store) = self.skill_store()
        {
            let skills = store
                .list()
                .map(|listing| listing.skills)
                .unwrap_or_else(|error| {
                    tracing::warn!("could not list the skills: {error}");
                    Vec::new()
                });
            response.skills = rank_skills(
                skills
                    .into_iter()
                    .map(|skill| (skill.name, skill.description)),
                &request.query,
                request.limit,
            );
            if request.detail == Detail::Name {
                for skill in &mut response.skills {
                    skill.description.clear();
                }
            }
        }
        Ok(response)
    }
}

fn code_error(error: ExecutionError) -> SaveSkillError {
    let position = crate::execute::position_suffix(&error);
    SaveSkillError::Code {
        kind: error.kind,
        message: error.message,
        position,
    }
}

/// Skills with the most query words in their name or description first; ties by name.
fn rank_skills(
    skills: impl Iterator<Item = (String, String)>,
    query: &str,
    limit: usize,
) -> Vec<SkillEntry> {
    let words: Vec<String> = query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| word.len() >= 2)
        .map(str::to_lowercase)
        .collect();
    let mut scored: Vec<(usize, SkillEntry)> = skills
        .filter_map(|(name, description)| {
            let haystack = format!("{} {}", name.replace('-', " "), description).to_lowercase();
            let score = words
                .iter()
                .filter(|word| haystack.contains(word.as_str()))
                .count();
            (words.is_empty() || score > 0).then(|| {
                (
                    score,
                    SkillEntry {
                        path: format!(
                            "{}/{name}/{}",
                            sluice_skills::SKILLS_DIR,
                            sluice_skills::CODE_FILE
                        ),
                        name,
                        description,
                    },
                )
            })
        })
        .collect();
    scored.sort_by(|(a, left), (b, right)| b.cmp(a).then_with(|| left.name.cmp(&right.name)));
    scored
        .into_iter()
        .take(limit.max(1))
        .map(|(_, entry)| entry)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skills_rank_by_query_words() {
        let skills = [
            (
                "save-sheet-as-csv",
                "Save a sheet's rows to a CSV file in the workspace",
            ),
            ("post-summary", "Post a summary message to a chat channel"),
        ]
        .map(|(name, description)| (name.to_owned(), description.to_owned()));
        let names = |query: &str| -> Vec<String> {
            rank_skills(skills.clone().into_iter(), query, 10)
                .into_iter()
                .map(|entry| entry.name)
                .collect()
        };
        assert_eq!(names("sheet csv"), ["save-sheet-as-csv"]);
        assert_eq!(names("chat summary"), ["post-summary"]);
        assert_eq!(names(""), ["post-summary", "save-sheet-as-csv"]);
        assert!(names("weather").is_empty());
        assert_eq!(
            rank_skills(skills.into_iter(), "save", 10)[0].path,
            "skills/save-sheet-as-csv/index.ts"
        );
    }
}
