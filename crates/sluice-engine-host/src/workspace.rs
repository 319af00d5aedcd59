//! The workspace file calls an engine hands its host: what agent code asked for
//! ([`WorkspaceRequest`]), what it gets back ([`WorkspaceReply`]) or why it failed
//! ([`WorkspaceError`], Node-style codes that each engine turns into its language's error).
//! The engines do no file IO themselves; [`crate::Host::workspace`] carries a call out.

use std::fmt;

/// One `fs/promises` call. Paths are exactly as agent code wrote them; the host checks them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkspaceRequest {
    /// `readFile(path)`: the file's bytes, which the engine gives the code as text (UTF-8,
    /// invalid sequences replaced) or, with `encoding: 'base64'`, as base64.
    ReadFile {
        /// The path as written.
        path: String,
        /// How the code wants the bytes.
        encoding: FileEncoding,
        /// Largest file the call may read (the JavaScript heap could not hold more); 0: no cap.
        max_bytes: u64,
    },
    /// `writeFile(path, data)` or `appendFile(path, data)`.
    WriteFile {
        /// The path as written.
        path: String,
        /// The bytes to write (the code's text as UTF-8, or its base64 decoded).
        data: Vec<u8>,
        /// Append instead of replacing the file's content.
        append: bool,
        /// The workspace quota (`ExecutionLimits::workspace_bytes`).
        quota_bytes: u64,
    },
    /// `readdir(path)`: the names in a folder.
    ReadDir {
        /// The path as written.
        path: String,
    },
    /// `stat(path)`.
    Stat {
        /// The path as written.
        path: String,
    },
    /// `rm(path, { recursive, force })`.
    Remove {
        /// The path as written.
        path: String,
        /// Remove folders and their content.
        recursive: bool,
        /// A path that does not exist is not an error.
        force: bool,
    },
    /// `mkdir(path, { recursive })`.
    MakeDir {
        /// The path as written.
        path: String,
        /// Create missing parents; an existing folder is not an error.
        recursive: bool,
    },
}

impl WorkspaceRequest {
    /// The path as agent code wrote it.
    pub fn path(&self) -> &str {
        match self {
            Self::ReadFile { path, .. }
            | Self::WriteFile { path, .. }
            | Self::ReadDir { path }
            | Self::Stat { path }
            | Self::Remove { path, .. }
            | Self::MakeDir { path, .. } => path,
        }
    }

    /// The Node system call name for error messages (`open`, `scandir`, ...).
    pub fn syscall(&self) -> &'static str {
        match self {
            Self::ReadFile { .. } | Self::WriteFile { .. } => "open",
            Self::ReadDir { .. } => "scandir",
            Self::Stat { .. } => "stat",
            Self::Remove { .. } => "rm",
            Self::MakeDir { .. } => "mkdir",
        }
    }
}

/// What a successful call returns.
#[derive(Debug, Clone, PartialEq)]
pub enum WorkspaceReply {
    /// The content of a file.
    Bytes(Vec<u8>),
    /// Names in a folder, sorted.
    Names(Vec<String>),
    /// What `stat` returns.
    Stat(FileStat),
    /// The call succeeded and returns `undefined`.
    Done,
}

/// File metadata for `stat`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FileStat {
    /// Size in bytes.
    pub size: u64,
    /// Last modification, in milliseconds since the Unix epoch.
    pub modified_ms: f64,
    /// A regular file.
    pub is_file: bool,
    /// A folder.
    pub is_directory: bool,
}

/// A failed call, as a Node-style error: `code` is `ENOENT`, `EACCES`, `EISDIR`, `EDQUOT`, ...
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspaceError {
    /// The error code, as Node names it.
    pub code: String,
    /// The whole message: what went wrong with which path, and what to do.
    pub message: String,
    /// The Node system call name.
    pub syscall: String,
    /// The path as agent code wrote it.
    pub path: String,
}

impl WorkspaceError {
    /// An error of `request` with `code` and a message that starts like Node's
    /// (`ENOENT: no such file or directory, open './workspace/x'`) and ends with `advice`.
    pub fn new(request: &WorkspaceRequest, code: &str, description: &str, advice: &str) -> Self {
        let syscall = request.syscall();
        let path = request.path();
        let mut message = format!(
            "{code}: {description}, {syscall} '{}'",
            printable_path(path)
        );
        if !advice.is_empty() {
            message.push_str(". ");
            message.push_str(advice);
        }
        Self {
            code: code.to_owned(),
            message,
            syscall: syscall.to_owned(),
            path: path.to_owned(),
        }
    }

    /// The error of every call when the worker has no workspace.
    pub fn no_workspace(request: &WorkspaceRequest) -> Self {
        Self::new(
            request,
            "ENOSYS",
            "no workspace folder is available to this execution",
            "File access needs a workspace configured for the gateway; keep data in variables or \
             return it instead",
        )
    }
}

impl fmt::Display for WorkspaceError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.message)
    }
}

impl std::error::Error for WorkspaceError {}

/// A path for a message: control characters escaped and long paths cut, so a hostile path
/// cannot flood or garble the message.
fn printable_path(path: &str) -> String {
    const MAX_CHARS: usize = 200;
    let mut out = String::new();
    for (index, character) in path.chars().enumerate() {
        if index == MAX_CHARS {
            out.push_str("...");
            break;
        }
        if character.is_control() {
            out.extend(character.escape_default());
        } else {
            out.push(character);
        }
    }
    out
}

/// How `readFile` gives a file's bytes to the code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FileEncoding {
    /// As text: UTF-8, invalid sequences replaced.
    #[default]
    Utf8,
    /// As base64 text (images and other binary files).
    Base64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_read_like_node_and_escape_paths() {
        let request = WorkspaceRequest::Stat {
            path: "./workspace/a\nb".into(),
        };
        let error = WorkspaceError::new(&request, "ENOENT", "no such file or directory", "Check");
        assert_eq!(
            error.message,
            "ENOENT: no such file or directory, stat './workspace/a\\nb'. Check"
        );
        assert_eq!(error.path, "./workspace/a\nb");
        assert_eq!(WorkspaceError::no_workspace(&request).code, "ENOSYS");
    }
}
