//! Test support for Sluice: the MCP servers and clients that tests run against.
//!
//! Only ever a dev-dependency. It gives tests:
//!
//! - **real MCP servers**, installed by `scripts/test` into `target/test-deps/` (or
//!   `$SLUICE_TEST_DEPS`): [`everything_server`], [`filesystem_server`], [`memory_server`] (npm),
//!   [`time_server`], [`git_server`] (PyPI). When they are not installed these functions panic
//!   with a message saying to run `scripts/test`: a test that needs them fails, it never skips;
//! - **a fake MCP server** that misbehaves on request ([`fake_server`], binary `fake-mcp-server`,
//!   see its `--help` and module doc for the modes and tools);
//! - **the official Python MCP client** driving any server ([`run_python_client`], script
//!   `tests/clients/mcp_client.py` run with [`venv_python`]);
//! - **the sentence-encoder model** search ranks with ([`model_folder`], installed by
//!   `scripts/test` through `scripts/fetch-model`);
//! - **`mcpServers` config files** ([`McpConfig`], [`write_mcp_config`]);
//! - **an OTLP/HTTP receiver** that keeps what the gateway exports ([`OtlpReceiver`]).
//!
//! Every server is described by a [`ServerCommand`] (program, arguments, environment) that turns
//! into a [`std::process::Command`], a [`tokio::process::Command`] or a config entry.
//!
//! ```no_run
//! use sluice_test_support::{McpConfig, everything_server, fake_server};
//!
//! let config = McpConfig::new()
//!     .server("everything", &everything_server())
//!     .server("flaky", &fake_server(&["garbage-stdout", "crash-after-calls=2"]))
//!     .write_temp();
//! // Start the gateway with `--config config.path()`; the file lives as long as `config`.
//! # drop(config);
//! ```

mod config;
mod fake;
mod otlp;
mod python;
mod servers;

pub use config::{McpConfig, write_mcp_config};
pub use fake::{crate_binary, fake_server, fake_server_bin, fake_worker_bin};
pub use otlp::{OtlpReceiver, OtlpRequest};
pub use python::{
    ClientRun, python_client, python_client_script, run_client_command, run_python_client,
};
pub use servers::{
    ServerCommand, chromium_bin, claude_code, everything_server, filesystem_server, git_server,
    inspector, memory_server, model_folder, prometheus_bin, test_deps_dir, time_server,
    typescript_sdk_dir, venv_python, workspace_root,
};
