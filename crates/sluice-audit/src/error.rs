//! What can go wrong writing or reading the log. Every error names the file and says what to do.

use std::io;
use std::path::PathBuf;

use crate::time::TimestampError;

/// An error of the audit log.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The audit folder could not be created.
    #[error(
        "cannot create the audit folder {path}: {source}; check that its parent is writable, or choose another data folder with --data-dir"
    )]
    CreateDir {
        /// The folder.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },

    /// A log file (or the lock file beside it) could not be opened or inspected.
    #[error(
        "cannot open the audit log file {path}: {source}; check its permissions (it should belong to you with mode 0600)"
    )]
    Open {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },

    /// Another writer's lock on the log could not be taken.
    #[error(
        "cannot lock the audit log through {path}: {source}; check that the file system supports file locks"
    )]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },

    /// A record could not be written.
    #[error(
        "cannot append to the audit log {path}: {source}; check the free disk space and the file's permissions"
    )]
    Write {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },

    /// The log could not be flushed to disk.
    #[error("cannot flush the audit log {path} to disk: {source}; check the disk for errors")]
    Sync {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },

    /// A file could not be rotated (renamed or removed).
    #[error(
        "cannot rotate the audit log: {action} {path} failed: {source}; check that the audit folder is writable"
    )]
    Rotate {
        /// What was being done: `renaming` or `removing`.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },

    /// A record could not be serialized (a `stats` value with a non-string map key, say).
    #[error("cannot serialize the audit record: {0}; this is a bug in the caller's record")]
    Serialize(#[source] serde_json::Error),

    /// There is no audit log in the folder.
    #[error("no audit log in {dir}: it is written by `sluice serve` and `sluice exec`")]
    NoLog {
        /// The folder that was searched.
        dir: PathBuf,
    },

    /// The audit folder could not be listed.
    #[error("cannot list the audit folder {path}: {source}; check its permissions")]
    ReadDir {
        /// The folder.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },

    /// A log file could not be read.
    #[error("cannot read the audit log {path}: {source}; check its permissions")]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },

    /// A line is not a record. The reader reports it and goes on with the next line.
    #[error(
        "skipped line {line} of {path}: {reason} (a line torn by a crash looks like this; the other lines are unaffected)"
    )]
    Malformed {
        /// The file.
        path: PathBuf,
        /// The 1-based line number.
        line: usize,
        /// Why it does not parse.
        reason: String,
    },

    /// A `since` filter that is neither a timestamp nor a relative time.
    #[error(
        "`{text}` is not a time to filter from: give an RFC 3339 timestamp (2026-04-14T09:30:05Z) or a time ago like 30s, 10m, 2h, 1d, 1w or 1h30m"
    )]
    InvalidSince {
        /// The text that was given.
        text: String,
        /// Why it is not a timestamp, when it looked like one.
        #[source]
        source: Option<TimestampError>,
    },
}
