//! The store: `<data dir>/skills/<name>/{SKILL.md,index.ts|skill.py}`, earlier versions under
//! `<data dir>/skills/.history/<name>/<version>/`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use crate::error::SkillError;
use crate::front_matter::{FrontMatter, MAX_SAVED_BY_CHARS, parse_skill_md, render_skill_md};
use crate::language::{SkillCode, SkillLanguage};
use crate::validate::{
    MAX_CODE_BYTES, MAX_SKILLS, validate_code, validate_description, validate_export, validate_name,
};

/// The folder of the data folder that holds the skills.
pub const SKILLS_DIR: &str = "skills";
/// The folder of the skills folder that holds earlier and removed versions.
pub const HISTORY_DIR: &str = ".history";
/// A skill's description and usage.
pub const SKILL_FILE: &str = "SKILL.md";
/// The file whose lock keeps two processes from changing skills at once.
const LOCK_FILE: &str = ".lock";

/// What [`SkillStore::save`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedSkill {
    /// The skill's name.
    pub name: String,
    /// The version just written.
    pub version: u32,
    /// The version it replaced (now in the history), if there was one.
    pub previous_version: Option<u32>,
}

/// What [`SkillStore::remove`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemovedSkill {
    /// The skill's name.
    pub name: String,
    /// The version moved into the history.
    pub version: u32,
    /// Where it is now.
    pub history_path: PathBuf,
}

/// One skill of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkillSummary {
    /// The name.
    pub name: String,
    /// The one-line description.
    pub description: String,
    /// The current version.
    pub version: u32,
    /// When its `SKILL.md` was last written.
    pub updated_at: SystemTime,
    /// Who saved it, when the store was told (see [`SkillStore::save_by`]).
    pub saved_by: Option<String>,
    /// Its language (which code file its folder holds).
    pub language: SkillLanguage,
}

/// A folder of the skills folder that is not a usable skill.
#[derive(Debug)]
pub struct SkillProblem {
    /// The folder.
    pub path: PathBuf,
    /// What is wrong with it.
    pub error: SkillError,
}

/// The skills there are, and the folders that are not skills.
#[derive(Debug, Default)]
pub struct SkillListing {
    /// Usable skills, sorted by name.
    pub skills: Vec<SkillSummary>,
    /// Folders without a valid `SKILL.md` and `index.ts`, sorted by path.
    pub problems: Vec<SkillProblem>,
}

/// One skill, whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skill {
    /// The name.
    pub name: String,
    /// The one-line description.
    pub description: String,
    /// The module (`index.ts` or `skill.py`).
    pub code: String,
    /// Its language.
    pub language: SkillLanguage,
    /// The whole `SKILL.md`.
    pub skill_md: String,
    /// The version.
    pub version: u32,
}

/// One version of a skill in its history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    /// The version.
    pub version: u32,
    /// Its description, `None` if its `SKILL.md` is missing or unreadable.
    pub description: Option<String>,
    /// When its `SKILL.md` was written, if known.
    pub updated_at: Option<SystemTime>,
    /// Whether this is the current version (the others are in `.history`).
    pub current: bool,
    /// Its folder.
    pub path: PathBuf,
}

/// The skills of one data folder.
#[derive(Debug, Clone)]
pub struct SkillStore {
    root: PathBuf,
}

impl SkillStore {
    /// The store of `data_dir` (`<data_dir>/skills`). Nothing is created until a skill is saved.
    pub fn open(data_dir: &Path) -> Result<SkillStore, SkillError> {
        let root = data_dir.join(SKILLS_DIR);
        match fs::metadata(&root) {
            Ok(metadata) if !metadata.is_dir() => Err(SkillError::NotAFolder { path: root }),
            Ok(_) => Ok(SkillStore { root }),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(SkillStore { root }),
            Err(source) => Err(SkillError::Io {
                action: "open",
                path: root,
                source,
            }),
        }
    }

    /// The skills folder (`<data_dir>/skills`).
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn skill_dir(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    fn history_dir(&self, name: &str) -> PathBuf {
        self.root.join(HISTORY_DIR).join(name)
    }

    /// Save a skill: a new one as version 1, an existing one as the next version, keeping the
    /// current files in the history first. `code` must already be known to transpile;
    /// `exports` are the names the module exports (listed in `SKILL.md`'s usage section).
    ///
    /// The current files are kept by linking them into `.history/<name>/<version>/` and the new
    /// ones replace them by an atomic rename, so a reader sees the old skill or the new one,
    /// never none.
    pub fn save(
        &self,
        name: &str,
        description: &str,
        code: &str,
        exports: &[String],
    ) -> Result<SavedSkill, SkillError> {
        self.save_by(
            name,
            description,
            code,
            SkillLanguage::TypeScript,
            exports,
            None,
        )
    }

    /// [`SkillStore::save`] of code in `language`, recording who saved the skill (`savedBy` in
    /// `SKILL.md`, at most [`MAX_SAVED_BY_CHARS`] characters of one line: longer or multi-line
    /// text is cut). A skill saved in another language than its previous version's replaces that
    /// version's code file (the history keeps it).
    pub fn save_by(
        &self,
        name: &str,
        description: &str,
        code: &str,
        language: SkillLanguage,
        exports: &[String],
        saved_by: Option<&str>,
    ) -> Result<SavedSkill, SkillError> {
        validate_name(name)?;
        let description = validate_description(description)?;
        validate_code(code)?;
        let mut unique_exports = Vec::new();
        for export in exports {
            validate_export(export)?;
            if !unique_exports.contains(export) {
                unique_exports.push(export.clone());
            }
        }

        create_private_dir(&self.root)?;
        let _lock = self.lock()?;
        let dir = self.skill_dir(name);
        let history = self.history_dir(name);
        let archived = archived_versions(&history)?;
        let newest_archived = archived.last().copied().unwrap_or(0);

        let current_files: Vec<PathBuf> = std::iter::once(SKILL_FILE)
            .chain(SkillLanguage::ALL.map(SkillLanguage::code_file))
            .map(|file| dir.join(file))
            .filter(|path| path.is_file())
            .collect();
        if current_files.is_empty() && self.count()? >= MAX_SKILLS {
            return Err(SkillError::TooMany { limit: MAX_SKILLS });
        }
        let previous_version = if current_files.is_empty() {
            None
        } else {
            let current = self.current_version(name);
            let version = match current {
                Some(version) if !archived.contains(&version) => version,
                // An unreadable or clashing version number: keep it after the newest one.
                _ => newest_archived + 1,
            };
            let target = history.join(version.to_string());
            create_private_dir(&target)?;
            for path in &current_files {
                if let Some(file) = path.file_name() {
                    keep_copy(path, &target.join(file))?;
                }
            }
            sync_dir(&target)?;
            Some(version)
        };
        let version = previous_version.unwrap_or(0).max(newest_archived) + 1;

        create_private_dir(&dir)?;
        let front_matter = FrontMatter {
            name: name.to_owned(),
            description: description.to_owned(),
            version,
            saved_by: saved_by.map(|by| {
                by.chars()
                    .filter(|character| !character.is_control())
                    .take(MAX_SAVED_BY_CHARS)
                    .collect()
            }),
        };
        write_atomically(&dir.join(language.code_file()), code.as_bytes())?;
        write_atomically(
            &dir.join(SKILL_FILE),
            render_skill_md(&front_matter, &unique_exports, language).as_bytes(),
        )?;
        for other in SkillLanguage::ALL
            .into_iter()
            .filter(|other| *other != language)
        {
            let stale = dir.join(other.code_file());
            match fs::remove_file(&stale) {
                Ok(()) => {}
                Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(SkillError::Io {
                        action: "remove the previous version's code",
                        path: stale,
                        source,
                    });
                }
            }
        }
        sync_dir(&dir)?;
        Ok(SavedSkill {
            name: name.to_owned(),
            version,
            previous_version,
        })
    }

    /// Every skill, sorted by name; folders that are not valid skills are reported beside them.
    pub fn list(&self) -> Result<SkillListing, SkillError> {
        let mut listing = SkillListing::default();
        let entries = match fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(listing),
            Err(source) => {
                return Err(SkillError::Io {
                    action: "list",
                    path: self.root.clone(),
                    source,
                });
            }
        };
        let mut folders = BTreeMap::new();
        for entry in entries {
            let entry = entry.map_err(SkillError::io("list", &self.root))?;
            let file_name = entry.file_name();
            // Hidden entries are the store's own (history, lock, temporary files).
            if file_name.to_string_lossy().starts_with('.') {
                continue;
            }
            let path = entry.path();
            // `symlink_metadata`: a link to a folder elsewhere is not one of our skills.
            let is_dir = fs::symlink_metadata(&path).is_ok_and(|metadata| metadata.is_dir());
            if !is_dir {
                continue;
            }
            folders.insert(file_name.to_string_lossy().into_owned(), path);
        }
        for (name, path) in folders {
            match self.summary(&name) {
                Ok(summary) => listing.skills.push(summary),
                Err(error) => listing.problems.push(SkillProblem { path, error }),
            }
        }
        Ok(listing)
    }

    /// One skill's summary, as [`SkillStore::list`] gives it.
    pub fn summary(&self, name: &str) -> Result<SkillSummary, SkillError> {
        validate_name(name)?;
        let dir = self.skill_dir(name);
        let (front_matter, _) = read_front_matter(&dir, name)?;
        let (language, _) = code_path(&dir)?;
        let updated_at = modified(&dir.join(SKILL_FILE)).unwrap_or(SystemTime::UNIX_EPOCH);
        Ok(SkillSummary {
            name: front_matter.name,
            description: front_matter.description,
            version: front_matter.version,
            updated_at,
            saved_by: front_matter.saved_by,
            language,
        })
    }

    /// The names of the usable skills, sorted.
    fn names(&self) -> Vec<String> {
        self.list()
            .map(|listing| listing.skills.into_iter().map(|skill| skill.name).collect())
            .unwrap_or_default()
    }

    fn not_found(&self, name: &str) -> SkillError {
        SkillError::NotFound {
            name: name.to_owned(),
            available: self.names(),
        }
    }

    /// The current version of a skill. An unknown name is an error naming the skills there are.
    pub fn get(&self, name: &str) -> Result<Skill, SkillError> {
        if validate_name(name).is_err() {
            return Err(self.not_found(name));
        }
        let dir = self.skill_dir(name);
        let has_code = SkillLanguage::ALL
            .iter()
            .any(|language| dir.join(language.code_file()).exists());
        if !dir.join(SKILL_FILE).exists() && !has_code {
            return Err(self.not_found(name));
        }
        read_skill(&dir, name)
    }

    /// One version of a skill, current or from its history.
    pub fn get_version(&self, name: &str, version: u32) -> Result<Skill, SkillError> {
        let versions = self.history(name)?;
        let Some(entry) = versions.iter().find(|entry| entry.version == version) else {
            return Err(SkillError::VersionNotFound {
                name: name.to_owned(),
                version,
                available: versions.iter().map(|entry| entry.version).collect(),
            });
        };
        let mut skill = read_skill(&entry.path, name)?;
        // A file whose front matter predates version numbers says 1; its folder knows better.
        skill.version = version;
        Ok(skill)
    }

    /// Remove a skill by moving its folder into the history, so it can still be read there.
    pub fn remove(&self, name: &str) -> Result<RemovedSkill, SkillError> {
        if validate_name(name).is_err() {
            return Err(self.not_found(name));
        }
        let dir = self.skill_dir(name);
        if !fs::symlink_metadata(&dir).is_ok_and(|metadata| metadata.is_dir()) {
            return Err(self.not_found(name));
        }
        create_private_dir(&self.root)?;
        let _lock = self.lock()?;
        let history = self.history_dir(name);
        let archived = archived_versions(&history)?;
        let version = match self.current_version(name) {
            Some(version) if !archived.contains(&version) => version,
            _ => archived.last().copied().unwrap_or(0) + 1,
        };
        create_private_dir(&history)?;
        let target = history.join(version.to_string());
        fs::rename(&dir, &target).map_err(SkillError::io("move into the history", &dir))?;
        sync_dir(&history)?;
        sync_dir(&self.root)?;
        Ok(RemovedSkill {
            name: name.to_owned(),
            version,
            history_path: target,
        })
    }

    /// Every version of a skill, oldest first: those in `.history`, then the current one (if the
    /// skill was not removed). An error names the skills there are if it has no versions at all.
    pub fn history(&self, name: &str) -> Result<Vec<HistoryEntry>, SkillError> {
        if validate_name(name).is_err() {
            return Err(self.not_found(name));
        }
        let history = self.history_dir(name);
        let mut entries: Vec<HistoryEntry> = archived_versions(&history)?
            .into_iter()
            .map(|version| {
                let path = history.join(version.to_string());
                history_entry(&path, name, version, false)
            })
            .collect();
        let dir = self.skill_dir(name);
        if dir.join(SKILL_FILE).is_file() {
            let newest = entries.last().map_or(0, |entry| entry.version);
            let version = self
                .current_version(name)
                .filter(|version| *version > newest)
                .unwrap_or(newest + 1);
            entries.push(history_entry(&dir, name, version, true));
        }
        if entries.is_empty() {
            return Err(self.not_found(name));
        }
        Ok(entries)
    }

    /// The code of every usable skill by name, with its language.
    pub fn sources(&self) -> Result<BTreeMap<String, SkillCode>, SkillError> {
        let mut sources = BTreeMap::new();
        for skill in self.list()?.skills {
            // A skill removed between the listing and now is simply not there.
            if let Ok(Some(code)) = self.source(&skill.name) {
                sources.insert(skill.name, code);
            }
        }
        Ok(sources)
    }

    /// The code of the skill `name` and its language, if there is one (`None` for a name no
    /// skill has, valid or not): what one execution's import of it loads. A file larger than
    /// [`MAX_CODE_BYTES`] (put there by hand) is an error, not read.
    pub fn source(&self, name: &str) -> Result<Option<SkillCode>, SkillError> {
        if validate_name(name).is_err() {
            return Ok(None);
        }
        let dir = self.skill_dir(name);
        for language in SkillLanguage::ALL {
            let path = dir.join(language.code_file());
            let size = match fs::metadata(&path) {
                Ok(metadata) if metadata.is_file() => metadata.len(),
                Ok(_) => continue,
                Err(error) if error.kind() == io::ErrorKind::NotFound => continue,
                Err(error) => return Err(SkillError::io("read", &path)(error)),
            };
            if size > MAX_CODE_BYTES as u64 {
                return Err(SkillError::InvalidCode {
                    reason: format!(
                        "skill `{name}`'s code is {size} bytes, more than the {MAX_CODE_BYTES} a skill may hold; save it again smaller"
                    ),
                });
            }
            return match fs::read_to_string(&path) {
                Ok(code) => Ok(Some(SkillCode { language, code })),
                Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
                Err(error) => Err(SkillError::io("read", &path)(error)),
            };
        }
        Ok(None)
    }

    /// How many skill folders the store has.
    fn count(&self) -> Result<usize, SkillError> {
        let entries = match fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(error) => return Err(SkillError::io("list", &self.root)(error)),
        };
        Ok(entries
            .flatten()
            .filter(|entry| {
                entry.file_type().is_ok_and(|kind| kind.is_dir())
                    && entry
                        .file_name()
                        .to_str()
                        .is_some_and(|name| validate_name(name).is_ok())
            })
            .count())
    }

    fn current_version(&self, name: &str) -> Option<u32> {
        read_front_matter(&self.skill_dir(name), name)
            .ok()
            .map(|(front_matter, _)| front_matter.version)
    }

    /// An exclusive lock on the store for the duration of a change.
    fn lock(&self) -> Result<StoreLock, SkillError> {
        let path = self.root.join(LOCK_FILE);
        let file = private_file_options()
            .write(true)
            .truncate(false)
            .open(&path)
            .map_err(SkillError::io("open the lock file", &path))?;
        file.lock().map_err(SkillError::io("lock", &path))?;
        Ok(StoreLock { file })
    }
}

/// Holds the store's lock until dropped.
struct StoreLock {
    file: File,
}

impl Drop for StoreLock {
    fn drop(&mut self) {
        // Closing the file releases the lock anyway; unlocking first just makes it prompt.
        let _ = self.file.unlock();
    }
}

fn read_front_matter(dir: &Path, name: &str) -> Result<(FrontMatter, String), SkillError> {
    let path = dir.join(SKILL_FILE);
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            return Err(SkillError::InvalidSkillFile {
                path,
                line: None,
                reason: "the skill has no SKILL.md".to_owned(),
            });
        }
        Err(source) => {
            return Err(SkillError::Io {
                action: "read",
                path,
                source,
            });
        }
    };
    let front_matter = parse_skill_md(&path, &text)?;
    if front_matter.name != name {
        return Err(SkillError::InvalidSkillFile {
            path,
            line: None,
            reason: format!(
                "the front matter names the skill `{}` but its folder is `{name}`; the two must be the same",
                front_matter.name
            ),
        });
    }
    Ok((front_matter, text))
}

fn read_skill(dir: &Path, name: &str) -> Result<Skill, SkillError> {
    let (front_matter, skill_md) = read_front_matter(dir, name)?;
    let (language, code_path) = code_path(dir)?;
    let code = fs::read_to_string(&code_path).map_err(SkillError::io("read", &code_path))?;
    Ok(Skill {
        name: front_matter.name,
        description: front_matter.description,
        code,
        language,
        skill_md,
        version: front_matter.version,
    })
}

/// The code file of the skill folder `dir` and the language it says: `index.ts` (TypeScript)
/// when there is one, else `skill.py` (Python).
fn code_path(dir: &Path) -> Result<(SkillLanguage, PathBuf), SkillError> {
    SkillLanguage::ALL
        .into_iter()
        .map(|language| (language, dir.join(language.code_file())))
        .find(|(_, path)| path.is_file())
        .ok_or_else(|| SkillError::MissingCode {
            path: dir.to_owned(),
        })
}

fn history_entry(dir: &Path, name: &str, version: u32, current: bool) -> HistoryEntry {
    HistoryEntry {
        version,
        description: read_front_matter(dir, name)
            .ok()
            .map(|(front_matter, _)| front_matter.description),
        updated_at: modified(&dir.join(SKILL_FILE)),
        current,
        path: dir.to_owned(),
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    fs::metadata(path)
        .and_then(|metadata| metadata.modified())
        .ok()
}

/// The version numbers in a skill's history folder, ascending (none if there is no folder).
fn archived_versions(history: &Path) -> Result<Vec<u32>, SkillError> {
    let entries = match fs::read_dir(history) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(SkillError::Io {
                action: "list",
                path: history.to_owned(),
                source,
            });
        }
    };
    let mut versions = BTreeSet::new();
    for entry in entries {
        let entry = entry.map_err(SkillError::io("list", history))?;
        let name = entry.file_name();
        if let Some(version) = name
            .to_str()
            .filter(|name| name.bytes().all(|byte| byte.is_ascii_digit()))
            .and_then(|name| name.parse::<u32>().ok())
            .filter(|version| *version >= 1)
        {
            versions.insert(version);
        }
    }
    Ok(versions.into_iter().collect())
}

fn private_file_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

fn create_private_dir(dir: &Path) -> Result<(), SkillError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .map_err(SkillError::io("create the folder", dir))
}

/// Keep `from` at `to` without a moment where `from` is gone: a hard link, or a copy where the
/// file system has none.
fn keep_copy(from: &Path, to: &Path) -> Result<(), SkillError> {
    match fs::hard_link(from, to) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
            // Left by a save that stopped half-way: what is there is the same version.
            Ok(())
        }
        Err(_) => fs::copy(from, to)
            .map(|_| ())
            .map_err(SkillError::io("copy into the history", from)),
    }
}

/// Write `bytes` to a temporary file beside `path`, flush it to disk, and rename it over `path`.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), SkillError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let file_name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = path.with_file_name(format!(
        ".{file_name}.{}.{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut file = private_file_options()
            .write(true)
            .create_new(true)
            .open(&temporary)
            .map_err(SkillError::io("create", &temporary))?;
        file.write_all(bytes)
            .map_err(SkillError::io("write", &temporary))?;
        file.sync_all()
            .map_err(SkillError::io("flush to disk", &temporary))?;
        fs::rename(&temporary, path).map_err(SkillError::io("rename into place", path))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    result
}

/// Flush a folder's entries (new names, renames) to disk.
fn sync_dir(dir: &Path) -> Result<(), SkillError> {
    #[cfg(unix)]
    {
        File::open(dir)
            .and_then(|folder| folder.sync_all())
            .map_err(SkillError::io("flush to disk", dir))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
