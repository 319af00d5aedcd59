//! `sluice serve --http` as an OAuth 2.1 resource server, against a real authorization server:
//! `oidc-provider` (npm) issuing client-credentials JWT access tokens for a resource indicator.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use sluice_test_support::{McpConfig, everything_server, test_deps_dir};

use super::common::{audit_records, execute, text, write_config};
use super::serve_http::{
    HttpSluice, POST_HEADERS, Reply, initialize_body, python_over_http, raw_request,
    session_headers,
};

/// The API token the config lists by its SHA-256.
pub const API_TOKEN: &str = "sluice-test-api-token-0123456789";
/// `printf %s sluice-test-api-token-0123456789 | sha256sum`.
pub const API_TOKEN_SHA256: &str =
    "9f5f500abebeaf6b1b14c475f74d6f2bf8874cb5059249ecc8ac8ce540e6a319";

/// The two issuers of `tests/clients/oidc_server.mjs`, killed when dropped.
pub struct Issuers {
    child: Child,
    /// The issuer Sluice trusts.
    pub issuer: String,
    /// Another issuer signing with the same key.
    pub other: String,
}

impl Drop for Issuers {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Issuers {
    pub fn start() -> Issuers {
        let provider = test_deps_dir().join("node/node_modules/oidc-provider");
        assert!(
            provider.exists(),
            "oidc-provider is not installed in {}: run scripts/test --deps-only",
            provider.display()
        );
        let script = sluice_test_support::workspace_root().join("tests/clients/oidc_server.mjs");
        let mut child = Command::new("node")
            .arg(script)
            .env("OIDC_PROVIDER_DIR", provider)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start node oidc_server.mjs");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("stdout");
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the issuers' line");
        let urls: Value = serde_json::from_str(&line)
            .unwrap_or_else(|_| panic!("oidc_server.mjs printed {line:?}"));
        Issuers {
            child,
            issuer: urls["issuer"].as_str().expect("issuer").to_owned(),
            other: urls["other"].as_str().expect("other").to_owned(),
        }
    }
}

fn port_of(url: &str) -> u16 {
    url.rsplit(':')
        .next()
        .and_then(|port| port.trim_end_matches("/mcp").parse().ok())
        .expect("a port")
}

/// A client-credentials access token of `issuer` for `resource` with `scope`.
pub fn token(issuer: &str, client: &str, resource: &str, scope: &str) -> String {
    let secret = format!("{client}-secret");
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("grant_type", "client_credentials"),
            ("client_id", client),
            ("client_secret", &secret),
            ("resource", resource),
            ("scope", scope),
        ])
        .finish();
    let reply = raw_request(
        port_of(issuer),
        "POST",
        "/token",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        Some(&body),
    );
    assert_eq!(reply.status, 200, "token request: {reply:?}");
    let answer: Value = serde_json::from_str(&reply.body).expect("token JSON");
    answer["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned()
}

/// `initialize` with `authorization` (if any).
fn initialize_with(port: u16, authorization: Option<&str>) -> Reply {
    let mut headers = POST_HEADERS.to_vec();
    if let Some(value) = authorization {
        headers.push(("Authorization", value));
    }
    raw_request(port, "POST", "/mcp", &headers, Some(&initialize_body()))
}

fn sluice_with_auth(
    issuers: &Issuers,
    data: &std::path::Path,
) -> (HttpSluice, tempfile::NamedTempFile) {
    let config = write_config(
        McpConfig::new().server("everything", &everything_server()),
        json!({"http": {"auth": {
            "issuer": issuers.issuer,
            "requiredScopes": ["mcp"],
            "clockSkewSeconds": 0,
            "apiTokens": [{"name": "ci-bot", "sha256": API_TOKEN_SHA256}]
        }}}),
    );
    let sluice = HttpSluice::start(config.path(), data, &[]);
    (sluice, config)
}

/// A good token from the real authorization server: the Python SDK runs code with a tool call,
/// and the audit log names the principal. The static API token works too.
#[test]
fn good_tokens_are_let_in_and_name_the_principal() {
    let issuers = Issuers::start();
    let data = tempfile::tempdir().expect("data dir");
    let (sluice, _config) = sluice_with_auth(&issuers, data.path());
    let access = token(&issuers.issuer, "agent", &sluice.url, "mcp");
    let ops = json!([execute(
        "import * as everything from './servers/everything';\n\
         console.log(await everything.echo({ message: 'authenticated' }));"
    )]);
    for (mode, bearer) in [
        ("legacy", access.as_str()),
        ("auto", access.as_str()),
        ("legacy", API_TOKEN),
    ] {
        let output = python_over_http(
            &sluice.url,
            mode,
            &[format!("Authorization=Bearer {bearer}")],
            &ops,
        )
        .ok();
        assert_eq!(
            text(&output["results"][0]),
            "Echo: authenticated\n",
            "{mode}"
        );
    }
    let clients: Vec<String> = audit_records(data.path())
        .iter()
        .filter_map(|record| record["client"].as_str().map(str::to_owned))
        .collect();
    assert!(
        clients
            .iter()
            .any(|client| client.starts_with("http:jwt:agent-")),
        "{clients:?}"
    );
    assert!(
        clients
            .iter()
            .any(|client| client.starts_with("http:token:ci-bot-")),
        "{clients:?}"
    );
}

/// The protected resource metadata, and the 401 challenge that points at it.
#[test]
fn a_missing_token_gets_401_with_the_metadata_url() {
    let issuers = Issuers::start();
    let data = tempfile::tempdir().expect("data dir");
    let (sluice, _config) = sluice_with_auth(&issuers, data.path());
    let reply = initialize_with(sluice.port, None);
    assert_eq!(reply.status, 401, "{reply:?}");
    let metadata_url = format!(
        "http://127.0.0.1:{}/.well-known/oauth-protected-resource/mcp",
        sluice.port
    );
    assert_eq!(
        reply.header("www-authenticate"),
        Some(format!("Bearer resource_metadata=\"{metadata_url}\"").as_str())
    );
    let metadata = raw_request(
        sluice.port,
        "GET",
        "/.well-known/oauth-protected-resource/mcp",
        &[],
        None,
    );
    assert_eq!(metadata.status, 200);
    let metadata: Value = serde_json::from_str(&metadata.body).expect("metadata JSON");
    assert_eq!(metadata["resource"], sluice.url);
    assert_eq!(metadata["authorization_servers"], json!([issuers.issuer]));
    assert_eq!(metadata["scopes_supported"], json!(["mcp"]));
    // A GET stream and a DELETE need the token as much as a POST.
    let reply = raw_request(
        sluice.port,
        "GET",
        "/mcp",
        &[("Accept", "text/event-stream")],
        None,
    );
    assert_eq!(reply.status, 401);
}

/// Each bad token is refused with 401 `invalid_token` and a reason; a token without the
/// required scope with 403 `insufficient_scope`.
#[test]
fn bad_tokens_are_refused_with_the_reason() {
    let issuers = Issuers::start();
    let data = tempfile::tempdir().expect("data dir");
    let (sluice, _config) = sluice_with_auth(&issuers, data.path());
    let good = token(&issuers.issuer, "agent", &sluice.url, "mcp");
    let wrong_audience = token(&issuers.issuer, "agent", "http://127.0.0.1:1/other", "mcp");
    let wrong_issuer = token(&issuers.other, "agent", &sluice.url, "mcp");
    let brief = token(&issuers.issuer, "brief", &sluice.url, "mcp");
    let no_scope = token(&issuers.issuer, "agent", &sluice.url, "other");
    // The same token with its signature's first character changed.
    let (signed, signature) = good.rsplit_once('.').expect("a JWT");
    let flipped = if signature.starts_with('A') { 'B' } else { 'A' };
    let bad_signature = format!("{signed}.{flipped}{}", &signature[1..]);
    std::thread::sleep(Duration::from_millis(2_500));

    let cases = [
        (wrong_audience.as_str(), 401, "another audience"),
        (wrong_issuer.as_str(), 401, "another authorization server"),
        (brief.as_str(), 401, "expired"),
        (bad_signature.as_str(), 401, "signature"),
        ("not-a-token", 401, "not a JWT"),
        (no_scope.as_str(), 403, "scope"),
    ];
    for (bearer, status, reason) in cases {
        let reply = initialize_with(sluice.port, Some(&format!("Bearer {bearer}")));
        assert_eq!(reply.status, status, "{reason}: {reply:?}");
        assert!(reply.body.contains(reason), "{reason}: {reply:?}");
        let challenge = reply.header("www-authenticate").unwrap_or_default();
        assert!(challenge.contains("resource_metadata="), "{challenge}");
        let error = if status == 401 {
            "invalid_token"
        } else {
            "insufficient_scope"
        };
        assert!(challenge.contains(error), "{challenge}");
    }
    // The good token still works, after all of that.
    let reply = initialize_with(sluice.port, Some(&format!("Bearer {good}")));
    assert_eq!(reply.status, 200, "{reply:?}");
}

/// A session belongs to the principal that opened it: another principal's requests naming it
/// get 404, as for a session that does not exist.
#[test]
fn a_session_is_refused_to_another_principal() {
    let issuers = Issuers::start();
    let data = tempfile::tempdir().expect("data dir");
    let (sluice, _config) = sluice_with_auth(&issuers, data.path());
    let access = format!(
        "Bearer {}",
        token(&issuers.issuer, "agent", &sluice.url, "mcp")
    );
    let api = format!("Bearer {API_TOKEN}");
    let session = super::serve_http::open_session(sluice.port, &[("Authorization", &access)]);
    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}).to_string();
    for (authorization, status) in [(&api, 404), (&access, 200)] {
        let mut headers = session_headers(&session);
        headers.push(("Authorization", authorization));
        let reply = raw_request(sluice.port, "POST", "/mcp", &headers, Some(&list));
        assert_eq!(reply.status, status, "{reply:?}");
    }
}

/// An issuer whose discovery document cannot be read stops `serve` at once, naming it.
#[test]
fn an_unreachable_issuer_is_reported_at_start() {
    let config = write_config(
        McpConfig::new().server("everything", &everything_server()),
        json!({"http": {"auth": {"issuer": "http://127.0.0.1:9"}}}),
    );
    let config = config.path().to_str().expect("a UTF-8 temporary path");
    let stderr = super::common::refused([
        "serve", "--http", "0", "--model", "none", "--config", config,
    ]);
    assert!(
        stderr.contains("discovery document of issuer http://127.0.0.1:9"),
        "{stderr}"
    );
}

/// The agent's token goes no further than Sluice: a downstream server over HTTP sees the headers
/// of its config entry, never the agent's `Authorization`.
#[test]
fn the_agents_token_never_reaches_a_downstream_server() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let script = sluice_test_support::workspace_root().join("tests/clients/header_echo_server.py");
    let mut echo = Command::new(sluice_test_support::venv_python())
        .arg(script)
        .arg(port.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the header echo server");
    let started = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the echo server did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let issuers = Issuers::start();
    let data = tempfile::tempdir().expect("data dir");
    let config = write_config(
        McpConfig::new().entry(
            "echo",
            json!({"url": format!("http://127.0.0.1:{port}/mcp"), "headers": {"X-Configured": "yes"}}),
        ),
        json!({"http": {"auth": {
            "issuer": issuers.issuer,
            "apiTokens": [{"name": "ci-bot", "sha256": API_TOKEN_SHA256}]
        }}}),
    );
    let sluice = HttpSluice::start(config.path(), data.path(), &[]);
    let access = token(&issuers.issuer, "agent", &sluice.url, "mcp");
    let ops = json!([execute(
        "import * as echo from './servers/echo';\nconsole.log(JSON.stringify(await echo.seenHeaders({})));"
    )]);
    for bearer in [access.as_str(), API_TOKEN] {
        let output = python_over_http(
            &sluice.url,
            "legacy",
            &[format!("Authorization=Bearer {bearer}")],
            &ops,
        )
        .ok();
        let seen: Value = serde_json::from_str(text(&output["results"][0]).trim())
            .unwrap_or_else(|_| panic!("{}", output["results"][0]));
        assert_eq!(seen["authorization"], Value::Null, "{seen}");
        assert!(
            seen["names"]
                .as_array()
                .is_some_and(|names| names.contains(&json!("x-configured"))),
            "{seen}"
        );
    }
    let _ = echo.kill();
    let _ = echo.wait();
}
