/*!
Sluice's configuration: the standard `mcpServers` JSON that Claude Desktop, Claude Code and Cursor
use (VS Code's `servers` key too), plus Sluice's own optional `sluice` section beside it.

```json
{
  "mcpServers": {
    "everything": { "command": "npx", "args": ["-y", "@modelcontextprotocol/server-everything"] },
    "remote":     { "url": "http://127.0.0.1:3901/mcp", "headers": { "Authorization": "Bearer ${TOKEN}" } }
  },
  "sluice": { "connectTimeoutMs": 20000, "execution": { "timeoutMs": 30000 } }
}
```

A plain client config works unchanged: unknown top-level keys are ignored, entries marked
`"disabled": true` are skipped, `${VAR}` and `${VAR:-default}` in commands, arguments, environment
values, URLs and headers are expanded (as Claude Code does); an entry using a variable that is not
set is kept aside in [`Config::unusable`] with the reason, and the others load. Inside the `sluice` section unknown keys
are errors, because a typo there would silently change a limit.

Every error names the file, the server entry and the field, and says what was expected.

[`parse`] is pure (the environment comes in as a lookup function); [`load`] reads a file.
*/
#![deny(missing_docs)]

mod expand;
mod http;
mod settings;
mod telemetry;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

pub use http::{ApiTokenSettings, AuthSettings, HttpSettings, is_loopback_host, is_loopback_url};
pub use settings::{
    AuditSettings, DirectTool, ExecutionSettings, FlowRuleSettings, LimitSettings, PiiKind,
    PinningSettings, PrincipalLimitSettings, PrivacyDetect, PrivacySettings, SessionSettings,
    Settings, SkillSettings, WorkerSettings,
};
pub use telemetry::{TelemetrySettings, TraceSettings, check_endpoint};

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Config {
    /// Where it was read from, for messages.
    pub path: Option<PathBuf>,
    /// Enabled servers by config key, in key order.
    pub servers: BTreeMap<String, ServerConfig>,
    /// Servers present but marked disabled.
    pub disabled: Vec<String>,
    /// Servers that cannot be started as configured (an environment variable they use is not
    /// set), with the reason to show: only they are left out, the others run.
    pub unusable: BTreeMap<String, String>,
    /// Servers whose configured name is not an identifier (`"My Calc"`), by the identifier code
    /// uses for them (`my-calc`): the value is the name as configured, for messages.
    pub renamed: BTreeMap<String, String>,
    /// Sluice's own settings.
    pub settings: Settings,
}

/// How to reach one server.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerConfig {
    /// A child process speaking MCP over stdio.
    Stdio(StdioServer),
    /// A Streamable HTTP endpoint.
    Http(HttpServer),
}

/// A server started as a child process.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StdioServer {
    /// Program to run (looked up on `PATH` when it has no slash).
    pub command: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// Extra environment variables, added to Sluice's own environment.
    pub env: BTreeMap<String, String>,
    /// Working directory; relative paths are taken from the config file's folder.
    pub cwd: Option<PathBuf>,
}

/// A server reached over Streamable HTTP.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HttpServer {
    /// The MCP endpoint URL.
    pub url: String,
    /// Extra HTTP headers (for example `Authorization`).
    pub headers: BTreeMap<String, String>,
    /// How Sluice gets an OAuth access token for it (the entry's `oauth`); `None` when the
    /// entry has no `oauth` object (then the defaults of [`OAuthClient`] apply, unless
    /// `headers` carry an `Authorization`).
    pub oauth: Option<OAuthClient>,
    /// `"oauth": false`: never authorize with OAuth.
    pub oauth_disabled: bool,
}

impl HttpServer {
    /// Whether Sluice authorizes itself with OAuth: not when the entry's `headers` already
    /// carry an `Authorization` (a static token), nor when `"oauth": false`.
    pub fn uses_oauth(&self) -> bool {
        !self.oauth_disabled
            && !self
                .headers
                .keys()
                .any(|name| name.eq_ignore_ascii_case("authorization"))
    }
}

/// Sluice as an OAuth client of one HTTP server (the entry's `oauth` object). Everything is
/// optional: by default Sluice discovers the server's authorization server (RFC 9728, RFC 8414
/// / OpenID discovery), registers itself (RFC 7591) and asks for a login with
/// `sluice auth login NAME` (authorization code with PKCE).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OAuthClient {
    /// Which grant gets the tokens.
    pub grant: OAuthGrant,
    /// A client id registered with the authorization server out of band (`clientId`);
    /// without one Sluice uses `clientMetadataUrl` or dynamic registration.
    pub client_id: Option<String>,
    /// The secret of `clientId` (`clientSecret`, usually `${VAR}`).
    pub client_secret: Option<String>,
    /// An HTTPS URL of Sluice's client metadata document, used as the client id where the
    /// authorization server supports that (`clientMetadataUrl`).
    pub client_metadata_url: Option<String>,
    /// A PEM private key (EC or RSA) for `private_key_jwt` client authentication with
    /// `client_credentials` (`privateKeyFile`; relative to the config file's folder).
    pub private_key_file: Option<PathBuf>,
    /// Its algorithm (`signingAlgorithm`, default `ES256`).
    pub signing_algorithm: Option<String>,
    /// Scopes to ask for (`scopes`); empty: what the server's challenge or metadata names.
    pub scopes: Vec<String>,
    /// The loopback port of the login callback (`callbackPort`); none: any free port.
    pub callback_port: Option<u16>,
}

/// How Sluice obtains access tokens for a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OAuthGrant {
    /// A person logs in once with `sluice auth login NAME` (authorization code with PKCE);
    /// Sluice refreshes the tokens after that.
    #[default]
    AuthorizationCode,
    /// Machine to machine: Sluice asks for tokens with its own client credentials
    /// (`client_credentials`), again whenever they expire.
    ClientCredentials,
}

/// What is wrong with a config.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not JSON.
    #[error("config file {path} is not valid JSON (line {line}, column {column}): {message}")]
    Json {
        /// The file.
        path: String,
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column of the problem.
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// A value is missing or has the wrong shape.
    #[error("config file {path}: {location}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// Where: `server "name", field "args"` or `"sluice.execution.timeoutMs"`.
        location: String,
        /// What was expected, and how to fix it.
        message: String,
    },
    /// A server's entry uses an environment variable that is not set. [`parse`] does not
    /// return it: the server is kept aside in [`Config::unusable`] and the others run.
    #[error(
        "config file {path}: server \"{server}\", field \"{field}\": environment variable {name} is not set (write ${{{name}:-default}} to give a default)"
    )]
    UnsetVariable {
        /// The file.
        path: String,
        /// The server.
        server: String,
        /// The field that uses it.
        field: String,
        /// The variable.
        name: String,
    },
}

/// Read and parse a config file, expanding `${VAR}` from the process environment.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    let mut config = parse(&text, &path.display().to_string(), &|name| {
        std::env::var(name).ok()
    })?;
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    for server in config.servers.values_mut() {
        match server {
            ServerConfig::Stdio(stdio) => {
                if let Some(cwd) = &stdio.cwd
                    && cwd.is_relative()
                {
                    stdio.cwd = Some(base.join(cwd));
                }
            }
            ServerConfig::Http(http) => {
                if let Some(key) = http
                    .oauth
                    .as_mut()
                    .and_then(|oauth| oauth.private_key_file.as_mut())
                    && key.is_relative()
                {
                    *key = base.join(&*key);
                }
            }
        }
    }
    config.path = Some(path.to_owned());
    Ok(config)
}

/// Parse config text. `origin` names the source in messages; `lookup` supplies environment
/// variables for `${VAR}` expansion.
pub fn parse(
    text: &str,
    origin: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let root: Value = serde_json::from_str(text).map_err(|error| ConfigError::Json {
        path: origin.to_owned(),
        line: error.line(),
        column: error.column(),
        message: error.to_string(),
    })?;
    let context = Context { origin, lookup };
    let Value::Object(root) = root else {
        return Err(context.invalid(
            "top level",
            "expected a JSON object with an \"mcpServers\" object",
        ));
    };
    let (key, servers) = match (root.get("mcpServers"), root.get("servers")) {
        (Some(servers), _) => ("mcpServers", servers),
        (None, Some(servers)) => ("servers", servers),
        (None, None) => {
            return Err(context.invalid(
                "top level",
                "no \"mcpServers\" object: add {\"mcpServers\": {\"name\": {\"command\": \"...\"}}}",
            ));
        }
    };
    let Value::Object(servers) = servers else {
        return Err(context.invalid(
            &format!("\"{key}\""),
            "expected an object of server entries",
        ));
    };
    let mut config = Config::default();
    for (configured, entry) in servers {
        let name = &if is_identifier(configured) {
            configured.clone()
        } else {
            let id = derive_server_id(configured, &|candidate| {
                servers.contains_key(candidate) || config.renamed.contains_key(candidate)
            });
            config.renamed.insert(id.clone(), configured.clone());
            id
        };
        let Value::Object(entry) = entry else {
            return Err(context.invalid(
                &format!("server \"{}\"", configured.escape_debug()),
                "expected an object",
            ));
        };
        if entry.get("disabled").and_then(Value::as_bool) == Some(true) {
            config.disabled.push(name.clone());
            continue;
        }
        // Messages about the entry name it as the user wrote it.
        match context.server(configured, entry) {
            Ok(server) => {
                config.servers.insert(name.clone(), server);
            }
            Err(ConfigError::UnsetVariable {
                field,
                name: variable,
                ..
            }) => {
                // MCP clients start servers with a reduced environment: one missing variable
                // must not take every other server down with the whole file.
                config.unusable.insert(
                    name.clone(),
                    format!(
                        "environment variable {variable} (used in \"{field}\") is not set where Sluice was started; set it in the client's environment for Sluice, or write ${{{variable}:-default}} in the config"
                    ),
                );
            }
            Err(other) => return Err(other),
        }
    }
    if let Some(section) = root.get("sluice") {
        let mut section = section.clone();
        let (tools, direct) = match &mut section {
            Value::Object(object) => (object.remove("tools"), object.remove("direct")),
            _ => (None, None),
        };
        config.settings = settings::parse(&section).map_err(|(field, message)| {
            let location = if field.is_empty() {
                "field \"sluice\"".to_owned()
            } else {
                format!("field \"sluice.{field}\"")
            };
            context.invalid(&location, &message)
        })?;
        rename_in_settings(&mut config);
        check_privacy_servers(&context, &config)?;
        if let Some(tools) = tools {
            config.settings.tools = tool_policy(&context, &config, &tools)?;
        }
        if let Some(direct) = direct {
            config.settings.direct = direct_tools(&context, &config, &direct)?;
        }
        check_pinning_servers(&context, &mut config)?;
    }
    Ok(config)
}

/// Every configured server's name, disabled and unusable ones too.
fn all_servers(config: &Config) -> Vec<&str> {
    config
        .servers
        .keys()
        .chain(config.unusable.keys())
        .chain(config.disabled.iter())
        .map(String::as_str)
        .collect()
}

/// Read `sluice.direct`: a list of `"<server>.<tool>"`. The server must be configured (the
/// longest configured name followed by `.`, as configured or by its identifier); whether the
/// server has the tool is known only when it lists its tools (the gateway warns then).
fn direct_tools(
    context: &Context<'_>,
    config: &Config,
    direct: &Value,
) -> Result<Vec<settings::DirectTool>, ConfigError> {
    let Value::Array(entries) = direct else {
        return Err(context.invalid(
            "field \"sluice.direct\"",
            "expected a list of tools, such as [\"github.get_issue\"]",
        ));
    };
    let servers = all_servers(config);
    let mut tools: Vec<settings::DirectTool> = Vec::with_capacity(entries.len());
    for (index, entry) in entries.iter().enumerate() {
        let field = format!("field \"sluice.direct[{index}]\"");
        let Some(text) = entry.as_str() else {
            return Err(context.invalid(
                &field,
                &format!("expected \"<server>.<tool>\", got {}", describe(entry)),
            ));
        };
        let by_identifier = servers.iter().map(|server| (*server, *server));
        let by_configured = config
            .renamed
            .iter()
            .map(|(id, configured)| (configured.as_str(), id.as_str()));
        let found = by_identifier
            .chain(by_configured)
            .filter_map(|(written, id)| {
                let tool = text.strip_prefix(written)?.strip_prefix('.')?;
                (!tool.is_empty()).then_some((written.len(), id, tool))
            })
            .max_by_key(|(length, _, _)| *length);
        let Some((_, server, tool)) = found else {
            return Err(context.invalid(
                &field,
                &format!(
                    "\"{}\" names no configured server; write \"<server>.<tool>\" with a server of mcpServers ({})",
                    text.escape_debug(),
                    servers.join(", ")
                ),
            ));
        };
        if tool.contains('*') || tool.contains('?') {
            return Err(context.invalid(
                &field,
                "name one tool exactly: patterns are not allowed in sluice.direct",
            ));
        }
        let entry = settings::DirectTool {
            server: server.to_owned(),
            tool: tool.to_owned(),
        };
        if !tools.contains(&entry) {
            tools.push(entry);
        }
    }
    Ok(tools)
}

/// `sluice.pinning.changeFreely` must name configured servers; a renamed one may be named as
/// configured.
fn check_pinning_servers(context: &Context<'_>, config: &mut Config) -> Result<(), ConfigError> {
    let mut free = std::mem::take(&mut config.settings.pinning.change_freely);
    for (index, server) in free.iter_mut().enumerate() {
        if let Some((id, _)) = config
            .renamed
            .iter()
            .find(|(_, configured)| configured.as_str() == server.as_str())
        {
            *server = id.clone();
        }
        if !all_servers(config).contains(&server.as_str()) {
            return Err(context.invalid(
                &format!("field \"sluice.pinning.changeFreely[{index}]\""),
                &format!("no server \"{}\" in mcpServers", server.escape_debug()),
            ));
        }
    }
    config.settings.pinning.change_freely = free;
    Ok(())
}

/// Read `sluice.tools`: an object of tool patterns and policies. A pattern names a server as
/// configured or by its identifier; every server of the file counts, disabled ones too.
fn tool_policy(
    context: &Context<'_>,
    config: &Config,
    tools: &Value,
) -> Result<sluice_policy::ToolPolicy, ConfigError> {
    let Value::Object(entries) = tools else {
        return Err(context.invalid(
            "field \"sluice.tools\"",
            "expected an object of tool patterns and policies, such as {\"*\": \"ask\", \"github.delete_*\": \"deny\"}",
        ));
    };
    let mut rules: Vec<(String, &str)> = Vec::with_capacity(entries.len());
    for (pattern, value) in entries {
        let Some(value) = value.as_str() else {
            return Err(context.invalid(
                &format!("field \"sluice.tools.{pattern}\""),
                &format!(
                    "expected \"allow\", \"deny\", \"ask\", \"readOnly\" or \"denyDestructive\", got {}",
                    describe(value)
                ),
            ));
        };
        // A renamed server may be named as configured (`"My Calc.add"`).
        let renamed = config.renamed.iter().find_map(|(id, configured)| {
            let rest = pattern
                .strip_prefix(configured.as_str())?
                .strip_prefix('.')?;
            Some(format!("{id}.{rest}"))
        });
        rules.push((renamed.unwrap_or_else(|| pattern.clone()), value));
    }
    let servers: Vec<&str> = config
        .servers
        .keys()
        .chain(config.unusable.keys())
        .chain(config.disabled.iter())
        .map(String::as_str)
        .collect();
    sluice_policy::ToolPolicy::new(
        rules
            .iter()
            .map(|(pattern, value)| (pattern.as_str(), *value)),
        &servers,
    )
    .map_err(|error| {
        context.invalid(
            &format!("field \"sluice.tools.{}\"", error.pattern()),
            &error.to_string(),
        )
    })
}

/// Settings may name a renamed server as configured (`"My Calc"`) or by its identifier; from
/// here on only the identifier is used.
fn rename_in_settings(config: &mut Config) {
    let identifier = |name: &str| {
        config
            .renamed
            .iter()
            .find(|(_, configured)| configured.as_str() == name)
            .map(|(id, _)| id.clone())
    };
    let rename = |endpoint: &mut String| {
        if let Some(id) = identifier(endpoint) {
            *endpoint = id;
            return;
        }
        let tool = config.renamed.values().find_map(|configured| {
            let rest = endpoint
                .strip_prefix(configured.as_str())?
                .strip_prefix('.')?;
            Some(format!("{}.{rest}", identifier(configured)?))
        });
        if let Some(renamed) = tool {
            *endpoint = renamed;
        }
    };
    let settings = &mut config.settings;
    settings.privacy.trusted_servers.iter_mut().for_each(rename);
    for rule in &mut settings.privacy.flows {
        rename(&mut rule.from);
        rename(&mut rule.to);
    }
    let rates = std::mem::take(&mut settings.limits.calls_per_second);
    settings.limits.calls_per_second = rates
        .into_iter()
        .map(|(mut server, rate)| {
            rename(&mut server);
            (server, rate)
        })
        .collect();
}

/// Every server a privacy setting names must be in the config (a typo would silently change who
/// may receive personal data). Disabled servers count.
fn check_privacy_servers(context: &Context<'_>, config: &Config) -> Result<(), ConfigError> {
    let known = |name: &str| {
        config.servers.contains_key(name)
            || config.unusable.contains_key(name)
            || config.disabled.iter().any(|disabled| disabled == name)
    };
    let endpoint_known = |endpoint: &str| {
        endpoint == "*"
            || known(endpoint)
            || config
                .servers
                .keys()
                .chain(config.disabled.iter())
                .any(|server| {
                    endpoint
                        .strip_prefix(server.as_str())
                        .is_some_and(|rest| rest.len() > 1 && rest.starts_with('.'))
                })
    };
    let privacy = &config.settings.privacy;
    for (index, server) in privacy.trusted_servers.iter().enumerate() {
        if !known(server) {
            return Err(context.invalid(
                &format!("field \"sluice.privacy.trustedServers[{index}]\""),
                &format!("no server \"{server}\" in mcpServers"),
            ));
        }
    }
    for (index, rule) in privacy.flows.iter().enumerate() {
        for (field, endpoint) in [("from", &rule.from), ("to", &rule.to)] {
            if !endpoint_known(endpoint) {
                return Err(context.invalid(
                    &format!("field \"sluice.privacy.flows[{index}].{field}\""),
                    &format!(
                        "\"{endpoint}\" names no server in mcpServers; use \"server\", \"server.tool\" or \"*\""
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Whether `name` can be used as it is: server names become folder names (`servers/<name>/`)
/// and appear in code, so they are kept to a safe alphabet.
fn is_identifier(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_SERVER_NAME
        && name
            .chars()
            .all(|character| character.is_ascii_alphanumeric() || "-_.".contains(character))
        && name.starts_with(|first: char| first.is_ascii_alphanumeric())
}

/// The longest server identifier.
const MAX_SERVER_NAME: usize = 64;

/// The identifier code uses for a server whose configured name is not one (`"My Calc"`, which
/// Claude Desktop accepts): lower case, every run of other characters made one `-`, cut to
/// 64 characters, `server` when nothing is left, and `-2`, `-3`... when another server already
/// has it. Names that are identifiers already are kept as they are, case included.
fn derive_server_id(name: &str, taken: &dyn Fn(&str) -> bool) -> String {
    let mut base = String::with_capacity(name.len());
    for character in name.chars() {
        if character.is_ascii_alphanumeric() || "_.".contains(character) {
            base.push(character.to_ascii_lowercase());
        } else if !base.ends_with('-') {
            base.push('-');
        }
    }
    let trimmed = base.trim_matches(|character: char| !character.is_ascii_alphanumeric());
    let mut base: String = trimmed.chars().take(MAX_SERVER_NAME - 4).collect();
    if base.is_empty() {
        base = "server".to_owned();
    }
    if !taken(&base) {
        return base;
    }
    (2..)
        .map(|suffix| format!("{base}-{suffix}"))
        .find(|candidate| !taken(candidate))
        .unwrap_or(base)
}

struct Context<'a> {
    origin: &'a str,
    lookup: &'a dyn Fn(&str) -> Option<String>,
}

impl Context<'_> {
    fn invalid(&self, location: &str, message: &str) -> ConfigError {
        ConfigError::Invalid {
            path: self.origin.to_owned(),
            location: location.to_owned(),
            message: message.to_owned(),
        }
    }

    fn field_error(&self, server: &str, field: &str, message: &str) -> ConfigError {
        self.invalid(&format!("server \"{server}\", field \"{field}\""), message)
    }

    fn server(&self, name: &str, entry: &Map<String, Value>) -> Result<ServerConfig, ConfigError> {
        let kind = match entry.get("type") {
            None => None,
            Some(Value::String(kind)) => Some(kind.as_str()),
            Some(_) => {
                return Err(self.field_error(
                    name,
                    "type",
                    "expected a string such as \"stdio\" or \"http\"",
                ));
            }
        };
        let has_command = entry.contains_key("command");
        let has_url = entry.contains_key("url") || entry.contains_key("serverUrl");
        match (kind, has_command, has_url) {
            (Some("sse"), ..) => Err(self.field_error(
                name,
                "type",
                "the legacy SSE transport is not supported; use the server's Streamable HTTP endpoint (\"type\": \"http\")",
            )),
            (Some("stdio") | None, true, false) => self.stdio(name, entry).map(ServerConfig::Stdio),
            (Some("http" | "streamable-http" | "streamableHttp") | None, false, true) => {
                self.http(name, entry).map(ServerConfig::Http)
            }
            (_, true, true) => Err(self.field_error(
                name,
                "command",
                "an entry has either \"command\" (stdio) or \"url\" (Streamable HTTP), not both",
            )),
            (Some(other @ ("stdio" | "http" | "streamable-http" | "streamableHttp")), ..) => {
                let needed = if other == "stdio" { "command" } else { "url" };
                Err(self.field_error(name, needed, &format!("missing: a \"{other}\" entry needs \"{needed}\"")))
            }
            (Some(other), ..) => Err(self.field_error(
                name,
                "type",
                &format!("unknown transport \"{other}\": use \"stdio\" or \"http\""),
            )),
            (None, false, false) => Err(self.field_error(
                name,
                "command",
                "missing: give \"command\" (and \"args\") to start a local server, or \"url\" for a remote one",
            )),
        }
    }

    fn string(&self, server: &str, field: &str, value: &Value) -> Result<String, ConfigError> {
        match value {
            Value::String(text) => expand::expand(text, self.lookup).map_err(|error| match error {
                expand::ExpandError::Unset { name } => ConfigError::UnsetVariable {
                    path: self.origin.to_owned(),
                    server: server.to_owned(),
                    field: field.to_owned(),
                    name,
                },
                expand::ExpandError::Malformed(_) => {
                    self.field_error(server, field, &error.message())
                }
            }),
            other => Err(self.field_error(
                server,
                field,
                &format!("expected a string, found {}", describe(other)),
            )),
        }
    }

    fn string_map(
        &self,
        server: &str,
        field: &str,
        value: Option<&Value>,
    ) -> Result<BTreeMap<String, String>, ConfigError> {
        let Some(value) = value else {
            return Ok(BTreeMap::new());
        };
        let Value::Object(object) = value else {
            return Err(self.field_error(
                server,
                field,
                &format!("expected an object of strings, found {}", describe(value)),
            ));
        };
        object
            .iter()
            .map(|(key, value)| {
                Ok((
                    key.clone(),
                    self.string(server, &format!("{field}.{key}"), value)?,
                ))
            })
            .collect()
    }

    fn stdio(&self, name: &str, entry: &Map<String, Value>) -> Result<StdioServer, ConfigError> {
        let command = entry
            .get("command")
            .map(|value| self.string(name, "command", value))
            .transpose()?
            .unwrap_or_default();
        if command.trim().is_empty() {
            return Err(self.field_error(name, "command", "must not be empty"));
        }
        let args = match entry.get("args") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(index, item)| self.string(name, &format!("args[{index}]"), item))
                .collect::<Result<_, _>>()?,
            Some(other) => {
                return Err(self.field_error(
                    name,
                    "args",
                    &format!("expected a list of strings, found {}", describe(other)),
                ));
            }
        };
        let env = self.string_map(name, "env", entry.get("env"))?;
        let cwd = entry
            .get("cwd")
            .map(|value| self.string(name, "cwd", value))
            .transpose()?
            .map(PathBuf::from);
        Ok(StdioServer {
            command,
            args,
            env,
            cwd,
        })
    }

    fn http(&self, name: &str, entry: &Map<String, Value>) -> Result<HttpServer, ConfigError> {
        let (field, value) = match entry.get("url") {
            Some(value) => ("url", value),
            None => ("serverUrl", entry.get("serverUrl").unwrap_or(&Value::Null)),
        };
        let url = self.string(name, field, value)?;
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(self.field_error(
                name,
                field,
                &format!("\"{url}\" is not an http:// or https:// URL"),
            ));
        }
        let headers = self.string_map(name, "headers", entry.get("headers"))?;
        let (oauth, oauth_disabled) = match entry.get("oauth") {
            None | Some(Value::Null) | Some(Value::Bool(true)) => (None, false),
            Some(Value::Bool(false)) => (None, true),
            Some(Value::Object(object)) => (Some(self.oauth(name, object)?), false),
            Some(other) => {
                return Err(self.field_error(
                    name,
                    "oauth",
                    &format!(
                        "expected an object (clientId, clientSecret, grant, scopes, ...) or false, found {}",
                        describe(other)
                    ),
                ));
            }
        };
        Ok(HttpServer {
            url,
            headers,
            oauth,
            oauth_disabled,
        })
    }

    fn oauth(&self, name: &str, object: &Map<String, Value>) -> Result<OAuthClient, ConfigError> {
        let text = |key: &str| -> Result<Option<String>, ConfigError> {
            object
                .get(key)
                .map(|value| self.string(name, &format!("oauth.{key}"), value))
                .transpose()
        };
        for key in object.keys() {
            if !matches!(
                key.as_str(),
                "grant"
                    | "clientId"
                    | "clientSecret"
                    | "clientMetadataUrl"
                    | "privateKeyFile"
                    | "signingAlgorithm"
                    | "scopes"
                    | "callbackPort"
            ) {
                return Err(self.field_error(
                    name,
                    &format!("oauth.{key}"),
                    "unknown key: use grant, clientId, clientSecret, clientMetadataUrl, privateKeyFile, signingAlgorithm, scopes or callbackPort",
                ));
            }
        }
        let grant = match text("grant")?.as_deref() {
            None | Some("authorization_code") => OAuthGrant::AuthorizationCode,
            Some("client_credentials") => OAuthGrant::ClientCredentials,
            Some(other) => {
                return Err(self.field_error(
                    name,
                    "oauth.grant",
                    &format!("unknown grant \"{other}\": use \"authorization_code\" or \"client_credentials\""),
                ));
            }
        };
        let scopes = match object.get("scopes") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(index, item)| self.string(name, &format!("oauth.scopes[{index}]"), item))
                .collect::<Result<_, _>>()?,
            Some(other) => {
                return Err(self.field_error(
                    name,
                    "oauth.scopes",
                    &format!("expected a list of strings, found {}", describe(other)),
                ));
            }
        };
        let callback_port = match object.get("callbackPort") {
            None | Some(Value::Null) => None,
            Some(Value::Number(number)) => {
                match number.as_u64().and_then(|port| u16::try_from(port).ok()) {
                    Some(port) => Some(port),
                    None => {
                        return Err(self.field_error(
                            name,
                            "oauth.callbackPort",
                            "expected a port number (0 to 65535)",
                        ));
                    }
                }
            }
            Some(other) => {
                return Err(self.field_error(
                    name,
                    "oauth.callbackPort",
                    &format!("expected a port number, found {}", describe(other)),
                ));
            }
        };
        let client = OAuthClient {
            grant,
            client_id: text("clientId")?,
            client_secret: text("clientSecret")?,
            client_metadata_url: text("clientMetadataUrl")?,
            private_key_file: text("privateKeyFile")?.map(PathBuf::from),
            signing_algorithm: text("signingAlgorithm")?,
            scopes,
            callback_port,
        };
        if client.grant == OAuthGrant::ClientCredentials {
            if client.client_id.is_none() {
                return Err(self.field_error(
                    name,
                    "oauth.clientId",
                    "missing: the client_credentials grant needs the client id registered with the authorization server",
                ));
            }
            if client.client_secret.is_none() == client.private_key_file.is_none() {
                return Err(self.field_error(
                    name,
                    "oauth.clientSecret",
                    "the client_credentials grant needs exactly one of clientSecret and privateKeyFile",
                ));
            }
        }
        if client.client_secret.is_some() && client.client_id.is_none() {
            return Err(self.field_error(
                name,
                "oauth.clientSecret",
                "a clientSecret needs its clientId",
            ));
        }
        if let Some(url) = &client.client_metadata_url
            && !url.starts_with("https://")
        {
            return Err(self.field_error(
                name,
                "oauth.clientMetadataUrl",
                "must be an https:// URL (the client metadata document is fetched by the authorization server)",
            ));
        }
        Ok(client)
    }
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
#[path = "lib_tests.rs"]
mod tests;
