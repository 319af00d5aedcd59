/*!
The workspace's rules: which paths agent code may name, how deep folders may nest, and what each
entry costs against the workspace quota (all pure); and [`open_beneath`], the one way a path
inside a confined folder is opened (the only function here that touches the file system).

Agent code names files as `./workspace/<path>` or `workspace/<path>`. [`workspace_components`]
turns that into the components of a path below the workspace folder, or refuses it: NUL bytes,
absolute paths, anything not under `workspace`, `..` components, and paths longer than
[`MAX_PATH_BYTES`] below the folder. Empty and `.` components are dropped. What it returns can
be joined with `/` and handed to `openat2` beneath the folder: no component is empty, `.`,
`..` or holds a `/` or a NUL.

# Depth

Folders nest at most [`MAX_DEPTH`] levels below the workspace (a file may sit in the deepest
one). Together with [`MAX_PATH_BYTES`] this keeps every path the file API can create short
enough to be opened again from the workspace folder by its path, which is how the workspace is
walked: one directory open at a time, whatever the depth.

# Quota accounting

The quota counts what the workspace costs the disk, not only the bytes in its files:
- every entry (file, folder, link, anything) costs [`ENTRY_BYTES`] (an inode's worth) plus the
  length of its name;
- a folder costs [`DIRECTORY_BYTES`] more (one filesystem block for its entries);
- a file or link costs its size (`st_size`) more.

[`entry_cost`] computes it. So thousands of empty folders with long names cost their share of
the quota, and the number of entries a quota allows is bounded (a walk of the folder stays
short).
*/
#![deny(missing_docs)]

mod beneath;

pub use beneath::{RESOLVE, open_beneath};

/// How deep folders may nest below the workspace folder: `./workspace/a` is at depth 1.
pub const MAX_DEPTH: usize = 64;
/// Longest path below the workspace folder, in bytes, components joined with `/`. One less
/// than Linux's `PATH_MAX`, so every such path can be opened from the folder in one call.
pub const MAX_PATH_BYTES: usize = 4095;
/// What every entry costs against the quota besides its name and content.
pub const ENTRY_BYTES: u64 = 256;
/// What a folder costs against the quota besides [`ENTRY_BYTES`] and its name.
pub const DIRECTORY_BYTES: u64 = 4096;

/// What an entry named with `name_bytes` bytes costs against the quota: a folder when
/// `is_directory` (its `size` is ignored), else a file or link of `size` bytes.
pub fn entry_cost(name_bytes: usize, is_directory: bool, size: u64) -> u64 {
    let name = u64::try_from(name_bytes).unwrap_or(u64::MAX);
    let own = if is_directory { DIRECTORY_BYTES } else { size };
    ENTRY_BYTES.saturating_add(name).saturating_add(own)
}

/// Why a path is refused. The messages say what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathRefusal {
    /// The path holds a NUL byte.
    #[error("The path contains a NUL byte")]
    Nul,
    /// The path starts with `/`.
    #[error(
        "Absolute paths are refused: only the workspace folder is accessible, as \
         './workspace/<name>'"
    )]
    Absolute,
    /// The path does not start with `workspace`.
    #[error("Only files under ./workspace are accessible: write './workspace/<name>'")]
    OutsideWorkspace,
    /// A component is `..`.
    #[error("'..' is refused in workspace paths: name the file from ./workspace down")]
    DotDot,
    /// The path below the workspace is too long.
    #[error(
        "The path below ./workspace is {bytes} bytes long; at most {MAX_PATH_BYTES} are \
         allowed: use shorter names or fewer folders"
    )]
    TooLong {
        /// Its length below the workspace, components joined with `/`.
        bytes: usize,
    },
}

/// The components of `path` below the workspace folder (empty: the folder itself), or why the
/// path is refused.
pub fn workspace_components(path: &str) -> Result<Vec<&str>, PathRefusal> {
    if path.contains('\0') {
        return Err(PathRefusal::Nul);
    }
    if path.starts_with('/') {
        return Err(PathRefusal::Absolute);
    }
    let mut components = path
        .split('/')
        .filter(|component| !component.is_empty() && *component != ".");
    if components.next() != Some("workspace") {
        return Err(PathRefusal::OutsideWorkspace);
    }
    let inside: Vec<&str> = components.collect();
    if inside.contains(&"..") {
        return Err(PathRefusal::DotDot);
    }
    let bytes = joined_length(&inside);
    if bytes > MAX_PATH_BYTES {
        return Err(PathRefusal::TooLong { bytes });
    }
    Ok(inside)
}

/// Length of `components` joined with `/`.
pub fn joined_length(components: &[&str]) -> usize {
    components
        .iter()
        .map(|component| component.len())
        .sum::<usize>()
        + components.len().saturating_sub(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_the_workspace_and_nothing_else() {
        assert_eq!(workspace_components("./workspace"), Ok(vec![]));
        assert_eq!(workspace_components("workspace/"), Ok(vec![]));
        assert_eq!(
            workspace_components("./workspace//a/./b.txt"),
            Ok(vec!["a", "b.txt"])
        );
        for (refused, why) in [
            ("/etc/passwd", PathRefusal::Absolute),
            ("../x", PathRefusal::OutsideWorkspace),
            ("./workspace/../../x", PathRefusal::DotDot),
            ("./workspace/a/../b", PathRefusal::DotDot),
            ("a.txt", PathRefusal::OutsideWorkspace),
            ("./workspaces/a", PathRefusal::OutsideWorkspace),
            ("work\0space/a", PathRefusal::Nul),
            ("", PathRefusal::OutsideWorkspace),
        ] {
            assert_eq!(workspace_components(refused), Err(why), "{refused:?}");
        }
    }

    #[test]
    fn paths_are_at_most_max_path_bytes_below_the_workspace() {
        // 4095 bytes below the workspace: 15 components of 255 bytes and 14 slashes = 3839,
        // plus a last one of 255 = 4095.
        let name = "n".repeat(255);
        let at_limit = format!("./workspace/{}", vec![name.as_str(); 16].join("/"));
        assert_eq!(workspace_components(&at_limit).map(|c| c.len()), Ok(16));
        let past = format!("{at_limit}x");
        assert_eq!(
            workspace_components(&past),
            Err(PathRefusal::TooLong { bytes: 4096 })
        );
        // Empty and `.` components do not count.
        let padded = format!("./workspace/././/{}", vec![name.as_str(); 16].join("//./"));
        assert!(workspace_components(&padded).is_ok());
    }

    #[test]
    fn folders_and_names_cost_quota() {
        assert_eq!(entry_cost(5, false, 100), 256 + 5 + 100);
        assert_eq!(entry_cost(5, true, 123), 256 + 5 + 4096);
        assert_eq!(entry_cost(usize::MAX, false, u64::MAX), u64::MAX);
    }
}
