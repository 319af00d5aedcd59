//! The observability address of `sluice serve --metrics ADDR`: `/metrics` in the Prometheus text
//! format (the gateway's `sluice-metrics`), and the page at `/` (`page.rs`) that shows what agents
//! ran, from the audit log and the live gateway.
//!
//! Plain HTTP/1.1 on hyper, GET only, on loopback unless the caller allowed another address
//! explicitly: the page shows agents' code and output (personal data already tokenized, as the
//! audit log holds it), not something to publish by accident.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use sluice_gateway::Gateway;
use tokio::net::TcpListener;

/// Why the address could not be served.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// Not a loopback address, and remote access was not asked for.
    #[error(
        "refusing to serve on {address}: it is not a loopback address, and the page there shows agents' code. Use 127.0.0.1:PORT, or add {flag} to serve it to other machines"
    )]
    NotLoopback {
        /// The address asked for.
        address: SocketAddr,
        /// The flag that allows it.
        flag: &'static str,
    },
    /// The address could not be bound.
    #[error("could not listen on {address}: {source}; choose another address or port")]
    Bind {
        /// The address.
        address: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

pub mod page;

/// What the address serves from.
#[derive(Clone)]
pub struct Source {
    /// The running gateway: its metrics and live state (`None` for `sluice ui`, which reads only
    /// the data folder).
    pub gateway: Option<Gateway>,
    /// The data folder: the audit log (`audit/`) and the skills (`skills/`).
    pub data_dir: Option<PathBuf>,
}

/// A bound, not yet serving, observability address.
pub struct WebServer {
    listener: TcpListener,
    address: SocketAddr,
}

impl WebServer {
    /// Bind `address`; a non-loopback one only with `allow_remote` (the command's `flag`, named
    /// in the refusal).
    pub async fn bind(
        address: SocketAddr,
        allow_remote: bool,
        flag: &'static str,
    ) -> Result<WebServer, WebError> {
        if !address.ip().is_loopback() && !allow_remote {
            return Err(WebError::NotLoopback { address, flag });
        }
        let listener = TcpListener::bind(address)
            .await
            .map_err(|source| WebError::Bind { address, source })?;
        let address = listener
            .local_addr()
            .map_err(|source| WebError::Bind { address, source })?;
        Ok(WebServer { listener, address })
    }

    /// The address it listens on (with the port picked when 0 was asked for).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Serve until `shutdown` completes; connections in flight are let finish.
    pub async fn run(self, source: Source, shutdown: impl Future<Output = ()>) {
        let graceful = GracefulShutdown::new();
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            tokio::select! {
                accepted = self.listener.accept() => {
                    let stream = match accepted {
                        Ok((stream, _peer)) => stream,
                        Err(error) => {
                            // Out of descriptors and the like: wait a little rather than spin
                            // (as the MCP HTTP server does).
                            tracing::warn!("metrics address: accepting a connection failed: {error}");
                            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                            continue;
                        }
                    };
                    let source = source.clone();
                    let service = hyper::service::service_fn(move |request| {
                        let source = source.clone();
                        async move { Ok::<_, Infallible>(handle(&source, request).await) }
                    });
                    let watcher = graceful.watcher();
                    tokio::spawn(async move {
                        let mut http = hyper::server::conn::http1::Builder::new();
                        http.timer(TokioTimer::new());
                        if let Err(error) = watcher
                            .watch(http.serve_connection(TokioIo::new(stream), service))
                            .await
                        {
                            tracing::debug!("metrics address: connection ended: {error}");
                        }
                    });
                }
                () = &mut shutdown => break,
            }
        }
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), graceful.shutdown()).await;
    }
}

async fn handle<B>(source: &Source, request: Request<B>) -> Response<Full<Bytes>> {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return text(
            StatusCode::METHOD_NOT_ALLOWED,
            "only GET is served here\n".to_owned(),
        );
    }
    let query = request.uri().query().map(str::to_owned);
    match request.uri().path() {
        "/metrics" => match &source.gateway {
            Some(gateway) => match gateway.metrics_text().await {
                Some(body) => respond(StatusCode::OK, sluice_metrics::CONTENT_TYPE, body),
                None => text(
                    StatusCode::NOT_FOUND,
                    "this gateway keeps no metrics\n".to_owned(),
                ),
            },
            None => text(
                StatusCode::NOT_FOUND,
                "no gateway runs here (sluice ui reads only the audit log): run sluice serve --metrics ADDR for metrics\n".to_owned(),
            ),
        },
        "/" => {
            let servers = match &source.gateway {
                Some(gateway) => Some(server_rows(gateway).await),
                None => None,
            };
            let data_dir = source.data_dir.clone();
            let filter = page::PageFilter::from_query(query.as_deref());
            let rendered = tokio::task::spawn_blocking(move || {
                let skills = data_dir.as_deref().map(skill_rows).unwrap_or_default();
                let audit = data_dir.map(|dir| dir.join(sluice_audit::AUDIT_DIR));
                page::index(audit.as_deref(), &filter, servers.as_deref(), &skills)
            })
            .await;
            match rendered {
                Ok(body) => html(StatusCode::OK, body),
                Err(_) => text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the page could not be made; see Sluice's log\n".to_owned(),
                ),
            }
        }
        "/execution" => {
            let id = url::form_urlencoded::parse(query.as_deref().unwrap_or_default().as_bytes())
                .find(|(key, _)| key == "id")
                .map(|(_, id)| id.into_owned())
                .unwrap_or_default();
            let Some(audit) = source
                .data_dir
                .as_ref()
                .map(|dir| dir.join(sluice_audit::AUDIT_DIR))
            else {
                return text(StatusCode::NOT_FOUND, "no audit log here\n".to_owned());
            };
            let output = source
                .gateway
                .as_ref()
                .and_then(|gateway| gateway.recent_output(&id));
            let rendered = tokio::task::spawn_blocking(move || {
                page::execution(&audit, &id, output.as_deref())
            })
            .await;
            match rendered {
                Ok(Some(body)) => html(StatusCode::OK, body),
                Ok(None) => text(
                    StatusCode::NOT_FOUND,
                    "the audit log has no execution with this id\n".to_owned(),
                ),
                Err(_) => text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the page could not be made; see Sluice's log\n".to_owned(),
                ),
            }
        }
        _ => text(
            StatusCode::NOT_FOUND,
            "not found: this address serves /, /execution?id=ID and /metrics\n".to_owned(),
        ),
    }
}

async fn server_rows(gateway: &Gateway) -> Vec<page::ServerRow> {
    let snapshot = gateway.snapshot().await;
    snapshot
        .statuses
        .iter()
        .map(|status| page::ServerRow {
            name: status.name.clone(),
            state: status.state.describe(),
            ready: matches!(status.state, sluice_downstream::ServerState::Ready { .. }),
            tools: snapshot
                .catalog
                .part(&status.name)
                .map_or(0, |part| part.tools().len()),
        })
        .collect()
}

fn skill_rows(data_dir: &std::path::Path) -> Vec<page::SkillRow> {
    let Ok(store) = sluice_skills::SkillStore::open(data_dir) else {
        return Vec::new();
    };
    store
        .list()
        .map(|listing| {
            listing
                .skills
                .into_iter()
                .map(|skill| page::SkillRow {
                    name: skill.name,
                    description: skill.description,
                    version: skill.version,
                })
                .collect()
        })
        .unwrap_or_default()
}

fn html(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    respond(status, "text/html; charset=utf-8", body)
}

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    respond(status, "text/plain; charset=utf-8", body)
}

fn respond(status: StatusCode, content_type: &str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    if let Ok(value) = header::HeaderValue::from_str(content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response
}
