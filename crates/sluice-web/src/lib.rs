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
        "refusing to serve metrics on {address}: it is not a loopback address, and the page there shows agents' code and output. Use 127.0.0.1:PORT, or add --metrics-allow-remote to serve it to other machines"
    )]
    NotLoopback {
        /// The address asked for.
        address: SocketAddr,
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

/// What the address serves from.
#[derive(Clone)]
pub struct Source {
    /// The running gateway: its metrics and live state.
    pub gateway: Gateway,
}

/// A bound, not yet serving, observability address.
pub struct WebServer {
    listener: TcpListener,
    address: SocketAddr,
}

impl WebServer {
    /// Bind `address`; a non-loopback one only with `allow_remote`.
    pub async fn bind(address: SocketAddr, allow_remote: bool) -> Result<WebServer, WebError> {
        if !address.ip().is_loopback() && !allow_remote {
            return Err(WebError::NotLoopback { address });
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
                            tracing::debug!("metrics address: accept failed: {error}");
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
    match request.uri().path() {
        "/metrics" => match source.gateway.metrics_text().await {
            Some(body) => respond(StatusCode::OK, sluice_metrics::CONTENT_TYPE, body),
            None => text(
                StatusCode::NOT_FOUND,
                "this gateway keeps no metrics\n".to_owned(),
            ),
        },
        "/" => respond(
            StatusCode::OK,
            "text/html; charset=utf-8",
            "<!doctype html><title>Sluice</title><p><a href=\"/metrics\">metrics</a></p>\n"
                .to_owned(),
        ),
        _ => text(
            StatusCode::NOT_FOUND,
            "not found: this address serves / and /metrics\n".to_owned(),
        ),
    }
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
