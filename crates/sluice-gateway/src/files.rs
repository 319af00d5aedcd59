//! `list_files` and `read_file` over everything the agent may browse: the generated API tree,
//! and, with a data folder, `workspace/` (files agent code wrote) and `skills/` (saved skills).
//!
//! What these views show of `workspace/` and `skills/` (contents, file names, errors) is scanned
//! for personal data like an execution's output: code may have saved a trusted server's results
//! there. A file is scanned before it is cut, so the cut never splits a value.
//!
//! The workspace is written by untrusted code, so it is read here as hostile: every path is
//! resolved with `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)` from a
//! descriptor of the folder, so neither `..`, an absolute path, nor a symlink the code planted
//! (even one swapped in between a check and a use) can make the gateway read outside it.

use std::ffi::OsStr;
use std::fs::File;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rustix::fs::{Dir, FileType, Mode, OFlags};

use crate::Gateway;
use crate::present::{FileError, FileListing, normalize};

/// Bytes of one file `read_file` returns; the rest is replaced by a notice.
pub const MAX_READ_BYTES: usize = 64 * 1024;

/// Bytes read past [`MAX_READ_BYTES`] so that a value at the cut is scanned whole.
const READ_MARGIN: usize = 4096;

/// Bytes dropped from the end of a scanned read that was itself cut short: a value cut by the
/// read (at most 254 bytes) is not found by the scan, and its text, with any tokens before it,
/// fits in this.
const READ_TAIL: usize = 1024;

/// Folders of the data folder the agent can browse, as they appear at the root of the tree.
const DATA_FOLDERS: [&str; 2] = [sluice_skills::SKILLS_DIR, crate::WORKSPACE_DIR];

impl Gateway {
    fn view_scan(&self, asked: &str) -> Result<crate::privacy::ViewScan, FileError> {
        self.privacy()
            .view_scan()
            .map_err(|problem| FileError::Unreadable {
                path: asked.to_owned(),
                reason: format!(
                    "privacy protection could not start ({problem}), so files are not shown"
                ),
            })
    }

    /// For a path under `workspace/` or `skills/`, the folder on disk and the rest of the path.
    /// The folders are the tenant's: a principal sees its own `workspace/` and `skills/` only.
    fn data_view<'a>(
        tenant: &crate::Tenant,
        normalized: &'a str,
    ) -> Option<(std::path::PathBuf, &'a str)> {
        let data_dir = tenant.data_dir()?;
        let (first, rest) = normalized.split_once('/').unwrap_or((normalized, ""));
        DATA_FOLDERS
            .contains(&first)
            .then(|| (data_dir.join(first), rest))
    }
}

/// Refuse what can never be beneath the folder before asking the kernel (it would refuse too,
/// with a less helpful error).
fn check_relative(rest: &str, asked: &str) -> Result<(), FileError> {
    let escapes = rest
        .split('/')
        .any(|component| component == ".." || component.contains('\0'));
    if escapes {
        return Err(FileError::Outside {
            path: asked.to_owned(),
        });
    }
    Ok(())
}

/// Open `rest` beneath `folder` (the folder itself when `rest` is empty), never following a
/// symlink.
fn open_beneath(
    folder: &Path,
    rest: &str,
    asked: &str,
    flags: OFlags,
) -> Result<std::os::fd::OwnedFd, FileError> {
    check_relative(rest, asked)?;
    let root = rustix::fs::open(
        folder,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|error| io_error(asked, error))?;
    let target = if rest.is_empty() { "." } else { rest };
    // fstat then refuses anything that is not a regular file or a folder (a FIFO, say).
    sluice_paths::open_beneath(&root, target, flags, Mode::empty()).map_err(|error| match error {
        rustix::io::Errno::XDEV | rustix::io::Errno::LOOP => FileError::Outside {
            path: asked.to_owned(),
        },
        rustix::io::Errno::NOTDIR => FileError::Unreadable {
            path: asked.to_owned(),
            reason: "not a folder; read it with read_file".to_owned(),
        },
        other => io_error(asked, other),
    })
}

fn io_error(asked: &str, error: rustix::io::Errno) -> FileError {
    if error == rustix::io::Errno::NOENT {
        FileError::NotFound {
            path: asked.to_owned(),
        }
    } else {
        FileError::Unreadable {
            path: asked.to_owned(),
            reason: std::io::Error::from(error).to_string(),
        }
    }
}

fn list_beneath(folder: &Path, rest: &str, asked: &str) -> Result<Vec<String>, FileError> {
    let directory = open_beneath(folder, rest, asked, OFlags::RDONLY | OFlags::DIRECTORY)?;
    let entries = Dir::read_from(&directory).map_err(|error| io_error(asked, error))?;
    let mut files = Vec::new();
    let mut folders = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|error| io_error(asked, error))?;
        let name = OsStr::from_bytes(entry.file_name().to_bytes()).to_string_lossy();
        // Hidden entries (`.`, `..`, the skills' `.history`) are not part of the view.
        if name.starts_with('.') {
            continue;
        }
        match entry.file_type() {
            FileType::Directory => folders.push(format!("{name}/")),
            FileType::RegularFile => files.push(name.into_owned()),
            // Symlinks and devices are shown for what they are, and never followed.
            FileType::Symlink => files.push(format!("{name} (symlink, not followed)")),
            _ => {}
        }
    }
    files.sort();
    folders.sort();
    files.extend(folders);
    Ok(files)
}

fn read_beneath(folder: &Path, rest: &str, asked: &str) -> Result<FileRead, FileError> {
    if rest.is_empty() {
        return Err(FileError::IsFolder {
            path: asked.to_owned(),
        });
    }
    // A folder opens too (read-only); `fstat` below tells it apart.
    let descriptor = open_beneath(folder, rest, asked, OFlags::RDONLY)?;
    let stat = rustix::fs::fstat(&descriptor).map_err(|error| io_error(asked, error))?;
    if FileType::from_raw_mode(stat.st_mode) == FileType::Directory {
        return Err(FileError::IsFolder {
            path: asked.to_owned(),
        });
    }
    if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile {
        return Err(FileError::Unreadable {
            path: asked.to_owned(),
            reason: "not a regular file".to_owned(),
        });
    }
    let mut bytes = Vec::new();
    File::from(descriptor)
        .take((MAX_READ_BYTES + READ_MARGIN) as u64)
        .read_to_end(&mut bytes)
        .map_err(|error| FileError::Unreadable {
            path: asked.to_owned(),
            reason: error.to_string(),
        })?;
    let size = u64::try_from(stat.st_size)
        .unwrap_or_default()
        .max(bytes.len() as u64);
    Ok(FileRead { bytes, size })
}

/// The start of a file, read beyond [`MAX_READ_BYTES`] by [`READ_MARGIN`].
#[derive(Debug)]
struct FileRead {
    bytes: Vec<u8>,
    size: u64,
}

impl FileRead {
    /// The text shown: scanned by `scan` first, then cut at [`MAX_READ_BYTES`] (outside tokens)
    /// with a notice when the file is longer.
    fn finish(self, scan: impl FnOnce(&str) -> String) -> String {
        let read_all = (self.bytes.len() as u64) >= self.size;
        let cut = self.size > MAX_READ_BYTES as u64;
        let mut text = scan(&String::from_utf8_lossy(&self.bytes));
        if cut {
            let mut end = MAX_READ_BYTES;
            if !read_all {
                end = end.min(text.len().saturating_sub(READ_TAIL));
            }
            let end = crate::execute::cut_outside_token(&text, end);
            text.truncate(end);
            text.push_str(&format!(
                "\n[file cut at {end} of {} bytes: read it in code (import * as fs from 'fs/promises') and log only what you need]\n",
                self.size
            ));
        }
        text
    }
}

/// An error about a workspace or skill path, its path and reason scanned.
fn scan_error(scan: &mut crate::privacy::ViewScan, error: FileError) -> FileError {
    match error {
        FileError::NotFound { path } => FileError::NotFound {
            path: scan.text(&path),
        },
        FileError::IsFolder { path } => FileError::IsFolder {
            path: scan.text(&path),
        },
        FileError::Outside { path } => FileError::Outside {
            path: scan.text(&path),
        },
        FileError::Unreadable { path, reason } => FileError::Unreadable {
            path: scan.text(&path),
            reason: scan.text(&reason),
        },
    }
}

/// See [`Gateway::list_files`].
pub(crate) async fn list_files(
    gateway: &Gateway,
    tenant: &crate::Tenant,
    path: &str,
) -> Result<FileListing, FileError> {
    let normalized = normalize(path);
    if let Some((folder, rest)) = Gateway::data_view(tenant, &normalized) {
        let mut scan = gateway.view_scan(path)?;
        let entries = list_beneath(&folder, rest, path).map_err(|e| scan_error(&mut scan, e))?;
        return Ok(FileListing {
            path: scan.text(&normalized),
            entries: entries.iter().map(|entry| scan.text(entry)).collect(),
            unavailable: Vec::new(),
            about: Default::default(),
        });
    }
    let mut listing = gateway.snapshot().await.list_files(path)?;
    if listing.path.is_empty() && tenant.data_dir().is_some() {
        for folder in DATA_FOLDERS {
            listing.entries.push(format!("{folder}/"));
        }
        listing.entries.sort_by_key(|entry| entry.ends_with('/'));
    }
    Ok(listing)
}

/// See [`Gateway::read_file`].
pub(crate) async fn read_file(
    gateway: &Gateway,
    tenant: &crate::Tenant,
    path: &str,
) -> Result<String, FileError> {
    let normalized = normalize(path);
    if let Some((folder, rest)) = Gateway::data_view(tenant, &normalized) {
        let mut scan = gateway.view_scan(path)?;
        let read = read_beneath(&folder, rest, path).map_err(|e| scan_error(&mut scan, e))?;
        return Ok(read.finish(|text| scan.text(text)));
    }
    gateway
        .snapshot()
        .await
        .read_file(path)
        .map(std::borrow::Cow::into_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_lists_beneath_only() {
        let root = tempfile::tempdir().unwrap();
        let workspace = root.path().join("workspace");
        std::fs::create_dir_all(workspace.join("sub")).unwrap();
        std::fs::write(workspace.join("a.csv"), "x,y\n").unwrap();
        std::fs::write(root.path().join("secret.txt"), "secret").unwrap();
        std::os::unix::fs::symlink(root.path().join("secret.txt"), workspace.join("link")).unwrap();
        std::os::unix::fs::symlink(root.path(), workspace.join("up")).unwrap();

        assert_eq!(
            list_beneath(&workspace, "", "workspace").unwrap(),
            [
                "a.csv",
                "link (symlink, not followed)",
                "up (symlink, not followed)",
                "sub/"
            ]
        );
        assert_eq!(
            read_beneath(&workspace, "a.csv", "a")
                .unwrap()
                .finish(str::to_owned),
            "x,y\n"
        );
        for escape in [
            "link",
            "up/secret.txt",
            "../secret.txt",
            "sub/../../secret.txt",
        ] {
            let error = read_beneath(&workspace, escape, escape).unwrap_err();
            assert!(
                matches!(error, FileError::Outside { .. }),
                "{escape}: {error:?}"
            );
        }
        assert!(matches!(
            list_beneath(&workspace, "up", "up"),
            Err(FileError::Outside { .. })
        ));
        assert!(matches!(
            read_beneath(&workspace, "sub", "sub"),
            Err(FileError::IsFolder { .. })
        ));
        assert!(matches!(
            read_beneath(&workspace, "nope", "nope"),
            Err(FileError::NotFound { .. })
        ));
    }

    #[test]
    fn a_fifo_is_refused_without_hanging() {
        let root = tempfile::tempdir().unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            root.path().join("pipe"),
            FileType::Fifo,
            Mode::RUSR | Mode::WUSR,
            0,
        )
        .unwrap();
        assert!(matches!(
            read_beneath(root.path(), "pipe", "pipe"),
            Err(FileError::Unreadable { .. })
        ));
    }

    #[test]
    fn large_files_are_cut() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("big"), "y".repeat(MAX_READ_BYTES + 10)).unwrap();
        let text = read_beneath(root.path(), "big", "big")
            .unwrap()
            .finish(str::to_owned);
        assert!(
            text.contains("[file cut at 65536 of 65546 bytes"),
            "{}",
            &text[text.len() - 200..]
        );
    }

    fn scanner() -> impl FnMut(&str) -> String {
        let tokenizer = sluice_pii::Tokenizer::new(&sluice_pii::DetectorConfig::default()).unwrap();
        let mut vault = sluice_pii::Vault::with_tag("fs").unwrap();
        move |text: &str| {
            tokenizer
                .tokenize_text(&mut vault, text, &sluice_pii::Origin::Unattributed)
                .text
                .into_owned()
        }
    }

    #[test]
    fn a_value_at_the_cut_is_scanned_whole_then_left_out() {
        let root = tempfile::tempdir().unwrap();
        // A phone number across the cut at MAX_READ_BYTES.
        let mut text = "y".repeat(MAX_READ_BYTES - 8);
        text.push_str(" +1 212 555 0143 and more\n");
        text.push_str(&"z".repeat(100));
        std::fs::write(root.path().join("cut"), &text).unwrap();
        let shown = read_beneath(root.path(), "cut", "cut")
            .unwrap()
            .finish(scanner());
        assert!(
            shown.contains("[file cut at "),
            "{}",
            &shown[shown.len() - 200..]
        );
        for part in ["+1", "212", "555", "0143"] {
            assert!(
                !shown.contains(part),
                "{part}: {}",
                &shown[shown.len() - 200..]
            );
        }
        // Emails shrink to tokens, so the text read past the cut is shown, up to a phone number
        // cut by the read itself: that one is left out with the tail.
        let mut text = String::new();
        while text.len() < MAX_READ_BYTES + READ_MARGIN - 10 {
            text.push_str(&format!(
                "someone.with.a.long.name.{}@example-company.com\n",
                text.len()
            ));
        }
        text.truncate(MAX_READ_BYTES + READ_MARGIN - 10);
        text.push_str("\n+44 20 7946 0958\n");
        text.push_str(&"w".repeat(1000));
        std::fs::write(root.path().join("shrink"), &text).unwrap();
        let shown = read_beneath(root.path(), "shrink", "shrink")
            .unwrap()
            .finish(scanner());
        assert!(shown.contains("[EMAIL_"), "{}", &shown[..200]);
        assert!(
            !shown.contains("@example"),
            "{}",
            &shown[shown.len() - 300..]
        );
        for part in ["+44", "7946", "0958"] {
            assert!(
                !shown.contains(part),
                "{part}: {}",
                &shown[shown.len() - 300..]
            );
        }
    }
}
