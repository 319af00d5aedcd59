//! Starting the demo servers: how to launch them, with which data, and the configuration both
//! ways use.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;
use sluice_config::{Config, ServerConfig, Settings, StdioServer};
use sluice_downstream::{ServerState, ServerStatus};
use sluice_gateway::WorkerCommand;

use crate::DemoError;

/// The three demo servers, by config key.
pub(crate) const SERVER_KINDS: [&str; 3] = ["documents", "crm", "chat"];

/// How to start demo servers and code workers: a program (normally the `sluice` binary) with the
/// arguments that make it a demo server (`demo server`, then the kind and options are appended)
/// or a worker (`worker`).
#[derive(Debug, Clone)]
pub struct Launcher {
    /// The program.
    pub program: PathBuf,
    /// Arguments before `<kind> [options]` that start a demo server.
    pub server_args: Vec<String>,
    /// The program that starts a code worker (the `sluice` binary itself by default).
    pub worker_program: PathBuf,
    /// Its arguments.
    pub worker_args: Vec<String>,
    /// Confine the code workers (the default); false runs them with `--no-sandbox`.
    pub sandbox: bool,
}

impl Launcher {
    /// The `sluice` binary at `program`: `sluice demo server <kind> ...` and `sluice worker`.
    pub fn sluice(program: impl Into<PathBuf>) -> Self {
        let program = program.into();
        Self {
            worker_program: program.clone(),
            program,
            server_args: vec!["demo".to_owned(), "server".to_owned()],
            worker_args: vec!["worker".to_owned()],
            sandbox: true,
        }
    }

    /// The worker command for the gateway.
    pub(crate) fn worker(&self) -> WorkerCommand {
        let mut command = WorkerCommand::new(self.worker_program.clone(), self.worker_args.clone());
        command.sandbox = self.sandbox;
        command
    }

    /// The full argument list of one demo server.
    pub fn server_command(&self, kind: &str, sizes: &DataSizes) -> Vec<String> {
        let mut args = self.server_args.clone();
        args.push(kind.to_owned());
        args.extend(["--seed".to_owned(), sizes.seed.to_string()]);
        let options: &[(&str, u64)] = match kind {
            "documents" => &[
                ("--orders", sizes.orders),
                ("--contacts", sizes.contacts),
                ("--transcript-tokens", sizes.transcript_tokens),
            ],
            "crm" => &[("--leads", sizes.leads)],
            "chat" => &[("--deploy-after-polls", sizes.deploy_after_polls)],
            _ => &[],
        };
        for (flag, value) in options {
            args.push((*flag).to_owned());
            args.push(value.to_string());
        }
        args
    }
}

/// The data the demo servers generate (the options of `sluice demo server`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DataSizes {
    /// Seed of every generator.
    pub seed: u64,
    /// Rows of the orders sheet.
    pub orders: u64,
    /// Rows of the contacts sheet.
    pub contacts: u64,
    /// Approximate o200k tokens of the meeting transcript.
    pub transcript_tokens: u64,
    /// Leads in the CRM at start.
    pub leads: u64,
    /// The poll of `#deployments` from which the completion message shows.
    pub deploy_after_polls: u64,
}

impl Default for DataSizes {
    /// The demo servers' own defaults (`docs/demo.md`), so the two can never disagree.
    fn default() -> Self {
        let defaults = sluice_demo_servers::DemoOptions::default();
        Self {
            seed: defaults.seed,
            orders: defaults.orders as u64,
            contacts: defaults.contacts as u64,
            transcript_tokens: defaults.transcript_tokens as u64,
            leads: defaults.leads as u64,
            deploy_after_polls: u64::from(defaults.deploy_after_polls),
        }
    }
}

/// Deadline of one downstream call (Sluice's default).
pub(crate) const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// The configuration of one fresh set of demo servers.
///
/// Departures from Sluice's defaults, each stated in the report's notes:
/// - no reconnect: a crashed demo server must fail the run, not come back with fresh data;
/// - `execution.toolCalls` 5,000: workflow 4 makes 1,001 calls in one execution (the default cap
///   is 1,000);
/// - `execution.timeoutMs` 120 s: the large sheets take QuickJS a while to parse;
/// - `execution.outputBytes` 4 MiB: the end-state checks read the servers through the same
///   gateway and return whole records; the workflow scripts themselves log well under 1 KB;
/// - `privacy.enabled` false: the end-state checks read names and emails back through the
///   gateway, which would tokenize them, and workflows 4 and 5 move personal data between servers
///   (documents to crm, crm to chat), which the default flow policy denies; workflow 5 also cuts a
///   handle out of each email, which code cannot do with a tokenized one.
pub(crate) fn config(launcher: &Launcher, sizes: &DataSizes) -> Config {
    let servers: BTreeMap<String, ServerConfig> = SERVER_KINDS
        .iter()
        .map(|kind| {
            let stdio = StdioServer {
                command: launcher.program.display().to_string(),
                args: launcher.server_command(kind, sizes),
                env: BTreeMap::from([("SLUICE_LOG".to_owned(), "warn".to_owned())]),
                cwd: None,
            };
            ((*kind).to_owned(), ServerConfig::Stdio(stdio))
        })
        .collect();
    let mut settings = Settings {
        reconnect: false,
        call_timeout_ms: CALL_TIMEOUT.as_millis() as u64,
        ..Settings::default()
    };
    settings.execution.tool_calls = 5_000;
    settings.execution.timeout_ms = 120_000;
    settings.execution.output_bytes = 4 * 1024 * 1024;
    settings.privacy.enabled = false;
    Config {
        path: None,
        servers,
        disabled: Vec::new(),
        unusable: Default::default(),
        renamed: Default::default(),
        settings,
    }
}

/// Fail unless every demo server connected.
pub(crate) fn require_ready(statuses: &[ServerStatus]) -> Result<(), DemoError> {
    for status in statuses {
        if !matches!(status.state, ServerState::Ready { .. }) {
            return Err(DemoError::ServerUnavailable {
                server: status.name.clone(),
                reason: status.state.describe(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_commands_carry_their_options() {
        let launcher = Launcher::sluice("/bin/sluice");
        let sizes = DataSizes::default();
        assert_eq!(
            launcher.server_command("chat", &sizes),
            [
                "demo",
                "server",
                "chat",
                "--seed",
                "42",
                "--deploy-after-polls",
                "5"
            ]
        );
        let config = config(&launcher, &sizes);
        assert_eq!(config.servers.len(), 3);
        assert!(!config.settings.reconnect);
        assert!(!config.settings.privacy.enabled);
    }
}
