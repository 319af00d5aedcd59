/*!
What an engine and its host share: the channel an engine runs agent code against ([`Host`]: tool
calls out, their results back, console lines, the workspace file calls) and what an execution or
a check answers ([`Finished`], [`CheckReport`]).

Two engines implement executions against it: `sluice-engine-js` (TypeScript and JavaScript on
QuickJS) and `sluice-engine-py` (Python on Monty). The worker implements [`Host`] over the frame
protocol, tests implement it with a fake gateway. This crate links neither engine, does no IO and
has no dependency but the protocol's types.
*/
#![deny(missing_docs)]

mod workspace;

use std::time::Duration;

use sluice_worker_protocol::{ExecutionError, ExecutionOutcome, ToolOutcome, WorkerMessage};

pub use workspace::{FileEncoding, FileStat, WorkspaceError, WorkspaceReply, WorkspaceRequest};

/// The answer to a check: the content of `WorkerMessage::Checked`.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckReport {
    /// Why the code is not a valid module, or `None`.
    pub error: Option<ExecutionError>,
    /// The module's export names (`default` for a default export), sorted; empty on error.
    pub exports: Vec<String>,
}

impl CheckReport {
    /// The `Checked` message for the gateway.
    pub fn into_message(self) -> WorkerMessage {
        WorkerMessage::Checked {
            error: self.error,
            exports: self.exports,
        }
    }
}

/// How an execution ended: the content of `WorkerMessage::Done`.
#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    /// The result or the error.
    pub outcome: ExecutionOutcome,
    /// Console bytes dropped because the output budget was spent.
    pub dropped_output_bytes: u64,
}

impl Finished {
    /// The `Done` message for the gateway.
    pub fn into_message(self) -> WorkerMessage {
        WorkerMessage::Done {
            outcome: self.outcome,
            dropped_output_bytes: self.dropped_output_bytes,
        }
    }

    /// The error, when the execution failed.
    pub fn error(&self) -> Option<&ExecutionError> {
        match &self.outcome {
            ExecutionOutcome::Error(error) => Some(error),
            ExecutionOutcome::Ok { .. } => None,
        }
    }
}

/// The engine's side of the channel to the gateway.
///
/// The worker implements it over frames; tests implement it with a fake gateway.
pub trait Host {
    /// Send a `ToolCall` or `Log` message to the gateway.
    fn send(&mut self, message: WorkerMessage) -> Result<(), HostError>;

    /// Wait for the next tool result, at most `timeout` (`None`: until one arrives).
    ///
    /// `Ok(None)` means the timeout passed without a result. Results may arrive in any order and
    /// may name call ids the engine no longer waits for (those are ignored).
    fn wait_tool_result(
        &mut self,
        timeout: Option<Duration>,
    ) -> Result<Option<(u64, ToolOutcome)>, HostError>;

    /// Carry out one `fs/promises` call on the workspace.
    ///
    /// The engine passes the path exactly as agent code wrote it; the host checks it (only paths
    /// under `./workspace`, never outside) and reports failures as Node-style errors. The
    /// default has no workspace: every call fails with `ENOSYS` and says so.
    fn workspace(&mut self, request: &WorkspaceRequest) -> Result<WorkspaceReply, WorkspaceError> {
        Err(WorkspaceError::no_workspace(request))
    }
}

/// The channel to the gateway failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    /// The gateway closed the channel.
    #[error("the channel to the gateway closed")]
    Closed,
    /// Anything else.
    #[error("the channel to the gateway failed: {0}")]
    Failed(String),
}
