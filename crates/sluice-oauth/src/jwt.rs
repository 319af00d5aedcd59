//! The client-credentials grant with `private_key_jwt` client authentication (RFC 7523): the
//! client proves itself with a short-lived JWT signed by its private key instead of a secret.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use oauth2::TokenResponse;
use rmcp::transport::auth::{AuthError, AuthorizationMetadata, OAuthTokenResponse};
use serde_json::json;

/// How long an assertion is valid.
const ASSERTION_SECONDS: u64 = 300;

/// A client that authenticates with its private key.
pub(crate) struct JwtClient {
    client_id: String,
    key: jsonwebtoken::EncodingKey,
    algorithm: jsonwebtoken::Algorithm,
    scopes: Vec<String>,
    resource: String,
}

impl JwtClient {
    /// From the PEM of an EC or RSA private key; the error says what is wrong with it.
    pub(crate) fn new(
        client_id: String,
        pem: &[u8],
        algorithm: &str,
        scopes: Vec<String>,
        resource: String,
    ) -> Result<JwtClient, String> {
        let (algorithm, key) = match algorithm {
            "ES256" | "ES384" => (
                if algorithm == "ES256" {
                    jsonwebtoken::Algorithm::ES256
                } else {
                    jsonwebtoken::Algorithm::ES384
                },
                jsonwebtoken::EncodingKey::from_ec_pem(pem),
            ),
            "RS256" | "RS384" | "RS512" => (
                match algorithm {
                    "RS256" => jsonwebtoken::Algorithm::RS256,
                    "RS384" => jsonwebtoken::Algorithm::RS384,
                    _ => jsonwebtoken::Algorithm::RS512,
                },
                jsonwebtoken::EncodingKey::from_rsa_pem(pem),
            ),
            other => {
                return Err(format!(
                    "unknown oauth.signingAlgorithm \"{other}\": use ES256, ES384, RS256, RS384 or RS512"
                ));
            }
        };
        let key = key.map_err(|error| {
            format!("oauth.privateKeyFile is not a PEM private key for {algorithm:?}: {error}")
        })?;
        Ok(JwtClient {
            client_id,
            key,
            algorithm,
            scopes,
            resource,
        })
    }

    pub(crate) fn client_id(&self) -> &str {
        &self.client_id
    }

    /// A signed assertion for the authorization server `audience`.
    fn assertion(&self, audience: &str) -> Result<String, AuthError> {
        static SERIAL: AtomicU64 = AtomicU64::new(0);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let claims = json!({
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": audience,
            "iat": now.as_secs(),
            "exp": now.as_secs() + ASSERTION_SECONDS,
            "jti": format!(
                "{:x}-{:x}-{:x}",
                now.as_nanos(),
                std::process::id(),
                SERIAL.fetch_add(1, Ordering::Relaxed)
            ),
        });
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(self.algorithm),
            &claims,
            &self.key,
        )
        .map_err(|error| {
            AuthError::ClientCredentialsError(format!("cannot sign the client assertion: {error}"))
        })
    }

    /// Ask the token endpoint for an access token.
    pub(crate) async fn exchange(
        &self,
        metadata: &AuthorizationMetadata,
    ) -> Result<OAuthTokenResponse, AuthError> {
        let audience = metadata
            .issuer
            .as_deref()
            .unwrap_or(&metadata.token_endpoint);
        let mut body = vec![
            ("grant_type", "client_credentials".to_owned()),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_owned(),
            ),
            ("client_assertion", self.assertion(audience)?),
            ("resource", self.resource.clone()),
        ];
        if !self.scopes.is_empty() {
            body.push(("scope", self.scopes.join(" ")));
        }
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&body)
            .finish();
        let response = reqwest::Client::new()
            .post(&metadata.token_endpoint)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Accept", "application/json")
            .body(body)
            .send()
            .await
            .map_err(|error| {
                AuthError::ClientCredentialsError(format!("the token request failed: {error}"))
            })?;
        let status = response.status();
        let text = response.text().await.map_err(|error| {
            AuthError::ClientCredentialsError(format!("the token answer did not arrive: {error}"))
        })?;
        if !status.is_success() {
            let answer: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
            return Err(AuthError::ClientCredentialsError(format!(
                "the token endpoint answered {status}: {} {}",
                answer["error"].as_str().unwrap_or(""),
                answer["error_description"].as_str().unwrap_or("")
            )));
        }
        let tokens: OAuthTokenResponse = serde_json::from_str(&text).map_err(|error| {
            AuthError::ClientCredentialsError(format!("the token answer is not a token: {error}"))
        })?;
        if tokens.access_token().secret().is_empty() {
            return Err(AuthError::ClientCredentialsError(
                "the token answer has an empty access token".to_owned(),
            ));
        }
        Ok(tokens)
    }
}
