//! `mcpServers` config files, the format Claude Desktop, Claude Code, Cursor and VS Code share.

use std::io;
use std::path::Path;

use serde_json::{Map, Value, json};
use tempfile::NamedTempFile;

use crate::ServerCommand;

/// An `mcpServers` config: `{"mcpServers": {"name": {"command", "args", "env"}}}`.
///
/// Servers keep the order they were added in.
#[derive(Debug, Clone, Default)]
pub struct McpConfig {
    servers: Map<String, Value>,
}

impl McpConfig {
    /// An empty config.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a stdio server.
    #[must_use]
    pub fn server(self, name: &str, command: &ServerCommand) -> Self {
        self.entry(name, command.config_entry())
    }

    /// Adds (or replaces) a raw entry, e.g. `{"url": ...}` or one with `cwd` or broken fields.
    #[must_use]
    pub fn entry(mut self, name: &str, entry: Value) -> Self {
        self.servers.insert(name.to_owned(), entry);
        self
    }

    /// The config as JSON.
    pub fn to_json(&self) -> Value {
        json!({"mcpServers": self.servers})
    }

    /// Writes the config (pretty JSON) to `path`.
    pub fn write_to(&self, path: impl AsRef<Path>) -> io::Result<()> {
        let text = serde_json::to_string_pretty(&self.to_json())?;
        std::fs::write(path, text + "\n")
    }

    /// Writes the config to a new temporary `.json` file, deleted when the handle drops.
    ///
    /// Panics if the file cannot be written (this is test code).
    pub fn write_temp(&self) -> NamedTempFile {
        let file = tempfile::Builder::new()
            .prefix("sluice-mcp-config-")
            .suffix(".json")
            .tempfile()
            .and_then(|file| self.write_to(file.path()).map(|()| file));
        file.unwrap_or_else(|e| panic!("cannot write a temporary mcpServers config: {e}"))
    }
}

/// Writes a temporary `mcpServers` config with these stdio servers; see [`McpConfig::write_temp`].
pub fn write_mcp_config(servers: &[(&str, &ServerCommand)]) -> NamedTempFile {
    servers
        .iter()
        .fold(McpConfig::new(), |config, (name, command)| {
            config.server(name, command)
        })
        .write_temp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_the_standard_shape() {
        let echo = ServerCommand::new("/bin/echo").arg("hi").env("A", "1");
        let file = write_mcp_config(&[("b", &echo), ("a", &ServerCommand::new("x"))]);
        let written: Value =
            serde_json::from_str(&std::fs::read_to_string(file.path()).unwrap()).unwrap();
        assert_eq!(
            written,
            json!({"mcpServers": {
                "b": {"command": "/bin/echo", "args": ["hi"], "env": {"A": "1"}},
                "a": {"command": "x", "args": []}
            }})
        );
        // Insertion order is kept (serde_json's preserve_order is on in this workspace).
        let names: Vec<&String> = written["mcpServers"].as_object().unwrap().keys().collect();
        assert_eq!(names, ["b", "a"]);
    }

    #[test]
    fn raw_entries_pass_through() {
        let config = McpConfig::new().entry("remote", json!({"url": "http://127.0.0.1:1/mcp"}));
        assert_eq!(
            config.to_json()["mcpServers"]["remote"]["url"],
            "http://127.0.0.1:1/mcp"
        );
    }
}
