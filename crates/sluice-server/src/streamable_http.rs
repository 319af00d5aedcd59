//! `sluice serve --http`: Sluice's MCP surface over Streamable HTTP, on rmcp's server transport.
//!
//! One endpoint, `/mcp`: POST (answers as JSON or an SSE stream), GET (the server's stream),
//! DELETE (ends a session). A client speaking a protocol version with sessions gets an
//! `Mcp-Session-Id` at `initialize` and is one gateway [`Client`], exactly like one stdio
//! connection. A request of the sessionless protocol (2026-07-28, no `Mcp-Session-Id`) runs as
//! its principal's shared client, so named `execute_code` sessions carry over between its
//! requests. Every SSE stream's events are kept a while ([`crate::replay`]): a client whose
//! connection dropped resumes with `Last-Event-ID` (a GET), and its code keeps running meanwhile.
//! Sessionless answers are SSE streams too unless `sluice.http.jsonResponse` asks for plain JSON
//! (which cannot be resumed).
//!
//! In front of rmcp sit the checks rmcp does not make: the path, `Origin` (a browser page of
//! another site is refused with 403, so a page cannot drive a Sluice on loopback through DNS
//! rebinding), and refusing new work while shutting down. rmcp itself checks `Host` against
//! the allowed names.
//!
//! Shutdown ([`HttpServer::run`]'s `shutdown` future): stop accepting connections, answer new
//! requests with 503, let tool calls in flight finish for up to `sluice.http.shutdownGraceMs`,
//! then stop the executions still running (their callers get a cancelled report), close every
//! session and stream, and return.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Either, Full, combinators::BoxBody};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use rmcp::RoleServer;
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use sluice_auth::{Authenticator, Principal, PrincipalKind, Refusal};
use sluice_config::{HttpSettings, is_loopback_host};
use sluice_gateway::{Client, Gateway};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

use crate::replay::Replay;
use crate::{Connection, SluiceServer};

/// The path of the MCP endpoint.
pub const MCP_PATH: &str = "/mcp";

/// Header naming an MCP session.
const SESSION_HEADER: &str = "mcp-session-id";

/// Where the protected resource metadata is served (followed by the endpoint's path).
const METADATA_PATH: &str = "/.well-known/oauth-protected-resource";

/// How long a client has to complete the TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The request headers a page of an allowed origin may send (CORS).
const CORS_ALLOWED_HEADERS: &str =
    "authorization, content-type, accept, mcp-session-id, mcp-protocol-version, last-event-id";

/// The response headers a page of an allowed origin may read (CORS).
const CORS_EXPOSED: &str = "mcp-session-id, mcp-protocol-version, www-authenticate, retry-after";

/// The largest request body an authenticated principal may POST (read whole to check its
/// limits before rmcp reads it).
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// Past this many recorded session owners, those of ended sessions are dropped.
const OWNERS_PRUNE_AT: usize = 1024;

/// What `sluice serve --http` is asked to do.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Where to listen.
    pub address: SocketAddr,
    /// Listen on an address other machines can reach (`--allow-remote`).
    pub allow_remote: bool,
    /// `sluice.http`.
    pub settings: HttpSettings,
    /// Serve HTTPS with this certificate and key (`--tls-cert`, `--tls-key`).
    pub tls: Option<TlsFiles>,
}

/// A certificate chain and its private key, PEM files.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The certificate chain, the server's own certificate first.
    pub cert: std::path::PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub key: std::path::PathBuf,
}

/// Why the HTTP server cannot start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// A non-loopback address without `--allow-remote`.
    #[error(
        "refusing to listen on {address}: it is not a loopback address, so anyone who can reach \
         this machine could run code against your MCP servers. Listen on 127.0.0.1 (the \
         default), or pass --allow-remote and set sluice.http.auth in the config"
    )]
    NotLoopback {
        /// The address asked for.
        address: SocketAddr,
    },
    /// Authentication could not be set up (the issuer's documents could not be read).
    #[error(transparent)]
    Auth(#[from] sluice_auth::SetupError),
    /// The certificate or key could not be read or do not fit together.
    #[error("cannot serve TLS with {path}: {reason}")]
    Tls {
        /// The file at fault.
        path: std::path::PathBuf,
        /// Why.
        reason: String,
    },
    /// The address could not be bound.
    #[error("cannot listen on {address}: {source} (is another server using the port?)")]
    Bind {
        /// The address asked for.
        address: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Refuse a non-loopback address unless remote access was asked for explicitly.
pub fn check_address(address: SocketAddr, allow_remote: bool) -> Result<(), HttpError> {
    if address.ip().is_loopback() || allow_remote {
        Ok(())
    } else {
        Err(HttpError::NotLoopback { address })
    }
}

/// A bound HTTP server, not yet serving.
pub struct HttpServer {
    listener: TcpListener,
    address: SocketAddr,
    options: HttpOptions,
    auth: Option<Arc<Authenticator>>,
    tls: Option<tokio_rustls::TlsAcceptor>,
}

impl HttpServer {
    /// Check the address and bind it (port 0 picks a free port; see [`HttpServer::url`]); with
    /// `sluice.http.auth`, read the issuer's discovery document and keys.
    pub async fn bind(options: HttpOptions) -> Result<HttpServer, HttpError> {
        check_address(options.address, options.allow_remote)?;
        let tls = options.tls.as_ref().map(tls_acceptor).transpose()?;
        let listener =
            TcpListener::bind(options.address)
                .await
                .map_err(|source| HttpError::Bind {
                    address: options.address,
                    source,
                })?;
        let address = listener.local_addr().map_err(|source| HttpError::Bind {
            address: options.address,
            source,
        })?;
        let mut server = HttpServer {
            listener,
            address,
            options,
            auth: None,
            tls,
        };
        if let Some(settings) = &server.options.settings.auth {
            let authenticator = Authenticator::new(settings, &server.url()).await?;
            server.auth = Some(Arc::new(authenticator));
        }
        Ok(server)
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.address
    }

    /// The MCP endpoint's URL: `sluice.http.publicUrl`, else `http(s)://<bound address>/mcp`.
    pub fn url(&self) -> String {
        self.options.settings.public_url.clone().unwrap_or_else(|| {
            let scheme = if self.tls.is_some() { "https" } else { "http" };
            format!("{scheme}://{}{MCP_PATH}", self.address)
        })
    }

    /// Serve `gateway` until `shutdown` completes, then drain (see the module's doc). Requests
    /// that need the catalog wait until `ready` is true.
    pub async fn run(
        self,
        gateway: Gateway,
        ready: watch::Receiver<bool>,
        shutdown: impl Future<Output = ()>,
    ) {
        let settings = &self.options.settings;
        let stop = CancellationToken::new();
        let activity = Arc::new(Activity::default());
        let shared = Arc::new(SharedClients::default());
        let factory = {
            let gateway = gateway.clone();
            let activity = activity.clone();
            move || {
                Ok(SluiceServer {
                    gateway: gateway.clone(),
                    connection: Connection::Http(ClientSlot {
                        own: Arc::default(),
                        shared: shared.clone(),
                    }),
                    ready: ready.clone(),
                    activity: activity.clone(),
                    watching_direct: Arc::default(),
                })
            }
        };
        let mut config = StreamableHttpServerConfig::default()
            .with_json_response(settings.json_response)
            .with_cancellation_token(stop.clone());
        config = if self.address.ip().is_loopback() {
            let mut hosts = vec![
                "localhost".to_owned(),
                "127.0.0.1".to_owned(),
                "::1".to_owned(),
            ];
            hosts.extend(settings.allowed_hosts.iter().cloned());
            config.with_allowed_hosts(hosts)
        } else if settings.allowed_hosts.is_empty() {
            tracing::warn!(
                "listening on {} with no sluice.http.allowedHosts: any Host header is accepted",
                self.address
            );
            config.disable_allowed_hosts()
        } else {
            config.with_allowed_hosts(settings.allowed_hosts.iter().cloned())
        };
        let sessions =
            Arc::new(LocalSessionManager::default().with_event_store(Arc::new(Replay::default())));
        let mcp = StreamableHttpService::new(factory, sessions.clone(), config);
        let front = Arc::new(Front {
            mcp,
            gateway: gateway.clone(),
            sessions,
            allowed_origins: settings
                .allowed_origins
                .iter()
                .filter_map(|origin| Origin::parse(origin))
                .collect(),
            draining: AtomicBool::new(false),
            auth: self.auth.clone(),
            owners: Mutex::default(),
        });
        let graceful = GracefulShutdown::new();
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            tokio::select! {
                accepted = self.listener.accept() => {
                    let stream = match accepted {
                        Ok((stream, _peer)) => stream,
                        Err(error) => {
                            // Out of descriptors and the like: wait a little rather than spin.
                            tracing::warn!("accepting a connection failed: {error}");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    };
                    let front = front.clone();
                    let service = hyper::service::service_fn(move |request| {
                        let front = front.clone();
                        async move { Ok::<_, Infallible>(front.handle(request).await) }
                    });
                    let watcher = graceful.watcher();
                    let tls = self.tls.clone();
                    tokio::spawn(async move {
                        let mut http = hyper::server::conn::http1::Builder::new();
                        http.timer(TokioTimer::new());
                        let ended = match tls {
                            None => watcher.watch(http.serve_connection(TokioIo::new(stream), service)).await,
                            Some(acceptor) => {
                                let handshake =
                                    tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await;
                                let Ok(Ok(stream)) = handshake else {
                                    tracing::debug!("a TLS handshake failed or timed out");
                                    return;
                                };
                                watcher.watch(http.serve_connection(TokioIo::new(stream), service)).await
                            }
                        };
                        if let Err(error) = ended {
                            tracing::debug!("HTTP connection ended: {error}");
                        }
                    });
                }
                () = &mut shutdown => break,
            }
        }
        drop(self.listener);
        front.draining.store(true, Ordering::SeqCst);
        let grace = Duration::from_millis(settings.shutdown_grace_ms);
        let running = activity.running();
        if running > 0 {
            tracing::info!(
                "shutting down: {running} tool call(s) in flight get up to {} ms to finish",
                grace.as_millis()
            );
        }
        if tokio::time::timeout(grace, activity.idle()).await.is_err() {
            tracing::warn!("shutting down: stopping the executions still running");
            gateway.stop_executions();
            let _ = tokio::time::timeout(Duration::from_secs(2), activity.idle()).await;
        }
        // The last answers are on their way out through their streams: give them a moment.
        tokio::time::sleep(Duration::from_millis(100)).await;
        stop.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(2), graceful.shutdown()).await;
    }
}

type Response = hyper::Response<BoxBody<Bytes, Infallible>>;

/// The checks before rmcp, and rmcp.
struct Front {
    mcp: StreamableHttpService<SluiceServer, LocalSessionManager>,
    gateway: Gateway,
    sessions: Arc<LocalSessionManager>,
    allowed_origins: Vec<Origin>,
    draining: AtomicBool,
    auth: Option<Arc<Authenticator>>,
    /// The principal (its key) each MCP session was opened by: only they may use it.
    owners: Mutex<HashMap<String, String>>,
}

impl Front {
    /// [`Front::answer`], with the CORS headers for an origin of `sluice.http.allowedOrigins`.
    async fn handle(&self, request: hyper::Request<Incoming>) -> Response {
        let cors = self.cors_origin(request.headers());
        let mut response = self.answer(request).await;
        if let Some(origin) = cors {
            let headers = response.headers_mut();
            headers.insert(::http::header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            headers.insert(
                ::http::header::ACCESS_CONTROL_EXPOSE_HEADERS,
                ::http::HeaderValue::from_static(CORS_EXPOSED),
            );
            headers.append(
                ::http::header::VARY,
                ::http::HeaderValue::from_static("Origin"),
            );
        }
        response
    }

    /// The request's `Origin`, when it is one of `sluice.http.allowedOrigins` (loopback pages
    /// pass the Origin check but get no CORS headers unless listed).
    fn cors_origin(&self, headers: &::http::HeaderMap) -> Option<::http::HeaderValue> {
        let value = headers.get(::http::header::ORIGIN)?;
        let origin = Origin::parse(value.to_str().ok()?)?;
        self.allowed_origins
            .contains(&origin)
            .then(|| value.clone())
    }

    /// A CORS preflight (OPTIONS) of a page whose origin passed the Origin check: 204, with the
    /// methods and headers MCP uses when its origin is listed (else none, and the browser stops).
    fn preflight(&self, headers: &::http::HeaderMap) -> Response {
        let mut response = hyper::Response::new(Full::new(Bytes::new()).boxed());
        *response.status_mut() = ::http::StatusCode::NO_CONTENT;
        if self.cors_origin(headers).is_some() {
            let out = response.headers_mut();
            out.insert(
                ::http::header::ACCESS_CONTROL_ALLOW_METHODS,
                ::http::HeaderValue::from_static("GET, POST, DELETE, OPTIONS"),
            );
            out.insert(
                ::http::header::ACCESS_CONTROL_ALLOW_HEADERS,
                ::http::HeaderValue::from_static(CORS_ALLOWED_HEADERS),
            );
            out.insert(
                ::http::header::ACCESS_CONTROL_MAX_AGE,
                ::http::HeaderValue::from_static("600"),
            );
        }
        response
    }

    async fn answer(&self, mut request: hyper::Request<Incoming>) -> Response {
        let path = request.uri().path();
        if path == METADATA_PATH
            || path
                .strip_prefix(METADATA_PATH)
                .is_some_and(|rest| rest.starts_with('/'))
        {
            return self.metadata();
        }
        if path != MCP_PATH {
            return text_response(
                ::http::StatusCode::NOT_FOUND,
                format!("Not Found: the MCP endpoint is {MCP_PATH}"),
            );
        }
        if let Err(message) = self.check_origin(request.headers()) {
            tracing::warn!("refused a request: {message}");
            return text_response(::http::StatusCode::FORBIDDEN, message);
        }
        if request.method() == ::http::Method::OPTIONS {
            return self.preflight(request.headers());
        }
        if self.draining.load(Ordering::SeqCst) && request.method() != ::http::Method::DELETE {
            let mut response = text_response(
                ::http::StatusCode::SERVICE_UNAVAILABLE,
                "Service Unavailable: Sluice is shutting down".to_owned(),
            );
            response.headers_mut().insert(
                ::http::header::RETRY_AFTER,
                ::http::HeaderValue::from_static("5"),
            );
            return response;
        }
        let principal = match self.authenticate(&mut request).await {
            Ok(principal) => principal,
            Err(response) => return response,
        };
        let session = request
            .headers()
            .get(SESSION_HEADER)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        if let Some(session) = &session
            && !self.owned_by(session, &principal)
        {
            tracing::warn!(
                "refused session {session} to {}: another principal opened it",
                principal.key()
            );
            return no_such_session();
        }
        let key = principal.key();
        let limited = principal.kind != PrincipalKind::Anonymous;
        request.extensions_mut().insert(principal);
        if request.method() == ::http::Method::DELETE {
            return self.delete(request, session.as_deref()).await;
        }
        let request = if limited && request.method() == ::http::Method::POST {
            match self.check_limits(request, &key).await {
                Ok(request) => request.map(Either::Right),
                Err(response) => return response,
            }
        } else {
            request.map(Either::Left)
        };
        let response = self.mcp.handle(request).await;
        if session.is_none()
            && let Some(opened) = response
                .headers()
                .get(SESSION_HEADER)
                .and_then(|value| value.to_str().ok())
        {
            self.record_owner(opened, key).await;
        }
        response
    }

    /// The principal of the request, or the answer refusing it. The token is taken out of the
    /// request: nothing behind this point (rmcp, the handler, downstream servers) sees it.
    async fn authenticate(
        &self,
        request: &mut hyper::Request<Incoming>,
    ) -> Result<Principal, Response> {
        let Some(auth) = &self.auth else {
            return Ok(Principal::anonymous());
        };
        let header = request.headers_mut().remove(::http::header::AUTHORIZATION);
        let value = header.as_ref().and_then(|value| value.to_str().ok());
        match auth.authenticate(value).await {
            Ok(principal) => Ok(principal),
            Err(refusal) => {
                let (status, text) = match &refusal {
                    Refusal::Missing => (
                        ::http::StatusCode::UNAUTHORIZED,
                        "Unauthorized: send Authorization: Bearer <token> (see the \
                         WWW-Authenticate header for where to get one)"
                            .to_owned(),
                    ),
                    Refusal::Invalid(invalid) => {
                        tracing::info!("refused a token: {invalid}");
                        (
                            ::http::StatusCode::UNAUTHORIZED,
                            format!("Unauthorized: {invalid}"),
                        )
                    }
                    Refusal::InsufficientScope { required } => (
                        ::http::StatusCode::FORBIDDEN,
                        format!(
                            "Forbidden: the token lacks a required scope (needs: {})",
                            required.join(" ")
                        ),
                    ),
                };
                let mut response = text_response(status, text);
                if let Ok(challenge) = ::http::HeaderValue::from_str(&auth.challenge(&refusal)) {
                    response
                        .headers_mut()
                        .insert(::http::header::WWW_AUTHENTICATE, challenge);
                }
                Err(response)
            }
        }
    }

    /// A principal's `tools/call` of `execute_code` when it runs its most executions at once or
    /// started its most this minute (`sluice.limits.perPrincipal`) is refused here: 429 with
    /// `Retry-After`, before rmcp reads it. The body is read to know (at most
    /// [`MAX_BODY_BYTES`]); the request goes on with it.
    async fn check_limits(
        &self,
        request: hyper::Request<Incoming>,
        key: &str,
    ) -> Result<hyper::Request<Full<Bytes>>, Response> {
        let (parts, body) = request.into_parts();
        let body = match http_body_util::Limited::new(body, MAX_BODY_BYTES)
            .collect()
            .await
        {
            Ok(body) => body.to_bytes(),
            Err(_) => {
                return Err(text_response(
                    ::http::StatusCode::PAYLOAD_TOO_LARGE,
                    format!(
                        "Payload Too Large: a request body may hold at most {MAX_BODY_BYTES} bytes"
                    ),
                ));
            }
        };
        if runs_code(&body) {
            let refusal = self
                .gateway
                .tenant(key)
                .map_err(|error| {
                    text_response(::http::StatusCode::INTERNAL_SERVER_ERROR, error.to_string())
                })?
                .check_execution();
            if let Err(refusal) = refusal {
                tracing::info!("refused an execution of {key}: {refusal}");
                let seconds = refusal.retry_after.as_secs().max(1);
                let mut response = text_response(
                    ::http::StatusCode::TOO_MANY_REQUESTS,
                    format!("Too Many Requests: {refusal}"),
                );
                if let Ok(value) = ::http::HeaderValue::from_str(&seconds.to_string()) {
                    response
                        .headers_mut()
                        .insert(::http::header::RETRY_AFTER, value);
                }
                return Err(response);
            }
        }
        Ok(hyper::Request::from_parts(parts, Full::new(body)))
    }

    /// The protected resource metadata (RFC 9728), when authentication is configured.
    fn metadata(&self) -> Response {
        let Some(auth) = &self.auth else {
            return text_response(
                ::http::StatusCode::NOT_FOUND,
                "Not Found: this Sluice does not require authentication".to_owned(),
            );
        };
        let mut response =
            hyper::Response::new(Full::new(Bytes::from(auth.metadata().to_string())).boxed());
        response.headers_mut().insert(
            ::http::header::CONTENT_TYPE,
            ::http::HeaderValue::from_static("application/json"),
        );
        response
    }

    /// Whether `principal` may use `session` (sessions nobody recorded are rmcp's to refuse).
    fn owned_by(&self, session: &str, principal: &Principal) -> bool {
        let owners = match self.owners.lock() {
            Ok(owners) => owners,
            Err(poisoned) => poisoned.into_inner(),
        };
        owners
            .get(session)
            .is_none_or(|owner| *owner == principal.key())
    }

    async fn record_owner(&self, session: &str, key: String) {
        let live: Option<std::collections::HashSet<String>> = {
            let count = self.owners.lock().map(|owners| owners.len()).unwrap_or(0);
            if count >= OWNERS_PRUNE_AT {
                let sessions = self.sessions.sessions.read().await;
                Some(sessions.keys().map(|id| id.to_string()).collect())
            } else {
                None
            }
        };
        let mut owners = match self.owners.lock() {
            Ok(owners) => owners,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(live) = live {
            owners.retain(|id, _| live.contains(id));
        }
        owners.insert(session.to_owned(), key);
    }

    /// DELETE ends a session: 204 when it did, 404 for a session that does not exist (ended,
    /// expired or never made), as for any other request naming it.
    async fn delete(&self, request: hyper::Request<Incoming>, session: Option<&str>) -> Response {
        if let Some(id) = session {
            let known = self.sessions.sessions.read().await.contains_key(id);
            if !known {
                return no_such_session();
            }
        }
        let mut response = self.mcp.handle(request).await;
        if response.status() == ::http::StatusCode::ACCEPTED {
            // The session is closed by the time rmcp answers: nothing is left pending.
            *response.status_mut() = ::http::StatusCode::NO_CONTENT;
            if let Some(id) = session
                && let Ok(mut owners) = self.owners.lock()
            {
                owners.remove(id);
            }
        }
        response
    }

    /// A browser sends `Origin`; only loopback pages and the configured origins may call.
    fn check_origin(&self, headers: &::http::HeaderMap) -> Result<(), String> {
        let Some(value) = headers.get(::http::header::ORIGIN) else {
            return Ok(());
        };
        let text = value.to_str().unwrap_or("(not text)");
        let Some(origin) = Origin::parse(text) else {
            return Err(format!(
                "Forbidden: Origin \"{text}\" is not allowed (add it to sluice.http.allowedOrigins \
                 to let pages of that site call Sluice)"
            ));
        };
        if is_loopback_host(&origin.host) || self.allowed_origins.contains(&origin) {
            return Ok(());
        }
        Err(format!(
            "Forbidden: Origin \"{text}\" is not allowed (add it to sluice.http.allowedOrigins to \
             let pages of that site call Sluice)"
        ))
    }
}

/// Whether a request body is a `tools/call` of `execute_code` (alone or in a batch).
fn runs_code(body: &[u8]) -> bool {
    fn is_execute(message: &serde_json::Value) -> bool {
        message.get("method").and_then(serde_json::Value::as_str) == Some("tools/call")
            && message
                .pointer("/params/name")
                .and_then(serde_json::Value::as_str)
                == Some("execute_code")
    }
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Array(messages)) => messages.iter().any(is_execute),
        Ok(message) => is_execute(&message),
        Err(_) => false,
    }
}

/// A TLS acceptor for the certificate chain and key in `files` (HTTP/1.1 only).
fn tls_acceptor(files: &TlsFiles) -> Result<tokio_rustls::TlsAcceptor, HttpError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let error = |path: &std::path::Path, reason: String| HttpError::Tls {
        path: path.to_owned(),
        reason,
    };
    let certs = CertificateDer::pem_file_iter(&files.cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|problem| {
            error(
                &files.cert,
                format!("not a PEM certificate chain ({problem})"),
            )
        })?;
    if certs.is_empty() {
        return Err(error(&files.cert, "holds no CERTIFICATE block".to_owned()));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|problem| error(&files.key, format!("not a PEM private key ({problem})")))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|problem| error(&files.cert, problem.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|problem| {
            error(
                &files.key,
                format!("does not fit the certificate, or is not supported ({problem})"),
            )
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

fn no_such_session() -> Response {
    text_response(
        ::http::StatusCode::NOT_FOUND,
        "Not Found: no such session (it ended or expired); initialize a new one".to_owned(),
    )
}

fn text_response(status: ::http::StatusCode, text: String) -> Response {
    let mut response = hyper::Response::new(Full::new(Bytes::from(text)).boxed());
    *response.status_mut() = status;
    response.headers_mut().insert(
        ::http::header::CONTENT_TYPE,
        ::http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// A web origin, compared as RFC 6454 says: scheme, host and port (the default one filled in).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Origin {
    scheme: String,
    host: String,
    port: u16,
}

impl Origin {
    fn parse(text: &str) -> Option<Origin> {
        let (scheme, rest) = text.split_once("://")?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "http" => 80,
            "https" => 443,
            _ => return None,
        };
        if rest.is_empty() || rest.contains(['/', '?', '#', '@']) {
            return None;
        }
        let (host, port) = if let Some(bracketed) = rest.strip_prefix('[') {
            let (host, after) = bracketed.split_once(']')?;
            let port = match after.strip_prefix(':') {
                Some(port) => port.parse().ok()?,
                None if after.is_empty() => default_port,
                None => return None,
            };
            (format!("[{host}]"), port)
        } else {
            match rest.rsplit_once(':') {
                Some((host, port)) => (host.to_owned(), port.parse().ok()?),
                None => (rest.to_owned(), default_port),
            }
        };
        Some(Origin {
            scheme,
            host: host.to_ascii_lowercase(),
            port,
        })
    }
}

/// Tool calls being answered, so shutdown can let them finish.
#[derive(Debug, Default)]
pub struct Activity {
    running: AtomicUsize,
    changed: Notify,
}

impl Activity {
    /// Count a call until the guard drops.
    pub(crate) fn begin(self: &Arc<Self>) -> ActiveCall {
        self.running.fetch_add(1, Ordering::SeqCst);
        ActiveCall(self.clone())
    }

    fn running(&self) -> usize {
        self.running.load(Ordering::SeqCst)
    }

    /// Wait until no call is being answered.
    async fn idle(&self) {
        loop {
            let changed = self.changed.notified();
            let mut changed = std::pin::pin!(changed);
            changed.as_mut().enable();
            if self.running() == 0 {
                return;
            }
            changed.await;
        }
    }
}

/// One call being answered.
pub(crate) struct ActiveCall(Arc<Activity>);

impl Drop for ActiveCall {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::SeqCst);
        self.0.changed.notify_waiters();
    }
}

/// The gateway clients of sessionless requests, one per principal.
#[derive(Default)]
struct SharedClients {
    by_principal: Mutex<HashMap<String, Client>>,
}

/// An HTTP service instance's way to its gateway client.
#[derive(Clone)]
pub(crate) struct ClientSlot {
    /// The client of this instance's MCP session, made at its first tool call.
    own: Arc<OnceLock<Client>>,
    shared: Arc<SharedClients>,
}

impl ClientSlot {
    /// The client a request runs as: in an MCP session (it carries `Mcp-Session-Id`), the
    /// session's own; otherwise the shared one.
    /// An authenticated principal acts as its own tenant (its workspace, skills and limits);
    /// without authentication, the owner. `Err` (for the agent) when the principal's folder
    /// cannot be made.
    pub(crate) fn client(
        &self,
        gateway: &Gateway,
        context: &RequestContext<RoleServer>,
    ) -> Result<Client, String> {
        let parts = context.extensions.get::<::http::request::Parts>();
        let in_session = parts.is_some_and(|parts| parts.headers.contains_key(SESSION_HEADER));
        let principal = parts.and_then(|parts| parts.extensions.get::<Principal>());
        let key = principal.map_or_else(|| Principal::anonymous().key(), Principal::key);
        let tenant = match principal {
            Some(principal) if principal.kind != PrincipalKind::Anonymous => {
                gateway.tenant(&key).map_err(|error| error.to_string())?
            }
            _ => gateway.owner().clone(),
        };
        // The gateway names the client after its principal in the audit log.
        let name = format!("http:{key}");
        if in_session {
            return Ok(self
                .own
                .get_or_init(|| gateway.client_of(&name, &tenant))
                .clone());
        }
        let mut clients = match self.shared.by_principal.lock() {
            Ok(clients) => clients,
            Err(poisoned) => poisoned.into_inner(),
        };
        Ok(clients
            .entry(key)
            .or_insert_with(|| gateway.client_of(&name, &tenant))
            .clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_compare_by_scheme_host_and_port() {
        let allowed = Origin::parse("https://App.example.com").unwrap();
        assert_eq!(
            Origin::parse("https://app.example.com:443"),
            Some(allowed.clone())
        );
        assert_ne!(
            Origin::parse("http://app.example.com"),
            Some(allowed.clone())
        );
        assert_ne!(Origin::parse("https://app.example.com:8443"), Some(allowed));
        assert_eq!(Origin::parse("http://[::1]:3000").unwrap().host, "[::1]");
        for bad in [
            "null",
            "file://",
            "https://a.com/x",
            "ftp://a.com",
            "https://u@a.com",
        ] {
            assert_eq!(Origin::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn only_loopback_without_allow_remote() {
        assert!(check_address("127.0.0.1:0".parse().unwrap(), false).is_ok());
        assert!(check_address("[::1]:0".parse().unwrap(), false).is_ok());
        let error = check_address("0.0.0.0:8080".parse().unwrap(), false).unwrap_err();
        assert!(error.to_string().contains("--allow-remote"), "{error}");
        assert!(check_address("0.0.0.0:8080".parse().unwrap(), true).is_ok());
    }
}
