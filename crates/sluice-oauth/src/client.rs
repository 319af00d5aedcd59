//! Sluice's HTTP client for one downstream server: rmcp's Streamable HTTP client over reqwest,
//! with the server's access token put on every request, renewed when it runs out (a refresh, or
//! a new client-credentials grant), and the server's refusals turned into what they mean.

use std::collections::HashMap;
use std::sync::Arc;

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use http::{HeaderName, HeaderValue};
use oauth2::TokenResponse;
use rmcp::model::ClientJsonRpcMessage;
use rmcp::transport::auth::{
    AuthError, AuthorizationManager, AuthorizationMetadata, CredentialStore, OAuthClientConfig,
    StoredCredentials,
};
use rmcp::transport::streamable_http_client::{
    StreamableHttpClient, StreamableHttpError, StreamableHttpPostResponse,
};
use sluice_config::{HttpServer, OAuthGrant};
use tokio::sync::Mutex;

use crate::store::{ServerCredentials, TokenStore};
use crate::{MachineGrant, OAuthError, union_of_scopes};

type HttpError = StreamableHttpError<reqwest::Error>;

/// How Sluice authorizes itself to one server.
pub struct ServerAuth {
    name: String,
    url: String,
    credentials: Arc<ServerCredentials>,
    /// Built (with the server's authorization server discovered) when there are tokens to use.
    manager: Mutex<Option<(AuthorizationManager, AuthorizationMetadata)>>,
    client_credentials: Option<MachineGrant>,
}

impl std::fmt::Debug for ServerAuth {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ServerAuth")
            .field("name", &self.name)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// rmcp's credential store trait over the shared token file of a server.
pub(crate) struct Shared(pub(crate) Arc<ServerCredentials>);

#[async_trait::async_trait]
impl CredentialStore for Shared {
    async fn load(&self) -> Result<Option<StoredCredentials>, AuthError> {
        self.0.load().await
    }
    async fn save(&self, credentials: StoredCredentials) -> Result<(), AuthError> {
        self.0.save(credentials).await
    }
    async fn clear(&self) -> Result<(), AuthError> {
        self.0.clear().await
    }
}

impl ServerAuth {
    /// The authorization of server `name`, or `None` when it does not use OAuth (a static
    /// `Authorization` header, or `"oauth": false`).
    pub fn new(
        name: &str,
        http: &HttpServer,
        store: &TokenStore,
    ) -> Result<Option<Arc<ServerAuth>>, OAuthError> {
        if !http.uses_oauth() {
            return Ok(None);
        }
        let settings = http.oauth.clone().unwrap_or_default();
        let client_credentials = match settings.grant {
            OAuthGrant::AuthorizationCode => None,
            OAuthGrant::ClientCredentials => {
                Some(crate::client_credentials(name, &http.url, &settings)?)
            }
        };
        Ok(Some(Arc::new(ServerAuth {
            name: name.to_owned(),
            url: http.url.clone(),
            credentials: Arc::new(ServerCredentials::new(store.clone(), name, &http.url)),
            manager: Mutex::new(None),
            client_credentials,
        })))
    }

    /// The server's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether it gets tokens with the client-credentials grant (no person logs in).
    pub fn is_machine_to_machine(&self) -> bool {
        self.client_credentials.is_some()
    }

    /// A manager with the authorization server discovered and the client configured.
    async fn manager(&self) -> Result<(AuthorizationManager, AuthorizationMetadata), AuthError> {
        let file = self
            .credentials
            .file()
            .map_err(|error| AuthError::CredentialStoreError(error.to_string()))?;
        let mut manager = AuthorizationManager::new(self.url.as_str()).await?;
        manager.set_credential_store(Shared(Arc::clone(&self.credentials)));
        let resolution = manager.resolve_metadata().await?;
        let metadata = resolution.metadata.clone();
        manager.set_metadata(resolution.metadata);
        if let Some(MachineGrant::Secret(config)) = &self.client_credentials {
            manager.validate_client_credentials_metadata(config)?;
            manager.configure_client_credentials(config)?;
        } else if let Some(MachineGrant::Jwt(client)) = &self.client_credentials {
            manager.configure_client_id(client.client_id())?;
        } else if let Some(client) = &file.client {
            let mut config =
                OAuthClientConfig::new(client.client_id.clone(), client.redirect_uri.clone());
            if let Some(secret) = &client.client_secret {
                config = config.with_client_secret(secret.clone());
            }
            manager.configure_client(config)?;
        } else if let Some(credentials) = &file.credentials {
            manager.configure_client_id(&credentials.client_id)?;
        }
        Ok((manager, metadata))
    }

    /// A new token of the client-credentials grant, stored like any other.
    async fn machine_token(
        &self,
        grant: &MachineGrant,
        manager: &AuthorizationManager,
        metadata: &AuthorizationMetadata,
    ) -> Result<String, AuthError> {
        match grant {
            MachineGrant::Secret(config) => {
                let response = manager.exchange_client_credentials(config).await?;
                Ok(response.access_token().secret().clone())
            }
            MachineGrant::Jwt(client) => {
                let response = client.exchange(metadata).await?;
                let token = response.access_token().secret().clone();
                let granted = response
                    .scopes()
                    .map(|scopes| scopes.iter().map(|scope| scope.to_string()).collect())
                    .unwrap_or_default();
                let received = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_secs();
                self.credentials
                    .save(StoredCredentials::new(
                        client.client_id().to_owned(),
                        Some(response),
                        granted,
                        Some(received),
                    ))
                    .await?;
                Ok(token)
            }
        }
    }

    /// The access token to send, if there is one (none: the request goes without, and a 401
    /// says the server needs a login).
    pub async fn token(&self) -> Result<Option<String>, AuthError> {
        let mut guard = self.manager.lock().await;
        if guard.is_none() {
            let has_tokens = self
                .credentials
                .file()
                .map_err(|error| AuthError::CredentialStoreError(error.to_string()))?
                .credentials
                .is_some_and(|credentials| credentials.token_response.is_some());
            if !has_tokens && self.client_credentials.is_none() {
                return Ok(None);
            }
            *guard = Some(self.manager().await?);
        }
        let Some((manager, metadata)) = guard.as_ref() else {
            return Ok(None);
        };
        match manager.get_access_token().await {
            Ok(token) => Ok(Some(token)),
            Err(AuthError::AuthorizationRequired) => match &self.client_credentials {
                Some(grant) => self.machine_token(grant, manager, metadata).await.map(Some),
                None => Ok(None),
            },
            Err(error) => Err(error),
        }
    }

    /// A new token after the server refused `sent`: one that another process stored since, a
    /// refreshed one, or (client credentials) a new grant. `None`: only a login helps.
    async fn renew(&self, sent: &str) -> Result<Option<String>, AuthError> {
        let guard = self.manager.lock().await;
        let Some((manager, metadata)) = guard.as_ref() else {
            return Ok(None);
        };
        if let Ok(current) = manager.get_access_token().await
            && current != sent
        {
            return Ok(Some(current));
        }
        if let Some(grant) = &self.client_credentials {
            return self.machine_token(grant, manager, metadata).await.map(Some);
        }
        match manager.refresh_token().await {
            Ok(response) => Ok(Some(response.access_token().secret().clone())),
            Err(AuthError::AuthorizationRequired | AuthError::TokenRefreshRejected(_)) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Remember that a call was refused for lack of `scope`: the next login asks for it.
    pub fn record_step_up(&self, scope: &str) {
        let recorded = self.credentials.update(|file| {
            let mut scopes = union_of_scopes(file.step_up.as_deref().unwrap_or(""), scope);
            scopes.sort();
            file.step_up = Some(scopes.join(" "));
        });
        if let Err(error) = recorded {
            tracing::warn!(server = %self.name, "could not record the scope the server asked for: {error}");
        }
    }

    /// The token file changed since the manager read it (someone logged in): start over.
    pub async fn forget(&self) {
        *self.manager.lock().await = None;
    }
}

/// reqwest with a server's OAuth tokens, as rmcp's Streamable HTTP client. Without a
/// [`ServerAuth`] it is plain reqwest.
#[derive(Clone, Debug, Default)]
pub struct OAuthHttp {
    client: reqwest::Client,
    auth: Option<Arc<ServerAuth>>,
}

impl OAuthHttp {
    /// A client for a server authorized by `auth` (`None`: no OAuth).
    pub fn new(auth: Option<Arc<ServerAuth>>) -> OAuthHttp {
        OAuthHttp {
            client: reqwest::Client::default(),
            auth,
        }
    }

    async fn authorized<'a, T: 'a>(
        &'a self,
        passed: Option<String>,
        call: impl Fn(Option<String>) -> BoxFuture<'a, Result<T, HttpError>> + Send + 'a,
    ) -> Result<T, HttpError> {
        let Some(auth) = &self.auth else {
            return call(passed).await;
        };
        let token = match passed {
            Some(token) => Some(token),
            None => auth.token().await.map_err(StreamableHttpError::Auth)?,
        };
        match call(token.clone()).await {
            Err(StreamableHttpError::AuthRequired(challenge)) => {
                let Some(sent) = token else {
                    return Err(StreamableHttpError::AuthRequired(challenge));
                };
                match auth.renew(&sent).await {
                    Ok(Some(fresh)) if fresh != sent => call(Some(fresh)).await,
                    Ok(_) => Err(StreamableHttpError::AuthRequired(challenge)),
                    Err(error) => Err(StreamableHttpError::Auth(error)),
                }
            }
            Err(StreamableHttpError::InsufficientScope(refusal)) => {
                if let Some(scope) = &refusal.required_scope {
                    auth.record_step_up(scope);
                }
                Err(StreamableHttpError::InsufficientScope(refusal))
            }
            other => other,
        }
    }
}

impl StreamableHttpClient for OAuthHttp {
    type Error = reqwest::Error;

    async fn post_message(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<StreamableHttpPostResponse, HttpError> {
        self.authorized(auth_header, |token| {
            let (uri, message, session_id, headers) = (
                uri.clone(),
                message.clone(),
                session_id.clone(),
                custom_headers.clone(),
            );
            Box::pin(async move {
                self.client
                    .post_message(uri, message, session_id, token, headers)
                    .await
            })
        })
        .await
    }

    async fn post_message_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> Result<StreamableHttpPostResponse, HttpError> {
        self.authorized(auth_header, |token| {
            let (uri, message, session_id, headers) = (
                uri.clone(),
                message.clone(),
                session_id.clone(),
                custom_headers.clone(),
            );
            Box::pin(async move {
                self.client
                    .post_message_with_max_sse_event_size(
                        uri,
                        message,
                        session_id,
                        token,
                        headers,
                        max_sse_event_size,
                    )
                    .await
            })
        })
        .await
    }

    async fn delete_session(
        &self,
        uri: Arc<str>,
        session_id: Arc<str>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<(), HttpError> {
        self.authorized(auth_header, |token| {
            let (uri, session_id, headers) =
                (uri.clone(), session_id.clone(), custom_headers.clone());
            Box::pin(async move {
                self.client
                    .delete_session(uri, session_id, token, headers)
                    .await
            })
        })
        .await
    }

    async fn get_stream(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<BoxStream<'static, Result<sse_stream::Sse, sse_stream::Error>>, HttpError> {
        self.authorized(auth_header, |token| {
            let (uri, session_id, last_event_id, headers) = (
                uri.clone(),
                session_id.clone(),
                last_event_id.clone(),
                custom_headers.clone(),
            );
            Box::pin(async move {
                self.client
                    .get_stream(uri, session_id, last_event_id, token, headers)
                    .await
            })
        })
        .await
    }

    async fn get_stream_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> Result<BoxStream<'static, Result<sse_stream::Sse, sse_stream::Error>>, HttpError> {
        self.authorized(auth_header, |token| {
            let (uri, session_id, last_event_id, headers) = (
                uri.clone(),
                session_id.clone(),
                last_event_id.clone(),
                custom_headers.clone(),
            );
            Box::pin(async move {
                self.client
                    .get_stream_with_max_sse_event_size(
                        uri,
                        session_id,
                        last_event_id,
                        token,
                        headers,
                        max_sse_event_size,
                    )
                    .await
            })
        })
        .await
    }
}
