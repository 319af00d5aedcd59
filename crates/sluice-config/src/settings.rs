//! Sluice's own settings: the optional `sluice` section of the config file.

use serde::Deserialize;
use serde_json::Value;

/// Gateway-wide settings. Every field has a default; see each for its value.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Settings {
    /// How long one server may take to start and answer `initialize` and `tools/list`. Default 30 s:
    /// real servers were seen taking up to 4.3 s, and `npx` may first unpack a package.
    pub connect_timeout_ms: u64,
    /// Deadline of one downstream `tools/call`, queueing included. Default 60 s.
    pub call_timeout_ms: u64,
    /// Tool calls in flight to one server at once; more wait in a queue. Default 32.
    pub max_concurrency_per_server: usize,
    /// Restart a stdio server that crashed, with backoff. Default true.
    pub reconnect: bool,
    /// Limits of one code execution.
    #[serde(skip)]
    pub execution: ExecutionSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            connect_timeout_ms: 30_000,
            call_timeout_ms: 60_000,
            max_concurrency_per_server: 32,
            reconnect: true,
            execution: ExecutionSettings::default(),
        }
    }
}

/// Limits of one `execute_code` run.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct ExecutionSettings {
    /// Default wall time of an execution. Default 30 s.
    pub timeout_ms: u64,
    /// Largest `timeout_ms` an agent may ask for. Default 5 minutes.
    pub max_timeout_ms: u64,
    /// Memory of the JS heap. Default 256 MiB.
    pub memory_mb: u64,
    /// Console output returned to the agent, in bytes; the rest is cut with a notice. Default 16 KiB.
    pub output_bytes: u64,
    /// Tool calls one execution may make. Default 1,000.
    pub tool_calls: u64,
}

impl Default for ExecutionSettings {
    fn default() -> Self {
        Self {
            timeout_ms: 30_000,
            max_timeout_ms: 300_000,
            memory_mb: 256,
            output_bytes: 16 * 1024,
            tool_calls: 1_000,
        }
    }
}

/// Parse the `sluice` section. The error is `(field path below "sluice", message)`.
pub(crate) fn parse(section: &Value) -> Result<Settings, (String, String)> {
    let Value::Object(object) = section else {
        return Err((String::new(), "expected an object".to_owned()));
    };
    let mut rest = object.clone();
    let execution = match rest.remove("execution") {
        Some(value) => serde_json::from_value::<ExecutionSettings>(value)
            .map_err(|error| ("execution".to_owned(), error.to_string()))?,
        None => ExecutionSettings::default(),
    };
    let mut settings = serde_json::from_value::<Settings>(Value::Object(rest))
        .map_err(|error| (String::new(), error.to_string()))?;
    settings.execution = execution;
    if settings.max_concurrency_per_server == 0 {
        return Err((
            "maxConcurrencyPerServer".to_owned(),
            "must be at least 1".to_owned(),
        ));
    }
    if settings.execution.timeout_ms == 0
        || settings.execution.timeout_ms > settings.execution.max_timeout_ms
    {
        return Err((
            "execution.timeoutMs".to_owned(),
            "must be at least 1 and at most execution.maxTimeoutMs".to_owned(),
        ));
    }
    Ok(settings)
}
