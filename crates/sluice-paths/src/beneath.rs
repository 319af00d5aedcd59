//! The one way Sluice opens a file or folder inside a confined folder (the workspace for the
//! worker, the data folder's views for the gateway): `openat2` relative to a descriptor of the
//! folder, resolved `BENEATH` it with no symlinks and no magic links, so the kernel itself refuses
//! any way out, and non-blocking, so a FIFO someone placed there cannot hang the open.

use std::os::fd::{AsFd, OwnedFd};

use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

/// How every path is resolved below the folder's descriptor.
pub const RESOLVE: ResolveFlags = ResolveFlags::BENEATH
    .union(ResolveFlags::NO_SYMLINKS)
    .union(ResolveFlags::NO_MAGICLINKS);

/// Open `relative` beneath `folder` with `flags` (and `mode` when creating).
///
/// No `O_NOFOLLOW`: `RESOLVE_NO_SYMLINKS` refuses a trailing link too (`ELOOP`), where
/// `O_NOFOLLOW` would open the link itself (with `O_PATH`) or fail with a misleading `ENOTDIR`.
/// `O_NONBLOCK` is added except with `O_PATH`, which `openat2` refuses it with. `ELOOP` or
/// `EXDEV` mean the path leads through a link or out of the folder.
pub fn open_beneath(
    folder: impl AsFd,
    relative: impl rustix::path::Arg,
    flags: OFlags,
    mode: Mode,
) -> Result<OwnedFd, Errno> {
    let extra = if flags.contains(OFlags::PATH) {
        OFlags::CLOEXEC
    } else {
        OFlags::CLOEXEC | OFlags::NONBLOCK
    };
    rustix::fs::openat2(folder, relative, flags | extra, mode, RESOLVE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder() -> (tempfile::TempDir, OwnedFd) {
        let dir = tempfile::tempdir().unwrap();
        let fd = rustix::fs::open(
            dir.path(),
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .unwrap();
        (dir, fd)
    }

    #[test]
    fn opens_inside_and_refuses_every_way_out() {
        let (dir, fd) = folder();
        std::fs::write(dir.path().join("a.txt"), "x").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("link")).unwrap();
        std::os::unix::fs::symlink("a.txt", dir.path().join("inner-link")).unwrap();
        assert!(open_beneath(&fd, "a.txt", OFlags::RDONLY, Mode::empty()).is_ok());
        for outside in ["../x", "/etc/passwd"] {
            assert_eq!(
                open_beneath(&fd, outside, OFlags::RDONLY, Mode::empty()).unwrap_err(),
                Errno::XDEV,
                "{outside}"
            );
        }
        for link in ["link", "inner-link"] {
            assert_eq!(
                open_beneath(&fd, link, OFlags::RDONLY, Mode::empty()).unwrap_err(),
                Errno::LOOP,
                "{link}"
            );
        }
    }

    #[test]
    fn a_fifo_does_not_hang_the_open() {
        let (dir, fd) = folder();
        rustix::fs::mknodat(
            &fd,
            "pipe",
            rustix::fs::FileType::Fifo,
            Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        // Without O_NONBLOCK this would wait for a writer forever.
        let pipe = open_beneath(&fd, "pipe", OFlags::RDONLY, Mode::empty()).unwrap();
        let stat = rustix::fs::fstat(&pipe).unwrap();
        assert_eq!(
            rustix::fs::FileType::from_raw_mode(stat.st_mode),
            rustix::fs::FileType::Fifo
        );
        drop(dir);
    }
}
