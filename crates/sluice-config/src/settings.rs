//! Sluice's own settings: the optional `sluice` section of the config file.

use serde::Deserialize;
use serde_json::Value;

/// Gateway-wide settings. Every field has a default; see each for its value. (`PartialEq` only:
/// rates are floating-point numbers.)
#[derive(Debug, Clone, PartialEq, Deserialize)]
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
    /// Sessions: executions that keep their JavaScript state.
    #[serde(skip)]
    pub sessions: SessionSettings,
    /// Worker processes started ahead of demand, and reused by one client.
    #[serde(skip)]
    pub workers: WorkerSettings,
    /// Search: how long the sentence encoder stays in memory without a search.
    #[serde(skip)]
    pub search: SearchSettings,
    /// Limits per client connection and rates per downstream server.
    #[serde(skip)]
    pub limits: LimitSettings,
    /// The audit log under the data folder.
    #[serde(skip)]
    pub audit: AuditSettings,
    /// `sluice.skills`: whether agents may save skills.
    pub skills: SkillSettings,
    /// `sluice.http`: the Streamable HTTP endpoint of `sluice serve --http`.
    #[serde(skip)]
    pub http: crate::http::HttpSettings,
    /// `sluice.tools`: which tools agent code may see and call (see [`sluice_policy`]). Read
    /// with the server names, in [`crate::parse`].
    #[serde(skip)]
    pub tools: sluice_policy::ToolPolicy,
    /// `sluice.pinning`: tool definitions pinned the first time they are seen, and changed ones
    /// held back until a person accepts them.
    pub pinning: PinningSettings,
    /// `sluice.direct`: tools offered to the agent as ordinary MCP tools beside Sluice's own.
    /// Read with the server names, in [`crate::parse`].
    #[serde(skip)]
    pub direct: Vec<DirectTool>,
    /// `sluice.telemetry`: OpenTelemetry traces (off by default).
    #[serde(skip)]
    pub telemetry: crate::telemetry::TelemetrySettings,
}

/// `sluice.pinning`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct PinningSettings {
    /// Pin tool definitions at all (in the data folder's `pins/`). Default true.
    pub enabled: bool,
    /// Servers whose tools may change freely: never held back. Default none.
    pub change_freely: Vec<String>,
}

impl Default for PinningSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            change_freely: Vec::new(),
        }
    }
}

impl PinningSettings {
    /// Whether `server`'s tool definitions are pinned.
    pub fn pins(&self, server: &str) -> bool {
        self.enabled && !self.change_freely.iter().any(|free| free == server)
    }
}

/// One entry of `sluice.direct`: a tool offered as an ordinary MCP tool.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DirectTool {
    /// The server (its identifier).
    pub server: String,
    /// The tool's name in the server's `tools/list`.
    pub tool: String,
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
            sessions: SessionSettings::default(),
            workers: WorkerSettings::default(),
            search: SearchSettings::default(),
            limits: LimitSettings::default(),
            audit: AuditSettings::default(),
            skills: SkillSettings::default(),
            http: crate::http::HttpSettings::default(),
            tools: sluice_policy::ToolPolicy::allow_all(),
            pinning: PinningSettings::default(),
            direct: Vec::new(),
            telemetry: crate::telemetry::TelemetrySettings::default(),
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
    /// Size quota of the workspace folder (`./workspace/` in agent code), in MiB. Default 100.
    /// It is also the largest single file a worker may write.
    pub workspace_mb: u64,
    /// How long the worker polls for a tool result, and the gateway for the worker's next call
    /// after a result, before sleeping, in microseconds; only while the other side has been
    /// answering that fast. Waking a sleeping thread can cost tens of microseconds per call on
    /// a virtual machine; polling costs that much CPU at most per wait. 0 turns it off.
    /// Default 250.
    pub spin_micros: u64,
}

/// The largest `execution.spinMicros` accepted: 10 ms.
pub const MAX_SPIN_MICROS: u64 = 10_000;

impl ExecutionSettings {
    /// [`ExecutionSettings::spin_micros`] as a duration.
    pub fn spin(&self) -> std::time::Duration {
        std::time::Duration::from_micros(self.spin_micros)
    }
}

impl Default for ExecutionSettings {
    fn default() -> Self {
        use sluice_worker_protocol::defaults;
        Self {
            timeout_ms: defaults::TIMEOUT_MS,
            max_timeout_ms: defaults::MAX_TIMEOUT_MS,
            memory_mb: defaults::MEMORY_MB,
            output_bytes: defaults::OUTPUT_BYTES,
            tool_calls: defaults::TOOL_CALLS,
            workspace_mb: defaults::WORKSPACE_MB,
            spin_micros: defaults::SPIN_MICROS,
        }
    }
}

/// `sluice.sessions`: an `execute_code` call with a `session` id runs in that session's worker,
/// whose JavaScript globals persist from one execution to the next.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct SessionSettings {
    /// A session nobody used for this long is ended and its worker stopped. Default 15 minutes.
    pub idle_timeout_ms: u64,
    /// Sessions one client connection may hold at once; opening one more ends the least recently
    /// used. Default 8.
    pub max_sessions: usize,
    /// Executions one session may run; the next one ends the session. Default 1,000.
    pub max_executions: u64,
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            idle_timeout_ms: 15 * 60 * 1000,
            max_sessions: 8,
            max_executions: 1_000,
        }
    }
}

/// `sluice.workers`: confined worker processes started before they are needed, so an execution
/// does not wait for one to start, and kept by the client they served for its next executions.
///
/// The isolation rule: a warm worker has run no code when an execution takes it. After an
/// execution outside a session, the worker may serve more executions of the same client
/// connection, each in a brand-new JavaScript runtime (nothing of the previous one survives:
/// globals, prototypes, modules, timers); it never serves another client. A session's worker
/// serves that session only.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct WorkerSettings {
    /// Workers kept started and confined, ready for any client's next execution. Each holds
    /// about 2 MB of its own memory while it waits (the rest is the shared binary). Default 2;
    /// 0 starts every worker on demand.
    pub warm: usize,
    /// With no execution for this long, the warm workers are stopped; the next execution starts
    /// them again. Default 5 minutes.
    pub idle_timeout_ms: u64,
    /// Workers one client connection keeps between its executions, to run the next ones without
    /// starting a process. Default 4, the executions a client may run at once
    /// (`limits.concurrentExecutions`); 0: a new worker for every execution.
    pub reuse_per_client: usize,
    /// Executions one worker serves before it is replaced. Default 1,000.
    pub max_executions: u64,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            warm: 2,
            idle_timeout_ms: 5 * 60 * 1000,
            reuse_per_client: 4,
            max_executions: 1_000,
        }
    }
}

/// `sluice.search`: the sentence encoder search ranks with.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct SearchSettings {
    /// With no search for this long, the encoder's weights (about 23 MB) are let go; the next
    /// search loads them again, which adds about a tenth of a second to it. Default 10 minutes;
    /// 0 keeps them loaded.
    pub encoder_idle_ms: u64,
}

impl Default for SearchSettings {
    fn default() -> Self {
        Self {
            encoder_idle_ms: 10 * 60 * 1000,
        }
    }
}

/// `sluice.limits`: what one client connection may run, and how fast agent code may call each
/// downstream server.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct LimitSettings {
    /// Executions of one client connection running at the same time; one more is refused with a
    /// `ConcurrencyLimit` error. Default 4.
    pub concurrent_executions: usize,
    /// Executions one client connection may run in its lifetime; past it they are refused with an
    /// `ExecutionLimit` error. Default 100,000.
    pub executions_per_client: u64,
    /// Tool calls per second agent code may make to each server, by server name; `"*"` applies
    /// to servers not named. A call over the rate fails at once with a retryable `ToolError` of
    /// kind `rate_limited`. Bursts of up to one second's worth are allowed. Default: no rate limit.
    pub calls_per_second: std::collections::BTreeMap<String, f64>,
    /// What one principal of `sluice serve --http` (a token's subject, or an API token's name)
    /// may run across all of its connections.
    pub per_principal: PrincipalLimitSettings,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            concurrent_executions: 4,
            executions_per_client: 100_000,
            calls_per_second: std::collections::BTreeMap::new(),
            per_principal: PrincipalLimitSettings::default(),
        }
    }
}

/// `sluice.limits.perPrincipal`: what one principal may run over HTTP, all its connections
/// together. 0 turns a limit off. A refusal says when to retry: HTTP 429 with `Retry-After` when
/// the front sees it before the request runs, else a typed error the agent reads.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct PrincipalLimitSettings {
    /// Executions running at the same time. Default 8.
    pub concurrent_executions: usize,
    /// Executions started per minute (bursts of up to a minute's worth). Default 600.
    pub executions_per_minute: u32,
    /// Tool calls agent code makes per minute (bursts of up to a minute's worth). Default 6,000.
    pub tool_calls_per_minute: u32,
}

impl Default for PrincipalLimitSettings {
    fn default() -> Self {
        Self {
            concurrent_executions: 8,
            executions_per_minute: 600,
            tool_calls_per_minute: 6_000,
        }
    }
}

impl LimitSettings {
    /// The rate limit of `server` in calls per second, if any.
    pub fn rate_for(&self, server: &str) -> Option<f64> {
        self.calls_per_second
            .get(server)
            .or_else(|| self.calls_per_second.get("*"))
            .copied()
            .filter(|rate| *rate > 0.0)
    }
}

/// `sluice.skills`: code agents save for later executions (`save_skill`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct SkillSettings {
    /// Offer `save_skill` at all. A saved skill's code runs in every later execution that imports
    /// it, and its description is shown by `search_tools`: a channel from one conversation to the
    /// next. Default true.
    pub allow_save: bool,
}

impl Default for SkillSettings {
    fn default() -> Self {
        Self { allow_save: true }
    }
}

/// `sluice.audit`: the append-only JSON Lines log under `<data dir>/audit/`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct AuditSettings {
    /// Write the audit log at all. Default true.
    pub enabled: bool,
    /// The log is rotated when it would grow past this many MiB. Default 16.
    pub max_file_mb: u64,
    /// Rotated files kept (`audit.1.jsonl` ...). Default 5.
    pub keep_files: usize,
    /// Rotated files holding records younger than this many days are kept even past
    /// `keepFiles`, so that a flood of records cannot push recent ones out. 0 keeps exactly
    /// `keepFiles`. Default 7.
    pub retain_days: u64,
    /// All the log's files together stay under this many MiB; reaching it deletes records younger
    /// than `retainDays` too, with a notice record and a warning. Default 1024.
    pub max_total_mb: u64,
    /// Audit bytes one execution may write one record at a time (its execution record aside);
    /// past them, its further tool calls are counted in one notice record. Default 256 KiB.
    pub execution_budget_kb: u64,
}

impl Default for AuditSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            max_file_mb: 16,
            keep_files: 5,
            retain_days: 7,
            max_total_mb: 1024,
            execution_budget_kb: 256,
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
    /// Regions (ISO 3166 alpha-2) whose national phone formats are recognised without context
    /// (bare digits included). Every other region's numbers are recognised too when written with
    /// `+` or `00`, grouped the way phone numbers are written and starting with the trunk 0, after
    /// a phone label (`Tel:`), or in a phone field. Default `["US"]`.
    pub phone_regions: Vec<String>,
    /// Tokenize loopback, private, link-local and unique-local addresses too (`127.0.0.1`,
    /// `10.x`, `192.168.x`, `172.16-31.x`, `169.254.x`, `::1`, `fe80::/10`, `fc00::/7`). They
    /// identify no one outside their network, so by default they stay readable. Default false.
    pub private_ips: bool,
    /// Flow rules, in order.
    pub flows: Vec<FlowRuleSettings>,
    /// Distinct personal-data values agent code may put in clear text into tool-call arguments
    /// per execution (or session); a call that would pass it fails. It bounds guessing at
    /// tokenized values through tools. Values of trusted servers' results do not count.
    /// Default 256.
    pub max_clear_values: usize,
}

impl Default for PrivacySettings {
    fn default() -> Self {
        Self {
            enabled: true,
            detect: PrivacyDetect::default(),
            trusted_servers: Vec::new(),
            name_fields: Vec::new(),
            phone_regions: vec!["US".to_owned()],
            private_ips: false,
            flows: Vec::new(),
            max_clear_values: 256,
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
    let execution = parse_section::<ExecutionSettings>(&mut rest, "execution")?;
    let privacy = match rest.remove("privacy") {
        Some(value) => parse_privacy(value)?,
        None => PrivacySettings::default(),
    };
    let sessions = parse_section::<SessionSettings>(&mut rest, "sessions")?;
    let workers = parse_section::<WorkerSettings>(&mut rest, "workers")?;
    let search = parse_section::<SearchSettings>(&mut rest, "search")?;
    let limits = parse_section::<LimitSettings>(&mut rest, "limits")?;
    let audit = parse_section::<AuditSettings>(&mut rest, "audit")?;
    let http = match rest.remove("http") {
        Some(value) => crate::http::parse(value)?,
        None => crate::http::HttpSettings::default(),
    };
    let telemetry = match rest.remove("telemetry") {
        Some(value) => crate::telemetry::parse(value)?,
        None => crate::telemetry::TelemetrySettings::default(),
    };
    let mut settings = serde_json::from_value::<Settings>(Value::Object(rest))
        .map_err(|error| (String::new(), error.to_string()))?;
    settings.execution = execution;
    settings.privacy = privacy;
    settings.sessions = sessions;
    settings.workers = workers;
    settings.search = search;
    settings.limits = limits;
    settings.audit = audit;
    settings.http = http;
    settings.telemetry = telemetry;
    for (field, value) in [
        ("sessions.maxSessions", settings.sessions.max_sessions),
        (
            "limits.concurrentExecutions",
            settings.limits.concurrent_executions,
        ),
        ("audit.keepFiles", settings.audit.keep_files),
        (
            "workers.maxExecutions",
            usize::try_from(settings.workers.max_executions).unwrap_or(usize::MAX),
        ),
    ] {
        if value == 0 {
            return Err((field.to_owned(), "must be at least 1".to_owned()));
        }
    }
    for (server, rate) in &settings.limits.calls_per_second {
        if !rate.is_finite() || *rate < 0.0 {
            return Err((
                format!("limits.callsPerSecond.{server}"),
                "must be a number of calls per second, 0 for no limit".to_owned(),
            ));
        }
    }
    if settings.execution.spin_micros > MAX_SPIN_MICROS {
        return Err((
            "execution.spinMicros".to_owned(),
            format!(
                "must be at most {MAX_SPIN_MICROS} (polling longer than that only burns CPU; a \
                 sleeping thread wakes within a fraction of it)"
            ),
        ));
    }
    if settings.execution.workspace_mb == 0 {
        return Err((
            "execution.workspaceMb".to_owned(),
            "must be at least 1".to_owned(),
        ));
    }
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

/// Take the sub-section `name` out of `rest` and parse it; its default when absent.
fn parse_section<T: serde::de::DeserializeOwned + Default>(
    rest: &mut serde_json::Map<String, Value>,
    name: &str,
) -> Result<T, (String, String)> {
    match rest.remove(name) {
        Some(value) => {
            serde_json::from_value::<T>(value).map_err(|error| (name.to_owned(), error.to_string()))
        }
        None => Ok(T::default()),
    }
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
