//! Skills: code an agent saved to reuse (`save_skill`), importable as `./skills/<name>`, found by
//! `search_tools` beside the tools and browsable under `skills/`.
//!
//! The store on disk is `sluice-skills`; this module adds what needs the gateway: the code is
//! checked by a worker before it is saved (the gateway itself never parses agent code), and
//! searches rank skills with the tools.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use sluice_skills::{SkillCode, SkillError, SkillLanguage, SkillStore};
use sluice_worker_protocol::{ErrorKind, ExecutionError, Language, SkillSource};

use crate::present::{SearchError, SearchRequest, SearchResponse};
use crate::{Gateway, Tenant};

/// How long a worker may take to check a skill's code.
const CHECK_TIMEOUT: Duration = Duration::from_secs(10);

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
    /// The language it was saved in.
    pub language: SkillLanguage,
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
        let import = if self.language == SkillLanguage::Python {
            format!(
                "from skills.{} import {} (in Python code)",
                sluice_skills::python_module(&self.name),
                names.join(", ")
            )
        } else if names.is_empty() {
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
        kind: ErrorKind,
        /// What is wrong.
        message: String,
        /// ` (line L, column C)` when known.
        position: String,
    },
    /// The code exports nothing, so nothing could be imported.
    #[error("{}", no_exports(*.0))]
    NoExports(SkillLanguage),
    /// The worker that checks the code failed.
    #[error("could not check the skill's code: {0}")]
    Worker(String),
}

impl Tenant {
    /// This tenant's skills store (the owner's is the data folder's).
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

    /// Every saved skill's name and description, for the search index.
    pub(crate) fn skill_summaries(&self) -> Vec<(String, String)> {
        let Some(store) = self.skill_store() else {
            return Vec::new();
        };
        match store.list() {
            Ok(listing) => listing
                .skills
                .into_iter()
                .map(|skill| (skill.name, skill.description))
                .collect(),
            Err(error) => {
                tracing::warn!("could not list the skills: {error}");
                Vec::new()
            }
        }
    }

    /// The sources of the saved skills `code` names (`./skills/<name>` written out), and of
    /// those they name in turn, for the worker's `./skills/<name>` modules. Only these cross to
    /// the worker: an execution that imports no skill reads none, whatever the store holds. An
    /// error (in words for the agent) when they hold more than [`MAX_EXECUTION_SKILL_BYTES`] or
    /// one cannot be read.
    pub(crate) fn skill_sources_for(
        &self,
        code: &str,
    ) -> Result<BTreeMap<String, SkillSource>, String> {
        let mut sources = BTreeMap::new();
        let mut pending = named_skills(code);
        if pending.is_empty() {
            return Ok(sources);
        }
        let Some(store) = self.skill_store() else {
            return Ok(sources);
        };
        let mut bytes = 0;
        while let Some(name) = pending.pop() {
            if sources.contains_key(&name) {
                continue;
            }
            let source = match store.source(&name) {
                Ok(Some(SkillCode { language, code })) => SkillSource {
                    language: match language {
                        SkillLanguage::TypeScript => Language::Typescript,
                        SkillLanguage::Python => Language::Python,
                    },
                    code,
                },
                Ok(None) => continue,
                Err(error) => return Err(format!("the skill '{name}' cannot be loaded: {error}")),
            };
            bytes += source.code.len();
            if bytes > MAX_EXECUTION_SKILL_BYTES {
                return Err(format!(
                    "the skills this code imports hold more than {MAX_EXECUTION_SKILL_BYTES} bytes of code, the most one execution loads; import fewer skills in one execution"
                ));
            }
            pending.extend(named_skills(&source.code));
            sources.insert(name, source);
        }
        Ok(sources)
    }
}

/// Most bytes of skill code one execution loads (the skills its code names, and theirs).
pub const MAX_EXECUTION_SKILL_BYTES: usize = 4 * 1024 * 1024;

/// The skill names a text writes out after `skills/` (as in `./skills/<name>` or
/// `../../skills/<name>`) or, as Python modules, after `skills.` (`from skills.sum_rows import`
/// names `sum-rows`), each once. A name in a comment or a string counts too: loading a skill the
/// code does not import costs a little; missing one it imports would fail it.
fn named_skills(text: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let typescript = text
        .match_indices("skills/")
        .map(|(start, _)| (start + 7, b'-'));
    let python = text
        .match_indices("skills.")
        .map(|(start, _)| (start + 7, b'_'));
    for (start, separator) in typescript.chain(python) {
        let rest = &text[start..];
        let length = rest
            .bytes()
            .take_while(|byte| {
                byte.is_ascii_lowercase() || byte.is_ascii_digit() || *byte == separator
            })
            .count();
        let name = sluice_skills::skill_of_python_module(&rest[..length]);
        let name = name.trim_end_matches('-');
        if !name.is_empty()
            && sluice_skills::validate_name(name).is_ok()
            && !names.iter().any(|known| known == name)
        {
            names.push(name.to_owned());
        }
    }
    names
}

/// What to do about a skill that exports nothing, in its language.
fn no_exports(language: SkillLanguage) -> &'static str {
    match language {
        SkillLanguage::TypeScript => {
            "the skill's code exports nothing; export the functions to reuse, e.g. `export async function saveSheetAsCsv(...) { ... }`"
        }
        SkillLanguage::Python => {
            "the skill's code defines nothing to import; define the functions to reuse at its top level, e.g. `async def save_sheet_as_csv(...): ...` (names starting with `_` are private)"
        }
    }
}

fn code_error(error: ExecutionError) -> SaveSkillError {
    let position = crate::report::position_suffix(&error);
    SaveSkillError::Code {
        kind: error.kind,
        message: error.message,
        position,
    }
}

/// See [`Gateway::save_skill`].
pub(crate) async fn save_skill(
    gateway: &Gateway,
    tenant: &Tenant,
    name: &str,
    description: &str,
    code: &str,
    language: Language,
    saved_by: Option<&str>,
) -> Result<SavedSkill, SaveSkillError> {
    if !gateway.config().settings.skills.allow_save {
        return Err(SaveSkillError::Unavailable(
            "saving skills is turned off in this gateway (sluice.skills.allowSave)",
        ));
    }
    let store = tenant.skill_store().ok_or(SaveSkillError::Unavailable(
        "Sluice runs without a data folder",
    ))?;
    sluice_skills::validate_name(name)?;
    if gateway.worker_command().is_none() {
        return Err(SaveSkillError::Unavailable("code execution is not enabled"));
    }
    let timeout_ms = CHECK_TIMEOUT.as_millis() as u64;
    let mut worker = gateway
        .start_worker_for(
            &gateway.launch(tenant, false, timeout_ms),
            sluice_telemetry::WorkerPurpose::SkillCheck,
            None,
        )
        .await
        .map_err(SaveSkillError::Worker)?;
    let (checked_as, skill_language) = match language {
        Language::Python => (Language::Python, SkillLanguage::Python),
        // A JavaScript skill is checked as such and kept as TypeScript, its superset.
        Language::Javascript => (Language::Javascript, SkillLanguage::TypeScript),
        Language::Typescript => (Language::Typescript, SkillLanguage::TypeScript),
    };
    let checked = worker
        .check(code.to_owned(), checked_as, CHECK_TIMEOUT)
        .await;
    worker.stop().await;
    let (error, exports) = checked.map_err(SaveSkillError::Worker)?;
    if let Some(error) = error {
        return Err(code_error(error));
    }
    if exports.is_empty() {
        return Err(SaveSkillError::NoExports(skill_language));
    }
    let saved = store.save_by(name, description, code, skill_language, &exports, saved_by)?;
    // The skill is searchable at once: the index's skill segment is rebuilt (only it); a
    // principal's own index is rebuilt at its next search.
    if tenant.is_owner() {
        gateway.refresh().await;
    } else {
        tenant.skills_changed();
    }
    Ok(SavedSkill {
        name: saved.name,
        version: saved.version,
        previous_version: saved.previous_version,
        exports,
        language: skill_language,
    })
}

/// See [`Gateway::search`].
pub(crate) async fn search(
    gateway: &Gateway,
    tenant: &Tenant,
    request: &SearchRequest,
) -> Result<SearchResponse, SearchError> {
    let snapshot = gateway.snapshot().await;
    let encoder = gateway.inner.search.encoder();
    let mut response = if tenant.is_owner() {
        snapshot.search(request, encoder.as_deref())?
    } else {
        // The shared tool segments with the principal's own skills (never the owner's).
        let index = tenant.index(snapshot.version, || {
            gateway.inner.search.with_skills(
                &snapshot.search,
                &snapshot.catalog,
                &tenant.skill_summaries(),
            )
        });
        snapshot.search_in(&index, request, encoder.as_deref())?
    };
    if !response.skills.is_empty() {
        // A skill's name and description are the agent's text: scanned like its output (and
        // not shown when they cannot be).
        // Where each came from, so the agent can weigh it as what it is: another
        // conversation's words.
        if let Some(store) = tenant.skill_store() {
            for skill in &mut response.skills {
                if let Ok(summary) = store.summary(&skill.name) {
                    skill.language = summary.language;
                    skill.path = format!(
                        "{}/{}/{}",
                        sluice_skills::SKILLS_DIR,
                        skill.name,
                        summary.language.code_file()
                    );
                    skill.saved_by = summary.saved_by;
                    skill.saved_at = Some(
                        sluice_audit::Timestamp::from_system_time(summary.updated_at).to_string(),
                    );
                }
            }
        }
        match gateway.privacy().view_scan() {
            Ok(mut scan) => {
                for skill in &mut response.skills {
                    skill.name = scan.text(&skill.name);
                    skill.description = scan.text(&skill.description);
                    skill.path = scan.text(&skill.path);
                    skill.saved_by = skill.saved_by.as_deref().map(|by| scan.text(by));
                }
            }
            Err(_) => response.skills.clear(),
        }
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::named_skills;

    #[test]
    fn the_skills_a_text_names_are_found_once_each() {
        let code = "import { toCsv } from './skills/to-csv';\n\
                    import sum from \"../../skills/sum-orders/index\";\n\
                    // see skills/to-csv again, skills/Bad, skills/-x, skills/\n\
                    const name = 'dyn'; await import(`./skills/${name}`);";
        assert_eq!(named_skills(code), ["to-csv", "sum-orders"]);
        assert!(named_skills("export const a = 1;").is_empty());
        let python = "from skills.sum_rows import total\nfrom skills.to_csv import x\n# skills.Bad skills._x\n";
        assert_eq!(named_skills(python), ["sum-rows", "to-csv"]);
    }
}
