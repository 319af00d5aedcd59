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
mod tests {
    use std::collections::BTreeSet;
    use std::thread;

    use sluice_worker_protocol::Limit;

    use super::*;
    use crate::record::tests::{execution, tool_call};

    fn lines_of(path: &Path) -> Vec<String> {
        fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn files_in(dir: &Path) -> BTreeSet<String> {
        fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect()
    }

    #[test]
    fn appends_one_line_per_record_with_private_modes() {
        let scratch = tempfile::tempdir().unwrap();
        let dir = scratch.path().join("data/audit");
        let log = AuditLog::open(&dir, Rotation::default()).unwrap();
        let first = tool_call("exec-1", "crm", "query", 1_000);
        let second = execution("exec-1", "const a = 1;\nconsole.log(\"\\n\")", 2_000);
        log.append(&first).unwrap();
        log.append(&second).unwrap();
        log.sync().unwrap();

        let lines = lines_of(log.path());
        assert_eq!(lines.len(), 2);
        assert_eq!(serde_json::from_str::<Record>(&lines[0]).unwrap(), first);
        assert_eq!(serde_json::from_str::<Record>(&lines[1]).unwrap(), second);

        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |path: &Path| fs::metadata(path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(log.path()), 0o600);
            assert_eq!(mode(&dir), 0o700);
        }
    }

    #[test]
    fn a_log_deleted_while_open_is_created_again() {
        let scratch = tempfile::tempdir().unwrap();
        let log = AuditLog::open(scratch.path(), Rotation::default()).unwrap();
        log.append(&tool_call("exec-1", "crm", "query", 1_000))
            .unwrap();
        fs::remove_file(log.path()).unwrap();
        let after = tool_call("exec-2", "crm", "query", 2_000);
        log.append(&after).unwrap();
        let lines = lines_of(log.path());
        assert_eq!(lines.len(), 1);
        assert_eq!(serde_json::from_str::<Record>(&lines[0]).unwrap(), after);
    }

    #[test]
    fn reopening_continues_the_file_and_ends_a_torn_line() {
        let scratch = tempfile::tempdir().unwrap();
        let log = AuditLog::open(scratch.path(), Rotation::default()).unwrap();
        log.append(&tool_call("exec-1", "crm", "query", 1_000))
            .unwrap();
        drop(log);
        // A crash in the middle of a write leaves half a line without its newline.
        let path = scratch.path().join(CURRENT_FILE);
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(b"{\"kind\":\"tool_ca").unwrap();
        drop(file);

        let log = AuditLog::open(scratch.path(), Rotation::default()).unwrap();
        log.append(&tool_call("exec-2", "crm", "query", 2_000))
            .unwrap();
        let lines = lines_of(&path);
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[1], "{\"kind\":\"tool_ca");
        let last: Record = serde_json::from_str(&lines[2]).unwrap();
        assert_eq!(last.execution_id(), Some("exec-2"));
    }

    #[test]
    fn loosened_modes_are_tightened_on_open() {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let scratch = tempfile::tempdir().unwrap();
            let path = scratch.path().join(CURRENT_FILE);
            fs::write(&path, "").unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
            AuditLog::open(scratch.path(), Rotation::default()).unwrap();
            assert_eq!(
                fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
    }

    #[test]
    fn rotates_by_size_and_keeps_only_the_newest_files() {
        let scratch = tempfile::tempdir().unwrap();
        let record = tool_call("exec-1", "crm", "query", 1_000);
        let line_bytes = serde_json::to_vec(&record).unwrap().len() as u64 + 1;
        // Two records per file.
        let rotation = Rotation {
            max_bytes: line_bytes * 2,
            keep: 2,
            retain: Duration::ZERO,
            max_total_bytes: u64::MAX,
        };
        let log = AuditLog::open(scratch.path(), rotation).unwrap();
        for index in 0..9 {
            log.append(&tool_call(&format!("exec-{index}"), "crm", "query", 1_000))
                .unwrap();
        }
        assert_eq!(
            files_in(scratch.path()),
            BTreeSet::from([
                "audit.1.jsonl".to_owned(),
                "audit.2.jsonl".to_owned(),
                "audit.jsonl".to_owned(),
                "audit.lock".to_owned(),
            ])
        );
        let ids = |name: &str| -> Vec<String> {
            lines_of(&scratch.path().join(name))
                .iter()
                .map(|line| {
                    let record: Record = serde_json::from_str(line).unwrap();
                    record.execution_id().unwrap().to_owned()
                })
                .collect()
        };
        assert_eq!(ids("audit.2.jsonl"), ["exec-4", "exec-5"]);
        assert_eq!(ids("audit.1.jsonl"), ["exec-6", "exec-7"]);
        assert_eq!(ids("audit.jsonl"), ["exec-8"]);
    }

    #[test]
    fn a_record_larger_than_the_limit_is_written_whole_in_its_own_file() {
        let scratch = tempfile::tempdir().unwrap();
        let rotation = Rotation {
            max_bytes: 100,
            keep: 3,
            retain: Duration::ZERO,
            max_total_bytes: u64::MAX,
        };
        let log = AuditLog::open(scratch.path(), rotation).unwrap();
        let big = execution("exec-big", &"x".repeat(1_000), 1_000);
        log.append(&tool_call("exec-0", "crm", "query", 1_000))
            .unwrap();
        log.append(&big).unwrap();
        log.append(&tool_call("exec-1", "crm", "query", 1_000))
            .unwrap();
        let rotated = lines_of(&scratch.path().join("audit.1.jsonl"));
        assert_eq!(rotated.len(), 1);
        assert_eq!(serde_json::from_str::<Record>(&rotated[0]).unwrap(), big);
        assert_eq!(lines_of(&scratch.path().join("audit.2.jsonl")).len(), 1);
        assert_eq!(lines_of(log.path()).len(), 1);
    }

    #[test]
    fn keep_zero_keeps_no_old_files_and_a_smaller_keep_prunes_old_ones() {
        let scratch = tempfile::tempdir().unwrap();
        let small = Rotation {
            max_bytes: 10,
            keep: 4,
            retain: Duration::ZERO,
            max_total_bytes: u64::MAX,
        };
        let log = AuditLog::open(scratch.path(), small).unwrap();
        for index in 0..6 {
            log.append(&tool_call(&format!("exec-{index}"), "crm", "query", 0))
                .unwrap();
        }
        assert!(scratch.path().join("audit.4.jsonl").exists());
        drop(log);

        let log = AuditLog::open(scratch.path(), Rotation { keep: 0, ..small }).unwrap();
        log.append(&tool_call("exec-last", "crm", "query", 0))
            .unwrap();
        assert_eq!(
            files_in(scratch.path()),
            BTreeSet::from(["audit.jsonl".to_owned(), "audit.lock".to_owned()])
        );
        assert_eq!(lines_of(log.path()).len(), 1);
    }

    #[test]
    fn rotated_names_round_trip() {
        assert_eq!(rotated_file_number(&rotated_file_name(12)), Some(12));
        for name in [
            "audit.jsonl",
            "audit.0.jsonl",
            "audit.-1.jsonl",
            "audit.+1.jsonl",
            "audit..jsonl",
            "audit.1.json",
            "other.1.jsonl",
        ] {
            assert_eq!(rotated_file_number(name), None, "{name}");
        }
    }

    #[test]
    fn many_threads_append_whole_lines() {
        let scratch = tempfile::tempdir().unwrap();
        let log = AuditLog::open(scratch.path(), Rotation::default()).unwrap();
        let threads = 8;
        let per_thread = 200;
        thread::scope(|scope| {
            for thread_index in 0..threads {
                let log = log.clone();
                scope.spawn(move || {
                    for index in 0..per_thread {
                        // Records of different sizes, some larger than a pipe buffer.
                        let code = "y".repeat((thread_index * 977 + index * 131) % 9_000);
                        let id = format!("exec-{thread_index}-{index}");
                        log.append(&execution(&id, &code, 0)).unwrap();
                    }
                });
            }
        });
        let lines = lines_of(log.path());
        assert_eq!(lines.len(), threads * per_thread);
        let ids: BTreeSet<String> = lines
            .iter()
            .map(|line| {
                let record: Record = serde_json::from_str(line).unwrap();
                record.execution_id().unwrap().to_owned()
            })
            .collect();
        assert_eq!(ids.len(), threads * per_thread);
    }

    #[test]
    fn separate_writers_share_rotation_without_losing_records() {
        // Two logs opened on the same folder stand for two processes: each has its own handles,
        // and an flock taken through one excludes the other.
        let scratch = tempfile::tempdir().unwrap();
        let rotation = Rotation {
            max_bytes: 4_000,
            keep: 1_000,
            retain: Duration::ZERO,
            max_total_bytes: u64::MAX,
        };
        let writers = [
            AuditLog::open(scratch.path(), rotation).unwrap(),
            AuditLog::open(scratch.path(), rotation).unwrap(),
        ];
        let per_writer = 300;
        thread::scope(|scope| {
            for (writer_index, log) in writers.iter().enumerate() {
                for thread_index in 0..2 {
                    scope.spawn(move || {
                        for index in 0..per_writer {
                            let id = format!("exec-{writer_index}-{thread_index}-{index}");
                            log.append(&tool_call(&id, "crm", "query", 0)).unwrap();
                        }
                    });
                }
            }
        });
        let mut ids = BTreeSet::new();
        let mut files = 0;
        for name in files_in(scratch.path()) {
            if name == LOCK_FILE {
                continue;
            }
            files += 1;
            let path = scratch.path().join(&name);
            assert!(
                fs::metadata(&path).unwrap().len() <= rotation.max_bytes,
                "{name}"
            );
            for line in lines_of(&path) {
                let record: Record = serde_json::from_str(&line).unwrap();
                assert!(ids.insert(record.execution_id().unwrap().to_owned()));
            }
        }
        assert!(files > 10, "only {files} files");
        assert_eq!(ids.len(), 2 * 2 * per_writer);
    }

    #[test]
    fn one_record_cannot_be_made_large_by_what_an_agent_sends() {
        let scratch = tempfile::tempdir().unwrap();
        let log = AuditLog::open(scratch.path(), Rotation::default()).unwrap();
        let huge = "é".repeat(60_000);
        let mut call = tool_call("exec-1", &huge, &huge, 0);
        if let Record::ToolCall(record) = &mut call {
            record.error = Some(huge.clone());
        }
        log.append(&call).unwrap();
        let mut run = execution("exec-1", &"x".repeat(1_000_000), 0);
        if let Record::Execution(record) = &mut run {
            record.limits_hit = vec![Limit::Other(huge.clone()); 1_000];
            record.stats = serde_json::json!({ "blob": huge });
        }
        log.append(&run).unwrap();
        let lines = lines_of(log.path());
        assert!(lines[0].len() < 6_000, "{}", lines[0].len());
        assert!(lines[1].len() < 75_000, "{}", lines[1].len());
        let Record::ToolCall(written) = serde_json::from_str(&lines[0]).unwrap() else {
            panic!("not a tool call");
        };
        assert!(written.tool.len() <= crate::record::MAX_NAME_BYTES);
        assert!(written.tool.ends_with(&format!(
            "[cut: {} bytes, sha256 {}]",
            huge.len(),
            crate::sha256_hex(huge.as_bytes())
        )));
        let Record::Execution(written) = serde_json::from_str(&lines[1]).unwrap() else {
            panic!("not an execution");
        };
        assert_eq!(written.limits_hit.len(), crate::record::MAX_LIMITS);
        assert!(written.stats.is_string());
        // The hash is still of the whole code.
        assert_eq!(
            written.code_sha256,
            crate::sha256_hex("x".repeat(1_000_000).as_bytes())
        );
    }

    #[test]
    fn a_flood_of_records_cannot_push_young_records_out() {
        let scratch = tempfile::tempdir().unwrap();
        let rotation = Rotation {
            max_bytes: 4_000,
            keep: 2,
            ..Rotation::default()
        };
        let log = AuditLog::open(scratch.path(), rotation).unwrap();
        log.append(&tool_call("exec-first", "crm", "query", 0))
            .unwrap();
        for index in 0..1_000 {
            let name = "n".repeat(100_000);
            log.append(&tool_call(&format!("flood-{index}"), "crm", &name, 0))
                .unwrap();
        }
        let records: Vec<Record> = crate::read(scratch.path())
            .unwrap()
            .map(|entry| entry.unwrap().record)
            .collect();
        assert_eq!(
            records[0].execution_id(),
            Some("exec-first"),
            "the first record was rotated out"
        );
        assert_eq!(records.len(), 1_001);
    }

    #[test]
    fn the_total_cap_deletes_young_records_only_with_a_notice() {
        let scratch = tempfile::tempdir().unwrap();
        let record = tool_call("exec-0", "crm", "query", 0);
        let line_bytes = serde_json::to_vec(&record).unwrap().len() as u64 + 1;
        let rotation = Rotation {
            max_bytes: line_bytes,
            keep: 1,
            retain: Duration::from_secs(3600),
            max_total_bytes: line_bytes * 4,
        };
        let log = AuditLog::open(scratch.path(), rotation).unwrap();
        for index in 0..10 {
            log.append(&tool_call(&format!("exec-{index}"), "crm", "query", 0))
                .unwrap();
        }
        let records: Vec<Record> = crate::read(scratch.path())
            .unwrap()
            .map(|entry| entry.unwrap().record)
            .collect();
        let notices: Vec<&NoticeRecord> = records
            .iter()
            .filter_map(|record| match record {
                Record::Notice(notice) => Some(notice),
                _ => None,
            })
            .collect();
        assert!(!notices.is_empty(), "young records went without a notice");
        assert!(
            notices
                .iter()
                .all(|notice| notice.event == NoticeEvent::RetentionOverridden
                    && notice.records >= 1
                    && notice.detail.contains("maxTotalMb"))
        );
        let total: u64 = fs::read_dir(scratch.path())
            .unwrap()
            .map(|entry| entry.unwrap().metadata().unwrap().len())
            .sum();
        // The cap, plus the current file with its notice.
        assert!(total <= line_bytes * 4 + 2_000, "{total}");
        assert!(
            records
                .iter()
                .any(|record| record.execution_id() == Some("exec-9"))
        );
    }

    #[test]
    fn bound_text_cuts_at_a_character_boundary_within_the_limit() {
        for limit in [120, 121, 150, 200, 256] {
            let mut text = "ж".repeat(500);
            crate::record::bound_text(&mut text, limit);
            assert!(text.len() <= limit, "{limit}: {}", text.len());
            assert!(text.starts_with('ж') && text.contains("[cut: 1000 bytes"));
        }
        let mut short = "short".to_owned();
        crate::record::bound_text(&mut short, 120);
        assert_eq!(short, "short");
    }
}
