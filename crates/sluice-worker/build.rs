//! The worker build's fingerprint: a hash of the source of this crate and of every workspace
//! crate it depends on (found from their `Cargo.toml`s), of `Cargo.lock`, and of the version.
//!
//! `sluice` starts the `sluice-worker` binary beside it only when that binary prints the same
//! fingerprint (`--print-build`): a worker left from another build (an older install, or a
//! `cargo run` that rebuilt only `sluice`) would run other code than the gateway expects.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let crates = manifest.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut hash = Fnv::new();
    hash.write(
        std::env::var("CARGO_PKG_VERSION")
            .unwrap_or_default()
            .as_bytes(),
    );
    let lock = crates.join("../Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock.display());
    hash.file(&lock);
    for name in worker_crates(&crates) {
        let folder = crates.join(&name);
        println!(
            "cargo:rerun-if-changed={}",
            folder.join("Cargo.toml").display()
        );
        println!("cargo:rerun-if-changed={}", folder.join("src").display());
        hash.write(name.as_bytes());
        hash.file(&folder.join("Cargo.toml"));
        let mut files = Vec::new();
        collect(&folder.join("src"), &mut files);
        files.sort();
        for file in files {
            hash.write(file.to_string_lossy().as_bytes());
            hash.file(&file);
        }
    }
    println!("cargo:rustc-env=SLUICE_WORKER_BUILD={:016x}", hash.0);
}

/// This crate and the workspace crates it depends on, transitively (`sluice-*.workspace = true`
/// lines of each `[dependencies]` section).
fn worker_crates(crates: &Path) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut queue = vec!["sluice-worker".to_owned()];
    while let Some(name) = queue.pop() {
        if !found.insert(name.clone()) {
            continue;
        }
        let text =
            std::fs::read_to_string(crates.join(&name).join("Cargo.toml")).unwrap_or_default();
        let mut in_dependencies = false;
        for line in text.lines().map(str::trim) {
            if line.starts_with('[') {
                in_dependencies = line == "[dependencies]";
            } else if in_dependencies
                && let Some(dependency) = line.strip_suffix(".workspace = true")
                && dependency.starts_with("sluice-")
            {
                queue.push(dependency.to_owned());
            }
        }
    }
    found
}

fn collect(folder: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, files);
        } else {
            files.push(path);
        }
    }
}

/// 64-bit FNV-1a: stable across compilers, which `DefaultHasher` is not promised to be.
struct Fnv(u64);

impl Fnv {
    fn new() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 ^= u64::from(*byte);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn file(&mut self, path: &Path) {
        self.write(&std::fs::read(path).unwrap_or_default());
    }
}
