//! `sluice auth login|logout|status`: Sluice's OAuth tokens for the HTTP servers that need them.

use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Result, bail};
use oauth2::TokenResponse;
use sluice_config::{Config, HttpServer, OAuthGrant, ServerConfig};
use sluice_downstream::{ProbeFailure, TokenStore, probe};
use sluice_oauth::{Challenge, LoginOptions, authorize};

use crate::cli::{AuthCommand, AuthLoginArgs, AuthServerArgs, AuthStatusArgs};
use crate::commands::{data_dir, load_config, printable, write_stdout};

/// Most authorizations one login makes (a server that keeps refusing is not asked forever).
const MAX_AUTHORIZATIONS: usize = 3;

pub async fn run(command: AuthCommand) -> Result<ExitCode> {
    match command {
        AuthCommand::Login(args) => login(args).await,
        AuthCommand::Logout(args) => logout(args),
        AuthCommand::Status(args) => status(args),
    }
}

/// The HTTP entry of `name`, or an error saying why it has no OAuth login.
fn oauth_server<'a>(config: &'a Config, name: &str) -> Result<&'a HttpServer> {
    match config.servers.get(name) {
        Some(ServerConfig::Http(http)) if http.uses_oauth() => Ok(http),
        Some(ServerConfig::Http(_)) => bail!(
            "server \"{name}\" does not use OAuth: its entry sends its own \"Authorization\" header (or has \"oauth\": false)"
        ),
        Some(ServerConfig::Stdio(_)) => bail!(
            "server \"{name}\" is a local (stdio) server: only HTTP servers log in with OAuth"
        ),
        None => {
            if let Some(reason) = config.unusable.get(name) {
                bail!("server \"{name}\" cannot be used as configured: {reason}");
            }
            let known: Vec<&str> = config.servers.keys().map(String::as_str).collect();
            bail!(
                "no server named \"{name}\" in the config (servers: {})",
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            )
        }
    }
}

fn scopes_of(text: &str) -> Vec<&str> {
    text.split_whitespace().collect()
}

async fn login(args: AuthLoginArgs) -> Result<ExitCode> {
    let config = load_config(&args.global)?;
    let name = args.server.as_str();
    let http = oauth_server(&config, name)?;
    let store = TokenStore::in_data_dir(&data_dir(&args.global)?);
    let connect_timeout = Duration::from_millis(config.settings.connect_timeout_ms);
    let machine = http
        .oauth
        .as_ref()
        .is_some_and(|oauth| oauth.grant == OAuthGrant::ClientCredentials);
    if machine {
        return match probe(name, http, &store, connect_timeout).await {
            Ok(tools) => {
                eprintln!(
                    "sluice: server \"{name}\" gets its tokens by itself (client_credentials): connected, {tools} tools"
                );
                Ok(ExitCode::SUCCESS)
            }
            Err(ProbeFailure::Refused(challenge)) => bail!(
                "server \"{name}\" refuses the token of its client credentials ({}): check oauth.clientId, the secret or key, and oauth.scopes",
                printable(&challenge.header, false)
            ),
            Err(ProbeFailure::Failed(message)) => bail!("server \"{name}\": {message}"),
        };
    }
    if args.force
        && let Some(mut file) = store.load(name, &http.url)?
    {
        file.credentials = None;
        store.save(name, &file)?;
    }
    let options = LoginOptions {
        timeout: Duration::from_secs(args.timeout),
        browser: std::env::var("BROWSER")
            .ok()
            .filter(|browser| !browser.trim().is_empty()),
    };
    let announce = |url: &str| {
        eprintln!(
            "sluice: to authorize Sluice to server \"{name}\", open this URL in a browser and log in:\n\n    {url}\n\nsluice: waiting for the browser to come back (up to {} s)…",
            options.timeout.as_secs()
        );
    };
    let mut authorizations = 0;
    loop {
        let file = store.load(name, &http.url)?.unwrap_or_default();
        let granted: Vec<String> = file
            .credentials
            .as_ref()
            .map(|credentials| credentials.granted_scopes.clone())
            .unwrap_or_default();
        // A permission a call was refused for since the last login is asked for first.
        let refusal = match &file.step_up {
            Some(scope) => Err(ProbeFailure::Refused(Challenge {
                header: String::new(),
                insufficient_scope: Some(scope.clone()),
            })),
            None => probe(name, http, &store, connect_timeout).await,
        };
        let challenge = match refusal {
            Ok(tools) => {
                if authorizations == 0 {
                    eprintln!(
                        "sluice: server \"{name}\" already accepts Sluice's token ({tools} tools); `--force` logs in again"
                    );
                } else {
                    eprintln!("sluice: logged in to server \"{name}\": {tools} tools");
                }
                return Ok(ExitCode::SUCCESS);
            }
            Err(ProbeFailure::Failed(message)) => bail!("server \"{name}\": {message}"),
            Err(ProbeFailure::Refused(challenge)) => challenge,
        };
        if let Some(required) = &challenge.insufficient_scope {
            let required = scopes_of(required);
            if !required.is_empty()
                && required
                    .iter()
                    .all(|scope| granted.iter().any(|have| have == scope))
            {
                bail!(
                    "server \"{name}\" refuses Sluice's token for lack of the permission \"{}\", which the token already has: logging in again would not help; ask the server's administrator",
                    required.join(" ")
                );
            }
        }
        if authorizations == MAX_AUTHORIZATIONS {
            bail!(
                "server \"{name}\" still refuses Sluice after {MAX_AUTHORIZATIONS} authorizations; stopping"
            );
        }
        authorizations += 1;
        let scopes = authorize(
            name,
            http,
            &store,
            (!challenge.header.is_empty()).then_some(&challenge),
            &options,
            &announce,
        )
        .await?;
        eprintln!(
            "sluice: authorized{}; tokens saved in {}",
            if scopes.is_empty() {
                String::new()
            } else {
                format!(" (scopes: {})", scopes.join(" "))
            },
            store
                .path(name)
                .map(|path| path.display().to_string())
                .unwrap_or_default()
        );
    }
}

fn logout(args: AuthServerArgs) -> Result<ExitCode> {
    let config = load_config(&args.global)?;
    oauth_server(&config, &args.server)?;
    let store = TokenStore::in_data_dir(&data_dir(&args.global)?);
    if store.remove(&args.server)? {
        eprintln!("sluice: forgot the tokens of server \"{}\"", args.server);
    } else {
        eprintln!("sluice: no tokens of server \"{}\" to forget", args.server);
    }
    Ok(ExitCode::SUCCESS)
}

fn status(args: AuthStatusArgs) -> Result<ExitCode> {
    let config = load_config(&args.global)?;
    let store = TokenStore::in_data_dir(&data_dir(&args.global)?);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let mut lines = Vec::new();
    for (name, server) in &config.servers {
        let ServerConfig::Http(http) = server else {
            continue;
        };
        if !http.uses_oauth() {
            lines.push(format!("{name}\tstatic headers"));
            continue;
        }
        let machine = http
            .oauth
            .as_ref()
            .is_some_and(|oauth| oauth.grant == OAuthGrant::ClientCredentials);
        let file = store.load(name, &http.url)?;
        let tokens = file
            .as_ref()
            .and_then(|file| file.credentials.as_ref())
            .and_then(|credentials| {
                credentials
                    .token_response
                    .as_ref()
                    .map(|tokens| (credentials, tokens))
            });
        let state = match tokens {
            Some((credentials, tokens)) => {
                let expiry = tokens
                    .expires_in()
                    .zip(credentials.token_received_at)
                    .map(|(lifetime, received)| received + lifetime.as_secs());
                let refreshable = tokens.refresh_token().is_some() || machine;
                let scopes = if credentials.granted_scopes.is_empty() {
                    String::new()
                } else {
                    format!(", scopes: {}", credentials.granted_scopes.join(" "))
                };
                match expiry {
                    Some(expiry) if expiry <= now && !refreshable => {
                        format!("needs login: the token expired; run `sluice auth login {name}`")
                    }
                    Some(expiry) if expiry <= now => {
                        format!("token expired, renewed on next use{scopes}")
                    }
                    Some(expiry) => {
                        format!("logged in, token valid {} s more{scopes}", expiry - now)
                    }
                    None => format!("logged in{scopes}"),
                }
            }
            None if machine => "client credentials: tokens fetched on connect".to_owned(),
            None => format!("needs login: run `sluice auth login {name}`"),
        };
        let step_up = file
            .and_then(|file| file.step_up)
            .map(|scope| format!(" (a call asked for \"{scope}\": log in again to grant it)"))
            .unwrap_or_default();
        lines.push(format!(
            "{name}\t{}{}",
            printable(&state, false),
            printable(&step_up, false)
        ));
    }
    if lines.is_empty() {
        eprintln!("sluice: no HTTP servers in the config");
    }
    write_stdout(|out| {
        use std::io::Write as _;
        lines.iter().try_for_each(|line| writeln!(out, "{line}"))
    })?;
    Ok(ExitCode::SUCCESS)
}
