//! Finding (building) the binaries of this crate: `fake-mcp-server` and `fake-worker`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::SystemTime;

use serde_json::Value;

use crate::{ServerCommand, workspace_root};

/// The fake MCP server started with these modes (each becomes `--mode MODE`), e.g.
/// `fake_server(&["garbage-stdout", "crash-after-calls=2"])`. No modes: a well-behaved server.
///
/// Add `--tools-file PATH` with [`ServerCommand::arg`] to serve other tools. The modes and tools
/// are documented in `src/bin/fake-mcp-server.rs` (and `fake-mcp-server --help`).
pub fn fake_server(modes: &[&str]) -> ServerCommand {
    let mut command = ServerCommand::new(fake_server_bin().to_string_lossy().into_owned());
    for mode in modes {
        command = command.arg("--mode").arg(*mode);
    }
    command
}

/// Path of the `fake-mcp-server` binary, built if needed (see [`crate_binary`]);
/// `$SLUICE_FAKE_MCP_SERVER` overrides it.
pub fn fake_server_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| match std::env::var_os("SLUICE_FAKE_MCP_SERVER") {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => crate_binary("fake-mcp-server"),
    })
    .clone()
}

/// Path of the `fake-worker` binary (a worker that breaks the frame protocol on purpose; see
/// `src/bin/fake-worker.rs`), built if needed.
pub fn fake_worker_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| crate_binary("fake-worker")).clone()
}

/// Path of this crate's binary `name`, built if needed.
///
/// Cargo builds a package's binaries only for that package's own tests, so a test of another
/// crate cannot count on it being built, or fresh. In order:
/// 1. the binary beside the running test's build folder (`target/debug/<name>`), when it is
///    newer than its source: `cargo test --workspace` has just built it;
/// 2. else `cargo build -p sluice-test-support --bin <name>`, and the path cargo reports (it
///    waits for the build lock if another cargo holds it).
///
/// Panics if the build fails.
pub fn crate_binary(name: &str) -> PathBuf {
    fresh_sibling_binary(name).unwrap_or_else(|| build_binary(name))
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// `<target>/<profile>/<name>` for a test running from `<target>/<profile>/deps/`, if it was
/// built after the last change to its source.
fn fresh_sibling_binary(name: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let deps = exe.parent()?;
    if deps.file_name()? != "deps" {
        return None;
    }
    let bin = deps
        .parent()?
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    let built = modified(&bin)?;
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let sources = [
        crate_dir.join("src").join("bin").join(format!("{name}.rs")),
        crate_dir.join("Cargo.toml"),
    ];
    let newest_source = sources.iter().filter_map(|s| modified(s)).max()?;
    (built >= newest_source).then_some(bin)
}

fn build_binary(name: &str) -> PathBuf {
    // Cargo sets CARGO for the tests it runs; it names the same toolchain.
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(&cargo)
        .current_dir(workspace_root())
        .args([
            "build",
            "--package",
            "sluice-test-support",
            "--bin",
            name,
            "--message-format=json-render-diagnostics",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cargo:?} to build {name}: {e}"));
    if !output.status.success() {
        panic!(
            "building {name} failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|message| message["target"]["name"] == name)
        .find_map(|message| message["executable"].as_str().map(PathBuf::from))
        .unwrap_or_else(|| panic!("cargo built {name} but did not report its path"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cargo_builds_the_fake_server_when_needed() {
        // The fallback other crates hit when their `cargo test -p X` did not build the binary.
        let bin = build_binary("fake-mcp-server");
        assert!(bin.is_file(), "{}", bin.display());
        let status = Command::new(&bin)
            .arg("--help")
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
    }

    #[test]
    fn fake_server_passes_modes() {
        let command = fake_server(&["huge-line", "slow-start=10"]);
        assert_eq!(
            command.args,
            ["--mode", "huge-line", "--mode", "slow-start=10"]
        );
    }
}
