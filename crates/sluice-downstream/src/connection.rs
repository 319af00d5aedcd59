//! One server's supervisor: connect, list tools, watch, refresh, restart, shut down.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rmcp::model::{
    ClientCapabilities, ClientConfig, ElicitRequestParams, ElicitResult, ElicitationCapability,
    FormElicitationCapability, Implementation, ProtocolVersion, UrlElicitationCapability,
};
use rmcp::service::{NotificationContext, RequestContext, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::{
    StreamableHttpClientTransportConfig, StreamableHttpError,
};
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use sluice_config::{HttpServer, ServerConfig, Settings, StdioServer};
use sluice_oauth::{Challenge, OAuthHttp, ServerAuth};

use crate::stdio::ChildTransport;
use sluice_catalog::ServerCatalog;

use crate::{Live, Server, ServerState, catalog_part};

/// Lines of a server's stderr kept for error messages.
const STDERR_TAIL_LINES: usize = 12;
/// Longest stderr line kept, in characters.
const STDERR_LINE_CHARS: usize = 400;
/// First restart delay after a crash; doubles up to [`MAX_BACKOFF`].
const INITIAL_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// A connection that stayed up this long resets the backoff.
const STABLE_AFTER: Duration = Duration::from_secs(30);
/// How long a closing server gets before its process group is killed.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(8);
/// How often a server that needs a login looks for new tokens (`sluice auth login` in another
/// process).
const LOGIN_POLL: Duration = Duration::from_secs(2);

/// The protocol version offered in `initialize`. Every server tried accepts it; see
/// how real servers behave. rmcp's default would be 2026-07-28.
const OFFERED_PROTOCOL: ProtocolVersion = ProtocolVersion::V_2025_11_25;

type Client = RunningService<RoleClient, Handler>;

/// rmcp client handler: reports tool list changes to the supervisor and passes a server's
/// questions (elicitation, form and URL) to the code whose call is in flight (see
/// [`crate::elicit`]). No roots or sampling are offered.
pub(crate) struct Handler {
    server: String,
    refresh: mpsc::UnboundedSender<()>,
    in_flight: Arc<crate::elicit::InFlight>,
}

impl ClientHandler for Handler {
    fn get_info(&self) -> ClientConfig {
        let mut capabilities = ClientCapabilities::default();
        capabilities.elicitation = Some(
            ElicitationCapability::new()
                .with_form(FormElicitationCapability::new())
                .with_url(UrlElicitationCapability::new()),
        );
        let mut info = ClientConfig::new(
            capabilities,
            Implementation::new("sluice", env!("CARGO_PKG_VERSION")),
        );
        info.protocol_version = OFFERED_PROTOCOL;
        info
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, rmcp::ErrorData> {
        Ok(self.in_flight.answer(&self.server, request).await)
    }

    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        tracing::info!(server = %self.server, "tool list changed; refreshing");
        let _ = self.refresh.send(());
    }
}

/// The last lines a child wrote to stderr.
#[derive(Clone)]
struct StderrTail {
    lines: Arc<Mutex<VecDeque<String>>>,
    /// Becomes true when the child's stderr reaches its end.
    closed: watch::Sender<bool>,
}

impl Default for StderrTail {
    fn default() -> Self {
        Self {
            lines: Arc::default(),
            closed: watch::channel(false).0,
        }
    }
}

impl StderrTail {
    fn push(&self, line: String) {
        if let Ok(mut lines) = self.lines.lock() {
            if lines.len() == STDERR_TAIL_LINES {
                lines.pop_front();
            }
            lines.push_back(line.chars().take(STDERR_LINE_CHARS).collect());
        }
    }

    /// Wait a little for a dying child's last words: the failure is often noticed (a broken pipe)
    /// before its stderr has been read to the end.
    async fn settle(&self) {
        let mut closed = self.closed.subscribe();
        let _ = tokio::time::timeout(
            Duration::from_millis(500),
            closed.wait_for(|closed| *closed),
        )
        .await;
    }

    /// `"; its stderr ended with: ..."`, or nothing when it wrote nothing.
    fn suffix(&self) -> String {
        let Ok(lines) = self.lines.lock() else {
            return String::new();
        };
        if lines.is_empty() {
            return String::new();
        }
        let text: Vec<&str> = lines.iter().map(String::as_str).collect();
        format!("; its stderr ended with: {}", text.join(" | "))
    }
}

/// Run one server's life until shutdown.
pub(crate) async fn supervise(
    server: Arc<Server>,
    settings: Settings,
    generation: watch::Sender<u64>,
    shutdown: CancellationToken,
) {
    let mut backoff = INITIAL_BACKOFF;
    let mut ever_ready = false;
    loop {
        let (refresh_sender, mut refresh_receiver) = mpsc::unbounded_channel();
        let handler = Handler {
            server: server.name.clone(),
            refresh: refresh_sender,
            in_flight: server.in_flight.clone(),
        };
        let tail = StderrTail::default();
        let timeout = crate::connect_timeout(&settings);
        let attempt = tokio::select! {
            () = shutdown.cancelled() => return,
            attempt = tokio::time::timeout(timeout, connect(&server, handler, tail.clone())) => attempt,
        };
        let failure = match attempt {
            Err(_elapsed) => format!(
                "did not complete the MCP handshake within {} ms (raise sluice.connectTimeoutMs if it is just slow){}",
                timeout.as_millis(),
                tail.suffix()
            ),
            Ok(Err(Failure::NeedsLogin(reason))) => {
                // Nothing to retry until someone logs in: wait for the token file to change.
                tracing::warn!(server = %server.name, "needs login: {reason}");
                set_state(
                    &server,
                    ServerState::NeedsLogin {
                        reason,
                        command: sluice_oauth::login_command(&server.name),
                    },
                    &generation,
                )
                .await;
                let before = server.tokens.modified(&server.name);
                loop {
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        () = tokio::time::sleep(LOGIN_POLL) => {}
                    }
                    if server.tokens.modified(&server.name) != before {
                        break;
                    }
                }
                if let Ok(Some(auth)) = &server.auth {
                    auth.forget().await;
                }
                tracing::info!(server = %server.name, "new tokens: connecting again");
                continue;
            }
            Ok(Err(Failure::Down(message))) => {
                tail.settle().await;
                format!("{message}{}", tail.suffix())
            }
            Ok(Ok((client, tools))) => {
                ever_ready = true;
                let connected_at = Instant::now();
                publish_ready(&server, &client, tools, &generation).await;
                let reason = watch_connection(
                    &server,
                    client,
                    &mut refresh_receiver,
                    &generation,
                    &shutdown,
                )
                .await;
                let Some(reason) = reason else {
                    set_down(
                        &server,
                        "Sluice is shutting down".to_owned(),
                        false,
                        &generation,
                    )
                    .await;
                    return;
                };
                if connected_at.elapsed() >= STABLE_AFTER {
                    backoff = INITIAL_BACKOFF;
                }
                tail.settle().await;
                format!("{reason}{}", tail.suffix())
            }
        };
        // Restart only what worked before (a crash); a server that never started will not start
        // by trying again, and its error stays visible.
        let retrying = ever_ready && settings.reconnect;
        tracing::warn!(server = %server.name, "server down: {failure}");
        set_down(&server, failure, retrying, &generation).await;
        if !retrying {
            return;
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
        server.state.write().await.restarts += 1;
        tracing::info!(server = %server.name, "restarting");
    }
}

/// Why a connection attempt failed.
enum Failure {
    /// A sentence for the agent.
    Down(String),
    /// The server refused Sluice's token, or there is none: a person must run
    /// `sluice auth login NAME`.
    NeedsLogin(String),
}

impl From<String> for Failure {
    fn from(message: String) -> Failure {
        Failure::Down(message)
    }
}

impl From<Described> for Failure {
    fn from(described: Described) -> Failure {
        if described.needs_login {
            Failure::NeedsLogin(described.message)
        } else {
            Failure::Down(described.message)
        }
    }
}

/// Connect and list tools. The error is a sentence for the agent.
async fn connect(
    server: &Server,
    handler: Handler,
    tail: StderrTail,
) -> Result<(Client, ServerCatalog), Failure> {
    let login = server.login_name();
    let client = match &server.config {
        ServerConfig::Stdio(stdio) => {
            let transport = spawn_stdio(&server.name, stdio, tail)?;
            handler
                .serve(transport)
                .await
                .map_err(|error| handshake_failure(&error.to_string()))?
        }
        ServerConfig::Http(http) => {
            let auth = server.auth.clone().map_err(Failure::Down)?;
            let transport = http_transport(http, auth)?;
            handler
                .serve(transport)
                .await
                .map_err(|error| http_connect_failure(&http.url, &error, login))?
        }
    };
    // A server that declares no `tools` capability (prompts or resources only) is healthy with
    // no tools; asking it for them would fail.
    let offers_tools = client
        .peer()
        .peer_info()
        .is_none_or(|info| info.capabilities.tools.is_some());
    if !offers_tools {
        tracing::info!(server = %server.name, "declares no tools capability: no tools from it");
        return Ok((client, ServerCatalog::default()));
    }
    let tools = client.peer().list_all_tools().await.map_err(|error| {
        let described = describe_service_error(&error, login);
        Failure::from(Described {
            message: format!("`tools/list` failed: {}", described.message),
            needs_login: described.needs_login,
        })
    })?;
    Ok((client, catalog_part(&server.name, &tools)))
}

fn handshake_failure(error: &str) -> String {
    // rmcp reports a server that died before or during `initialize` either as a closed
    // connection or as a failed write (broken pipe), depending on who noticed first.
    if error.contains("connection closed") || error.contains("Broken pipe") {
        "exited or closed its stdout during the MCP handshake".to_owned()
    } else {
        format!("the MCP handshake failed: {error}")
    }
}

fn spawn_stdio(
    name: &str,
    stdio: &StdioServer,
    tail: StderrTail,
) -> Result<ChildTransport, String> {
    let (transport, stderr) =
        ChildTransport::spawn(stdio).map_err(|error| spawn_failure(&stdio.command, &error))?;
    if let Some(stderr) = stderr {
        let server = name.to_owned();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                tracing::debug!(server = %server, "stderr: {line}");
                tail.push(line);
            }
            tail.closed.send_replace(true);
        });
    }
    Ok(transport)
}

fn spawn_failure(command: &str, error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::NotFound => format!(
            "command \"{command}\" was not found: install it or give its full path in the config"
        ),
        std::io::ErrorKind::PermissionDenied => {
            format!("command \"{command}\" is not executable (permission denied)")
        }
        _ => format!("could not start command \"{command}\": {error}"),
    }
}

fn http_transport(
    http: &HttpServer,
    auth: Option<Arc<ServerAuth>>,
) -> Result<StreamableHttpClientTransport<OAuthHttp>, String> {
    let mut headers = std::collections::HashMap::new();
    for (name, value) in &http.headers {
        let header_name = http::HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("header name \"{name}\" is not a valid HTTP header name"))?;
        let header_value = http::HeaderValue::from_str(value).map_err(|_| {
            format!("the value of header \"{name}\" is not a valid HTTP header value")
        })?;
        headers.insert(header_name, header_value);
    }
    let config =
        StreamableHttpClientTransportConfig::with_uri(http.url.as_str()).custom_headers(headers);
    Ok(StreamableHttpClientTransport::with_client(
        OAuthHttp::new(auth),
        config,
    ))
}

async fn publish_ready(
    server: &Server,
    client: &Client,
    tools: ServerCatalog,
    generation: &watch::Sender<u64>,
) {
    let info = client.peer().peer_info();
    let (protocol_version, server_info) = match info.as_deref() {
        Some(info) => (
            info.protocol_version.to_string(),
            info.server_info
                .as_ref()
                .map(|implementation| format!("{} {}", implementation.name, implementation.version))
                .unwrap_or_default(),
        ),
        None => (String::new(), String::new()),
    };
    tracing::info!(server = %server.name, tools = tools.tools().len(), %protocol_version, "connected");
    {
        let mut live = server.state.write().await;
        *live = Live {
            state: ServerState::Ready {
                protocol_version,
                server_info,
            },
            peer: Some(client.peer().clone()),
            // The same list as before a reconnection keeps its allocation (and what the gateway
            // built from it).
            tools: if *live.tools == tools {
                Arc::clone(&live.tools)
            } else {
                Arc::new(tools)
            },
            since: Instant::now(),
            restarts: live.restarts,
        };
    }
    server.settled.send_replace(true);
    generation.send_modify(|value| *value += 1);
}

async fn set_down(
    server: &Server,
    reason: String,
    retrying: bool,
    generation: &watch::Sender<u64>,
) {
    set_state(server, ServerState::Down { reason, retrying }, generation).await;
}

async fn set_state(server: &Server, state: ServerState, generation: &watch::Sender<u64>) {
    let retrying = matches!(state, ServerState::Down { retrying: true, .. });
    {
        let mut live = server.state.write().await;
        live.state = state;
        live.peer = None;
        // A server being reconnected keeps its tool list: code written against it still loads,
        // and its calls fail with a retryable `server_unavailable` until it is back.
        if !retrying {
            live.tools = Arc::default();
        }
        live.since = Instant::now();
    }
    server.settled.send_replace(true);
    generation.send_modify(|value| *value += 1);
}

/// Serve refreshes until the connection ends. Returns why it ended, or `None` on shutdown.
async fn watch_connection(
    server: &Server,
    client: Client,
    refresh: &mut mpsc::UnboundedReceiver<()>,
    generation: &watch::Sender<u64>,
    shutdown: &CancellationToken,
) -> Option<String> {
    let peer = client.peer().clone();
    let cancel = client.cancellation_token();
    // `waiting` ends when the service loop ends: the server exited, closed its stdout, or the
    // HTTP session died.
    let mut ended = std::pin::pin!(client.waiting());
    loop {
        tokio::select! {
            () = shutdown.cancelled() => {
                // Cancelling makes rmcp close the transport: stdin closed, then SIGTERM, then
                // SIGKILL to the process group. If even that hangs, dropping the transport kills
                // the group.
                cancel.cancel();
                let _ = tokio::time::timeout(CLOSE_TIMEOUT, ended).await;
                return None;
            }
            Some(()) = refresh.recv() => {
                // Several notifications in a burst need only one refresh.
                while refresh.try_recv().is_ok() {}
                match peer.list_all_tools().await {
                    Ok(tools) => {
                        let tools = catalog_part(&server.name, &tools);
                        tracing::info!(server = %server.name, tools = tools.tools().len(), "tool list refreshed");
                        let mut live = server.state.write().await;
                        // An unchanged list changes nothing downstream of it.
                        if *live.tools != tools {
                            live.tools = Arc::new(tools);
                            drop(live);
                            generation.send_modify(|value| *value += 1);
                        }
                    }
                    Err(error) => tracing::warn!(
                        server = %server.name,
                        "refreshing tools failed: {}",
                        describe_service_error(&error, server.login_name()).message
                    ),
                }
            }
            _ = &mut ended => {
                return Some("the server exited or closed the connection".to_owned());
            }
        }
    }
}

/// A failure in words, and whether only a login helps.
pub(crate) struct Described {
    pub(crate) message: String,
    pub(crate) needs_login: bool,
}

impl Described {
    fn plain(message: String) -> Described {
        Described {
            message,
            needs_login: false,
        }
    }
}

/// A readable sentence for an rmcp service error. `login` names a server Sluice authorizes to
/// with OAuth (its refusals then say which command logs in).
pub(crate) fn describe_service_error(error: &rmcp::ServiceError, login: Option<&str>) -> Described {
    match error {
        rmcp::ServiceError::McpError(data) => Described::plain(format!(
            "the server answered error {}: {}",
            data.code.0, data.message
        )),
        rmcp::ServiceError::TransportClosed => {
            Described::plain("the connection to the server closed".to_owned())
        }
        rmcp::ServiceError::TransportSend(error) => describe_transport_error(error, login),
        other => Described::plain(other.to_string()),
    }
}

/// Why connecting to a Streamable HTTP server failed, in words: the HTTP status and what to do
/// about it, never the transport's Rust type names (rmcp's own message carries them).
fn http_connect_failure(
    url: &str,
    error: &rmcp::service::ClientInitializeError,
    login: Option<&str>,
) -> Described {
    match error {
        rmcp::service::ClientInitializeError::TransportError { error, .. } => {
            let described = describe_transport_error(error, login);
            Described {
                message: format!("could not connect to {url}: {}", described.message),
                needs_login: described.needs_login,
            }
        }
        other => Described::plain(format!("could not connect to {url}: {other}")),
    }
}

/// The HTTP refusal in an rmcp transport error, if it is one: what a login must answer.
pub fn challenge_of(error: &rmcp::transport::DynamicTransportError) -> Option<Challenge> {
    match error
        .error
        .downcast_ref::<StreamableHttpError<reqwest::Error>>()?
    {
        StreamableHttpError::AuthRequired(required) => Some(Challenge {
            header: required.www_authenticate_header.clone(),
            insufficient_scope: None,
        }),
        StreamableHttpError::InsufficientScope(refusal) => Some(Challenge {
            header: refusal.www_authenticate_header.clone(),
            insufficient_scope: Some(refusal.required_scope.clone().unwrap_or_default()),
        }),
        _ => None,
    }
}

/// A transport failure in words (see [`http_connect_failure`]).
fn describe_transport_error(
    error: &rmcp::transport::DynamicTransportError,
    login: Option<&str>,
) -> Described {
    let Some(http) = error
        .error
        .downcast_ref::<StreamableHttpError<reqwest::Error>>()
    else {
        // The inner error, without the transport's type name in front of it.
        return Described::plain(error.error.to_string());
    };
    let message = match (http, login) {
        (StreamableHttpError::AuthRequired(_), Some(name)) => {
            return Described {
                message: format!(
                    "needs login: the server answered 401 Unauthorized (Sluice has no token for it, or its token expired and could not be renewed); run `{}` (a server that takes a fixed token instead gets it in the entry's \"headers\")",
                    sluice_oauth::login_command(name)
                ),
                needs_login: true,
            };
        }
        (StreamableHttpError::InsufficientScope(refusal), Some(name)) => {
            return Described {
                message: format!(
                    "needs login: the server answered 403 insufficient_scope (it wants the permission \"{}\", which Sluice's token lacks); run `{}` to grant it",
                    refusal.required_scope.as_deref().unwrap_or("?"),
                    sluice_oauth::login_command(name)
                ),
                needs_login: true,
            };
        }
        (StreamableHttpError::Auth(auth), Some(name)) => {
            let needs_login = matches!(
                auth,
                rmcp::transport::AuthError::AuthorizationRequired
                    | rmcp::transport::AuthError::TokenRefreshRejected(_)
            );
            return Described {
                message: if needs_login {
                    format!(
                        "needs login: {}; run `{}`",
                        sluice_oauth::describe(auth),
                        sluice_oauth::login_command(name)
                    )
                } else {
                    format!(
                        "authorizing to the server failed: {}",
                        sluice_oauth::describe(auth)
                    )
                },
                needs_login,
            };
        }
        (StreamableHttpError::AuthRequired(_), None) => "the server answered 401 Unauthorized: it needs credentials; put them in the server's \"headers\" in the config (for example \"Authorization\": \"Bearer ${TOKEN}\")".to_owned(),
        (StreamableHttpError::InsufficientScope(_), None) => "the server answered 403 (insufficient scope): the token in the server's \"headers\" lacks a permission the server needs".to_owned(),
        (StreamableHttpError::HttpStatus(status), _) => format!(
            "the server answered HTTP {}{}",
            status.status,
            if status.status == 429 { " (too many requests; it will be retried)" } else { "" }
        ),
        (StreamableHttpError::Client(client), _) => {
            if client.is_connect() {
                "nothing answered at that address (connection refused or unreachable): check the URL and that the server runs".to_owned()
            } else if client.is_timeout() {
                "the request timed out".to_owned()
            } else {
                client.to_string()
            }
        }
        (other, _) => other.to_string(),
    };
    Described::plain(message)
}

/// Why [`probe`] did not list a server's tools.
#[derive(Debug)]
pub enum ProbeFailure {
    /// The server refused Sluice (401, or 403 `insufficient_scope`): what it said.
    Refused(Challenge),
    /// Anything else, in words.
    Failed(String),
}

fn probe_failure(error: &rmcp::transport::DynamicTransportError, fallback: String) -> ProbeFailure {
    match challenge_of(error) {
        Some(challenge) => ProbeFailure::Refused(challenge),
        None => ProbeFailure::Failed(fallback),
    }
}

/// Connect to HTTP server `name` as the pool does (with its tokens in `tokens`), list its tools
/// and close: for `sluice auth login`, whose authorization answers the refusal this reports.
/// Returns how many tools it listed.
pub async fn probe(
    name: &str,
    http: &HttpServer,
    tokens: &sluice_oauth::TokenStore,
    timeout: Duration,
) -> Result<usize, ProbeFailure> {
    let auth = ServerAuth::new(name, http, tokens)
        .map_err(|error| ProbeFailure::Failed(error.to_string()))?;
    let transport = http_transport(http, auth).map_err(ProbeFailure::Failed)?;
    let (refresh, _refreshes) = mpsc::unbounded_channel();
    let handler = Handler {
        server: name.to_owned(),
        refresh,
        in_flight: Arc::default(),
    };
    let attempt = async {
        let client = handler.serve(transport).await.map_err(|error| {
            let described = http_connect_failure(&http.url, &error, Some(name)).message;
            match &error {
                rmcp::service::ClientInitializeError::TransportError { error, .. } => {
                    probe_failure(error, described)
                }
                _ => ProbeFailure::Failed(described),
            }
        })?;
        let offers_tools = client
            .peer()
            .peer_info()
            .is_none_or(|info| info.capabilities.tools.is_some());
        let listed = if offers_tools {
            client
                .peer()
                .list_all_tools()
                .await
                .map(|tools| tools.len())
        } else {
            Ok(0)
        };
        let _ = client.cancel().await;
        listed.map_err(|error| {
            let described = describe_service_error(&error, Some(name)).message;
            match &error {
                rmcp::ServiceError::TransportSend(error) => probe_failure(error, described),
                _ => ProbeFailure::Failed(described),
            }
        })
    };
    tokio::time::timeout(timeout, attempt).await.map_err(|_| {
        ProbeFailure::Failed(format!(
            "{} did not complete the MCP handshake within {} ms",
            http.url,
            timeout.as_millis()
        ))
    })?
}
