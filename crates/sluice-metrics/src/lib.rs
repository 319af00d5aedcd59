//! The gateway's metrics, served in the Prometheus text format at `/metrics`
//! (`sluice serve --metrics ADDR`).
//!
//! A typed API: every label is an enum of this crate or of the protocol's vocabulary
//! (`Language`, `ErrorKind`, `ToolErrorKind`, `Limit`, `PiiType`), and a server is one of the
//! servers the gateway was configured with (any other name counts as `other`), so no label can
//! take an unbounded set of values from what agent code or a server sends.
//!
//! Recording costs a few atomic operations: each labelled series is created at its first use
//! and kept in a slot (`OnceLock`) indexed by its labels, so later records take no lock and look
//! nothing up by text but the server name, in a map built once. Gauges that describe the
//! gateway's state (servers, warm workers) are set when `/metrics` is read, from [`Gauges`].
//! A gateway without `--metrics` has no [`Metrics`] at all and records nothing.
//!
//! The text is written by the `prometheus` crate's encoder (format 0.0.4, which
//! `promtool check metrics` reads).

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};
use sluice_pii::PiiType;
use sluice_worker_protocol::{ErrorKind, Language, Limit, SessionEvent, ToolErrorKind};

/// The content type of [`Metrics::encode`]'s text.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The label value of a server that is not one of the configured ones, or of a word this build
/// does not know.
const OTHER: &str = "other";

const LANGUAGES: [Language; 3] = [Language::Typescript, Language::Javascript, Language::Python];

/// How an execution ended, as the `outcome` label says it: `ok`, or its error kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutionOutcome<'a> {
    /// It ran to the end.
    Ok,
    /// It failed this way.
    Error(&'a ErrorKind),
}

impl ExecutionOutcome<'_> {
    /// Slot 0 is `ok`; then each known error kind; last, `other`.
    fn index(self) -> usize {
        match self {
            ExecutionOutcome::Ok => 0,
            ExecutionOutcome::Error(kind) => 1 + known_index(ErrorKind::KNOWN, kind),
        }
    }

    fn label(index: usize) -> &'static str {
        match index {
            0 => "ok",
            _ => known_label(ErrorKind::KNOWN, index - 1),
        }
    }

    const SLOTS: usize = ErrorKind::KNOWN.len() + 2;
}

/// How a tool call ended, as the `outcome` label says it: `ok`, or its `ToolError`'s kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallOutcome<'a> {
    /// The tool answered without an error.
    Ok,
    /// The call failed this way.
    Failed(&'a ToolErrorKind),
}

impl CallOutcome<'_> {
    fn index(self) -> usize {
        match self {
            CallOutcome::Ok => 0,
            CallOutcome::Failed(kind) => 1 + known_index(ToolErrorKind::KNOWN, kind),
        }
    }

    fn label(index: usize) -> &'static str {
        match index {
            0 => "ok",
            _ => known_label(ToolErrorKind::KNOWN, index - 1),
        }
    }

    const SLOTS: usize = ToolErrorKind::KNOWN.len() + 2;

    /// The policy that refused the call, if one did.
    fn denial(self) -> Option<PolicyDenial> {
        match self {
            CallOutcome::Failed(ToolErrorKind::Denied) => Some(PolicyDenial::ToolDenied),
            CallOutcome::Failed(ToolErrorKind::ApprovalRequired) => {
                Some(PolicyDenial::ApprovalRequired)
            }
            CallOutcome::Failed(ToolErrorKind::ApprovalDenied) => {
                Some(PolicyDenial::ApprovalDenied)
            }
            CallOutcome::Failed(ToolErrorKind::PolicyDenied) => Some(PolicyDenial::PrivacyFlow),
            CallOutcome::Failed(ToolErrorKind::PrivacyBudget) => Some(PolicyDenial::PrivacyBudget),
            _ => None,
        }
    }
}

/// Why a policy refused a tool call: the `reason` label of `sluice_policy_denials_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyDenial {
    /// The tool policy (`sluice.tools`) denies the tool.
    ToolDenied,
    /// The tool needs a person's approval and none could be asked for.
    ApprovalRequired,
    /// The person declined (or did not answer).
    ApprovalDenied,
    /// The privacy flow policy refused to send personal data there.
    PrivacyFlow,
    /// Over the execution's budget of personal-data values in clear.
    PrivacyBudget,
}

impl PolicyDenial {
    const ALL: [PolicyDenial; 5] = [
        PolicyDenial::ToolDenied,
        PolicyDenial::ApprovalRequired,
        PolicyDenial::ApprovalDenied,
        PolicyDenial::PrivacyFlow,
        PolicyDenial::PrivacyBudget,
    ];

    /// The label value: the word of the `ToolError` kind the call failed with (`denied`,
    /// `approval_required`, `approval_denied`, `policy_denied`, `privacy_budget`).
    pub fn as_str(self) -> &'static str {
        let kind = match self {
            PolicyDenial::ToolDenied => ToolErrorKind::Denied,
            PolicyDenial::ApprovalRequired => ToolErrorKind::ApprovalRequired,
            PolicyDenial::ApprovalDenied => ToolErrorKind::ApprovalDenied,
            PolicyDenial::PrivacyFlow => ToolErrorKind::PolicyDenied,
            PolicyDenial::PrivacyBudget => ToolErrorKind::PrivacyBudget,
        };
        known_label(
            ToolErrorKind::KNOWN,
            known_index(ToolErrorKind::KNOWN, &kind),
        )
    }
}

/// A downstream server's state, as the `state` label of `sluice_downstream_server_state` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerStateLabel {
    /// Starting or handshaking.
    Connecting,
    /// Connected, tools listed.
    Ready,
    /// Needs `sluice auth login`.
    NeedsLogin,
    /// Not usable.
    Down,
}

impl ServerStateLabel {
    /// Every state, in the order the gauge lists them.
    pub const ALL: [ServerStateLabel; 4] = [
        ServerStateLabel::Connecting,
        ServerStateLabel::Ready,
        ServerStateLabel::NeedsLogin,
        ServerStateLabel::Down,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            ServerStateLabel::Connecting => "connecting",
            ServerStateLabel::Ready => "ready",
            ServerStateLabel::NeedsLogin => "needs_login",
            ServerStateLabel::Down => "down",
        }
    }
}

/// One downstream server, for the gauges.
#[derive(Debug, Clone)]
pub struct ServerGauge<'a> {
    /// Its name in the config.
    pub name: &'a str,
    /// Its state now.
    pub state: ServerStateLabel,
    /// Tools it lists (after the tool policy).
    pub tools: u64,
}

/// The gateway's state when `/metrics` is read.
#[derive(Debug, Clone, Default)]
pub struct Gauges<'a> {
    /// Workers waiting warm.
    pub warm_workers: u64,
    /// Every configured server.
    pub servers: Vec<ServerGauge<'a>>,
}

/// Index of `word` in `known`, or `known.len()` (`other`) for a word this build does not know.
fn known_index<T: PartialEq>(known: &[T], word: &T) -> usize {
    known
        .iter()
        .position(|candidate| candidate == word)
        .unwrap_or(known.len())
}

trait Word {
    fn word(&self) -> &str;
}
impl Word for ErrorKind {
    fn word(&self) -> &str {
        self.as_str()
    }
}
impl Word for ToolErrorKind {
    fn word(&self) -> &str {
        self.as_str()
    }
}
impl Word for Limit {
    fn word(&self) -> &str {
        self.as_str()
    }
}

fn known_label<T: Word>(known: &'static [T], index: usize) -> &'static str {
    known.get(index).map_or(OTHER, |word| word.word())
}

/// Series created at first use, one slot per combination of labels.
struct Slots<M> {
    slots: Box<[OnceLock<M>]>,
}

impl<M: Clone> Slots<M> {
    fn new(count: usize) -> Slots<M> {
        Slots {
            slots: (0..count).map(|_| OnceLock::new()).collect(),
        }
    }

    /// The series of slot `index`, made by `make` the first time (`None` only if `make` failed,
    /// which a wrong label count would; the labels are this crate's own).
    fn get(&self, index: usize, make: impl FnOnce() -> Option<M>) -> Option<&M> {
        let slot = self.slots.get(index)?;
        if let Some(metric) = slot.get() {
            return Some(metric);
        }
        let metric = make()?;
        Some(slot.get_or_init(|| metric))
    }
}

/// The gateway's metrics. One per gateway, shared by reference.
pub struct Metrics {
    registry: Registry,
    /// Configured server names and their index; the index `servers.len()` is `other`.
    servers: HashMap<Box<str>, usize>,
    server_names: Box<[Box<str>]>,

    executions: IntCounterVec,
    execution_slots: Slots<IntCounter>,
    execution_seconds: HistogramVec,
    execution_seconds_slots: Slots<Histogram>,
    tool_calls: IntCounterVec,
    tool_call_slots: Slots<IntCounter>,
    tool_call_seconds: HistogramVec,
    tool_call_seconds_slots: Slots<Histogram>,
    worker_start_seconds: Histogram,
    worker_start_failures: IntCounter,
    limits: IntCounterVec,
    limit_slots: Slots<IntCounter>,
    denials: IntCounterVec,
    denial_slots: Slots<IntCounter>,
    releases: IntCounterVec,
    release_slots: Slots<IntCounter>,
    tokens_returned: IntCounter,
    tokens_direct: IntCounter,
    sessions: IntGauge,
    warm_workers: IntGauge,
    server_state: IntGaugeVec,
    server_tools: IntGaugeVec,
}

/// Durations of executions, in seconds: 5 ms to 5 minutes.
const EXECUTION_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];
/// Durations of tool calls, in seconds: 100 µs to 2 minutes.
const CALL_BUCKETS: [f64; 15] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0, 30.0,
    120.0,
];
/// Worker start-ups, in seconds: 1 ms to 10 s.
const WORKER_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// Why the metrics could not be set up (a bug: the names and labels are this crate's own).
#[derive(Debug, thiserror::Error)]
#[error("could not set up the metrics: {0}")]
pub struct MetricsError(#[from] prometheus::Error);

impl Metrics {
    /// Metrics of a gateway configured with these servers.
    pub fn new<'a>(servers: impl IntoIterator<Item = &'a str>) -> Result<Metrics, MetricsError> {
        let server_names: Box<[Box<str>]> = servers.into_iter().map(Box::from).collect();
        let servers = server_names
            .iter()
            .enumerate()
            .map(|(index, name)| (name.clone(), index))
            .collect();
        let registry = Registry::new();
        let counter_vec = |name: &str, help: &str, labels: &[&str]| {
            let vec = IntCounterVec::new(Opts::new(name, help), labels)?;
            registry.register(Box::new(vec.clone()))?;
            Ok::<_, prometheus::Error>(vec)
        };
        let histogram_vec = |name: &str, help: &str, labels: &[&str], buckets: &[f64]| {
            let vec = HistogramVec::new(
                HistogramOpts::new(name, help).buckets(buckets.to_vec()),
                labels,
            )?;
            registry.register(Box::new(vec.clone()))?;
            Ok::<_, prometheus::Error>(vec)
        };
        let counter = |name: &str, help: &str| {
            let counter = IntCounter::new(name, help)?;
            registry.register(Box::new(counter.clone()))?;
            Ok::<_, prometheus::Error>(counter)
        };
        let gauge = |name: &str, help: &str| {
            let gauge = IntGauge::new(name, help)?;
            registry.register(Box::new(gauge.clone()))?;
            Ok::<_, prometheus::Error>(gauge)
        };
        let gauge_vec = |name: &str, help: &str, labels: &[&str]| {
            let vec = IntGaugeVec::new(Opts::new(name, help), labels)?;
            registry.register(Box::new(vec.clone()))?;
            Ok::<_, prometheus::Error>(vec)
        };
        let server_slots = server_names.len() + 1;
        let worker_start_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "sluice_worker_start_seconds",
                "Time from spawning a worker process to its Ready (confined).",
            )
            .buckets(WORKER_BUCKETS.to_vec()),
        )?;
        registry.register(Box::new(worker_start_seconds.clone()))?;
        Ok(Metrics {
            executions: counter_vec(
                "sluice_executions_total",
                "Executions of agent code, by language and outcome (ok or the error kind).",
                &["language", "outcome"],
            )?,
            execution_slots: Slots::new(LANGUAGES.len() * ExecutionOutcome::SLOTS),
            execution_seconds: histogram_vec(
                "sluice_execution_duration_seconds",
                "Wall time of executions, by language.",
                &["language"],
                &EXECUTION_BUCKETS,
            )?,
            execution_seconds_slots: Slots::new(LANGUAGES.len()),
            tool_calls: counter_vec(
                "sluice_tool_calls_total",
                "Tool calls from agent code, by server and outcome (ok or the ToolError kind).",
                &["server", "outcome"],
            )?,
            tool_call_slots: Slots::new(server_slots * CallOutcome::SLOTS),
            tool_call_seconds: histogram_vec(
                "sluice_tool_call_duration_seconds",
                "Duration of tool calls as the gateway served them, by server.",
                &["server"],
                &CALL_BUCKETS,
            )?,
            tool_call_seconds_slots: Slots::new(server_slots),
            worker_start_seconds,
            worker_start_failures: counter(
                "sluice_worker_start_failures_total",
                "Worker processes that could not start.",
            )?,
            limits: counter_vec(
                "sluice_limits_hit_total",
                "Limits executions ran into, by kind.",
                &["limit"],
            )?,
            limit_slots: Slots::new(Limit::KNOWN.len() + 1),
            denials: counter_vec(
                "sluice_policy_denials_total",
                "Tool calls a policy refused (tool policy, approvals, privacy flows), by reason.",
                &["reason"],
            )?,
            denial_slots: Slots::new(PolicyDenial::ALL.len()),
            releases: counter_vec(
                "sluice_pii_releases_total",
                "Personal-data values released into tool-call arguments, by type.",
                &["type"],
            )?,
            release_slots: Slots::new(PiiType::ALL.len()),
            tokens_returned: counter(
                "sluice_tokens_returned_total",
                "o200k tokens of what executions returned to the agent.",
            )?,
            tokens_direct: counter(
                "sluice_tokens_direct_estimate_total",
                "o200k tokens the same tool calls would have put in the agent's context without code mode (estimate).",
            )?,
            sessions: gauge("sluice_sessions", "Sessions open now.")?,
            warm_workers: gauge("sluice_workers_warm", "Workers waiting warm now.")?,
            server_state: gauge_vec(
                "sluice_downstream_server_state",
                "1 for each downstream server's current state.",
                &["server", "state"],
            )?,
            server_tools: gauge_vec(
                "sluice_downstream_tools",
                "Tools each downstream server lists (after the tool policy).",
                &["server"],
            )?,
            registry,
            servers,
            server_names,
        })
    }

    fn server_index(&self, server: &str) -> usize {
        self.servers
            .get(server)
            .copied()
            .unwrap_or(self.server_names.len())
    }

    fn server_label(&self, index: usize) -> &str {
        self.server_names.get(index).map_or(OTHER, |name| name)
    }

    /// One execution ended (or was refused): its outcome, wall time, the limits it hit and the
    /// tokens it returned against the direct estimate.
    pub fn execution(
        &self,
        language: Language,
        outcome: ExecutionOutcome<'_>,
        duration: Duration,
        limits_hit: &[Limit],
        tokens_returned: u64,
        tokens_direct: u64,
    ) {
        let language_index = LANGUAGES
            .iter()
            .position(|known| *known == language)
            .unwrap_or(0);
        let outcome_index = outcome.index();
        let slot = language_index * ExecutionOutcome::SLOTS + outcome_index;
        if let Some(counter) = self.execution_slots.get(slot, || {
            self.executions
                .get_metric_with_label_values(&[
                    language.as_str(),
                    ExecutionOutcome::label(outcome_index),
                ])
                .ok()
        }) {
            counter.inc();
        }
        if let Some(histogram) = self.execution_seconds_slots.get(language_index, || {
            self.execution_seconds
                .get_metric_with_label_values(&[language.as_str()])
                .ok()
        }) {
            histogram.observe(duration.as_secs_f64());
        }
        for limit in limits_hit {
            let index = known_index(Limit::KNOWN, limit);
            if let Some(counter) = self.limit_slots.get(index, || {
                self.limits
                    .get_metric_with_label_values(&[known_label(Limit::KNOWN, index)])
                    .ok()
            }) {
                counter.inc();
            }
        }
        self.tokens_returned.inc_by(tokens_returned);
        self.tokens_direct.inc_by(tokens_direct);
    }

    /// One tool call ended.
    pub fn tool_call(&self, server: &str, outcome: CallOutcome<'_>, duration: Duration) {
        let server_index = self.server_index(server);
        let outcome_index = outcome.index();
        let slot = server_index * CallOutcome::SLOTS + outcome_index;
        if let Some(counter) = self.tool_call_slots.get(slot, || {
            self.tool_calls
                .get_metric_with_label_values(&[
                    self.server_label(server_index),
                    CallOutcome::label(outcome_index),
                ])
                .ok()
        }) {
            counter.inc();
        }
        if let Some(histogram) = self.tool_call_seconds_slots.get(server_index, || {
            self.tool_call_seconds
                .get_metric_with_label_values(&[self.server_label(server_index)])
                .ok()
        }) {
            histogram.observe(duration.as_secs_f64());
        }
        if let Some(denial) = outcome.denial() {
            let index = PolicyDenial::ALL
                .iter()
                .position(|known| *known == denial)
                .unwrap_or(0);
            if let Some(counter) = self.denial_slots.get(index, || {
                self.denials
                    .get_metric_with_label_values(&[denial.as_str()])
                    .ok()
            }) {
                counter.inc();
            }
        }
    }

    /// One personal-data value was released into a tool call's arguments.
    pub fn release(&self, kind: PiiType) {
        let index = PiiType::ALL
            .iter()
            .position(|known| *known == kind)
            .unwrap_or(0);
        if let Some(counter) = self.release_slots.get(index, || {
            self.releases
                .get_metric_with_label_values(&[kind.name()])
                .ok()
        }) {
            counter.inc();
        }
    }

    /// A worker process started (`Ok` with the time to its `Ready`) or failed to.
    pub fn worker_start(&self, result: Result<Duration, ()>) {
        match result {
            Ok(duration) => self.worker_start_seconds.observe(duration.as_secs_f64()),
            Err(()) => self.worker_start_failures.inc(),
        }
    }

    /// A session was created or ended.
    pub fn session(&self, event: &SessionEvent) {
        match event {
            SessionEvent::Created => self.sessions.inc(),
            SessionEvent::Ended => self.sessions.dec(),
            SessionEvent::Other(_) => {}
        }
    }

    /// The metrics as Prometheus text, with the gauges set from `gauges` first.
    pub fn encode(&self, gauges: &Gauges<'_>) -> String {
        self.warm_workers
            .set(i64::try_from(gauges.warm_workers).unwrap_or(i64::MAX));
        self.server_state.reset();
        self.server_tools.reset();
        for server in &gauges.servers {
            // A name that is not configured (none should be) is left out rather than let grow.
            if !self.servers.contains_key(server.name) {
                continue;
            }
            for state in ServerStateLabel::ALL {
                if let Ok(gauge) = self
                    .server_state
                    .get_metric_with_label_values(&[server.name, state.as_str()])
                {
                    gauge.set(i64::from(state == server.state));
                }
            }
            if let Ok(gauge) = self
                .server_tools
                .get_metric_with_label_values(&[server.name])
            {
                gauge.set(i64::try_from(server.tools).unwrap_or(i64::MAX));
            }
        }
        TextEncoder::new()
            .encode_to_string(&self.registry.gather())
            .unwrap_or_else(|error| format!("# the metrics could not be written: {error}\n"))
    }
}

#[cfg(test)]
mod tests;
