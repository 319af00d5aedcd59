//! The writer: one append-only file, rotated by size, shared by every thread of a process and
//! safe to share between processes (`sluice serve` and `sluice exec` on the same data folder).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use crate::error::AuditError;
use crate::record::{NoticeEvent, NoticeRecord, Record};
use crate::time::Timestamp;

/// The file records are appended to.
pub const CURRENT_FILE: &str = "audit.jsonl";

/// The file whose lock serializes writers of different processes (its content is unused).
pub const LOCK_FILE: &str = "audit.lock";

/// When to start a new file and how many old ones to keep.
///
/// Records younger than [`Rotation::retain`] are never deleted quietly: a rotated file past
/// [`Rotation::keep`] whose newest record is that young is kept (the log grows past `keep`
/// files), until all the files together would pass [`Rotation::max_total_bytes`]. Only then are
/// young records deleted, oldest file first, and the log says so: a
/// [`NoticeEvent::RetentionOverridden`] record opens the fresh file and a warning goes to the
/// process's log. So a flood of records can make the log large, but cannot silently push out
/// what happened in the last `retain`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    /// Rotate before an append would make `audit.jsonl` larger than this. A single record larger
    /// than this is still written whole, alone in its file.
    pub max_bytes: u64,
    /// How many rotated files (`audit.1.jsonl` newest … `audit.<keep>.jsonl` oldest) to keep;
    /// older ones are deleted unless they hold records younger than `retain`. 0 keeps none.
    pub keep: usize,
    /// Rotated files whose newest record is younger than this are kept past `keep`. Zero keeps
    /// exactly `keep` files.
    pub retain: Duration,
    /// All the log's files together are kept under this many bytes, whatever their age.
    pub max_total_bytes: u64,
}

impl Default for Rotation {
    /// 16 MiB per file, five old files (96 MiB of log), more while they are younger than 7 days,
    /// never more than 1 GiB.
    fn default() -> Self {
        Self {
            max_bytes: 16 * 1024 * 1024,
            keep: 5,
            retain: Duration::from_secs(7 * 24 * 3600),
            max_total_bytes: 1024 * 1024 * 1024,
        }
    }
}

/// The name of the `number`th rotated file (1 is the newest).
pub fn rotated_file_name(number: usize) -> String {
    format!("audit.{number}.jsonl")
}

/// The number of a rotated file's name (`audit.3.jsonl` is 3), `None` for any other name.
pub fn rotated_file_number(name: &str) -> Option<usize> {
    let digits = name.strip_prefix("audit.")?.strip_suffix(".jsonl")?;
    if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|number| *number > 0)
}

/// The append-only audit log of one data folder.
///
/// Cheap to clone; every clone writes to the same file under the same lock. Each [`append`]
/// writes one whole line with one `write` on a file opened with `O_APPEND` and returns only once
/// the line is with the operating system, so a crash of Sluice right after loses nothing (a crash
/// of the machine can, unless [`sync`] is called).
///
/// [`append`]: AuditLog::append
/// [`sync`]: AuditLog::sync
#[derive(Clone)]
pub struct AuditLog {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("AuditLog")
            .field("path", &self.shared.current_path)
            .field("rotation", &self.shared.rotation)
            .finish_non_exhaustive()
    }
}

struct Shared {
    dir: PathBuf,
    current_path: PathBuf,
    lock_path: PathBuf,
    rotation: Rotation,
    /// Open for the lifetime of the log; its `flock` keeps writers of other processes out while
    /// this one checks the size, rotates and writes.
    lock_file: File,
    /// The open `audit.jsonl`; the mutex keeps this process's threads in line.
    file: Mutex<File>,
}

impl AuditLog {
    /// Open (creating it and `dir` if needed) the log `dir/audit.jsonl`.
    ///
    /// The folder is created with mode 0700 and the files with 0600: records hold the agents'
    /// code. If the file ends in a line torn by an earlier crash, a newline is added first, so the
    /// next record starts on a line of its own.
    pub fn open(dir: &Path, rotation: Rotation) -> Result<AuditLog, AuditError> {
        create_private_dir(dir)?;
        let lock_path = dir.join(LOCK_FILE);
        let lock_file = private_options()
            .write(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(|source| AuditError::Open {
                path: lock_path.clone(),
                source,
            })?;
        let current_path = dir.join(CURRENT_FILE);
        let file = {
            let _writers = WriterLock::take(&lock_file, &lock_path)?;
            open_current(&current_path)?
        };
        Ok(AuditLog {
            shared: Arc::new(Shared {
                dir: dir.to_owned(),
                current_path,
                lock_path,
                rotation,
                lock_file,
                file: Mutex::new(file),
            }),
        })
    }

    /// The folder of the log.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// The file records are appended to (`<dir>/audit.jsonl`).
    pub fn path(&self) -> &Path {
        &self.shared.current_path
    }

    /// The rotation settings.
    pub fn rotation(&self) -> Rotation {
        self.shared.rotation
    }

    /// Append one record as one line, rotating first if the line would make the file larger than
    /// [`Rotation::max_bytes`]. When this returns, the line is with the operating system. The
    /// record is written [bounded](Record::bounded): no field longer than its limit.
    pub fn append(&self, record: &Record) -> Result<(), AuditError> {
        let line = line_of(&record.clone().bounded())?;

        let shared = &*self.shared;
        let mut file = self.lock_file_handle();
        let _writers = WriterLock::take(&shared.lock_file, &shared.lock_path)?;
        self.follow_other_writers(&mut file)?;

        let size = file
            .metadata()
            .map_err(|source| AuditError::Open {
                path: shared.current_path.clone(),
                source,
            })?
            .len();
        let line_bytes = u64::try_from(line.len()).unwrap_or(u64::MAX);
        if size > 0 && size.saturating_add(line_bytes) > shared.rotation.max_bytes {
            let notice = self.rotate()?;
            *file = open_current(&shared.current_path)?;
            if let Some(notice) = notice {
                let notice = line_of(&Record::Notice(notice))?;
                file.write_all(&notice)
                    .map_err(|source| AuditError::Write {
                        path: shared.current_path.clone(),
                        source,
                    })?;
            }
        }

        // One call: with O_APPEND the kernel writes the whole buffer at the end of the file, so
        // lines of concurrent writers never interleave. `write_all` only loops on a short write,
        // which a regular file gives only when the disk is full.
        file.write_all(&line).map_err(|source| AuditError::Write {
            path: shared.current_path.clone(),
            source,
        })
    }

    /// Flush what was appended to the disk (`fsync`).
    pub fn sync(&self) -> Result<(), AuditError> {
        let file = self.lock_file_handle();
        file.sync_all().map_err(|source| AuditError::Sync {
            path: self.shared.current_path.clone(),
            source,
        })
    }

    fn lock_file_handle(&self) -> MutexGuard<'_, File> {
        // A thread that panicked while holding the lock leaves nothing half-done in a `File`.
        self.shared
            .file
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// If another process rotated (or someone deleted) `audit.jsonl` since we opened it, our handle
    /// points at an old file: open the current one.
    fn follow_other_writers(&self, file: &mut File) -> Result<(), AuditError> {
        let path = &self.shared.current_path;
        let open_error = |source| AuditError::Open {
            path: path.clone(),
            source,
        };
        let ours = file.metadata().map_err(open_error)?;
        match fs::metadata(path) {
            Ok(on_disk) if same_file(&ours, &on_disk) => Ok(()),
            Ok(_) => {
                *file = open_current(path)?;
                Ok(())
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                *file = open_current(path)?;
                Ok(())
            }
            Err(error) => Err(open_error(error)),
        }
    }

    /// `audit.<n>` becomes `audit.<n+1>` from the oldest down and `audit.jsonl` becomes
    /// `audit.1.jsonl`; then files past `keep` go unless they are younger than `retain`, and the
    /// oldest go until the total is under `max_total_bytes` (see [`Rotation`]). Returns the
    /// notice to write when young records had to go. The caller holds the writers' lock.
    fn rotate(&self) -> Result<Option<NoticeRecord>, AuditError> {
        let shared = &*self.shared;
        let rotation = shared.rotation;
        let mut numbers = self.rotated_numbers()?;
        numbers.sort_unstable_by(|left, right| right.cmp(left));
        for &number in &numbers {
            rename_if_present(
                &shared.dir.join(rotated_file_name(number)),
                &shared.dir.join(rotated_file_name(number + 1)),
            )?;
        }
        rename_if_present(&shared.current_path, &shared.dir.join(rotated_file_name(1)))?;

        // Oldest first, with their size and whether they hold records younger than `retain`.
        let now = SystemTime::now();
        let mut files: Vec<(PathBuf, usize, u64, bool)> = Vec::new();
        let mut numbers: Vec<usize> = numbers.iter().map(|number| number + 1).collect();
        numbers.push(1);
        numbers.sort_unstable_by(|left, right| right.cmp(left));
        for number in numbers {
            let path = shared.dir.join(rotated_file_name(number));
            let Ok(metadata) = fs::metadata(&path) else {
                continue;
            };
            let young = metadata
                .modified()
                .ok()
                .and_then(|modified| now.duration_since(modified).ok())
                .is_none_or(|age| age < rotation.retain);
            files.push((path, number, metadata.len(), young));
        }
        let mut total: u64 = files.iter().map(|file| file.2).sum();
        let mut dropped_young = Vec::new();
        let mut remaining = Vec::new();
        for (path, number, size, young) in files {
            if number > rotation.keep && !young {
                remove_if_present(&path)?;
                total = total.saturating_sub(size);
            } else {
                remaining.push((path, size, young));
            }
        }
        for (path, size, young) in remaining {
            if total <= rotation.max_total_bytes {
                break;
            }
            if young {
                let records = count_lines(&path);
                dropped_young.push((path.clone(), size, records));
            }
            remove_if_present(&path)?;
            total = total.saturating_sub(size);
        }
        Ok(retention_notice(&dropped_young, rotation))
    }

    /// The numbers of the rotated files present.
    fn rotated_numbers(&self) -> Result<Vec<usize>, AuditError> {
        let dir = &self.shared.dir;
        let entries = fs::read_dir(dir).map_err(|source| AuditError::ReadDir {
            path: dir.clone(),
            source,
        })?;
        Ok(entries
            .flatten()
            .filter_map(|entry| entry.file_name().to_str().and_then(rotated_file_number))
            .collect())
    }
}

/// One record as one line of compact JSON, which escapes every control character: the line holds
/// no newline but the last.
fn line_of(record: &Record) -> Result<Vec<u8>, AuditError> {
    let mut line = serde_json::to_vec(record).map_err(AuditError::Serialize)?;
    line.push(b'\n');
    Ok(line)
}

/// The notice (and the warning on the process's log) for rotated files deleted while they held
/// records younger than the retention period.
fn retention_notice(dropped: &[(PathBuf, u64, u64)], rotation: Rotation) -> Option<NoticeRecord> {
    if dropped.is_empty() {
        return None;
    }
    let bytes = dropped.iter().map(|file| file.1).sum();
    let records = dropped.iter().map(|file| file.2).sum();
    let detail = format!(
        "the audit log reached its cap of {} bytes (maxTotalMb) and deleted {} file(s) with {records} record(s) younger than the retention of {} s (retainDays); raise the cap or look for what is flooding the log",
        rotation.max_total_bytes,
        dropped.len(),
        rotation.retain.as_secs()
    );
    tracing::warn!("{detail}");
    Some(NoticeRecord {
        at: Timestamp::now(),
        event: NoticeEvent::RetentionOverridden,
        execution_id: None,
        client: None,
        principal: None,
        session: None,
        records,
        bytes,
        detail,
    })
}

/// The lines of a file (0 when it cannot be read: the count is informative only).
fn count_lines(path: &Path) -> u64 {
    fs::read(path).map_or(0, |bytes| {
        bytes.iter().filter(|byte| **byte == b'\n').count() as u64
    })
}

/// An exclusive `flock` on the lock file, released when dropped.
struct WriterLock<'a> {
    file: &'a File,
}

impl<'a> WriterLock<'a> {
    fn take(file: &'a File, path: &Path) -> Result<Self, AuditError> {
        file.lock().map_err(|source| AuditError::Lock {
            path: path.to_owned(),
            source,
        })?;
        Ok(Self { file })
    }
}

impl Drop for WriterLock<'_> {
    fn drop(&mut self) {
        // Unlocking an flock we hold does not fail in practice; if it did, the lock would still
        // go when the log (and with it the file) is dropped.
        let _ = self.file.unlock();
    }
}

fn private_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

fn create_private_dir(dir: &Path) -> Result<(), AuditError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|source| AuditError::CreateDir {
        path: dir.to_owned(),
        source,
    })
}

/// Open `audit.jsonl` for appending, tighten its mode if someone loosened it, and end a torn last
/// line. The caller holds the writers' lock.
fn open_current(path: &Path) -> Result<File, AuditError> {
    let open_error = |source| AuditError::Open {
        path: path.to_owned(),
        source,
    };
    let mut file = private_options()
        .read(true)
        .append(true)
        .open(path)
        .map_err(open_error)?;
    let metadata = file.metadata().map_err(open_error)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if metadata.permissions().mode() & 0o077 != 0 {
            file.set_permissions(fs::Permissions::from_mode(0o600))
                .map_err(open_error)?;
        }
    }
    if metadata.len() > 0 && last_byte(&file, metadata.len()).map_err(open_error)? != b'\n' {
        file.write_all(b"\n").map_err(|source| AuditError::Write {
            path: path.to_owned(),
            source,
        })?;
    }
    Ok(file)
}

#[cfg(unix)]
fn last_byte(file: &File, len: u64) -> io::Result<u8> {
    use std::os::unix::fs::FileExt;
    let mut byte = [0u8; 1];
    file.read_exact_at(&mut byte, len - 1)?;
    Ok(byte[0])
}

#[cfg(not(unix))]
fn last_byte(mut file: &File, len: u64) -> io::Result<u8> {
    use std::io::{Read, Seek, SeekFrom};
    let mut byte = [0u8; 1];
    file.seek(SeekFrom::Start(len - 1))?;
    file.read_exact(&mut byte)?;
    Ok(byte[0])
}

#[cfg(unix)]
fn same_file(first: &fs::Metadata, second: &fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    first.dev() == second.dev() && first.ino() == second.ino()
}

#[cfg(not(unix))]
fn same_file(first: &fs::Metadata, second: &fs::Metadata) -> bool {
    // Without inode numbers, a shrunk file is the best sign that it was replaced.
    second.len() >= first.len()
}

fn remove_if_present(path: &Path) -> Result<(), AuditError> {
    match fs::remove_file(path) {
        Err(error) if error.kind() != io::ErrorKind::NotFound => Err(AuditError::Rotate {
            action: "removing",
            path: path.to_owned(),
            source: error,
        }),
        _ => Ok(()),
    }
}

fn rename_if_present(from: &Path, to: &Path) -> Result<(), AuditError> {
    match fs::rename(from, to) {
        Err(error) if error.kind() != io::ErrorKind::NotFound => Err(AuditError::Rotate {
            action: "renaming",
            path: from.to_owned(),
            source: error,
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
#[path = "log_tests.rs"]
mod tests;
