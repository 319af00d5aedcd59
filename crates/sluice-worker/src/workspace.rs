//! The workspace folder behind `fs/promises`: path rules, confinement and the quota.
//!
//! Agent code names files as `./workspace/<path>` or `workspace/<path>`. [`inside_path`] turns
//! that into a path relative to the workspace with `sluice_paths::workspace_components`,
//! refusing (with `EACCES`) absolute paths, NUL bytes, `..` components and anything not under
//! `workspace`, and (with `ENAMETOOLONG`) paths longer than
//! `sluice_paths::MAX_PATH_BYTES` below it. Every file
//! is then opened with `openat2` relative to a directory descriptor of the workspace, with
//! `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS`: the kernel itself refuses any
//! resolution that would leave the folder or pass through a symbolic link, so a link planted in
//! the workspace leads nowhere even if the path checks had a hole (the OS sandbox confines the
//! worker to the folder as well). Files with more than one hard link are refused too, since a
//! hard link can share its content with a file outside. Removal never follows links: a link is
//! removed, not its target. Folders nest at most `MAX_DEPTH` levels (`mkdir` refuses deeper).
//!
//! The quota: what the workspace costs (`sluice_paths::entry_cost`: file sizes, plus a fixed
//! cost and the name of every entry, plus a block for every folder) may not grow past
//! `ExecutionLimits::workspace_bytes`. Every write and every `mkdir` holds an exclusive `flock`
//! on the workspace folder itself while it decides and acts: when the operation would grow the
//! workspace, the folder is measured under the lock, and the operation fails with `EDQUOT`
//! before anything is written if it would pass the quota. Every worker of every gateway on this
//! folder takes the same lock, so concurrent executions cannot each see the same room; removals
//! take no lock (they only make room). The lock is the kernel's: a worker that dies releases it.
//!
//! Walks (measuring, recursive removal) keep one folder open at a time: each folder is opened
//! again from the workspace descriptor by its path (in pieces for a path longer than the kernel
//! accepts at once), read, and closed before the next, so no tree depth can exhaust the
//! worker's descriptors.
//!
//! Messages name paths as agent code wrote them, never the folder's place on the host.

use std::ffi::{CStr, OsStr};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rustix::fs::{AtFlags, Dir, FileType, FlockOperation, Mode, OFlags, Stat};
use rustix::io::Errno;
use sluice_engine_js::{FileStat, WorkspaceError, WorkspaceReply, WorkspaceRequest};
use sluice_paths::{DIRECTORY_BYTES, ENTRY_BYTES, MAX_DEPTH, PathRefusal, entry_cost};

/// Longest piece of a path a walk opens in one call (below the kernel's `PATH_MAX`).
const OPEN_PIECE_BYTES: usize = 3072;
/// Mode of created files (before the umask).
const FILE_MODE: u32 = 0o644;
/// Mode of created folders (before the umask).
const DIRECTORY_MODE: u32 = 0o755;

/// The workspace folder, open.
#[derive(Debug)]
pub(crate) struct Workspace {
    root: OwnedFd,
    /// The quota of the running execution (`ExecutionLimits::workspace_bytes`).
    quota_bytes: u64,
}

/// One `writeFile` or `appendFile`.
struct FileWrite<'a> {
    /// The path below the workspace.
    relative: &'a str,
    /// Length of the file's name (its last component).
    name_bytes: usize,
    data: &'a [u8],
    append: bool,
    quota_bytes: u64,
}

/// The exclusive lock on the workspace folder, released when dropped (or by the kernel when
/// the process dies).
struct QuotaLock<'a>(&'a OwnedFd);

impl Drop for QuotaLock<'_> {
    fn drop(&mut self) {
        if let Err(error) = rustix::fs::flock(self.0, FlockOperation::Unlock) {
            tracing::warn!(%error, "could not release the workspace lock");
        }
    }
}

impl Workspace {
    /// Open the folder. The error names the host path: it is for the worker's log only.
    pub(crate) fn open_folder(path: &Path) -> std::io::Result<Self> {
        let root = rustix::fs::open(
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(Self {
            root,
            quota_bytes: 0,
        })
    }

    /// Start an execution with this workspace quota.
    pub(crate) fn begin_execution(&mut self, quota_bytes: u64) {
        self.quota_bytes = quota_bytes;
    }

    /// Carry out one call.
    pub(crate) fn handle(
        &mut self,
        request: &WorkspaceRequest,
    ) -> Result<WorkspaceReply, WorkspaceError> {
        let components = inside_path(request)?;
        let relative = relative_path(&components);
        let fail = |errno: Errno| failure(request, errno);
        match request {
            WorkspaceRequest::ReadFile { max_bytes, .. } => {
                self.read_file(request, &relative, *max_bytes)
            }
            WorkspaceRequest::WriteFile {
                data,
                append,
                quota_bytes,
                ..
            } => {
                let Some(name) = components.last() else {
                    return Err(failure(request, Errno::ISDIR));
                };
                let write = FileWrite {
                    relative: &relative,
                    name_bytes: name.len(),
                    data,
                    append: *append,
                    quota_bytes: *quota_bytes,
                };
                self.write_file(request, &write)
                    .map(|()| WorkspaceReply::Done)
            }
            WorkspaceRequest::ReadDir { .. } => {
                let directory = self
                    .open_below(&relative, OFlags::RDONLY | OFlags::DIRECTORY)
                    .map_err(fail)?;
                // Dir takes the descriptor (no second one).
                let mut names = Vec::new();
                for entry in Dir::new(directory).map_err(fail)? {
                    let entry = entry.map_err(fail)?;
                    let name = entry.file_name().to_bytes();
                    if name != b"." && name != b".." {
                        names.push(String::from_utf8_lossy(name).into_owned());
                    }
                }
                names.sort();
                Ok(WorkspaceReply::Names(names))
            }
            WorkspaceRequest::Stat { .. } => {
                let file = self.open_below(&relative, OFlags::PATH).map_err(fail)?;
                let stat = rustix::fs::fstat(&file).map_err(fail)?;
                let kind = FileType::from_raw_mode(stat.st_mode);
                // Defence in depth: RESOLVE_NO_SYMLINKS already refuses a trailing link.
                if kind == FileType::Symlink {
                    return Err(fail(Errno::LOOP));
                }
                Ok(WorkspaceReply::Stat(FileStat {
                    size: size_of(&stat),
                    modified_ms: stat.st_mtime as f64 * 1000.0 + stat.st_mtime_nsec as f64 / 1e6,
                    is_file: kind == FileType::RegularFile,
                    is_directory: kind == FileType::Directory,
                }))
            }
            WorkspaceRequest::Remove {
                recursive, force, ..
            } => self
                .remove(request, &components, *recursive, *force)
                .map(|()| WorkspaceReply::Done),
            WorkspaceRequest::MakeDir { recursive, .. } => self
                .make_directory(request, &components, *recursive)
                .map(|()| WorkspaceReply::Done),
        }
    }

    /// Open a path below the workspace (never through a link, never outside).
    fn open_below(&self, relative: &str, flags: OFlags) -> Result<OwnedFd, Errno> {
        self.open_in(&self.root, relative, flags, 0)
    }

    fn open_in(
        &self,
        directory: impl AsFd,
        relative: impl rustix::path::Arg,
        flags: OFlags,
        mode: u32,
    ) -> Result<OwnedFd, Errno> {
        sluice_paths::open_beneath(directory, relative, flags, Mode::from_raw_mode(mode))
    }

    fn read_file(
        &self,
        request: &WorkspaceRequest,
        relative: &str,
        max_bytes: u64,
    ) -> Result<WorkspaceReply, WorkspaceError> {
        let fail = |errno: Errno| failure(request, errno);
        let file = self.open_below(relative, OFlags::RDONLY).map_err(fail)?;
        let stat = rustix::fs::fstat(&file).map_err(fail)?;
        check_regular_file(request, &stat)?;
        let size = size_of(&stat);
        if max_bytes > 0 && size > max_bytes {
            return Err(WorkspaceError::new(
                request,
                "EFBIG",
                "file too large",
                &format!(
                    "The file is {size} bytes; the JavaScript heap holds at most {max_bytes}. \
                     Split the data into smaller files"
                ),
            ));
        }
        let mut bytes = Vec::new();
        let limit = if max_bytes > 0 { max_bytes } else { u64::MAX };
        File::from(file)
            .take(limit)
            .read_to_end(&mut bytes)
            .map_err(|error| failure(request, io_errno(&error)))?;
        Ok(WorkspaceReply::Bytes(bytes))
    }

    /// Take the workspace lock: every worker's writes and folder creations are serialized by
    /// it, so the usage measured under it stays true until the lock is released.
    fn lock(&self, request: &WorkspaceRequest) -> Result<QuotaLock<'_>, WorkspaceError> {
        rustix::fs::flock(&self.root, FlockOperation::LockExclusive).map_err(|errno| {
            WorkspaceError::new(
                request,
                "EIO",
                &format!("the workspace could not be locked for its quota ({errno})"),
                "Try again",
            )
        })?;
        Ok(QuotaLock(&self.root))
    }

    /// Refuse with `EDQUOT` when growing the workspace by `growth` bytes would take it past
    /// `quota_bytes` (measured now, under the lock the caller holds).
    fn check_room(
        &self,
        request: &WorkspaceRequest,
        growth: u64,
        quota_bytes: u64,
    ) -> Result<(), WorkspaceError> {
        if growth == 0 {
            return Ok(());
        }
        let usage = self.usage(request)?;
        let after = usage.saturating_add(growth);
        if after > quota_bytes {
            return Err(WorkspaceError::new(
                request,
                "EDQUOT",
                "disk quota exceeded",
                &format!(
                    "The workspace may hold {quota_bytes} bytes (file contents, plus \
                     {ENTRY_BYTES} bytes and the name of every file and folder, plus \
                     {DIRECTORY_BYTES} bytes for every folder); it holds {usage} and this \
                     would make it {after}. Nothing was written: remove files or folders with \
                     fs.rm, or write less"
                ),
            ));
        }
        Ok(())
    }

    fn write_file(
        &mut self,
        request: &WorkspaceRequest,
        write: &FileWrite<'_>,
    ) -> Result<(), WorkspaceError> {
        let fail = |errno: Errno| failure(request, errno);
        let _lock = self.lock(request)?;
        let existing = match self.open_below(write.relative, OFlags::PATH) {
            Ok(file) => {
                let stat = rustix::fs::fstat(&file).map_err(fail)?;
                check_regular_file(request, &stat)?;
                Some(size_of(&stat))
            }
            Err(Errno::NOENT) => None,
            Err(errno) => return Err(fail(errno)),
        };
        let written = write.data.len() as u64;
        // What the workspace grows by; a write that does not grow it is allowed even over the
        // quota, so data can always be made smaller.
        let growth = match existing {
            None => entry_cost(write.name_bytes, false, written),
            Some(_) if write.append => written,
            Some(size) => written.saturating_sub(size),
        };
        self.check_room(request, growth, write.quota_bytes.min(self.quota_bytes))?;
        let mode = if write.append {
            OFlags::WRONLY | OFlags::CREATE | OFlags::APPEND
        } else {
            OFlags::WRONLY | OFlags::CREATE
        };
        let file = self
            .open_in(&self.root, write.relative, mode, FILE_MODE)
            .map_err(fail)?;
        let stat = rustix::fs::fstat(&file).map_err(fail)?;
        // Checked before truncating: a hard-linked file is refused untouched.
        check_regular_file(request, &stat)?;
        if !write.append {
            rustix::fs::ftruncate(&file, 0).map_err(fail)?;
        }
        let mut file = File::from(file);
        file.write_all(write.data)
            .and_then(|()| file.flush())
            .map_err(|error| failure(request, io_errno(&error)))
    }

    fn remove(
        &mut self,
        request: &WorkspaceRequest,
        components: &[&str],
        recursive: bool,
        force: bool,
    ) -> Result<(), WorkspaceError> {
        let fail = |errno: Errno| failure(request, errno);
        let Some((name, parents)) = components.split_last() else {
            return Err(WorkspaceError::new(
                request,
                "EACCES",
                "permission denied",
                "The workspace folder itself cannot be removed: remove the entries in it",
            ));
        };
        let parent =
            match self.open_below(&relative_path(parents), OFlags::RDONLY | OFlags::DIRECTORY) {
                Ok(parent) => parent,
                Err(Errno::NOENT) if force => return Ok(()),
                Err(errno) => return Err(fail(errno)),
            };
        let stat = match rustix::fs::statat(&parent, *name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) => stat,
            Err(Errno::NOENT) if force => return Ok(()),
            Err(errno) => return Err(fail(errno)),
        };
        if FileType::from_raw_mode(stat.st_mode) == FileType::Directory {
            if !recursive {
                return Err(WorkspaceError::new(
                    request,
                    "EISDIR",
                    "is a directory",
                    "Pass { recursive: true } to remove a folder and its content",
                ));
            }
            drop(parent);
            self.remove_tree(components.join("/").as_bytes())
                .map_err(fail)
        } else {
            rustix::fs::unlinkat(&parent, *name, AtFlags::empty()).map_err(fail)
        }
    }

    /// Remove the folder at `top` (a path below the workspace) and everything in it, one
    /// folder open at a time: each folder's files are removed when it is read, its sub-folders
    /// are visited next, and it is removed once they are gone.
    fn remove_tree(&self, top: &[u8]) -> Result<(), Errno> {
        // (path, whether its content is already gone)
        let mut pending: Vec<(Vec<u8>, bool)> = vec![(top.to_vec(), false)];
        while let Some((path, emptied)) = pending.pop() {
            // What another removal took meanwhile is gone already.
            if emptied {
                let (parent, name) = match path.iter().rposition(|byte| *byte == b'/') {
                    Some(slash) => (self.open_path(&path[..slash])?, &path[slash + 1..]),
                    None => (self.open_path(b".")?, &path[..]),
                };
                ignore_gone(rustix::fs::unlinkat(
                    &parent,
                    OsStr::from_bytes(name),
                    AtFlags::REMOVEDIR,
                ))?;
                continue;
            }
            let directory = match self.open_path(&path) {
                Ok(directory) => directory,
                Err(Errno::NOENT) => continue,
                Err(errno) => return Err(errno),
            };
            let entries = entries(&directory)?;
            pending.push((path.clone(), true));
            for entry in entries {
                if entry.is_directory {
                    pending.push((child_path(&path, entry.name.to_bytes()), false));
                } else {
                    ignore_gone(rustix::fs::unlinkat(
                        &directory,
                        entry.name.as_c_str(),
                        AtFlags::empty(),
                    ))?;
                }
            }
        }
        Ok(())
    }

    /// Open the folder at `path` (below the workspace, `.` for the workspace itself), in pieces
    /// when the path is longer than the kernel takes at once; at most two descriptors are open
    /// meanwhile.
    fn open_path(&self, path: &[u8]) -> Result<OwnedFd, Errno> {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY;
        let mut rest = path;
        let mut current: Option<OwnedFd> = None;
        loop {
            let piece_end = if rest.len() <= OPEN_PIECE_BYTES {
                rest.len()
            } else {
                // Cut at the last `/` within the piece; a name is never longer than 255 bytes.
                rest[..OPEN_PIECE_BYTES]
                    .iter()
                    .rposition(|byte| *byte == b'/')
                    .ok_or(Errno::NAMETOOLONG)?
            };
            let piece = OsStr::from_bytes(&rest[..piece_end]);
            let next = match &current {
                Some(directory) => self.open_in(directory, piece, flags, 0)?,
                None => self.open_in(&self.root, piece, flags, 0)?,
            };
            current = Some(next);
            rest = rest.get(piece_end + 1..).unwrap_or_default();
            if rest.is_empty() {
                return current.ok_or(Errno::INVAL);
            }
        }
    }

    fn make_directory(
        &self,
        request: &WorkspaceRequest,
        components: &[&str],
        recursive: bool,
    ) -> Result<(), WorkspaceError> {
        let fail = |errno: Errno| failure(request, errno);
        if components.is_empty() {
            return if recursive {
                Ok(())
            } else {
                Err(fail(Errno::EXIST))
            };
        }
        if components.len() > MAX_DEPTH {
            return Err(WorkspaceError::new(
                request,
                "EACCES",
                "permission denied",
                &format!(
                    "Folders may nest at most {MAX_DEPTH} levels below ./workspace, and this one \
                     would be {} levels deep: use fewer levels",
                    components.len()
                ),
            ));
        }
        let _lock = self.lock(request)?;
        // The folders this call creates, from the first that does not exist on.
        let mut current = self
            .open_below(".", OFlags::RDONLY | OFlags::DIRECTORY)
            .map_err(fail)?;
        let mut missing = components.len();
        for (index, component) in components.iter().enumerate() {
            match self.open_in(&current, *component, OFlags::RDONLY | OFlags::DIRECTORY, 0) {
                Ok(next) => current = next,
                Err(Errno::NOENT) => {
                    missing = index;
                    break;
                }
                // The last component names something that is not a folder: it exists.
                Err(Errno::NOTDIR) if index + 1 == components.len() => {
                    return Err(fail(Errno::EXIST));
                }
                Err(errno) => return Err(fail(errno)),
            }
        }
        let created = &components[missing..];
        if created.is_empty() {
            return if recursive {
                Ok(())
            } else {
                Err(fail(Errno::EXIST))
            };
        }
        if !recursive && created.len() > 1 {
            return Err(fail(Errno::NOENT));
        }
        let growth = created
            .iter()
            .map(|name| entry_cost(name.len(), true, 0))
            .fold(0u64, u64::saturating_add);
        self.check_room(request, growth, self.quota_bytes)?;
        for component in created {
            match rustix::fs::mkdirat(&current, *component, Mode::from_raw_mode(DIRECTORY_MODE)) {
                Ok(()) => {}
                // Made meanwhile from outside Sluice (every worker holds the lock here).
                Err(Errno::EXIST) if recursive => {}
                Err(errno) => return Err(fail(errno)),
            }
            current = self
                .open_in(&current, *component, OFlags::RDONLY | OFlags::DIRECTORY, 0)
                .map_err(fail)?;
        }
        Ok(())
    }

    /// What the workspace costs now (see `sluice_paths::entry_cost`).
    fn usage(&self, request: &WorkspaceRequest) -> Result<u64, WorkspaceError> {
        self.measure().map_err(|errno| {
            let advice = if errno == Errno::NAMETOOLONG {
                "A name in the workspace is longer than the system allows; remove it with fs.rm"
                    .to_owned()
            } else {
                format!("{errno}: a folder in it could not be read; remove it with fs.rm")
            };
            WorkspaceError::new(
                request,
                "EIO",
                "the workspace could not be measured for its quota",
                &advice,
            )
        })
    }

    /// Walk the workspace, one folder open at a time, adding up what its entries cost.
    fn measure(&self) -> Result<u64, Errno> {
        let mut total = 0u64;
        let mut pending: Vec<Vec<u8>> = vec![b".".to_vec()];
        while let Some(path) = pending.pop() {
            // A folder removed meanwhile (removals take no lock) costs nothing.
            let directory = match self.open_path(&path) {
                Ok(directory) => directory,
                Err(Errno::NOENT) => continue,
                Err(errno) => return Err(errno),
            };
            for entry in entries(&directory)? {
                let name = entry.name.to_bytes();
                total =
                    total.saturating_add(entry_cost(name.len(), entry.is_directory, entry.size));
                if entry.is_directory {
                    pending.push(child_path(&path, name));
                }
            }
        }
        Ok(total)
    }
}

/// One entry of a folder.
struct Entry {
    name: std::ffi::CString,
    is_directory: bool,
    size: u64,
}

/// The entries of an open folder. Links are not followed.
fn entries(directory: &OwnedFd) -> Result<Vec<Entry>, Errno> {
    let mut entries = Vec::new();
    for entry in Dir::read_from(directory)? {
        let entry = entry?;
        let name: &CStr = entry.file_name();
        if matches!(name.to_bytes(), b"." | b"..") {
            continue;
        }
        let stat = match rustix::fs::statat(directory, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) => stat,
            // Removed since the folder was read (removals take no lock): gone, costs nothing.
            Err(Errno::NOENT) => continue,
            Err(errno) => return Err(errno),
        };
        entries.push(Entry {
            name: name.to_owned(),
            is_directory: FileType::from_raw_mode(stat.st_mode) == FileType::Directory,
            size: size_of(&stat),
        });
    }
    Ok(entries)
}

/// A removal of something already gone succeeded.
fn ignore_gone(result: Result<(), Errno>) -> Result<(), Errno> {
    match result {
        Err(Errno::NOENT) => Ok(()),
        other => other,
    }
}

/// `parent/name`, or `name` when `parent` is the workspace itself (`.`).
fn child_path(parent: &[u8], name: &[u8]) -> Vec<u8> {
    if parent == b"." {
        return name.to_vec();
    }
    let mut path = Vec::with_capacity(parent.len() + 1 + name.len());
    path.extend_from_slice(parent);
    path.push(b'/');
    path.extend_from_slice(name);
    path
}

/// The components of a path below the workspace (empty: the workspace itself), or why the path
/// is refused.
pub(crate) fn inside_path(request: &WorkspaceRequest) -> Result<Vec<&str>, WorkspaceError> {
    sluice_paths::workspace_components(request.path()).map_err(|refusal| {
        let advice = refusal.to_string();
        match refusal {
            PathRefusal::TooLong { .. } => {
                WorkspaceError::new(request, "ENAMETOOLONG", "name too long", &advice)
            }
            _ => WorkspaceError::new(request, "EACCES", "permission denied", &advice),
        }
    })
}

/// The path for `openat2` relative to the workspace descriptor.
fn relative_path(components: &[&str]) -> String {
    if components.is_empty() {
        ".".to_owned()
    } else {
        components.join("/")
    }
}

fn size_of(stat: &Stat) -> u64 {
    u64::try_from(stat.st_size).unwrap_or(0)
}

/// Only regular files with one link are read or written.
fn check_regular_file(request: &WorkspaceRequest, stat: &Stat) -> Result<(), WorkspaceError> {
    match FileType::from_raw_mode(stat.st_mode) {
        FileType::RegularFile => {}
        FileType::Directory => return Err(failure(request, Errno::ISDIR)),
        _ => {
            return Err(WorkspaceError::new(
                request,
                "EACCES",
                "permission denied",
                "Only regular files can be read or written",
            ));
        }
    }
    if stat.st_nlink > 1 {
        return Err(WorkspaceError::new(
            request,
            "EACCES",
            "permission denied",
            "The file has more than one hard link, and a hard link may share a file outside \
             the workspace: copy it to a new file first",
        ));
    }
    Ok(())
}

fn io_errno(error: &std::io::Error) -> Errno {
    error
        .raw_os_error()
        .map_or(Errno::IO, Errno::from_raw_os_error)
}

/// A Node-style error for a failed system call.
fn failure(request: &WorkspaceRequest, errno: Errno) -> WorkspaceError {
    let (code, description, advice) = match errno {
        Errno::NOENT => (
            "ENOENT",
            "no such file or directory",
            "List the folder with fs.readdir('./workspace') to see what exists",
        ),
        Errno::EXIST => (
            "EEXIST",
            "file already exists",
            "Pass { recursive: true } to accept a folder that exists",
        ),
        Errno::NOTDIR => (
            "ENOTDIR",
            "not a directory",
            "A part of the path is a file, not a folder",
        ),
        Errno::ISDIR => (
            "EISDIR",
            "illegal operation on a directory",
            "The path names a folder: use fs.readdir to list it",
        ),
        Errno::NOTEMPTY => (
            "ENOTEMPTY",
            "directory not empty",
            "Pass { recursive: true } to remove a folder and its content",
        ),
        Errno::LOOP | Errno::XDEV => (
            "EACCES",
            "permission denied",
            "The path leads through a symbolic link or out of the workspace: links are not \
             followed in ./workspace",
        ),
        Errno::ACCESS | Errno::PERM => ("EACCES", "permission denied", ""),
        Errno::NOSPC => (
            "ENOSPC",
            "no space left on device",
            "Remove files or write less",
        ),
        Errno::DQUOT => (
            "EDQUOT",
            "disk quota exceeded",
            "Remove files or write less",
        ),
        Errno::NAMETOOLONG => ("ENAMETOOLONG", "name too long", "Use a shorter path"),
        Errno::NOSYS => (
            "ENOSYS",
            "function not implemented",
            "The system lacks openat2 (Linux 5.6 or later), which safe workspace access needs",
        ),
        _ => {
            return WorkspaceError::new(
                request,
                "EIO",
                &format!("input/output error ({errno})"),
                "",
            );
        }
    };
    WorkspaceError::new(request, code, description, advice)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn components(path: &str) -> Result<Vec<String>, String> {
        inside_path(&WorkspaceRequest::Stat { path: path.into() })
            .map(|components| components.into_iter().map(str::to_owned).collect())
            .map_err(|error| error.message)
    }

    #[test]
    fn paths_name_the_workspace_and_nothing_else() {
        assert_eq!(components("./workspace"), Ok(vec![]));
        assert_eq!(components("workspace/"), Ok(vec![]));
        assert_eq!(
            components("./workspace//a/./b.txt"),
            Ok(vec!["a".to_owned(), "b.txt".to_owned()])
        );
        for refused in [
            "/etc/passwd",
            "../x",
            "./workspace/../../x",
            "./workspace/a/../b",
            "a.txt",
            "./workspaces/a",
            "work\0space/a",
            "",
        ] {
            let message = components(refused).unwrap_err();
            assert!(
                message.starts_with("EACCES: permission denied, stat '"),
                "{message}"
            );
        }
        assert!(components("/x").unwrap_err().contains("Absolute paths"));
        assert!(components("./workspace/../x").unwrap_err().contains("'..'"));
    }
}
