//! Where the test dependencies live, and the commands that start the real MCP servers.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

/// How to start an MCP server over stdio: a program, its arguments and extra environment.
///
/// The environment is added to the inherited one, as MCP clients do with a config's `env`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerCommand {
    /// The program (an absolute path for the servers of this crate).
    pub command: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// Extra environment variables.
    pub env: BTreeMap<String, String>,
}

impl ServerCommand {
    /// A command with no arguments and no extra environment.
    pub fn new(command: impl Into<String>) -> Self {
        ServerCommand {
            command: command.into(),
            args: Vec::new(),
            env: BTreeMap::new(),
        }
    }

    /// Appends one argument.
    #[must_use]
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Appends arguments.
    #[must_use]
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets an environment variable for the server.
    #[must_use]
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.insert(key.into(), value.into());
        self
    }

    /// A [`std::process::Command`] for this server (stdio not configured).
    pub fn std_command(&self) -> std::process::Command {
        let mut command = std::process::Command::new(&self.command);
        command.args(&self.args).envs(&self.env);
        command
    }

    /// A [`tokio::process::Command`] for this server (stdio not configured).
    pub fn tokio_command(&self) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(&self.command);
        command.args(&self.args).envs(&self.env);
        command
    }

    /// The entry of an `mcpServers` config: `{"command", "args", "env"}` (`env` only if set).
    pub fn config_entry(&self) -> Value {
        let mut entry = json!({"command": self.command, "args": self.args});
        if !self.env.is_empty() {
            entry["env"] = json!(self.env);
        }
        entry
    }
}

/// The root of the Cargo workspace (the folder of the root `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    // This crate is `<root>/crates/sluice-test-support`.
    manifest_dir
        .ancestors()
        .nth(2)
        .unwrap_or(manifest_dir)
        .to_path_buf()
}

/// The folder `scripts/test` installs the test dependencies into: `$SLUICE_TEST_DEPS` when set
/// (`scripts/test` sets it), else `<workspace>/target/test-deps`. It may not exist.
pub fn test_deps_dir() -> PathBuf {
    match std::env::var_os("SLUICE_TEST_DEPS") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => workspace_root().join("target").join("test-deps"),
    }
}

/// Returns `path` if it exists, else panics telling the developer how to install the test deps.
pub(crate) fn require_dep(path: PathBuf, what: &str) -> PathBuf {
    if !path.exists() {
        panic!(
            "\n{what} is not installed: {} does not exist.\n\
             The tests need real MCP servers and the Python MCP SDK, installed by the project's \
             test script. Run `scripts/test` from the workspace root once (it installs them into \
             target/test-deps, then runs every test); to install only, run \
             `scripts/test --deps-only`. Set SLUICE_TEST_DEPS if they live elsewhere (now: {}).\n",
            path.display(),
            test_deps_dir().display(),
        );
    }
    path
}

fn path_string(path: impl AsRef<OsStr>) -> String {
    path.as_ref().to_string_lossy().into_owned()
}

fn node_server(bin: &str) -> ServerCommand {
    let path = test_deps_dir()
        .join("node")
        .join("node_modules")
        .join(".bin")
        .join(bin);
    ServerCommand::new(path_string(require_dep(path, bin)))
}

fn venv_bin(bin: &str) -> PathBuf {
    let path = test_deps_dir().join("venv").join("bin").join(bin);
    require_dep(path, bin)
}

/// The Python interpreter of the test venv (it has the `mcp` SDK and the Python servers).
pub fn venv_python() -> PathBuf {
    venv_bin("python")
}

/// A program of Debian's `prometheus` package (`prometheus` or `promtool`), which
/// `scripts/test` unpacks into `target/test-deps/prometheus`.
pub fn prometheus_bin(name: &str) -> PathBuf {
    let path = test_deps_dir()
        .join("prometheus")
        .join("usr")
        .join("bin")
        .join(name);
    require_dep(path, &format!("Prometheus' {name}"))
}

/// Headless Chromium (Debian's package with the libraries it needs, unpacked by `scripts/test`
/// into `target/test-deps/chromium`): the wrapper script that runs it.
pub fn chromium_bin() -> PathBuf {
    require_dep(
        test_deps_dir().join("chromium").join("chromium"),
        "Chromium",
    )
}

/// The official TypeScript MCP SDK's package folder (`@modelcontextprotocol/sdk`, npm), for
/// tests that drive Sluice with it as a client.
pub fn typescript_sdk_dir() -> PathBuf {
    let path = test_deps_dir()
        .join("node")
        .join("node_modules")
        .join("@modelcontextprotocol")
        .join("sdk");
    require_dep(path, "the TypeScript MCP SDK")
}

/// The MCP Inspector's launcher (`@modelcontextprotocol/inspector`, npm): `inspector --cli ...`
/// is its command-line client.
pub fn inspector() -> PathBuf {
    let path = test_deps_dir()
        .join("node")
        .join("node_modules")
        .join(".bin")
        .join("inspector");
    require_dep(path, "the MCP Inspector")
}

/// Claude Code's command line (`@anthropic-ai/claude-code`, npm): `claude mcp add` and
/// `claude mcp list`, whose health check connects to each server.
pub fn claude_code() -> PathBuf {
    let path = test_deps_dir()
        .join("node")
        .join("node_modules")
        .join(".bin")
        .join("claude");
    require_dep(path, "Claude Code")
}

/// `@modelcontextprotocol/server-everything` (npm) over stdio.
///
/// 13 tools (more if the client declares roots, sampling, elicitation or tasks); it sends
/// `notifications/tools/list_changed` right after the handshake.
pub fn everything_server() -> ServerCommand {
    node_server("mcp-server-everything")
}

/// `@modelcontextprotocol/server-filesystem` (npm), allowed to touch only `dirs`.
pub fn filesystem_server<I, P>(dirs: I) -> ServerCommand
where
    I: IntoIterator<Item = P>,
    P: AsRef<Path>,
{
    node_server("mcp-server-filesystem").args(dirs.into_iter().map(|d| path_string(d.as_ref())))
}

/// `@modelcontextprotocol/server-memory` (npm), a knowledge graph kept in `memory_file`.
///
/// The file is required: by default the server writes inside its own package folder, which
/// tests would share.
pub fn memory_server(memory_file: impl AsRef<Path>) -> ServerCommand {
    node_server("mcp-server-memory").env("MEMORY_FILE_PATH", path_string(memory_file.as_ref()))
}

/// `mcp-server-time` (PyPI), with its local time zone fixed to UTC so answers are stable.
pub fn time_server() -> ServerCommand {
    ServerCommand::new(path_string(venv_bin("mcp-server-time"))).arg("--local-timezone=UTC")
}

/// `mcp-server-git` (PyPI) on the repository `repo` (needs `git` on PATH).
pub fn git_server(repo: impl AsRef<Path>) -> ServerCommand {
    ServerCommand::new(path_string(venv_bin("mcp-server-git")))
        .arg("--repository")
        .arg(path_string(repo.as_ref()))
}

/// The sentence-encoder model folder `scripts/test` installs (with `scripts/fetch-model`):
/// `$SLUICE_TEST_MODEL` when set, else `target/models/all-MiniLM-L6-v2` of this checkout.
///
/// # Panics
/// When the folder has no `sluice-model.json`, saying to run `scripts/test` (a test that needs
/// the model fails, it never skips).
pub fn model_folder() -> PathBuf {
    let folder = std::env::var_os("SLUICE_TEST_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target/models/all-MiniLM-L6-v2"));
    assert!(
        folder.join("sluice-model.json").is_file(),
        "the sentence-encoder model is not installed in {}: run scripts/test (or scripts/fetch-model)",
        folder.display()
    );
    folder
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_entry_has_env_only_when_set() {
        let plain = ServerCommand::new("srv").arg("-x");
        assert_eq!(
            plain.config_entry(),
            json!({"command": "srv", "args": ["-x"]})
        );
        let with_env = plain.env("K", "V");
        assert_eq!(
            with_env.config_entry(),
            json!({"command": "srv", "args": ["-x"], "env": {"K": "V"}})
        );
    }

    #[test]
    fn workspace_root_has_the_workspace_manifest() {
        let manifest = std::fs::read_to_string(workspace_root().join("Cargo.toml")).unwrap();
        assert!(manifest.contains("[workspace]"));
    }

    #[test]
    fn missing_dependency_panics_with_instructions() {
        let panic = std::panic::catch_unwind(|| {
            require_dep(PathBuf::from("/nonexistent/sluice/dep"), "thing")
        })
        .unwrap_err();
        let message = panic.downcast_ref::<String>().unwrap();
        assert!(message.contains("scripts/test"), "{message}");
    }
}
