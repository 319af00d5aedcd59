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
    /// Personal data in tool results: detection, tokens and where real values may flow.
    #[serde(skip)]
    pub privacy: PrivacySettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            connect_timeout_ms: 30_000,
            call_timeout_ms: 60_000,
            max_concurrency_per_server: 32,
            reconnect: true,
            execution: ExecutionSettings::default(),
            privacy: PrivacySettings::default(),
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

/// `sluice.privacy`: personal data in tool results is replaced by typed tokens (`[EMAIL_1_k7qm]`)
/// before agent code sees it, and tokens in tool-call arguments are replaced by the real values
/// only where the flow rules allow.
///
/// Default flow policy: a value may go back to the server it came from (any of its tools) and
/// nowhere else, unless a rule in `flows` allows it. Rules are tried in order; the first that
/// matches decides.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct PrivacySettings {
    /// Tokenize personal data at all. Default true.
    pub enabled: bool,
    /// Which types to detect; all by default.
    pub detect: PrivacyDetect,
    /// Servers whose results are passed to agent code as they are (no detection). What the
    /// execution returns to the model is still scanned. Default none.
    pub trusted_servers: Vec<String>,
    /// Extra field names whose string values are person names (besides `name` in a person-like
    /// object, `fullName`, `firstName`, `lastName`, `first_name`, `surname`, ...).
    pub name_fields: Vec<String>,
    /// Regions (ISO 3166 alpha-2) whose national phone formats are recognised; numbers written
    /// with `+` are recognised for every country. Default `["US"]`.
    pub phone_regions: Vec<String>,
    /// Flow rules, in order.
    pub flows: Vec<FlowRuleSettings>,
}

impl Default for PrivacySettings {
    fn default() -> Self {
        Self {
            enabled: true,
            detect: PrivacyDetect::default(),
            trusted_servers: Vec::new(),
            name_fields: Vec::new(),
            phone_regions: vec!["US".to_owned()],
            flows: Vec::new(),
        }
    }
}

/// Per-type switches of `sluice.privacy.detect`. Every type defaults to true.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct PrivacyDetect {
    /// Email addresses.
    pub email: bool,
    /// Phone numbers.
    pub phone: bool,
    /// Payment card numbers.
    pub card: bool,
    /// IBANs.
    pub iban: bool,
    /// US Social Security Numbers.
    pub ssn: bool,
    /// IPv4 and IPv6 addresses.
    pub ip: bool,
    /// Person names in structured results.
    pub name: bool,
}

impl Default for PrivacyDetect {
    fn default() -> Self {
        Self {
            email: true,
            phone: true,
            card: true,
            iban: true,
            ssn: true,
            ip: true,
            name: true,
        }
    }
}

/// A type of personal data, as written in flow rules (`"email"`, `"phone"`, ...).
pub use sluice_pii::PiiType as PiiKind;

/// One rule of `sluice.privacy.flows`: `{"types"?: [...], "from": ..., "to": ..., "allow": bool}`.
/// `from` and `to` are `"server"`, `"server.tool"` or `"*"`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FlowRuleSettings {
    /// The types it applies to; every type when absent.
    #[serde(default)]
    pub types: Option<Vec<PiiKind>>,
    /// Where the value was seen.
    pub from: String,
    /// Where it is going.
    pub to: String,
    /// Allow or deny.
    pub allow: bool,
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
    let privacy = match rest.remove("privacy") {
        Some(value) => parse_privacy(value)?,
        None => PrivacySettings::default(),
    };
    let mut settings = serde_json::from_value::<Settings>(Value::Object(rest))
        .map_err(|error| (String::new(), error.to_string()))?;
    settings.execution = execution;
    settings.privacy = privacy;
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

/// Parse `sluice.privacy`, naming the flow rule at fault.
fn parse_privacy(value: Value) -> Result<PrivacySettings, (String, String)> {
    let Value::Object(mut object) = value else {
        return Err(("privacy".to_owned(), "expected an object".to_owned()));
    };
    let flows = match object.remove("flows") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(rules)) => rules
            .into_iter()
            .enumerate()
            .map(|(index, rule)| {
                serde_json::from_value::<FlowRuleSettings>(rule)
                    .map_err(|error| (format!("privacy.flows[{index}]"), error.to_string()))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err((
                "privacy.flows".to_owned(),
                "expected a list of rules {\"from\", \"to\", \"allow\", \"types\"?}".to_owned(),
            ));
        }
    };
    let mut privacy = serde_json::from_value::<PrivacySettings>(Value::Object(object))
        .map_err(|error| ("privacy".to_owned(), error.to_string()))?;
    privacy.flows = flows;
    for (index, rule) in privacy.flows.iter().enumerate() {
        for (field, endpoint) in [("from", &rule.from), ("to", &rule.to)] {
            if endpoint.trim().is_empty() {
                return Err((
                    format!("privacy.flows[{index}].{field}"),
                    "must be \"server\", \"server.tool\" or \"*\"".to_owned(),
                ));
            }
        }
    }
    for (index, region) in privacy.phone_regions.iter().enumerate() {
        if region.len() != 2 || !region.bytes().all(|byte| byte.is_ascii_alphabetic()) {
            return Err((
                format!("privacy.phoneRegions[{index}]"),
                format!("\"{region}\" is not a two-letter region code such as \"US\" or \"GB\""),
            ));
        }
    }
    Ok(privacy)
}
