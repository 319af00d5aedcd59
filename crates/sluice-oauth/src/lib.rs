/*!
Sluice as an OAuth client of its downstream HTTP servers (the MCP authorization specification).

The protocol work is rmcp's OAuth state machine (its `auth` feature, on the `oauth2` crate):
discovery of a server's authorization server from its protected resource metadata (RFC 9728,
from the `WWW-Authenticate` challenge or the well-known paths) and then RFC 8414 / OpenID
discovery (with the 2025-03-26 fallbacks), dynamic client registration (RFC 7591), client ID
metadata documents, PKCE, the `resource` indicator (RFC 8707), scope selection, refresh and the
client-credentials grant with a client secret. It was chosen over
writing the same on the `oauth2` crate because it already follows the MCP specification's
discovery order and scope rules, which is most of the work, and is the SDK the rest of Sluice
speaks MCP with. This crate adds what is Sluice's:

- [`TokenStore`]: the token files, `<data dir>/oauth/<server>.json`, mode 0600;
- [`ServerAuth`] and [`OAuthHttp`]: the token on every request to a server, renewed when it
  runs out, a refused scope remembered for the next login;
- `private_key_jwt` client authentication for the client-credentials grant (RFC 7523), on the
  `jsonwebtoken` the resource-server side already uses (rmcp's own needs another major version
  of it, and its future is not `Send`);
- [`authorize`]: the login of `sluice auth login NAME` (authorization code with PKCE: print the
  URL, open `$BROWSER` if set, wait for the redirect on a loopback port, store the tokens).
*/
#![deny(missing_docs)]

mod client;
mod jwt;
mod login;
mod store;

use std::path::PathBuf;

use rmcp::transport::auth::{AuthError, ClientCredentialsConfig};
use sluice_config::OAuthClient;

pub use client::{OAuthHttp, ServerAuth};
pub use login::{Challenge, LoginOptions, authorize};
pub use store::{ClientRegistration, TokenFile, TokenStore};

/// The folder of the token files in the data folder.
pub const OAUTH_DIR: &str = "oauth";

/// What went wrong while authorizing Sluice to a server, in words for the person at the
/// terminal.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OAuthError {
    /// A token file could not be read or written.
    #[error("cannot use the token file {path}: {source}")]
    Store {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A token file is not what Sluice writes.
    #[error(
        "the token file {path} is damaged ({message}): delete it and log in again with `sluice auth login`"
    )]
    StoreCorrupt {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// The server's `oauth` settings cannot be used.
    #[error("server \"{server}\": {message}")]
    Settings {
        /// The server.
        server: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// The authorization server refused or failed a step.
    #[error("server \"{server}\": {message}")]
    Authorization {
        /// The server.
        server: String,
        /// The step and the reason.
        message: String,
    },
    /// There is no way to get a client id.
    #[error(
        "server \"{server}\": its authorization server does not offer dynamic client registration; register Sluice there and put the client id (and secret) in the server's \"oauth\": {{\"clientId\": ..., \"clientSecret\": ...}}"
    )]
    NoClient {
        /// The server.
        server: String,
    },
    /// The login's loopback redirect did not come, or said no.
    #[error("server \"{server}\": {message}")]
    Login {
        /// The server.
        server: String,
        /// What happened.
        message: String,
    },
}

impl OAuthError {
    pub(crate) fn authorization(server: &str, step: &str, error: &AuthError) -> OAuthError {
        OAuthError::Authorization {
            server: server.to_owned(),
            message: format!("{step}: {}", describe(error)),
        }
    }
}

/// An rmcp OAuth error in words (its messages name the step and the reason).
pub fn describe(error: &AuthError) -> String {
    match error {
        AuthError::AuthorizationRequired => "no valid token: the server needs a login".to_owned(),
        AuthError::TokenRefreshRejected(_) => {
            "the authorization server no longer accepts the refresh token".to_owned()
        }
        other => other.to_string(),
    }
}

/// The command that logs Sluice in to `server`.
pub fn login_command(server: &str) -> String {
    format!("sluice auth login {server}")
}

/// The scopes of `first` and then those of `second` not already in it.
pub(crate) fn union_of_scopes(first: &str, second: &str) -> Vec<String> {
    let mut scopes: Vec<String> = Vec::new();
    for scope in first.split_whitespace().chain(second.split_whitespace()) {
        if !scopes.iter().any(|known| known == scope) {
            scopes.push(scope.to_owned());
        }
    }
    scopes
}

/// How Sluice gets tokens by itself with the client-credentials grant.
pub(crate) enum MachineGrant {
    /// `client_secret_post` or `client_secret_basic` (rmcp picks what the server supports).
    Secret(ClientCredentialsConfig),
    /// `private_key_jwt` (RFC 7523): a signed assertion instead of a secret.
    Jwt(jwt::JwtClient),
}

/// The client-credentials grant of a server's settings.
pub(crate) fn client_credentials(
    server: &str,
    url: &str,
    settings: &OAuthClient,
) -> Result<MachineGrant, OAuthError> {
    let settings_error = |message: String| OAuthError::Settings {
        server: server.to_owned(),
        message,
    };
    let client_id = settings.client_id.clone().ok_or_else(|| {
        settings_error("the client_credentials grant needs oauth.clientId".to_owned())
    })?;
    if let Some(secret) = &settings.client_secret {
        return Ok(MachineGrant::Secret(
            ClientCredentialsConfig::ClientSecret {
                client_id,
                client_secret: secret.clone(),
                scopes: settings.scopes.clone(),
                resource: Some(url.to_owned()),
            },
        ));
    }
    let Some(key_file) = &settings.private_key_file else {
        return Err(settings_error(
            "the client_credentials grant needs oauth.clientSecret or oauth.privateKeyFile"
                .to_owned(),
        ));
    };
    let pem = std::fs::read(key_file).map_err(|error| {
        settings_error(format!(
            "cannot read oauth.privateKeyFile {}: {error}",
            key_file.display()
        ))
    })?;
    jwt::JwtClient::new(
        client_id,
        &pem,
        settings.signing_algorithm.as_deref().unwrap_or("ES256"),
        settings.scopes.clone(),
        url.to_owned(),
    )
    .map(MachineGrant::Jwt)
    .map_err(settings_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_united_in_order_without_repeats() {
        assert_eq!(
            union_of_scopes("mcp:basic", "mcp:basic mcp:write"),
            ["mcp:basic", "mcp:write"]
        );
        assert!(union_of_scopes("", " ").is_empty());
    }
}
