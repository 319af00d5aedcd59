//! `sluice auth login NAME`: the authorization code grant with PKCE. The authorization URL is
//! printed (and opened with `$BROWSER` when set); the authorization server sends the browser back
//! to a loopback port Sluice listens on (RFC 8252), and the code is exchanged for tokens.

use std::sync::Arc;
use std::time::Duration;

use oauth2::TokenResponse;
use rmcp::transport::auth::{AuthorizationManager, OAuthClientConfig};
use sluice_config::HttpServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::client::Shared;
use crate::store::{ClientRegistration, ServerCredentials, TokenStore};
use crate::{OAuthError, union_of_scopes};

/// The largest request head the loopback listener reads.
const MAX_REQUEST_HEAD: usize = 16 * 1024;

/// What a server said when it refused Sluice (`WWW-Authenticate` of its 401 or 403).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The header's value.
    pub header: String,
    /// The scope the server asked for with `403 insufficient_scope`, if that was the refusal.
    pub insufficient_scope: Option<String>,
}

/// How the login runs.
#[derive(Debug, Clone)]
pub struct LoginOptions {
    /// How long to wait for the browser to come back.
    pub timeout: Duration,
    /// The command that opens a URL (`$BROWSER`); `None`: only print it.
    pub browser: Option<String>,
}

/// Authorize Sluice to `server` with the authorization code grant: discover, register (unless
/// configured or registered before), send the person to the authorization URL (`announce` shows
/// it), wait for the redirect and store the tokens. Returns the scopes granted.
pub async fn authorize(
    server: &str,
    http: &HttpServer,
    store: &TokenStore,
    challenge: Option<&Challenge>,
    options: &LoginOptions,
    announce: &(dyn Fn(&str) + Send + Sync),
) -> Result<Vec<String>, OAuthError> {
    let settings = http.oauth.clone().unwrap_or_default();
    let credentials = Arc::new(ServerCredentials::new(store.clone(), server, &http.url));
    let file = credentials.file()?;
    let login_error = |message: String| OAuthError::Login {
        server: server.to_owned(),
        message,
    };
    let step = |step: &'static str| move |error| OAuthError::authorization(server, step, &error);

    // The loopback listener first: the redirect URI names its port. The port of the client
    // registered before is taken again when free, so that registration stays valid.
    let remembered_port = file
        .client
        .as_ref()
        .and_then(|client| reqwest::Url::parse(&client.redirect_uri).ok())
        .and_then(|url| url.port());
    let listener = match (settings.callback_port, remembered_port) {
        (Some(port), _) => TcpListener::bind(("127.0.0.1", port)).await.map_err(|error| {
            login_error(format!(
                "cannot listen on 127.0.0.1:{port} (oauth.callbackPort) for the login redirect: {error}"
            ))
        })?,
        (None, Some(port)) => match TcpListener::bind(("127.0.0.1", port)).await {
            Ok(listener) => listener,
            Err(_) => TcpListener::bind(("127.0.0.1", 0))
                .await
                .map_err(|error| login_error(format!("cannot listen on a loopback port: {error}")))?,
        },
        (None, None) => TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|error| login_error(format!("cannot listen on a loopback port: {error}")))?,
    };
    let port = listener
        .local_addr()
        .map_err(|error| login_error(format!("cannot listen on a loopback port: {error}")))?
        .port();
    let redirect_uri = format!("http://127.0.0.1:{port}/callback");

    let mut manager = AuthorizationManager::new(http.url.as_str())
        .await
        .map_err(step("preparing the authorization"))?;
    manager.set_credential_store(Shared(Arc::clone(&credentials)));
    let resolution = manager
        .resolve_metadata_from_challenge(challenge.map(|challenge| challenge.header.as_str()))
        .await
        .map_err(step("discovering its authorization server"))?;
    let metadata = resolution.metadata.clone();
    manager.set_metadata(resolution.metadata);

    // Scopes: as configured; else, to step up, what was granted plus what a call was refused
    // for; else what the server's challenge or metadata names (none if neither does).
    let granted: Vec<String> = file
        .credentials
        .as_ref()
        .map(|credentials| credentials.granted_scopes.clone())
        .unwrap_or_default();
    let step_up = challenge
        .and_then(|challenge| challenge.insufficient_scope.clone())
        .or(file.step_up.clone());
    let mut scopes: Vec<String> = if !settings.scopes.is_empty() {
        settings.scopes.clone()
    } else if let Some(required) = &step_up {
        union_of_scopes(&granted.join(" "), required)
    } else {
        manager.select_initial_scopes(&[]).await
    };
    let offers_offline_access = metadata
        .scopes_supported
        .as_ref()
        .is_some_and(|supported| supported.iter().any(|scope| scope == "offline_access"));
    if offers_offline_access && !scopes.is_empty() && !scopes.iter().any(|s| s == "offline_access")
    {
        scopes.push("offline_access".to_owned());
    }
    let scope_refs: Vec<&str> = scopes.iter().map(String::as_str).collect();

    // The client: configured; else a client metadata document where the authorization server
    // takes one; else the one registered before; else a new registration.
    let supports_metadata_documents = metadata
        .additional_fields
        .get("client_id_metadata_document_supported")
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false);
    let client = if let Some(client_id) = &settings.client_id {
        ClientRegistration {
            client_id: client_id.clone(),
            client_secret: settings.client_secret.clone(),
            redirect_uri: redirect_uri.clone(),
        }
    } else if let Some(document) = settings
        .client_metadata_url
        .as_ref()
        .filter(|_| supports_metadata_documents)
    {
        ClientRegistration {
            client_id: document.clone(),
            client_secret: None,
            redirect_uri: redirect_uri.clone(),
        }
    } else if let Some(registered) = file
        .client
        .clone()
        .filter(|client| client.redirect_uri == redirect_uri)
    {
        registered
    } else if metadata.registration_endpoint.is_some() {
        let registered = manager
            .register_client("Sluice", &redirect_uri, &scope_refs)
            .await
            .map_err(step("registering Sluice with its authorization server"))?;
        ClientRegistration {
            client_id: registered.client_id,
            client_secret: registered.client_secret,
            redirect_uri: redirect_uri.clone(),
        }
    } else {
        return Err(OAuthError::NoClient {
            server: server.to_owned(),
        });
    };
    let mut config = OAuthClientConfig::new(client.client_id.clone(), redirect_uri.clone());
    if let Some(secret) = &client.client_secret {
        config = config.with_client_secret(secret.clone());
    }
    manager
        .configure_client(config)
        .map_err(step("configuring the client"))?;
    let url = manager
        .get_authorization_url(&scope_refs)
        .await
        .map_err(step("building the authorization URL"))?;

    announce(&url);
    if let Some(browser) = &options.browser {
        open_browser(browser, &url);
    }
    let callback = tokio::time::timeout(options.timeout, wait_for_callback(&listener))
        .await
        .map_err(|_| {
            login_error(format!(
                "no answer from the browser within {} s: open the URL above and log in, or run the command again",
                options.timeout.as_secs()
            ))
        })?
        .map_err(login_error)?;
    let tokens = manager
        .exchange_code_for_token_with_issuer(
            &callback.code,
            &callback.state,
            callback.issuer.as_deref(),
        )
        .await
        .map_err(step("exchanging the authorization code for tokens"))?;
    credentials.update(|file| {
        file.client = Some(client);
        file.step_up = None;
    })?;
    let granted = tokens
        .scopes()
        .map(|scopes| scopes.iter().map(|scope| scope.to_string()).collect())
        .unwrap_or(scopes);
    Ok(granted)
}

/// Run `browser URL` without waiting for it.
fn open_browser(browser: &str, url: &str) {
    let spawned = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{browser} \"$1\""))
        .arg("sh")
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .spawn();
    match spawned {
        Ok(mut child) => {
            tokio::spawn(async move {
                let _ = child.wait().await;
            });
        }
        Err(error) => tracing::warn!("could not run $BROWSER ({browser}): {error}"),
    }
}

struct Callback {
    code: String,
    state: String,
    issuer: Option<String>,
}

/// Serve the loopback port until the authorization server's redirect arrives.
async fn wait_for_callback(listener: &TcpListener) -> Result<Callback, String> {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            continue;
        };
        let Some(target) = read_request_target(&mut stream).await else {
            continue;
        };
        let Ok(url) = reqwest::Url::parse(&format!("http://127.0.0.1{target}")) else {
            respond(&mut stream, 400, "Not a request Sluice understands.").await;
            continue;
        };
        if url.path() != "/callback" {
            respond(
                &mut stream,
                404,
                "Nothing here: this port waits for a login.",
            )
            .await;
            continue;
        }
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        let get = |key: &str| {
            pairs
                .iter()
                .find(|(name, _)| name == key)
                .map(|(_, value)| value.clone())
        };
        if let Some(error) = get("error") {
            respond(
                &mut stream,
                400,
                "The authorization server refused the login; see the terminal.",
            )
            .await;
            let description = get("error_description").unwrap_or_default();
            return Err(format!(
                "the authorization server refused the login: {error} {description}"
            )
            .trim_end()
            .to_owned());
        }
        match (get("code"), get("state")) {
            (Some(code), Some(state)) => {
                respond(
                    &mut stream,
                    200,
                    "Sluice is authorized. You can close this tab.",
                )
                .await;
                return Ok(Callback {
                    code,
                    state,
                    issuer: get("iss"),
                });
            }
            _ => respond(&mut stream, 400, "The redirect has no code or state.").await,
        }
    }
}

/// The target of a `GET` request line, reading at most [`MAX_REQUEST_HEAD`] bytes.
async fn read_request_target(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut buffer = [0u8; 2048];
    while !head.windows(4).any(|window| window == b"\r\n\r\n") {
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buffer))
            .await
            .ok()?
            .ok()?;
        if read == 0 || head.len() + read > MAX_REQUEST_HEAD {
            return None;
        }
        head.extend_from_slice(&buffer[..read]);
    }
    let head = String::from_utf8_lossy(&head);
    let mut parts = head.lines().next()?.split(' ');
    match (parts.next(), parts.next()) {
        (Some("GET"), Some(target)) if target.starts_with('/') => Some(target.to_owned()),
        _ => None,
    }
}

async fn respond(stream: &mut TcpStream, status: u16, message: &str) {
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        _ => "Bad Request",
    };
    let body =
        format!("<!doctype html><meta charset=\"utf-8\"><title>Sluice</title><p>{message}</p>\n");
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}
