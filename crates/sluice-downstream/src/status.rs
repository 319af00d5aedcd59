//! What the gateway (and through it, the agent) can know about a server's health.

use std::time::Duration;

use serde::Serialize;

use crate::Server;

/// The state of one server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ServerState {
    /// Starting or handshaking.
    Connecting,
    /// Connected; tools listed.
    Ready {
        /// The negotiated protocol version.
        protocol_version: String,
        /// The server's name and version, as it reported them.
        server_info: String,
    },
    /// Sluice has no valid OAuth token for it (none yet, or it expired and could not be
    /// renewed): a person must log in with `command`.
    NeedsLogin {
        /// What the server said.
        reason: String,
        /// The command that logs in (`sluice auth login NAME`).
        command: String,
    },
    /// Not usable; `reason` says why and what to do.
    Down {
        /// What failed.
        reason: String,
        /// Whether the supervisor will try again.
        retrying: bool,
    },
}

impl ServerState {
    /// A short sentence for error messages.
    pub fn describe(&self) -> String {
        match self {
            ServerState::Connecting => "it is still starting; try again in a moment".to_owned(),
            ServerState::Ready { .. } => "ready".to_owned(),
            ServerState::NeedsLogin { reason, .. } => reason.clone(),
            ServerState::Down {
                reason,
                retrying: true,
            } => format!("{reason} (reconnecting)"),
            ServerState::Down {
                reason,
                retrying: false,
            } => reason.clone(),
        }
    }
}

/// A snapshot of one server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerStatus {
    /// Config key.
    pub name: String,
    /// State.
    #[serde(flatten)]
    pub state: ServerState,
    /// Tools listed (0 unless ready).
    pub tools: usize,
    /// How long it has been in this state.
    #[serde(rename = "for_ms", serialize_with = "as_millis")]
    pub for_duration: Duration,
    /// How many times it was restarted after a crash.
    pub restarts: u32,
}

fn as_millis<S: serde::Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_u128(duration.as_millis())
}

pub(crate) async fn snapshot(server: &Server) -> ServerStatus {
    let live = server.state.read().await;
    ServerStatus {
        name: server.name.clone(),
        state: live.state.clone(),
        tools: if matches!(live.state, ServerState::Ready { .. }) {
            live.tools.tools().len()
        } else {
            0
        },
        for_duration: live.since.elapsed(),
        restarts: live.restarts,
    }
}
