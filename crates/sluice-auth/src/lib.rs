/*!
Who an agent is: Sluice as an OAuth 2.1 resource server (the MCP authorization specification).

An agent presents `Authorization: Bearer <token>`. [`Authenticator::authenticate`] accepts

- a JWT access token of the configured issuer: signed by one of the keys its discovery document's
  `jwks_uri` lists (asymmetric algorithms only), with that `iss`, an `aud` naming Sluice's own URL
  (or the configured audience), `exp` in the future and `nbf` past (with the configured clock
  skew), and every required scope in `scope` or `scp`; its principal is the token's `sub`;
- one of the static API tokens, stored in the config as their SHA-256; its principal is the
  token's name.

Anything else is a [`Refusal`], which says what the HTTP answer is (401 with a
`WWW-Authenticate: Bearer resource_metadata="..."` challenge, or 403 for a missing scope) and why,
in words. [`Authenticator::metadata`] is the protected resource metadata (RFC 9728) served at
`/.well-known/oauth-protected-resource`.

The token itself goes nowhere: the caller takes it out of the request once it is checked, and
only the [`Principal`] travels on.
*/
#![deny(missing_docs)]

use std::sync::Mutex;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sluice_config::AuthSettings;

/// The longest bearer token looked at.
const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// How long a fetch of the issuer's documents may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// Keys are fetched again for an unknown `kid` at most this often (a rotated key is picked up,
/// a stream of forged `kid`s does not hammer the issuer).
const KEY_REFRESH_INTERVAL: Duration = Duration::from_secs(30);

/// Who made a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The token's `sub`, or the API token's name; `anonymous` without authentication.
    pub name: String,
    /// How they proved it.
    pub kind: PrincipalKind,
    /// The scopes the access token granted (empty for API tokens and anonymous).
    pub scopes: Vec<String>,
}

/// How a principal proved who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalKind {
    /// A JWT access token of this issuer.
    AccessToken {
        /// The token's `iss`.
        issuer: String,
    },
    /// A static API token of the config.
    ApiToken,
    /// No authentication is configured.
    Anonymous,
}

impl Principal {
    /// The principal of a server without authentication.
    pub fn anonymous() -> Principal {
        Principal {
            name: "anonymous".to_owned(),
            kind: PrincipalKind::Anonymous,
            scopes: Vec::new(),
        }
    }

    /// A name unique across kinds (an API token and a token subject may share a name): `jwt:SUB`,
    /// `token:NAME` or `anonymous`. Made of printable characters only, at most about 150 of
    /// them. Two principals never share a key: a name that is not kept whole (too long, or with
    /// control characters) is shortened to its first 100 printable characters followed by `#`
    /// and a hash of the whole name.
    pub fn key(&self) -> String {
        const WHOLE: usize = 128;
        const KEPT: usize = 100;
        let printable = |name: &str| -> String {
            name.chars()
                .filter(|character| !character.is_control())
                .collect()
        };
        let mut printable = printable(&self.name);
        if printable.len() != self.name.len() || printable.chars().count() > WHOLE {
            let digest = Sha256::digest(self.name.as_bytes());
            let hash: String = digest
                .iter()
                .take(12)
                .map(|byte| format!("{byte:02x}"))
                .collect();
            printable = format!(
                "{}#{hash}",
                printable.chars().take(KEPT).collect::<String>()
            );
        }
        match self.kind {
            PrincipalKind::AccessToken { .. } => format!("jwt:{printable}"),
            PrincipalKind::ApiToken => format!("token:{printable}"),
            PrincipalKind::Anonymous => "anonymous".to_owned(),
        }
    }
}

/// Why a request was not let in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No `Authorization: Bearer` header: 401 with the challenge only.
    Missing,
    /// A token that is not good: 401 with `error="invalid_token"`.
    Invalid(Invalid),
    /// A good token without every required scope: 403 with `error="insufficient_scope"`.
    InsufficientScope {
        /// The scopes required.
        required: Vec<String>,
    },
}

/// What is wrong with a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Invalid {
    /// Not a bearer token of a form Sluice reads.
    #[error("the token is not a JWT access token or an API token of this server")]
    Malformed,
    /// No API token has this hash, and JWTs are not accepted.
    #[error("unknown API token")]
    UnknownApiToken,
    /// `exp` is past.
    #[error("the token has expired")]
    Expired,
    /// `nbf` is in the future.
    #[error("the token is not valid yet")]
    NotYetValid,
    /// `aud` does not name this server.
    #[error("the token is for another audience (it must name {expected})")]
    WrongAudience {
        /// The audience required.
        expected: String,
    },
    /// `iss` is not the configured issuer.
    #[error("the token was issued by another authorization server (Sluice trusts {expected})")]
    WrongIssuer {
        /// The issuer trusted.
        expected: String,
    },
    /// The signature does not verify.
    #[error("the token's signature does not verify")]
    BadSignature,
    /// No key of the issuer has this `kid`.
    #[error("the token is signed with a key the issuer does not publish")]
    UnknownKey,
    /// A symmetric, missing or unsupported `alg`, or one other than the key's.
    #[error("the token's signing algorithm is not accepted")]
    Algorithm,
    /// `exp`, `iss`, `aud` or `sub` missing or of the wrong type.
    #[error("the token lacks a required claim ({0})")]
    MissingClaim(String),
    /// The issuer's keys could not be fetched.
    #[error("the authorization server's keys cannot be read right now; try again")]
    KeysUnavailable,
}

/// Why authentication could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// Neither discovery document could be read.
    #[error(
        "cannot read the discovery document of issuer {issuer} (tried {tried}): {reason}. Check \
         sluice.http.auth.issuer and that the authorization server is up"
    )]
    Discovery {
        /// The configured issuer.
        issuer: String,
        /// The URLs tried.
        tried: String,
        /// The last failure.
        reason: String,
    },
    /// The discovery document names another issuer.
    #[error(
        "the discovery document at {url} is for issuer \"{found}\", not \"{expected}\": set \
         sluice.http.auth.issuer to the issuer exactly as the server spells it"
    )]
    IssuerMismatch {
        /// Where it was read.
        url: String,
        /// What it says.
        found: String,
        /// What the config says.
        expected: String,
    },
    /// The key set could not be read.
    #[error("cannot read the signing keys of issuer {issuer} from {url}: {reason}")]
    Keys {
        /// The configured issuer.
        issuer: String,
        /// The `jwks_uri`.
        url: String,
        /// Why.
        reason: String,
    },
}

/// Checks bearer tokens for one resource (Sluice's MCP endpoint).
#[derive(Debug)]
pub struct Authenticator {
    resource: String,
    api_tokens: Vec<(String, [u8; 32])>,
    jwt: Option<JwtVerifier>,
}

#[derive(Debug)]
struct JwtVerifier {
    issuer: String,
    audience: String,
    required_scopes: Vec<String>,
    leeway: u64,
    jwks_uri: String,
    http: reqwest::Client,
    keys: Mutex<Keys>,
    /// One refresh at a time.
    refreshing: tokio::sync::Mutex<()>,
}

#[derive(Debug)]
struct Keys {
    set: JwkSet,
    fetched: Instant,
}

impl Authenticator {
    /// Set up for `resource` (the MCP endpoint's URL): with an issuer, read its discovery
    /// document and keys now, so a wrong issuer is reported at start.
    pub async fn new(settings: &AuthSettings, resource: &str) -> Result<Authenticator, SetupError> {
        let api_tokens = settings
            .api_tokens
            .iter()
            .map(|token| (token.name.clone(), decode_hex(&token.sha256)))
            .collect();
        let jwt = match &settings.issuer {
            Some(issuer) => Some(JwtVerifier::discover(settings, issuer, resource).await?),
            None => None,
        };
        Ok(Authenticator {
            resource: resource.to_owned(),
            api_tokens,
            jwt,
        })
    }

    /// The protected resource's identifier: Sluice's MCP endpoint URL.
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// Where the protected resource metadata is served: `/.well-known/oauth-protected-resource`
    /// followed by the resource's path (RFC 9728, section 3.1).
    pub fn metadata_url(&self) -> String {
        let (origin, path) = split_url(&self.resource);
        format!("{origin}/.well-known/oauth-protected-resource{path}")
    }

    /// The protected resource metadata document (RFC 9728).
    pub fn metadata(&self) -> Value {
        let mut metadata = json!({
            "resource": self.resource,
            "bearer_methods_supported": ["header"],
            "resource_name": "Sluice",
        });
        if let Some(jwt) = &self.jwt {
            metadata["authorization_servers"] = json!([jwt.issuer]);
            if !jwt.required_scopes.is_empty() {
                metadata["scopes_supported"] = json!(jwt.required_scopes);
            }
        }
        metadata
    }

    /// The `WWW-Authenticate` value that goes with a refusal.
    pub fn challenge(&self, refusal: &Refusal) -> String {
        let metadata = format!("resource_metadata=\"{}\"", self.metadata_url());
        match refusal {
            Refusal::Missing => format!("Bearer {metadata}"),
            Refusal::Invalid(invalid) => format!(
                "Bearer {metadata}, error=\"invalid_token\", error_description=\"{}\"",
                invalid.to_string().replace('"', "'")
            ),
            Refusal::InsufficientScope { required } => format!(
                "Bearer {metadata}, error=\"insufficient_scope\", scope=\"{}\"",
                required.join(" ")
            ),
        }
    }

    /// Check the `Authorization` header's value.
    pub async fn authenticate(&self, authorization: Option<&str>) -> Result<Principal, Refusal> {
        let Some(value) = authorization else {
            return Err(Refusal::Missing);
        };
        let Some((scheme, token)) = value.trim().split_once(' ') else {
            return Err(Refusal::Missing);
        };
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(Refusal::Missing);
        }
        let token = token.trim();
        if token.is_empty() || token.len() > MAX_TOKEN_BYTES {
            return Err(Refusal::Invalid(Invalid::Malformed));
        }
        if let Some(name) = self.api_token(token) {
            return Ok(Principal {
                name,
                kind: PrincipalKind::ApiToken,
                scopes: Vec::new(),
            });
        }
        match &self.jwt {
            Some(jwt) if token.split('.').count() == 3 => jwt.verify(token).await,
            Some(_) => Err(Refusal::Invalid(Invalid::Malformed)),
            None => Err(Refusal::Invalid(Invalid::UnknownApiToken)),
        }
    }

    /// The name of the API token whose hash is `token`'s, comparing every stored hash in full.
    fn api_token(&self, token: &str) -> Option<String> {
        let hash: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let mut found = None;
        for (name, stored) in &self.api_tokens {
            let difference = stored
                .iter()
                .zip(hash.iter())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b));
            if difference == 0 {
                found = Some(name.clone());
            }
        }
        found
    }
}

impl JwtVerifier {
    async fn discover(
        settings: &AuthSettings,
        issuer: &str,
        resource: &str,
    ) -> Result<JwtVerifier, SetupError> {
        let http = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .build()
            .map_err(|error| SetupError::Discovery {
                issuer: issuer.to_owned(),
                tried: String::new(),
                reason: error.to_string(),
            })?;
        let trimmed = issuer.trim_end_matches('/');
        let (origin, path) = split_url(trimmed);
        let candidates = [
            format!("{origin}/.well-known/oauth-authorization-server{path}"),
            format!("{trimmed}/.well-known/openid-configuration"),
        ];
        let mut reason = String::new();
        let mut document = None;
        for url in &candidates {
            match fetch_json(&http, url).await {
                Ok(found) => {
                    document = Some((url.clone(), found));
                    break;
                }
                Err(error) => reason = error,
            }
        }
        let Some((url, document)) = document else {
            return Err(SetupError::Discovery {
                issuer: issuer.to_owned(),
                tried: candidates.join(", "),
                reason,
            });
        };
        let found = document["issuer"].as_str().unwrap_or_default();
        if found != issuer {
            return Err(SetupError::IssuerMismatch {
                url,
                found: found.to_owned(),
                expected: issuer.to_owned(),
            });
        }
        let Some(jwks_uri) = document["jwks_uri"].as_str() else {
            return Err(SetupError::Keys {
                issuer: issuer.to_owned(),
                url,
                reason: "the discovery document has no jwks_uri".to_owned(),
            });
        };
        let set = fetch_keys(&http, jwks_uri)
            .await
            .map_err(|reason| SetupError::Keys {
                issuer: issuer.to_owned(),
                url: jwks_uri.to_owned(),
                reason,
            })?;
        Ok(JwtVerifier {
            issuer: issuer.to_owned(),
            audience: settings
                .audience
                .clone()
                .unwrap_or_else(|| resource.to_owned()),
            required_scopes: settings.required_scopes.clone(),
            leeway: settings.clock_skew_seconds,
            jwks_uri: jwks_uri.to_owned(),
            http,
            keys: Mutex::new(Keys {
                set,
                fetched: Instant::now(),
            }),
            refreshing: tokio::sync::Mutex::new(()),
        })
    }

    async fn verify(&self, token: &str) -> Result<Principal, Refusal> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|_| Refusal::Invalid(Invalid::Malformed))?;
        if !is_asymmetric(header.alg) {
            return Err(Refusal::Invalid(Invalid::Algorithm));
        }
        let key = self.key(header.kid.as_deref(), header.alg).await?;
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.validate_nbf = true;
        validation.leeway = self.leeway;
        let data = jsonwebtoken::decode::<serde_json::Map<String, Value>>(token, &key, &validation)
            .map_err(|error| Refusal::Invalid(self.classify(error.kind())))?;
        let claims = data.claims;
        let name = claims
            .get("sub")
            .and_then(Value::as_str)
            .or_else(|| claims.get("client_id").and_then(Value::as_str))
            .filter(|name| !name.is_empty())
            .ok_or(Refusal::Invalid(Invalid::MissingClaim("sub".to_owned())))?
            .to_owned();
        let scopes = scopes_of(&claims);
        if !self
            .required_scopes
            .iter()
            .all(|scope| scopes.contains(scope))
        {
            return Err(Refusal::InsufficientScope {
                required: self.required_scopes.clone(),
            });
        }
        Ok(Principal {
            name,
            kind: PrincipalKind::AccessToken {
                issuer: self.issuer.clone(),
            },
            scopes,
        })
    }

    fn classify(&self, kind: &jsonwebtoken::errors::ErrorKind) -> Invalid {
        use jsonwebtoken::errors::ErrorKind;
        match kind {
            ErrorKind::ExpiredSignature => Invalid::Expired,
            ErrorKind::ImmatureSignature => Invalid::NotYetValid,
            ErrorKind::InvalidAudience => Invalid::WrongAudience {
                expected: self.audience.clone(),
            },
            ErrorKind::InvalidIssuer => Invalid::WrongIssuer {
                expected: self.issuer.clone(),
            },
            ErrorKind::InvalidSignature => Invalid::BadSignature,
            ErrorKind::InvalidAlgorithm | ErrorKind::MissingAlgorithm => Invalid::Algorithm,
            ErrorKind::MissingRequiredClaim(claim) | ErrorKind::InvalidClaimFormat(claim) => {
                Invalid::MissingClaim(claim.clone())
            }
            _ => Invalid::Malformed,
        }
    }

    /// The issuer's key for `kid` (the only key when the token names none), fetching the set
    /// again when the key is unknown and the last fetch is not recent.
    async fn key(&self, kid: Option<&str>, algorithm: Algorithm) -> Result<DecodingKey, Refusal> {
        if let Some(key) = self.find(kid, algorithm)? {
            return Ok(key);
        }
        let _one = self.refreshing.lock().await;
        let stale = self
            .keys
            .lock()
            .map(|keys| keys.fetched.elapsed() >= KEY_REFRESH_INTERVAL)
            .unwrap_or(true);
        if stale {
            match fetch_keys(&self.http, &self.jwks_uri).await {
                Ok(set) => {
                    if let Ok(mut keys) = self.keys.lock() {
                        *keys = Keys {
                            set,
                            fetched: Instant::now(),
                        };
                    }
                }
                Err(reason) => {
                    tracing::warn!(
                        "cannot refresh the issuer's keys from {}: {reason}",
                        self.jwks_uri
                    );
                    return Err(Refusal::Invalid(Invalid::KeysUnavailable));
                }
            }
        }
        self.find(kid, algorithm)?
            .ok_or(Refusal::Invalid(Invalid::UnknownKey))
    }

    fn find(
        &self,
        kid: Option<&str>,
        algorithm: Algorithm,
    ) -> Result<Option<DecodingKey>, Refusal> {
        let keys = self
            .keys
            .lock()
            .map_err(|_| Refusal::Invalid(Invalid::KeysUnavailable))?;
        let jwk = match kid {
            Some(kid) => keys.set.find(kid),
            None if keys.set.keys.len() == 1 => keys.set.keys.first(),
            None => None,
        };
        let Some(jwk) = jwk else {
            return Ok(None);
        };
        if let Some(declared) = jwk.common.key_algorithm
            && declared.to_string() != format!("{algorithm:?}")
        {
            return Err(Refusal::Invalid(Invalid::Algorithm));
        }
        DecodingKey::from_jwk(jwk)
            .map(Some)
            .map_err(|_| Refusal::Invalid(Invalid::Algorithm))
    }
}

/// Signature algorithms with a public key: never HMAC (a shared secret), never `none`.
fn is_asymmetric(algorithm: Algorithm) -> bool {
    matches!(
        algorithm,
        Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512
            | Algorithm::ES256
            | Algorithm::ES384
            | Algorithm::EdDSA
    )
}

/// Scopes from `scope` (space-separated) or `scp` (a list or a string).
fn scopes_of(claims: &serde_json::Map<String, Value>) -> Vec<String> {
    let mut scopes = Vec::new();
    for field in ["scope", "scp"] {
        match claims.get(field) {
            Some(Value::String(text)) => {
                scopes.extend(text.split_whitespace().map(str::to_owned));
            }
            Some(Value::Array(items)) => {
                scopes.extend(items.iter().filter_map(Value::as_str).map(str::to_owned));
            }
            _ => {}
        }
    }
    scopes
}

/// `scheme://authority` and the rest (path, maybe empty) of a URL.
fn split_url(url: &str) -> (&str, &str) {
    let after_scheme = url.find("://").map_or(0, |at| at + 3);
    match url[after_scheme..].find('/') {
        Some(slash) => url.split_at(after_scheme + slash),
        None => (url, ""),
    }
}

async fn fetch_json(http: &reqwest::Client, url: &str) -> Result<Value, String> {
    let response = http
        .get(url)
        .header("accept", "application/json")
        .send()
        .await
        .map_err(|error| format!("{url}: {error}"))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("{url} answered {status}"));
    }
    let body = response
        .bytes()
        .await
        .map_err(|error| format!("{url}: {error}"))?;
    serde_json::from_slice(&body).map_err(|error| format!("{url} is not JSON: {error}"))
}

async fn fetch_keys(http: &reqwest::Client, url: &str) -> Result<JwkSet, String> {
    let value = fetch_json(http, url).await?;
    serde_json::from_value::<JwkSet>(value).map_err(|error| format!("not a JWK set: {error}"))
}

/// 64 hexadecimal digits (checked by the config) as bytes.
fn decode_hex(text: &str) -> [u8; 32] {
    let mut bytes = [0u8; 32];
    for (index, byte) in bytes.iter_mut().enumerate() {
        *byte = text
            .get(index * 2..index * 2 + 2)
            .and_then(|pair| u8::from_str_radix(pair, 16).ok())
            .unwrap_or_default();
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_config::ApiTokenSettings;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|byte| format!("{byte:02x}")).collect()
    }

    async fn with_tokens() -> Authenticator {
        let settings = AuthSettings {
            api_tokens: vec![ApiTokenSettings {
                name: "ci-bot".to_owned(),
                sha256: hex(&Sha256::digest(b"s3cret-token")),
            }],
            ..AuthSettings::default()
        };
        Authenticator::new(&settings, "http://127.0.0.1:9/mcp")
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn api_tokens_by_hash() {
        let auth = with_tokens().await;
        let principal = auth
            .authenticate(Some("Bearer s3cret-token"))
            .await
            .unwrap();
        assert_eq!(principal.key(), "token:ci-bot");
        assert_eq!(
            auth.authenticate(Some("bearer s3cret-token"))
                .await
                .unwrap()
                .name,
            "ci-bot"
        );
        assert_eq!(
            auth.authenticate(Some("Bearer s3cret-tokeN")).await,
            Err(Refusal::Invalid(Invalid::UnknownApiToken))
        );
        assert_eq!(auth.authenticate(None).await, Err(Refusal::Missing));
        assert_eq!(
            auth.authenticate(Some("Basic czNjcmV0")).await,
            Err(Refusal::Missing)
        );
    }

    #[test]
    fn principals_whose_names_differ_only_where_a_key_cuts_get_different_keys() {
        let subject = |name: String| Principal {
            name,
            kind: PrincipalKind::ApiToken,
            scopes: Vec::new(),
        };
        let long = "a".repeat(200);
        let keys = [
            subject(format!("{long}x")).key(),
            subject(format!("{long}y")).key(),
            subject("ab".to_owned()).key(),
            subject("a\u{1}b".to_owned()).key(),
        ];
        let distinct: std::collections::BTreeSet<&String> = keys.iter().collect();
        assert_eq!(distinct.len(), keys.len(), "{keys:?}");
        assert_eq!(keys[2], "token:ab");
        assert!(
            keys.iter()
                .all(|key| key.chars().all(|character| !character.is_control()))
        );
        assert!(keys[0].chars().count() < 160, "{}", keys[0]);
    }

    #[tokio::test]
    async fn metadata_and_challenges() {
        let auth = with_tokens().await;
        assert_eq!(
            auth.metadata_url(),
            "http://127.0.0.1:9/.well-known/oauth-protected-resource/mcp"
        );
        assert_eq!(auth.metadata()["resource"], "http://127.0.0.1:9/mcp");
        assert!(auth.metadata().get("authorization_servers").is_none());
        assert_eq!(
            auth.challenge(&Refusal::Missing),
            "Bearer resource_metadata=\"http://127.0.0.1:9/.well-known/oauth-protected-resource/mcp\""
        );
        let expired = auth.challenge(&Refusal::Invalid(Invalid::Expired));
        assert!(expired.contains("error=\"invalid_token\""), "{expired}");
    }

    #[tokio::test]
    async fn an_unreachable_issuer_is_reported_at_start() {
        let settings = AuthSettings {
            issuer: Some("http://127.0.0.1:9".to_owned()),
            ..AuthSettings::default()
        };
        let error = Authenticator::new(&settings, "http://127.0.0.1:1/mcp")
            .await
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("openid-configuration") && error.contains("sluice.http.auth.issuer"),
            "{error}"
        );
    }

    #[test]
    fn urls_split_at_the_path() {
        assert_eq!(split_url("https://a.com/mcp"), ("https://a.com", "/mcp"));
        assert_eq!(split_url("https://a.com"), ("https://a.com", ""));
        assert_eq!(
            scopes_of(
                &json!({"scope": "a b", "scp": ["c"]})
                    .as_object()
                    .unwrap()
                    .clone()
            ),
            ["a", "b", "c"]
        );
    }
}
