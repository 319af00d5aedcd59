//! The token files: `<data dir>/oauth/<server>.json`, one per server, readable by the user
//! only (the folder 0700, each file 0600, written whole to a temporary file of the same mode
//! and renamed over the old one).

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use rmcp::transport::auth::{AuthError, CredentialStore, StoredCredentials};
use serde::{Deserialize, Serialize};

use crate::OAuthError;

/// What Sluice keeps about one server's authorization.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TokenFile {
    /// The server URL the tokens are for; tokens of another URL are not used.
    pub url: String,
    /// The client Sluice registered (dynamic registration) or was configured as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<ClientRegistration>,
    /// The tokens (rmcp's record: client id, token response, granted scopes, when received).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<StoredCredentials>,
    /// The scopes a call was refused for (`403 insufficient_scope`) since the last login: the
    /// next `sluice auth login` asks for them too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_up: Option<String>,
}

/// A client registration Sluice keeps for the next login and for refreshing tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientRegistration {
    /// The client id.
    pub client_id: String,
    /// Its secret, when the authorization server issued one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// The redirect URI it was registered with.
    pub redirect_uri: String,
}

/// The folder of token files (`None`: nothing is kept on disk, as for a gateway without a data
/// folder).
#[derive(Debug, Clone, Default)]
pub struct TokenStore {
    dir: Option<PathBuf>,
}

impl TokenStore {
    /// Token files in `dir` (created on first save).
    pub fn new(dir: Option<PathBuf>) -> TokenStore {
        TokenStore { dir }
    }

    /// The token folder of a data folder.
    pub fn in_data_dir(data_dir: &Path) -> TokenStore {
        TokenStore::new(Some(data_dir.join(crate::OAUTH_DIR)))
    }

    /// The file of `server`, when there is a folder.
    pub fn path(&self, server: &str) -> Option<PathBuf> {
        let file: String = server
            .chars()
            .map(|character| {
                if character.is_ascii_alphanumeric() || matches!(character, '-' | '_') {
                    character.to_string()
                } else {
                    format!("%{:02X}", u32::from(character))
                }
            })
            .collect();
        self.dir
            .as_ref()
            .map(|dir| dir.join(format!("{file}.json")))
    }

    /// The file of `server`, if there is one and it is for `url`.
    pub fn load(&self, server: &str, url: &str) -> Result<Option<TokenFile>, OAuthError> {
        let Some(path) = self.path(server) else {
            return Ok(None);
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(OAuthError::Store { path, source }),
        };
        let file: TokenFile =
            serde_json::from_str(&text).map_err(|error| OAuthError::StoreCorrupt {
                path: path.clone(),
                message: error.to_string(),
            })?;
        Ok((file.url == url).then_some(file))
    }

    /// Write `file` as the file of `server` (mode 0600, atomically).
    pub fn save(&self, server: &str, file: &TokenFile) -> Result<(), OAuthError> {
        let Some(path) = self.path(server) else {
            return Ok(());
        };
        let store_error = |source| OAuthError::Store {
            path: path.clone(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(store_error)?;
            // A folder made before (or by someone else) gets the same mode.
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(store_error)?;
        }
        let text = serde_json::to_vec_pretty(file).map_err(|error| OAuthError::StoreCorrupt {
            path: path.clone(),
            message: error.to_string(),
        })?;
        let temporary = path.with_extension(format!("json.{}.tmp", std::process::id()));
        let written = (|| {
            let mut output = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&temporary)?;
            output.set_permissions(std::fs::Permissions::from_mode(0o600))?;
            output.write_all(&text)?;
            output.sync_all()?;
            std::fs::rename(&temporary, &path)
        })();
        if written.is_err() {
            let _ = std::fs::remove_file(&temporary);
        }
        written.map_err(store_error)
    }

    /// Delete the file of `server`. Returns whether there was one.
    pub fn remove(&self, server: &str) -> Result<bool, OAuthError> {
        let Some(path) = self.path(server) else {
            return Ok(false);
        };
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(source) => Err(OAuthError::Store { path, source }),
        }
    }

    /// When the file of `server` last changed (`None`: there is none).
    pub fn modified(&self, server: &str) -> Option<SystemTime> {
        self.path(server)
            .and_then(|path| std::fs::metadata(path).ok())
            .and_then(|metadata| metadata.modified().ok())
    }
}

/// rmcp's credential store over one server's token file. Reads are cached and the file is read
/// again only when it changed (another process logged in), so a request costs one `stat`.
pub(crate) struct ServerCredentials {
    store: TokenStore,
    server: String,
    url: String,
    cache: Mutex<Cached>,
}

#[derive(Default)]
struct Cached {
    modified: Option<SystemTime>,
    file: Option<TokenFile>,
}

impl ServerCredentials {
    pub(crate) fn new(store: TokenStore, server: &str, url: &str) -> ServerCredentials {
        ServerCredentials {
            store,
            server: server.to_owned(),
            url: url.to_owned(),
            cache: Mutex::default(),
        }
    }

    /// The server's file as it is now.
    pub(crate) fn file(&self) -> Result<TokenFile, OAuthError> {
        let modified = self.store.modified(&self.server);
        if let Ok(cache) = self.cache.lock()
            && let Some(file) = &cache.file
            && (cache.modified == modified || self.store.path(&self.server).is_none())
        {
            return Ok(file.clone());
        }
        let file = self
            .store
            .load(&self.server, &self.url)?
            .unwrap_or_else(|| TokenFile {
                url: self.url.clone(),
                ..TokenFile::default()
            });
        if let Ok(mut cache) = self.cache.lock() {
            *cache = Cached {
                modified,
                file: Some(file.clone()),
            };
        }
        Ok(file)
    }

    /// Change the server's file.
    pub(crate) fn update(&self, change: impl FnOnce(&mut TokenFile)) -> Result<(), OAuthError> {
        let mut file = self.file()?;
        change(&mut file);
        self.store.save(&self.server, &file)?;
        if let Ok(mut cache) = self.cache.lock() {
            *cache = Cached {
                modified: self.store.modified(&self.server),
                file: Some(file),
            };
        }
        Ok(())
    }
}

fn store_error(error: OAuthError) -> AuthError {
    AuthError::CredentialStoreError(error.to_string())
}

#[async_trait::async_trait]
impl CredentialStore for ServerCredentials {
    async fn load(&self) -> Result<Option<StoredCredentials>, AuthError> {
        Ok(self.file().map_err(store_error)?.credentials)
    }

    async fn save(&self, credentials: StoredCredentials) -> Result<(), AuthError> {
        self.update(|file| file.credentials = Some(credentials))
            .map_err(store_error)
    }

    async fn clear(&self) -> Result<(), AuthError> {
        self.update(|file| file.credentials = None)
            .map_err(store_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_files_are_private_to_the_user() {
        let data = tempfile::tempdir().expect("tempdir");
        let store = TokenStore::in_data_dir(data.path());
        let file = TokenFile {
            url: "https://mcp.example/mcp".to_owned(),
            client: Some(ClientRegistration {
                client_id: "id".to_owned(),
                client_secret: Some("secret".to_owned()),
                redirect_uri: "http://127.0.0.1:1/callback".to_owned(),
            }),
            ..TokenFile::default()
        };
        store.save("remote", &file).expect("save");
        let path = store.path("remote").expect("a path");
        let mode = std::fs::metadata(&path).expect("file").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", path.display());
        let dir_mode = std::fs::metadata(path.parent().expect("folder"))
            .expect("folder")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(dir_mode, 0o700);
        // Saved again over a file someone loosened: 0600 again.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        store.save("remote", &file).expect("save again");
        let mode = std::fs::metadata(&path).expect("file").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // Tokens of another URL are not used.
        assert!(
            store
                .load("remote", "https://mcp.example/mcp")
                .expect("load")
                .is_some()
        );
        assert!(
            store
                .load("remote", "https://elsewhere.example/mcp")
                .expect("load")
                .is_none()
        );
        assert!(store.remove("remote").expect("remove"));
        assert!(!store.remove("remote").expect("remove again"));
    }

    #[test]
    fn a_server_name_cannot_leave_the_folder() {
        let store = TokenStore::new(Some(PathBuf::from("/data/oauth")));
        assert_eq!(
            store.path("../x").expect("path"),
            PathBuf::from("/data/oauth/%2E%2E%2Fx.json")
        );
    }
}
