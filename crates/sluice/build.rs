//! Link the `sluice` binary with packed relative relocations (`DT_RELR`) where the build machine
//! can run such a binary.
//!
//! `sluice` is a position-independent executable, and most of its dynamic relocations are
//! relative ones: 1.6 MB of `.rela.dyn` that the loader reads in every process it starts (the
//! gateway and each worker) and that then stays resident. Packed, they take a few kilobytes.
//! The loader must understand the packed form (glibc 2.36 or later), so the flag is given only
//! when building for the machine that builds, on Linux with glibc >= 2.36, and with a linker
//! that knows it; anywhere else the binary is linked as before.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=SLUICE_NO_PACKED_RELOCS");
    if std::env::var_os("SLUICE_NO_PACKED_RELOCS").is_some() {
        return;
    }
    let target = std::env::var("TARGET").unwrap_or_default();
    let host = std::env::var("HOST").unwrap_or_default();
    if target != host || !target.ends_with("-linux-gnu") {
        return;
    }
    if glibc_at_least(2, 36) && linker_knows_packed_relocs() {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}

/// The build machine's glibc, from `getconf GNU_LIBC_VERSION` (`glibc 2.36`).
fn glibc_at_least(major: u32, minor: u32) -> bool {
    let Ok(output) = Command::new("getconf").arg("GNU_LIBC_VERSION").output() else {
        return false;
    };
    let text = String::from_utf8_lossy(&output.stdout);
    let Some(version) = text.split_whitespace().nth(1) else {
        return false;
    };
    let mut parts = version
        .split('.')
        .map(|part| part.parse::<u32>().unwrap_or(0));
    let found = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    found >= (major, minor)
}

/// Whether the linker `cc` drives lists `-z pack-relative-relocs` (binutils 2.38, lld 15).
fn linker_knows_packed_relocs() -> bool {
    Command::new("cc")
        .args(["-Wl,--help"])
        .output()
        .is_ok_and(|output| {
            String::from_utf8_lossy(&output.stdout).contains("pack-relative-relocs")
        })
}
