//! `sluice.http`: how `sluice serve --http` faces its agents.
//!
//! ```json
//! "sluice": {
//!   "http": {
//!     "publicUrl": "https://sluice.example.com/mcp",
//!     "allowedOrigins": ["https://app.example.com"],
//!     "allowedHosts": ["sluice.example.com"],
//!     "shutdownGraceMs": 30000,
//!     "auth": {
//!       "issuer": "https://login.example.com",
//!       "audience": "https://sluice.example.com/mcp",
//!       "requiredScopes": ["mcp"],
//!       "apiTokens": [{"name": "ci-bot", "sha256": "<64 hex digits>"}]
//!     }
//!   }
//! }
//! ```

use serde::Deserialize;
use serde_json::Value;

/// `sluice.http`: the Streamable HTTP endpoint of `sluice serve --http`. Every field is optional.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpSettings {
    /// The URL agents use to reach the MCP endpoint (behind a reverse proxy, the proxy's URL,
    /// ending in `/mcp`). It is the resource of the protected resource metadata and the default
    /// audience of access tokens. Default: `http://<bound address>/mcp`.
    pub public_url: Option<String>,
    /// Browser origins (`scheme://host[:port]`) allowed besides loopback ones. A request with
    /// any other `Origin` header is refused with 403 (DNS rebinding). Requests without `Origin`
    /// (every non-browser client) are not affected.
    pub allowed_origins: Vec<String>,
    /// `Host` header values (`name` or `name:port`) accepted besides the loopback names. On a
    /// loopback address only those are accepted; on another address with this list empty, any.
    pub allowed_hosts: Vec<String>,
    /// On SIGTERM or Ctrl-C, how long executions in flight may take to finish before they are
    /// stopped. Default 30 s.
    pub shutdown_grace_ms: u64,
    /// Answer a sessionless request whose handler sends nothing before its answer with plain
    /// JSON instead of an SSE stream. Default false: an SSE stream, whose events a client can
    /// resume with `Last-Event-ID` if its connection drops while the code runs (a JSON answer
    /// cannot be resumed). Requests in an MCP session are always answered on SSE streams.
    pub json_response: bool,
    /// Who may connect. Absent: anyone who can reach the address (keep it on loopback then).
    pub auth: Option<AuthSettings>,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            public_url: None,
            allowed_origins: Vec::new(),
            allowed_hosts: Vec::new(),
            shutdown_grace_ms: 30_000,
            json_response: false,
            auth: None,
        }
    }
}

/// `sluice.http.auth`: Sluice as an OAuth 2.1 resource server. An agent presents
/// `Authorization: Bearer <token>`: a JWT access token of `issuer`, or one of the `apiTokens`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct AuthSettings {
    /// The authorization server whose JWT access tokens are accepted (its `iss`). Its signing
    /// keys are read from the `jwks_uri` of its discovery document
    /// (`/.well-known/oauth-authorization-server` or `/.well-known/openid-configuration`). Must
    /// be `https://`, or `http://` on a loopback address.
    pub issuer: Option<String>,
    /// The `aud` a token must carry. Default: the MCP endpoint's URL (`publicUrl`).
    pub audience: Option<String>,
    /// Scopes a JWT must all carry (its `scope` or `scp` claim). Default: none.
    pub required_scopes: Vec<String>,
    /// Seconds of clock difference tolerated on `exp` and `nbf`. Default 30.
    pub clock_skew_seconds: u64,
    /// Static tokens for small setups, stored as their SHA-256 (`printf %s TOKEN | sha256sum`).
    pub api_tokens: Vec<ApiTokenSettings>,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            issuer: None,
            audience: None,
            required_scopes: Vec::new(),
            clock_skew_seconds: 30,
            api_tokens: Vec::new(),
        }
    }
}

/// One static API token.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ApiTokenSettings {
    /// Who presents it: the principal's name (in logs and the audit log).
    pub name: String,
    /// The SHA-256 of the token, 64 hexadecimal digits.
    pub sha256: String,
}

/// Parse `sluice.http`. The error is `(field path below "sluice", message)`.
pub(crate) fn parse(value: Value) -> Result<HttpSettings, (String, String)> {
    let http = serde_json::from_value::<HttpSettings>(value)
        .map_err(|error| ("http".to_owned(), error.to_string()))?;
    if let Some(url) = &http.public_url {
        check_url(url).map_err(|message| ("http.publicUrl".to_owned(), message))?;
    }
    for (index, origin) in http.allowed_origins.iter().enumerate() {
        check_origin(origin)
            .map_err(|message| (format!("http.allowedOrigins[{index}]"), message))?;
    }
    for (index, host) in http.allowed_hosts.iter().enumerate() {
        if host.is_empty() || host.contains(['/', ' ', '@']) {
            return Err((
                format!("http.allowedHosts[{index}]"),
                format!(
                    "\"{host}\" is not a host name or host:port such as \"sluice.example.com\""
                ),
            ));
        }
    }
    if http.shutdown_grace_ms == 0 {
        return Err((
            "http.shutdownGraceMs".to_owned(),
            "must be at least 1".to_owned(),
        ));
    }
    if let Some(auth) = &http.auth {
        check_auth(auth)?;
    }
    Ok(http)
}

fn check_auth(auth: &AuthSettings) -> Result<(), (String, String)> {
    if auth.issuer.is_none() && auth.api_tokens.is_empty() {
        return Err((
            "http.auth".to_owned(),
            "names no way in: set \"issuer\" (an OAuth authorization server) or \"apiTokens\", or \
             remove \"auth\""
                .to_owned(),
        ));
    }
    if let Some(issuer) = &auth.issuer {
        check_url(issuer).map_err(|message| ("http.auth.issuer".to_owned(), message))?;
        if issuer.starts_with("http://") && !is_loopback_url(issuer) {
            return Err((
                "http.auth.issuer".to_owned(),
                format!(
                    "\"{issuer}\" is plain http on another machine: its signing keys could be \
                     forged on the way; use its https:// URL"
                ),
            ));
        }
    }
    if let Some(audience) = &auth.audience
        && audience.trim().is_empty()
    {
        return Err((
            "http.auth.audience".to_owned(),
            "must not be empty (leave it out to use publicUrl)".to_owned(),
        ));
    }
    if auth.issuer.is_none() && (auth.audience.is_some() || !auth.required_scopes.is_empty()) {
        return Err((
            "http.auth".to_owned(),
            "\"audience\" and \"requiredScopes\" apply to JWT access tokens: set \"issuer\" too"
                .to_owned(),
        ));
    }
    for (index, scope) in auth.required_scopes.iter().enumerate() {
        if scope.is_empty() || scope.contains(char::is_whitespace) {
            return Err((
                format!("http.auth.requiredScopes[{index}]"),
                format!("\"{scope}\" is not one scope (no spaces; list each scope apart)"),
            ));
        }
    }
    let mut names = std::collections::HashSet::new();
    for (index, token) in auth.api_tokens.iter().enumerate() {
        let valid_name = !token.name.is_empty()
            && token.name.len() <= 64
            && token
                .name
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || b"_.-@".contains(&byte));
        if !valid_name {
            return Err((
                format!("http.auth.apiTokens[{index}].name"),
                format!(
                    "\"{}\" must be 1 to 64 letters, digits, '_', '.', '-' or '@'",
                    token.name
                ),
            ));
        }
        if !names.insert(token.name.as_str()) {
            return Err((
                format!("http.auth.apiTokens[{index}].name"),
                format!("\"{}\" is used by an earlier token too", token.name),
            ));
        }
        if token.sha256.len() != 64 || !token.sha256.bytes().all(|byte| byte.is_ascii_hexdigit()) {
            return Err((
                format!("http.auth.apiTokens[{index}].sha256"),
                "must be the token's SHA-256 as 64 hexadecimal digits (printf %s TOKEN | \
                 sha256sum), never the token itself"
                    .to_owned(),
            ));
        }
    }
    Ok(())
}

/// An `http://` or `https://` URL with a host and no fragment.
fn check_url(url: &str) -> Result<(), String> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(format!(
            "\"{url}\" is not a URL such as \"https://sluice.example.com/mcp\""
        ));
    };
    if scheme != "http" && scheme != "https" {
        return Err(format!("\"{url}\" must start with https:// or http://"));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() || authority.contains('@') {
        return Err(format!(
            "\"{url}\" must name a host (and no user name) after {scheme}://"
        ));
    }
    if url.contains('#') {
        return Err(format!("\"{url}\" must not have a #fragment"));
    }
    Ok(())
}

/// `scheme://host[:port]`, nothing after.
fn check_origin(origin: &str) -> Result<(), String> {
    check_url(origin)?;
    let rest = origin.split_once("://").map_or("", |(_, rest)| rest);
    if rest.contains(['/', '?']) {
        return Err(format!(
            "\"{origin}\" is not an origin: write scheme://host[:port] with no path, as a browser \
             sends it"
        ));
    }
    Ok(())
}

/// Whether an `http(s)://` URL's host is a loopback name or address.
pub fn is_loopback_url(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    is_loopback_host(authority)
}

/// Whether `host[:port]` (IPv6 in brackets) names this machine: `localhost`, 127.0.0.0/8, ::1.
pub fn is_loopback_host(authority: &str) -> bool {
    if let Ok(address) = authority.parse::<std::net::IpAddr>() {
        return address.is_loopback();
    }
    let host = if let Some(bracketed) = authority.strip_prefix('[') {
        bracketed.split(']').next().unwrap_or_default()
    } else {
        authority
            .rsplit_once(':')
            .map_or(authority, |(host, port)| {
                if port.bytes().all(|byte| byte.is_ascii_digit()) {
                    host
                } else {
                    authority
                }
            })
    };
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    host.parse::<std::net::IpAddr>()
        .is_ok_and(|address| address.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn loopback_hosts() {
        for host in [
            "localhost",
            "localhost:8080",
            "127.0.0.1:1",
            "127.9.9.9",
            "[::1]:80",
            "::1",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "example.com",
            "10.0.0.1:80",
            "[2001:db8::1]:80",
            "localhost.evil.com",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
        assert!(is_loopback_url("http://127.0.0.1:4000/token"));
        assert!(!is_loopback_url("http://auth.example.com"));
    }

    #[test]
    fn bad_values_are_named() {
        let cases = [
            (json!({"publicUrl": "sluice.example.com"}), "http.publicUrl"),
            (
                json!({"allowedOrigins": ["https://a.com/path"]}),
                "http.allowedOrigins[0]",
            ),
            (json!({"allowedHosts": ["a b"]}), "http.allowedHosts[0]"),
            (json!({"shutdownGraceMs": 0}), "http.shutdownGraceMs"),
            (json!({"auth": {}}), "http.auth"),
            (
                json!({"auth": {"issuer": "http://auth.example.com"}}),
                "http.auth.issuer",
            ),
            (json!({"auth": {"issuer": "ftp://x"}}), "http.auth.issuer"),
            (
                json!({"auth": {"issuer": "https://a.com", "requiredScopes": ["a b"]}}),
                "http.auth.requiredScopes[0]",
            ),
            (
                json!({"auth": {"apiTokens": [{"name": "ci", "sha256": "secret"}]}}),
                "http.auth.apiTokens[0].sha256",
            ),
            (
                json!({"auth": {"apiTokens": [{"name": "a b", "sha256": "0".repeat(64)}]}}),
                "http.auth.apiTokens[0].name",
            ),
            (
                json!({"auth": {"apiTokens": [{"name": "a", "sha256": "0".repeat(64)}, {"name": "a", "sha256": "1".repeat(64)}]}}),
                "http.auth.apiTokens[1].name",
            ),
            (
                json!({"auth": {"apiTokens": [{"name": "a", "sha256": "0".repeat(64)}], "audience": "x"}}),
                "http.auth",
            ),
            (
                json!({"auth": {"issuer": "https://a.com", "token": "x"}}),
                "http",
            ),
        ];
        for (value, field) in cases {
            let (at, message) = parse(value.clone()).expect_err(&value.to_string());
            assert_eq!(at, field, "{value}: {message}");
        }
    }

    #[test]
    fn good_values_parse() {
        let http = parse(json!({
            "publicUrl": "https://s.example.com/mcp",
            "allowedOrigins": ["https://app.example.com", "http://localhost:3000"],
            "auth": {"issuer": "http://127.0.0.1:4000", "requiredScopes": ["mcp"],
                     "apiTokens": [{"name": "ci-bot", "sha256": "a".repeat(64)}]}
        }))
        .unwrap();
        assert_eq!(http.shutdown_grace_ms, 30_000);
        let auth = http.auth.unwrap();
        assert_eq!(auth.clock_skew_seconds, 30);
        assert_eq!(auth.api_tokens[0].name, "ci-bot");
    }
}
