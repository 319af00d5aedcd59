//! Finding (building) the `fake-mcp-server` binary of this crate.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

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

/// Path of the `fake-mcp-server` binary, built on first use.
///
/// Cargo builds a package's binaries only for that package's own tests, so a test of another
/// crate cannot rely on it being built (or being fresh). The first call in a test process runs
/// `cargo build -p sluice-test-support --bin fake-mcp-server` (a no-op when it is up to date,
/// ~0.2 s) and takes the path cargo reports. `SLUICE_FAKE_MCP_SERVER` overrides this with a
/// ready binary. Panics if the build fails.
pub fn fake_server_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| match std::env::var_os("SLUICE_FAKE_MCP_SERVER") {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => build_fake_server(),
    })
    .clone()
}

fn build_fake_server() -> PathBuf {
    // Cargo sets CARGO for the tests it runs; it names the same toolchain.
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(&cargo)
        .current_dir(workspace_root())
        .args([
            "build",
            "--package",
            "sluice-test-support",
            "--bin",
            "fake-mcp-server",
            "--message-format=json-render-diagnostics",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cargo:?} to build fake-mcp-server: {e}"));
    if !output.status.success() {
        panic!(
            "building fake-mcp-server failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|message| message["target"]["name"] == "fake-mcp-server")
        .find_map(|message| message["executable"].as_str().map(PathBuf::from))
        .unwrap_or_else(|| panic!("cargo built fake-mcp-server but did not report its path"))
}
