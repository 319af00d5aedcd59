/*!
Pinned tool definitions: the defence against a server changing a tool under the agent between two
sessions (a "rug pull").

The first time Sluice sees a tool, the SHA-256 of its definition (name, title, description, input
and output schemas, annotations, as canonical JSON: object keys sorted, so key order does not
matter) is recorded with the definition itself in `<data dir>/pins/<server>.json`. When the server
later presents a different definition, [`PinStore::observe`] reports the tool as held, naming the
fields that changed, and records what was presented beside the pin; the gateway leaves a held tool
out of its snapshot until a person accepts the new definition ([`PinStore::accept`], `sluice tools
review`) or rejects it ([`PinStore::reject`]: the tool stays held, and is not asked about again
until the server presents yet another definition).

Every change to a file is made under an exclusive lock on `pins/.lock` (read, change, write a
temporary file, fsync, rename), so a running gateway and `sluice tools review` never lose each
other's changes. A file that cannot be read is an error, never an empty pin set: the gateway then
holds every tool of that server.
*/

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sluice_audit::sha256_hex;

/// The folder under the data folder that holds the pins.
pub const PINS_DIR: &str = "pins";
/// The lock file every change is made under.
const LOCK_FILE: &str = ".lock";
/// The version of the files' format.
const FORMAT_VERSION: u32 = 1;

/// A part of a tool's definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Field {
    /// `name`.
    Name,
    /// `title`.
    Title,
    /// `description`.
    Description,
    /// `inputSchema`.
    InputSchema,
    /// `outputSchema`.
    OutputSchema,
    /// `annotations`.
    Annotations,
}

impl Field {
    /// Every field, in the order they are shown.
    pub const ALL: [Field; 6] = [
        Field::Name,
        Field::Title,
        Field::Description,
        Field::InputSchema,
        Field::OutputSchema,
        Field::Annotations,
    ];

    /// The field's name in a definition.
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Name => "name",
            Field::Title => "title",
            Field::Description => "description",
            Field::InputSchema => "inputSchema",
            Field::OutputSchema => "outputSchema",
            Field::Annotations => "annotations",
        }
    }
}

/// `changed` as words: `description and inputSchema`.
pub fn describe_fields(changed: &[Field]) -> String {
    let names: Vec<&str> = changed.iter().map(|field| field.as_str()).collect();
    match names.as_slice() {
        [] => "nothing".to_owned(),
        [one] => (*one).to_owned(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// `value` with every object's keys sorted (recursively): the same definition in any key order
/// is the same value, and the same text.
pub fn canonical(value: &Value) -> Value {
    let mut value = value.clone();
    value.sort_all_objects();
    value
}

/// A tool's definition as it is pinned: only the fields that describe it, canonical, and its
/// SHA-256 (hex, of the canonical JSON text).
#[derive(Debug, Clone, PartialEq)]
pub struct Definition {
    /// The tool's name.
    pub name: String,
    /// The canonical definition (an object of the [`Field`]s the tool has).
    pub value: Value,
    /// SHA-256 of `value` as JSON text.
    pub sha256: String,
}

impl Definition {
    /// The pinned form of a `tools/list` entry (other keys, such as `_meta` or `icons`, are
    /// not part of it).
    pub fn of(tool: &Value) -> Definition {
        Definition::from_tool(tool.clone())
    }

    /// [`Definition::of`], taking the entry: its fields are moved and sorted where they are,
    /// not copied (a server's refresh pins every tool it lists).
    pub fn from_tool(tool: Value) -> Definition {
        let Value::Object(mut tool) = tool else {
            return Definition::from_tool(Value::Object(Map::new()));
        };
        let name = tool
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let mut kept = Map::new();
        for field in Field::ALL {
            if let Some(value) = tool.remove(field.as_str())
                && !value.is_null()
            {
                kept.insert(field.as_str().to_owned(), value);
            }
        }
        let mut value = Value::Object(kept);
        value.sort_all_objects();
        Definition {
            name,
            sha256: sha256_hex(value.to_string().as_bytes()),
            value,
        }
    }
}

/// The fields in which two definitions (canonical objects) differ.
pub fn changed_fields(before: &Value, after: &Value) -> Vec<Field> {
    Field::ALL
        .into_iter()
        .filter(|field| before.get(field.as_str()) != after.get(field.as_str()))
        .collect()
}

/// One server's pin file.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServerFile {
    version: u32,
    server: String,
    tools: BTreeMap<String, Pin>,
}

/// One tool's pinned definition, and what the server presents instead, if anything.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Pin {
    sha256: String,
    definition: Value,
    /// Seconds since the Unix epoch.
    pinned_at: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    held: Option<Presented>,
}

/// A definition the server presented that differs from the pin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Presented {
    sha256: String,
    definition: Value,
    /// Seconds since the Unix epoch.
    seen_at: u64,
    /// A person rejected it: the tool stays held, and is not asked about again.
    #[serde(default)]
    rejected: bool,
}

/// A tool held back because its definition changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    /// The fields that differ from the pinned definition.
    pub changed: Vec<Field>,
    /// A person rejected the new definition.
    pub rejected: bool,
}

/// What [`PinStore::observe`] found in one server's tool list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observed {
    /// Tools held back, by name.
    pub held: BTreeMap<String, Held>,
    /// Tools whose changed definition was seen for the first time now (to audit once).
    pub newly_held: Vec<String>,
    /// Tools seen for the first time, now pinned.
    pub newly_pinned: usize,
    /// The server's pin file as this look left it (`None`: it has none): what it read, or
    /// what it wrote. Compared with [`PinStore::file_identity`] later, it says whether someone
    /// else (`sluice tools review`) replaced the file since.
    pub file: Option<FileIdentity>,
}

/// Which version of a pin file is on disk: its inode (a replacement is a new file, renamed into
/// place), size and modification time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileIdentity {
    inode: u64,
    len: u64,
    modified: Option<SystemTime>,
}

impl FileIdentity {
    fn of(metadata: &fs::Metadata) -> FileIdentity {
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(metadata);
        #[cfg(not(unix))]
        let inode = 0;
        FileIdentity {
            inode,
            len: metadata.len(),
            modified: metadata.modified().ok(),
        }
    }
}

/// A held tool as `sluice tools review` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Review {
    /// The server.
    pub server: String,
    /// The tool.
    pub tool: String,
    /// The fields that changed.
    pub changed: Vec<Field>,
    /// A person already rejected the presented definition.
    pub rejected: bool,
    /// SHA-256 of the pinned definition.
    pub pinned_sha256: String,
    /// SHA-256 of the presented one.
    pub presented_sha256: String,
    /// The pinned definition (canonical).
    pub pinned: Value,
    /// The presented definition (canonical).
    pub presented: Value,
}

/// What went wrong with the pin files.
#[derive(Debug, thiserror::Error)]
pub enum PinError {
    /// A file is not a pin file.
    #[error(
        "the pinned tool definitions in {path} cannot be read ({reason}); until this is fixed every tool of that server is held back. Fix the file, or delete it to pin every tool of the server as it is presented now"
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A file or folder could not be read or written.
    #[error(
        "could not {action} {path}: {source}; check the data folder (--data-dir) and its permissions"
    )]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> PinError + 'a {
    move |source| PinError::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

/// The pin files of one data folder.
#[derive(Debug, Clone)]
pub struct PinStore {
    dir: PathBuf,
}

/// The file name of a server's pins: its name when that is a plain file name, else escaped.
fn file_name(server: &str) -> String {
    let mut name = String::with_capacity(server.len() + 5);
    for byte in server.bytes() {
        if byte.is_ascii_alphanumeric()
            || matches!(byte, b'-' | b'_')
            || (byte == b'.' && !name.is_empty())
        {
            name.push(char::from(byte));
        } else {
            name.push_str(&format!("%{byte:02X}"));
        }
    }
    name.push_str(".json");
    name
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// Holds the store's lock until dropped.
struct Locked(fs::File);

impl Drop for Locked {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

impl PinStore {
    /// The pins under `<data_dir>/pins` (the folder is made when first written).
    pub fn new(data_dir: &Path) -> PinStore {
        PinStore {
            dir: data_dir.join(PINS_DIR),
        }
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The folder's modification time: it changes whenever a file in it is replaced.
    pub fn stamp(&self) -> Option<SystemTime> {
        fs::metadata(&self.dir)
            .and_then(|metadata| metadata.modified())
            .ok()
    }

    fn lock(&self) -> Result<Locked, PinError> {
        fs::create_dir_all(&self.dir).map_err(io("create", &self.dir))?;
        let path = self.dir.join(LOCK_FILE);
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io("open", &path))?;
        file.lock().map_err(io("lock", &path))?;
        Ok(Locked(file))
    }

    fn path(&self, server: &str) -> PathBuf {
        self.dir.join(file_name(server))
    }

    /// The identity of `server`'s pin file now (`None`: it has none).
    pub fn file_identity(&self, server: &str) -> Option<FileIdentity> {
        fs::metadata(self.path(server))
            .ok()
            .map(|metadata| FileIdentity::of(&metadata))
    }

    fn read(&self, server: &str) -> Result<ServerFile, PinError> {
        self.read_with_identity(server).map(|(file, _)| file)
    }

    /// The server's pin file, and the identity of the file read (taken from the open file, so
    /// it is the one read even if the file is replaced meanwhile).
    fn read_with_identity(
        &self,
        server: &str,
    ) -> Result<(ServerFile, Option<FileIdentity>), PinError> {
        let path = self.path(server);
        let opened = fs::File::open(&path).and_then(|mut opened| {
            let identity = FileIdentity::of(&opened.metadata()?);
            let mut text = Vec::new();
            std::io::Read::read_to_end(&mut opened, &mut text)?;
            Ok((text, identity))
        });
        let (text, identity) = match opened {
            Ok(read) => read,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let empty = ServerFile {
                    version: FORMAT_VERSION,
                    server: server.to_owned(),
                    tools: BTreeMap::new(),
                };
                return Ok((empty, None));
            }
            Err(error) => return Err(io("read", &path)(error)),
        };
        let mut file: ServerFile =
            serde_json::from_slice(&text).map_err(|error| PinError::Corrupt {
                path: path.clone(),
                reason: error.to_string(),
            })?;
        if file.version != FORMAT_VERSION || file.server != server {
            return Err(PinError::Corrupt {
                path,
                reason: format!(
                    "expected version {FORMAT_VERSION} of server \"{server}\", found version {} of \"{}\"",
                    file.version, file.server
                ),
            });
        }
        for (tool, pin) in &mut file.tools {
            // Sorted where it lies (a file written by Sluice is sorted already; one edited by
            // hand is checked as its canonical form, which is what is compared from now on).
            pin.definition.sort_all_objects();
            if pin.sha256 != sha256_hex(pin.definition.to_string().as_bytes()) {
                return Err(PinError::Corrupt {
                    path,
                    reason: format!("the pinned definition of \"{tool}\" does not match its hash"),
                });
            }
        }
        Ok((file, Some(identity)))
    }

    /// Write `file` in place (temporary file, flush, rename); the identity of what was written.
    fn write(&self, file: &ServerFile) -> Result<FileIdentity, PinError> {
        let path = self.path(&file.server);
        let temporary = self.dir.join(format!(".{}.tmp", file_name(&file.server)));
        let mut text = serde_json::to_vec_pretty(file).map_err(|error| PinError::Io {
            action: "encode",
            path: path.clone(),
            source: std::io::Error::other(error),
        })?;
        text.push(b'\n');
        let mut out = fs::File::create(&temporary).map_err(io("create", &temporary))?;
        out.write_all(&text).map_err(io("write", &temporary))?;
        out.sync_all().map_err(io("flush", &temporary))?;
        // Taken before the rename, from the open file: the renamed file is this one.
        let identity = FileIdentity::of(&out.metadata().map_err(io("stat", &temporary))?);
        fs::rename(&temporary, &path).map_err(io("rename into place", &path))?;
        if let Ok(dir) = fs::File::open(&self.dir) {
            let _ = dir.sync_all();
        }
        Ok(identity)
    }

    /// Compare what `server` presents with its pins: new tools are pinned, changed ones held
    /// (the presented definition recorded beside the pin, once per distinct definition), and a
    /// tool presented as pinned again is released. Tools no longer presented keep their pins.
    pub fn observe(&self, server: &str, tools: &[Definition]) -> Result<Observed, PinError> {
        let _lock = self.lock()?;
        let (mut file, identity) = self.read_with_identity(server)?;
        let mut observed = Observed {
            file: identity,
            ..Observed::default()
        };
        let mut modified = false;
        let at = now();
        for definition in tools {
            match file.tools.get_mut(&definition.name) {
                None => {
                    file.tools.insert(
                        definition.name.clone(),
                        Pin {
                            sha256: definition.sha256.clone(),
                            definition: definition.value.clone(),
                            pinned_at: at,
                            held: None,
                        },
                    );
                    observed.newly_pinned += 1;
                    modified = true;
                }
                Some(pin) if pin.sha256 == definition.sha256 => {
                    if pin.held.take().is_some() {
                        modified = true;
                    }
                }
                Some(pin) => {
                    let rejected = match &pin.held {
                        Some(held) if held.sha256 == definition.sha256 => held.rejected,
                        _ => {
                            pin.held = Some(Presented {
                                sha256: definition.sha256.clone(),
                                definition: definition.value.clone(),
                                seen_at: at,
                                rejected: false,
                            });
                            observed.newly_held.push(definition.name.clone());
                            modified = true;
                            false
                        }
                    };
                    observed.held.insert(
                        definition.name.clone(),
                        Held {
                            changed: changed_fields(&pin.definition, &definition.value),
                            rejected,
                        },
                    );
                }
            }
        }
        if modified {
            observed.file = Some(self.write(&file)?);
        }
        Ok(observed)
    }

    /// Every held tool of every server with a pin file, by server then tool. A file that cannot
    /// be read is an error.
    pub fn held(&self) -> Result<Vec<Review>, PinError> {
        let mut reviews = Vec::new();
        for server in self.servers()? {
            let file = self.read(&server)?;
            for (tool, pin) in file.tools {
                if let Some(presented) = pin.held {
                    reviews.push(Review {
                        server: server.clone(),
                        changed: changed_fields(&pin.definition, &presented.definition),
                        tool,
                        rejected: presented.rejected,
                        pinned_sha256: pin.sha256,
                        presented_sha256: presented.sha256,
                        pinned: pin.definition,
                        presented: presented.definition,
                    });
                }
            }
        }
        Ok(reviews)
    }

    /// The servers with a pin file.
    fn servers(&self) -> Result<Vec<String>, PinError> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(io("list", &self.dir)(error)),
        };
        let mut servers = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io("list", &self.dir))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.starts_with('.') {
                continue;
            }
            let Some(stem) = name.strip_suffix(".json") else {
                continue;
            };
            servers.push(unescape(stem));
        }
        servers.sort();
        Ok(servers)
    }

    /// Pin the definition `server` presents for `tool` (the one recorded as held, whose hash is
    /// `presented_sha256` when given: a definition changed again since the review showed it is
    /// not accepted). `None` when the tool is not held (or was presented anew).
    pub fn accept(
        &self,
        server: &str,
        tool: &str,
        presented_sha256: Option<&str>,
    ) -> Result<Option<Review>, PinError> {
        self.decide(server, tool, presented_sha256, true)
    }

    /// Keep holding `tool`: its presented definition is marked rejected.
    pub fn reject(
        &self,
        server: &str,
        tool: &str,
        presented_sha256: Option<&str>,
    ) -> Result<Option<Review>, PinError> {
        self.decide(server, tool, presented_sha256, false)
    }

    fn decide(
        &self,
        server: &str,
        tool: &str,
        presented_sha256: Option<&str>,
        accept: bool,
    ) -> Result<Option<Review>, PinError> {
        let _lock = self.lock()?;
        let mut file = self.read(server)?;
        let Some(pin) = file.tools.get_mut(tool) else {
            return Ok(None);
        };
        let Some(presented) = pin.held.clone() else {
            return Ok(None);
        };
        if presented_sha256.is_some_and(|sha256| sha256 != presented.sha256) {
            return Ok(None);
        }
        let review = Review {
            server: server.to_owned(),
            tool: tool.to_owned(),
            changed: changed_fields(&pin.definition, &presented.definition),
            rejected: !accept,
            pinned_sha256: pin.sha256.clone(),
            presented_sha256: presented.sha256.clone(),
            pinned: pin.definition.clone(),
            presented: presented.definition.clone(),
        };
        if accept {
            *pin = Pin {
                sha256: presented.sha256,
                definition: presented.definition,
                pinned_at: now(),
                held: None,
            };
        } else if let Some(held) = &mut pin.held {
            held.rejected = true;
        }
        self.write(&file)?;
        Ok(Some(review))
    }
}

fn unescape(stem: &str) -> String {
    let bytes = stem.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%'
            && let Some(hex) = stem.get(index + 1..index + 3)
            && let Ok(byte) = u8::from_str_radix(hex, 16)
        {
            out.push(byte);
            index += 3;
            continue;
        }
        out.push(bytes[index]);
        index += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests;

impl Review {
    /// The review as text: a heading naming the tool and what changed, then each changed field
    /// as a line diff (`-` pinned, `+` presented; strings as their text, schemas as indented
    /// JSON). The text comes from the server: escape it before it reaches a terminal.
    pub fn to_text(&self) -> String {
        let short = |sha256: &str| sha256.get(..12).unwrap_or(sha256).to_owned();
        let mut text = format!(
            "{}.{}: {} changed{} (pinned {}, presented {})\n",
            self.server,
            self.tool,
            describe_fields(&self.changed),
            if self.rejected {
                ", rejected before"
            } else {
                ""
            },
            short(&self.pinned_sha256),
            short(&self.presented_sha256),
        );
        for field in &self.changed {
            text.push_str(&format!("  {}:\n", field.as_str()));
            let lines = |definition: &Value| -> Vec<String> {
                match definition.get(field.as_str()) {
                    None => Vec::new(),
                    Some(Value::String(text)) => text.lines().map(str::to_owned).collect(),
                    Some(other) => serde_json::to_string_pretty(other)
                        .unwrap_or_default()
                        .lines()
                        .map(str::to_owned)
                        .collect(),
                }
            };
            for line in diff_lines(&lines(&self.pinned), &lines(&self.presented)) {
                text.push_str("    ");
                text.push_str(&line);
                text.push('\n');
            }
        }
        text
    }
}

/// Most lines a side of a diff may have before it is shown whole, removed then added (the
/// longest-common-subsequence table is their product).
const MAX_DIFF_LINES: usize = 2_000;

/// A line diff of `before` and `after`: lines of both as `  line`, removed `- line`, added
/// `+ line`, in order (longest common subsequence).
pub fn diff_lines(before: &[String], after: &[String]) -> Vec<String> {
    if before.len() > MAX_DIFF_LINES || after.len() > MAX_DIFF_LINES {
        return before
            .iter()
            .map(|line| format!("- {line}"))
            .chain(after.iter().map(|line| format!("+ {line}")))
            .collect();
    }
    let (rows, columns) = (before.len(), after.len());
    // common[i][j]: the longest common subsequence of before[i..] and after[j..].
    let mut common = vec![vec![0u32; columns + 1]; rows + 1];
    for i in (0..rows).rev() {
        for j in (0..columns).rev() {
            common[i][j] = if before[i] == after[j] {
                common[i + 1][j + 1] + 1
            } else {
                common[i + 1][j].max(common[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut lines = Vec::with_capacity(rows.max(columns));
    while i < rows || j < columns {
        if i < rows && j < columns && before[i] == after[j] {
            lines.push(format!("  {}", before[i]));
            i += 1;
            j += 1;
        } else if i < rows && (j == columns || common[i + 1][j] >= common[i][j + 1]) {
            lines.push(format!("- {}", before[i]));
            i += 1;
        } else {
            lines.push(format!("+ {}", after[j]));
            j += 1;
        }
    }
    lines
}
