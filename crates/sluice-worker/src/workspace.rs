//! The workspace folder behind `fs/promises`: path rules, confinement and the quota.
//!
//! Agent code names files as `./workspace/<path>` or `workspace/<path>`. [`inside_path`] turns
//! that into a path relative to the workspace, refusing (with `EACCES`) absolute paths, NUL
//! bytes, `..` components and anything not under `workspace`. Every file is then opened with
//! `openat2` relative to a directory descriptor of the workspace, with `RESOLVE_BENEATH |
//! RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS`: the kernel itself refuses any resolution that
//! would leave the folder or pass through a symbolic link, so a link planted in the workspace
//! leads nowhere even if the path checks had a hole (the OS sandbox confines the worker to the
//! folder as well). Files with more than one hard link are refused too, since a hard link can
//! share its content with a file outside. Removal never follows links: a link is removed, not
//! its target.
//!
//! The quota: the bytes of all files in the workspace (regular files and links, by their size)
//! may not grow past `ExecutionLimits::workspace_bytes`. The usage is measured by walking the
//! folder at the first write of each execution, then kept up to date by this worker's writes and
//! removals. A write that would pass the quota fails with `EDQUOT` before anything is written.
//!
//! Messages name paths as agent code wrote them, never the folder's place on the host.

use std::ffi::{CStr, CString};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags, ResolveFlags, Stat};
use rustix::io::Errno;
use sluice_engine_js::{FileStat, WorkspaceError, WorkspaceReply, WorkspaceRequest};

/// How every path is resolved below the workspace descriptor.
const RESOLVE: ResolveFlags = ResolveFlags::BENEATH
    .union(ResolveFlags::NO_SYMLINKS)
    .union(ResolveFlags::NO_MAGICLINKS);
/// Folder depth the walks (quota, recursive removal) go to; deeper trees are refused.
const MAX_DEPTH: usize = 128;
/// Mode of created files (before the umask).
const FILE_MODE: u32 = 0o644;
/// Mode of created folders (before the umask).
const DIRECTORY_MODE: u32 = 0o755;

/// The workspace folder, open.
#[derive(Debug)]
pub(crate) struct Workspace {
    root: OwnedFd,
    /// Bytes the workspace holds, once measured in this execution.
    usage: Option<u64>,
}

impl Workspace {
    /// Open the folder. The error names the host path: it is for the worker's log only.
    pub(crate) fn open_folder(path: &Path) -> std::io::Result<Self> {
        let root = rustix::fs::open(
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(Self { root, usage: None })
    }

    /// Forget the measured usage: others may have changed the folder between executions.
    pub(crate) fn begin_execution(&mut self) {
        self.usage = None;
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
                if components.is_empty() {
                    return Err(failure(request, Errno::ISDIR));
                }
                self.write_file(request, &relative, data.as_bytes(), *append, *quota_bytes)
                    .map(|()| WorkspaceReply::Done)
            }
            WorkspaceRequest::ReadDir { .. } => {
                let directory = self
                    .open_below(&relative, OFlags::RDONLY | OFlags::DIRECTORY)
                    .map_err(fail)?;
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
        // No O_NOFOLLOW: RESOLVE_NO_SYMLINKS then refuses a trailing link too (ELOOP), where
        // O_NOFOLLOW would open the link itself (O_PATH) or fail with a misleading ENOTDIR.
        // NONBLOCK: a FIFO placed in the folder must not hang the worker on open; openat2
        // refuses it (like any flag but a few) with O_PATH.
        let extra = if flags.contains(OFlags::PATH) {
            OFlags::CLOEXEC
        } else {
            OFlags::CLOEXEC | OFlags::NONBLOCK
        };
        rustix::fs::openat2(
            directory,
            relative,
            flags | extra,
            Mode::from_raw_mode(mode),
            RESOLVE,
        )
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
        Ok(WorkspaceReply::Text(
            String::from_utf8_lossy(&bytes).into_owned(),
        ))
    }

    fn write_file(
        &mut self,
        request: &WorkspaceRequest,
        relative: &str,
        data: &[u8],
        append: bool,
        quota_bytes: u64,
    ) -> Result<(), WorkspaceError> {
        let fail = |errno: Errno| failure(request, errno);
        let usage = self.usage(request)?;
        let existing = match self.open_below(relative, OFlags::PATH) {
            Ok(file) => {
                let stat = rustix::fs::fstat(&file).map_err(fail)?;
                check_regular_file(request, &stat)?;
                size_of(&stat)
            }
            Err(Errno::NOENT) => 0,
            Err(errno) => return Err(fail(errno)),
        };
        let written = data.len() as u64;
        let after = if append {
            usage.saturating_add(written)
        } else {
            usage.saturating_sub(existing).saturating_add(written)
        };
        // A write that does not grow the workspace is allowed even over the quota, so data can
        // always be made smaller.
        if after > quota_bytes && after > usage {
            return Err(WorkspaceError::new(
                request,
                "EDQUOT",
                "disk quota exceeded",
                &format!(
                    "The workspace may hold {quota_bytes} bytes; it holds {usage} and this write \
                     would make it {after}. Nothing was written: remove files with fs.rm or \
                     write less"
                ),
            ));
        }
        let mode = if append {
            OFlags::WRONLY | OFlags::CREATE | OFlags::APPEND
        } else {
            OFlags::WRONLY | OFlags::CREATE
        };
        let file = self
            .open_in(&self.root, relative, mode, FILE_MODE)
            .map_err(fail)?;
        let stat = rustix::fs::fstat(&file).map_err(fail)?;
        // Checked before truncating: a hard-linked file is refused untouched.
        check_regular_file(request, &stat)?;
        if !append {
            rustix::fs::ftruncate(&file, 0).map_err(fail)?;
        }
        let mut file = File::from(file);
        let written_ok = file.write_all(data).and_then(|()| file.flush());
        // Measure again on the next write if this one failed midway.
        self.usage = match &written_ok {
            Ok(()) => Some(after),
            Err(_) => None,
        };
        written_ok.map_err(|error| failure(request, io_errno(&error)))
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
        let freed = if FileType::from_raw_mode(stat.st_mode) == FileType::Directory {
            if !recursive {
                return Err(WorkspaceError::new(
                    request,
                    "EISDIR",
                    "is a directory",
                    "Pass { recursive: true } to remove a folder and its content",
                ));
            }
            let name_c = CString::new(*name).map_err(|_| fail(Errno::INVAL))?;
            let freed = self.remove_tree(&parent, &name_c, 0).map_err(fail)?;
            rustix::fs::unlinkat(&parent, *name, AtFlags::REMOVEDIR).map_err(fail)?;
            freed
        } else {
            rustix::fs::unlinkat(&parent, *name, AtFlags::empty()).map_err(fail)?;
            size_of(&stat)
        };
        if let Some(usage) = &mut self.usage {
            *usage = usage.saturating_sub(freed);
        }
        Ok(())
    }

    /// Remove everything inside `parent/name` (not the folder itself); the bytes freed.
    fn remove_tree(&self, parent: &OwnedFd, name: &CStr, depth: usize) -> Result<u64, Errno> {
        if depth >= MAX_DEPTH {
            return Err(Errno::LOOP);
        }
        let directory = self.open_in(parent, name, OFlags::RDONLY | OFlags::DIRECTORY, 0)?;
        let mut freed = 0u64;
        for (entry, is_directory, size) in self.entries(&directory)? {
            if is_directory {
                freed = freed.saturating_add(self.remove_tree(&directory, &entry, depth + 1)?);
                rustix::fs::unlinkat(&directory, entry.as_c_str(), AtFlags::REMOVEDIR)?;
            } else {
                rustix::fs::unlinkat(&directory, entry.as_c_str(), AtFlags::empty())?;
                freed = freed.saturating_add(size);
            }
        }
        Ok(freed)
    }

    /// Entries of an open folder: name, whether it is a folder, size. Links are not followed.
    fn entries(&self, directory: &OwnedFd) -> Result<Vec<(CString, bool, u64)>, Errno> {
        let mut entries = Vec::new();
        for entry in Dir::read_from(directory)? {
            let entry = entry?;
            let bytes = entry.file_name().to_bytes();
            if bytes == b"." || bytes == b".." {
                continue;
            }
            let name = entry.file_name().to_owned();
            let stat = rustix::fs::statat(directory, name.as_c_str(), AtFlags::SYMLINK_NOFOLLOW)?;
            let is_directory = FileType::from_raw_mode(stat.st_mode) == FileType::Directory;
            entries.push((name, is_directory, size_of(&stat)));
        }
        Ok(entries)
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
        if !recursive {
            let (name, parents) = components.split_last().ok_or_else(|| fail(Errno::INVAL))?;
            let parent = self
                .open_below(&relative_path(parents), OFlags::RDONLY | OFlags::DIRECTORY)
                .map_err(fail)?;
            return rustix::fs::mkdirat(&parent, *name, Mode::from_raw_mode(DIRECTORY_MODE))
                .map_err(fail);
        }
        let mut current = self
            .open_below(".", OFlags::RDONLY | OFlags::DIRECTORY)
            .map_err(fail)?;
        for component in components {
            match rustix::fs::mkdirat(&current, *component, Mode::from_raw_mode(DIRECTORY_MODE)) {
                Ok(()) | Err(Errno::EXIST) => {}
                Err(errno) => return Err(fail(errno)),
            }
            current = self
                .open_in(&current, *component, OFlags::RDONLY | OFlags::DIRECTORY, 0)
                .map_err(fail)?;
        }
        Ok(())
    }

    /// The bytes the workspace holds (measured once per execution).
    fn usage(&mut self, request: &WorkspaceRequest) -> Result<u64, WorkspaceError> {
        if let Some(usage) = self.usage {
            return Ok(usage);
        }
        let root = self
            .open_below(".", OFlags::RDONLY | OFlags::DIRECTORY)
            .map_err(|errno| failure(request, errno))?;
        let usage = self.measure(&root, 0).map_err(|errno| {
            WorkspaceError::new(
                request,
                "EIO",
                "the workspace could not be measured for its quota",
                &format!("{errno}: the folder tree may be too deep (more than {MAX_DEPTH} levels)"),
            )
        })?;
        self.usage = Some(usage);
        Ok(usage)
    }

    fn measure(&self, directory: &OwnedFd, depth: usize) -> Result<u64, Errno> {
        if depth >= MAX_DEPTH {
            return Err(Errno::LOOP);
        }
        let mut total = 0u64;
        for (name, is_directory, size) in self.entries(directory)? {
            total = total.saturating_add(if is_directory {
                let child = self.open_in(
                    directory,
                    name.as_c_str(),
                    OFlags::RDONLY | OFlags::DIRECTORY,
                    0,
                )?;
                self.measure(&child, depth + 1)?
            } else {
                size
            });
        }
        Ok(total)
    }
}

/// The components of a path below the workspace (empty: the workspace itself), or why the path
/// is refused.
pub(crate) fn inside_path(request: &WorkspaceRequest) -> Result<Vec<&str>, WorkspaceError> {
    let path = request.path();
    let refuse = |advice: &str| WorkspaceError::new(request, "EACCES", "permission denied", advice);
    if path.contains('\0') {
        return Err(refuse("The path contains a NUL byte"));
    }
    if path.starts_with('/') {
        return Err(refuse(
            "Absolute paths are refused: only the workspace folder is accessible, as \
             './workspace/<name>'",
        ));
    }
    let mut components = path
        .split('/')
        .filter(|component| !component.is_empty() && *component != ".");
    match components.next() {
        Some("workspace") => {}
        _ => {
            return Err(refuse(
                "Only files under ./workspace are accessible: write './workspace/<name>'",
            ));
        }
    }
    let inside: Vec<&str> = components.collect();
    if inside.contains(&"..") {
        return Err(refuse(
            "'..' is refused in workspace paths: name the file from ./workspace down",
        ));
    }
    Ok(inside)
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
