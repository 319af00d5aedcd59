/*!
The pool of downstream MCP connections: one supervised rmcp client per configured server.

[`Pool::start`] starts a supervisor task per server and returns at once; [`Pool::wait_connected`]
waits until every server has either connected or failed (each bounded by the connect timeout), so a
slow or dead server never blocks the others. Each supervisor:

- spawns a stdio server in its own process group (so `npx` and the node it starts die together),
  keeps the last lines of its stderr for error messages, or opens a Streamable HTTP connection;
- sends `initialize` offering protocol 2025-11-25 (never a `server/discover` probe first: some
  servers refuse `initialize` after one), then lists the tools;
- refreshes the tool list on `notifications/tools/list_changed`;
- notices a crash, marks the server down with the reason, and restarts stdio servers with
  exponential backoff (1 s doubling to 60 s) when `reconnect` is on;
- closes the connection on [`Pool::shutdown`]: stdin closed, then SIGTERM, then SIGKILL to the
  whole process group, so no child outlives the gateway.

rmcp's line codec skips non-JSON lines on a server's stdout and answers unknown server requests with
-32601; Sluice raises its line limit to [`MAX_MESSAGE_BYTES`] (rmcp's default of 16 MiB is less than
real results reach).

Every change to the set of tools bumps a generation counter that [`Pool::subscribe`] exposes, so
the gateway can rebuild its catalog.
*/
#![deny(missing_docs)]

mod connection;
mod elicit;
mod lines;
mod status;
mod stdio;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};
use tokio::sync::{RwLock, Semaphore, watch};
use tokio_util::sync::CancellationToken;

use sluice_catalog::ServerCatalog;
use sluice_config::{Config, ServerConfig, Settings};
use sluice_oauth::ServerAuth;

pub use connection::{ProbeFailure, challenge_of, probe};
pub use elicit::{AcceptDefaults, DECLINE_REASON_META, ElicitFuture, Elicitor, SharedElicitor};
pub use sluice_oauth::{OAUTH_DIR, TokenStore};
pub use status::{ServerState, ServerStatus};
pub use stdio::MAX_MESSAGE_BYTES;

/// A pool of supervised connections, cheap to clone.
#[derive(Clone)]
pub struct Pool {
    inner: Arc<PoolInner>,
}

struct PoolInner {
    servers: BTreeMap<String, Arc<Server>>,
    generation: watch::Sender<u64>,
    shutdown: CancellationToken,
    settings: Settings,
    supervisors: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

/// One configured server and its live state.
pub(crate) struct Server {
    pub(crate) name: String,
    pub(crate) config: ServerConfig,
    pub(crate) state: RwLock<Live>,
    /// Bounds the calls in flight to this server.
    pub(crate) permits: Semaphore,
    /// Fires when the server leaves the `Connecting` state for the first time.
    pub(crate) settled: watch::Sender<bool>,
    /// Its calls in flight, for the questions it asks during them (elicitation).
    pub(crate) in_flight: Arc<elicit::InFlight>,
    /// How Sluice authorizes itself to it (HTTP servers with OAuth), or why it cannot.
    pub(crate) auth: Result<Option<Arc<ServerAuth>>, String>,
    /// Where its tokens are kept.
    pub(crate) tokens: TokenStore,
}

impl Server {
    /// Its name when Sluice authorizes to it with OAuth (refusals then name the login command).
    pub(crate) fn login_name(&self) -> Option<&str> {
        match &self.auth {
            Ok(Some(_)) => Some(&self.name),
            _ => None,
        }
    }
}

/// What a supervisor publishes about its server.
pub(crate) struct Live {
    pub(crate) state: ServerState,
    pub(crate) peer: Option<rmcp::Peer<rmcp::RoleClient>>,
    /// The server's tools as a catalog part, shared with every catalog built from it: a list
    /// that did not change stays the same allocation, which is how the gateway knows to reuse
    /// what it built from it.
    pub(crate) tools: Arc<ServerCatalog>,
    pub(crate) since: Instant,
    pub(crate) restarts: u32,
}

/// The result of one `tools/call`, as the server sent it.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolResponse {
    /// Content blocks (text, image, resource links...).
    pub content: Vec<Value>,
    /// `structuredContent`, when the server sent it.
    pub structured_content: Option<Value>,
    /// The tool reported an error (`isError: true`).
    pub is_error: bool,
    /// How long the call waited for a free slot on this server.
    pub queued: Duration,
    /// How long the server took to answer.
    pub ran: Duration,
    /// Why Sluice declined each question the server asked during the call (elicitation).
    pub declined_elicitations: Vec<String>,
}

/// Why a tool call did not produce a response.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// No server of that name is configured.
    #[error("no server named \"{server}\" is configured")]
    UnknownServer {
        /// The name asked for.
        server: String,
    },
    /// The server is down or still starting.
    #[error("server \"{server}\" is not available: {reason}")]
    Unavailable {
        /// The server.
        server: String,
        /// Its state and why.
        reason: String,
    },
    /// The deadline passed.
    #[error(
        "call to {server}.{tool} timed out after {total_ms} ms (waited {queued_ms} ms for a free slot, ran {ran_ms} ms)",
        total_ms = queued.as_millis() + ran.as_millis(),
        queued_ms = queued.as_millis(),
        ran_ms = ran.as_millis()
    )]
    Timeout {
        /// The server.
        server: String,
        /// The tool.
        tool: String,
        /// Time spent waiting for a slot.
        queued: Duration,
        /// Time spent waiting for the server.
        ran: Duration,
    },
    /// The server answered with a JSON-RPC error or the connection failed.
    #[error("call to {server}.{tool} failed after {ran_ms} ms: {message}", ran_ms = ran.as_millis())]
    Protocol {
        /// The server.
        server: String,
        /// The tool.
        tool: String,
        /// What went wrong.
        message: String,
        /// Time spent waiting for the server.
        ran: Duration,
    },
}

impl CallError {
    /// True when trying again later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            CallError::Unavailable { .. } | CallError::Timeout { .. }
        )
    }
}

impl Pool {
    /// Start a supervisor for every server in `config`. Returns at once; use
    /// [`Pool::wait_connected`] to wait for the first round of connections. OAuth tokens are
    /// kept in memory only (see [`Pool::start_with_tokens`]).
    pub fn start(config: &Config) -> Pool {
        Pool::start_with_tokens(config, TokenStore::default())
    }

    /// [`Pool::start`], with the OAuth tokens of HTTP servers kept in `tokens` (where
    /// `sluice auth login` stores them).
    pub fn start_with_tokens(config: &Config, tokens: TokenStore) -> Pool {
        let (generation, _) = watch::channel(0);
        let servers: BTreeMap<String, Arc<Server>> = config
            .servers
            .iter()
            .map(|(name, server_config)| {
                let (settled, _) = watch::channel(false);
                let server = Arc::new(Server {
                    name: name.clone(),
                    config: server_config.clone(),
                    state: RwLock::new(Live {
                        state: ServerState::Connecting,
                        peer: None,
                        tools: Arc::default(),
                        since: Instant::now(),
                        restarts: 0,
                    }),
                    permits: Semaphore::new(config.settings.max_concurrency_per_server),
                    settled,
                    in_flight: Arc::default(),
                    auth: match server_config {
                        ServerConfig::Http(http) => {
                            ServerAuth::new(name, http, &tokens).map_err(|error| error.to_string())
                        }
                        ServerConfig::Stdio(_) => Ok(None),
                    },
                    tokens: tokens.clone(),
                });
                (name.clone(), server)
            })
            .collect();
        let pool = Pool {
            inner: Arc::new(PoolInner {
                servers,
                generation,
                shutdown: CancellationToken::new(),
                settings: config.settings.clone(),
                supervisors: std::sync::Mutex::new(Vec::new()),
            }),
        };
        let handles: Vec<_> = pool
            .inner
            .servers
            .values()
            .map(|server| {
                tokio::spawn(connection::supervise(
                    server.clone(),
                    pool.inner.settings.clone(),
                    pool.inner.generation.clone(),
                    pool.inner.shutdown.clone(),
                ))
            })
            .collect();
        if let Ok(mut supervisors) = pool.inner.supervisors.lock() {
            supervisors.extend(handles);
        }
        pool
    }

    /// Wait until every server has connected or failed once. `on_settled` is called as each one
    /// settles (for progress output).
    pub async fn wait_connected(&self, mut on_settled: impl FnMut(&ServerStatus)) {
        let mut pending: futures::stream::FuturesUnordered<_> = self
            .inner
            .servers
            .values()
            .map(|server| {
                let server = server.clone();
                async move {
                    let mut settled = server.settled.subscribe();
                    // The sender lives as long as the server, so this only ends when settled.
                    let _ = settled.wait_for(|settled| *settled).await;
                    status::snapshot(&server).await
                }
            })
            .collect();
        use futures::StreamExt;
        while let Some(status) = pending.next().await {
            on_settled(&status);
        }
    }

    /// The state of every server, in name order.
    pub async fn statuses(&self) -> Vec<ServerStatus> {
        let mut result = Vec::with_capacity(self.inner.servers.len());
        for server in self.inner.servers.values() {
            result.push(status::snapshot(server).await);
        }
        result
    }

    /// Every ready server's tools, as its catalog part, by server name; and those of a server
    /// being reconnected, as it last listed them. A server's part is the same `Arc` until its
    /// list changes.
    pub async fn tools(&self) -> BTreeMap<String, Arc<ServerCatalog>> {
        let mut result = BTreeMap::new();
        for (name, server) in &self.inner.servers {
            let live = server.state.read().await;
            // A server being reconnected keeps its tools (they come back with it).
            let listed = match live.state {
                ServerState::Ready { .. } => true,
                ServerState::Down { retrying, .. } => retrying && !live.tools.tools().is_empty(),
                ServerState::Connecting | ServerState::NeedsLogin { .. } => false,
            };
            if listed {
                result.insert(name.clone(), Arc::clone(&live.tools));
            }
        }
        result
    }

    /// A receiver whose value changes whenever any server's tools change (connect, refresh,
    /// crash).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.generation.subscribe()
    }

    /// The configured server names.
    pub fn server_names(&self) -> impl Iterator<Item = &str> {
        self.inner.servers.keys().map(String::as_str)
    }

    /// Call a tool. `deadline` bounds queueing and the call together.
    ///
    /// A question the server asks during the call (`elicitation/create`) goes to `elicitor`;
    /// without one it is declined, and the reason is in [`ToolResponse::declined_elicitations`].
    pub async fn call_tool(
        &self,
        server_name: &str,
        tool: &str,
        arguments: Map<String, Value>,
        deadline: Duration,
        elicitor: Option<SharedElicitor>,
    ) -> Result<ToolResponse, CallError> {
        self.call_tool_with_meta(server_name, tool, arguments, deadline, elicitor, None)
            .await
    }

    /// [`Pool::call_tool`] with the request's `_meta` (the W3C trace context of the call's
    /// span: `traceparent`, `tracestate`).
    pub async fn call_tool_with_meta(
        &self,
        server_name: &str,
        tool: &str,
        arguments: Map<String, Value>,
        deadline: Duration,
        elicitor: Option<SharedElicitor>,
        meta: Option<rmcp::model::RequestMetaObject>,
    ) -> Result<ToolResponse, CallError> {
        let server =
            self.inner
                .servers
                .get(server_name)
                .ok_or_else(|| CallError::UnknownServer {
                    server: server_name.to_owned(),
                })?;
        let started = Instant::now();
        let permit = match tokio::time::timeout(deadline, server.permits.acquire()).await {
            Ok(Ok(permit)) => permit,
            Ok(Err(_closed)) => {
                return Err(CallError::Unavailable {
                    server: server_name.to_owned(),
                    reason: "the gateway is shutting down".to_owned(),
                });
            }
            Err(_elapsed) => {
                return Err(CallError::Timeout {
                    server: server_name.to_owned(),
                    tool: tool.to_owned(),
                    queued: started.elapsed(),
                    ran: Duration::ZERO,
                });
            }
        };
        let queued = started.elapsed();
        let peer = {
            let live = server.state.read().await;
            match (&live.state, &live.peer) {
                (ServerState::Ready { .. }, Some(peer)) => peer.clone(),
                (state, _) => {
                    return Err(CallError::Unavailable {
                        server: server_name.to_owned(),
                        reason: state.describe(),
                    });
                }
            }
        };
        let mut params = rmcp::model::CallToolRequestParams::new(tool.to_owned());
        params.arguments = Some(arguments);
        params.meta = meta;
        let remaining = deadline.saturating_sub(queued);
        let call_started = Instant::now();
        let in_flight = server.in_flight.begin(elicitor);
        let outcome = tokio::time::timeout(remaining, peer.call_tool_once(params)).await;
        let ran = call_started.elapsed();
        let declined_elicitations = in_flight.declined();
        drop(in_flight);
        drop(permit);
        let response = match outcome {
            Err(_elapsed) => {
                return Err(CallError::Timeout {
                    server: server_name.to_owned(),
                    tool: tool.to_owned(),
                    queued,
                    ran,
                });
            }
            Ok(Err(error)) => {
                return Err(CallError::Protocol {
                    server: server_name.to_owned(),
                    tool: tool.to_owned(),
                    message: connection::describe_service_error(&error, server.login_name())
                        .message,
                    ran,
                });
            }
            Ok(Ok(response)) => response,
        };
        let result = match response {
            rmcp::model::CallToolResponse::Complete(result) => result,
            _ => {
                return Err(CallError::Protocol {
                    server: server_name.to_owned(),
                    tool: tool.to_owned(),
                    message:
                        "the tool asked for interactive input, which Sluice does not support yet"
                            .to_owned(),
                    ran,
                });
            }
        };
        let content = result
            .content
            .iter()
            .map(|block| serde_json::to_value(block).unwrap_or(Value::Null))
            .collect();
        Ok(ToolResponse {
            content,
            structured_content: result.structured_content,
            is_error: result.is_error.unwrap_or(false),
            queued,
            ran,
            declined_elicitations,
        })
    }

    /// Close every connection and stop every child process. Waits for the supervisors, at most a
    /// few seconds each (they run concurrently).
    pub async fn shutdown(&self) {
        self.inner.shutdown.cancel();
        self.inner
            .servers
            .values()
            .for_each(|server| server.permits.close());
        let handles: Vec<_> = match self.inner.supervisors.lock() {
            Ok(mut supervisors) => supervisors.drain(..).collect(),
            Err(_) => Vec::new(),
        };
        for handle in handles {
            let _ = handle.await;
        }
    }
}

/// The connect timeout in force.
pub(crate) fn connect_timeout(settings: &Settings) -> Duration {
    Duration::from_millis(settings.connect_timeout_ms)
}

/// One server's `tools/list` answer (values, or tools as rmcp decoded them) as its catalog
/// part. Built here, once per listing, so that the definitions are held once, in the catalog's
/// form, and a refresh that lists the same tools is recognised by comparing parts.
pub(crate) fn catalog_part<T: serde::Serialize>(server: &str, tools: &[T]) -> ServerCatalog {
    let values = tools
        .iter()
        .filter_map(|tool| serde_json::to_value(tool).ok());
    ServerCatalog::parse(server, values)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_tool_list_becomes_the_servers_catalog_part() {
        let tools = [
            json!({"name": "echo", "inputSchema": {"type": "object", "properties": {"m": {"type": "string"}}}}),
            json!({"name": "ping", "description": "Answer ‘pong’.", "inputSchema": {"type": "object"}}),
        ];
        let part = catalog_part("everything", &tools);
        let names: Vec<&str> = part.tools().iter().map(|tool| tool.name.as_str()).collect();
        assert_eq!(names, ["echo", "ping"]);
        assert!(part.tools().iter().all(|tool| tool.server == "everything"));
        assert_eq!(part, catalog_part("everything", &tools));
        assert_ne!(part, catalog_part("everything", &tools[..1]));
    }
}
