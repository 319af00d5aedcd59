/*!
OpenTelemetry traces of the gateway: their set-up and the span vocabulary.

One span per execution (`execute_code`), a child span per tool call the code makes, one per
`search_tools` and one per worker started. Spans are exported in batches, from the SDK's own
thread, over OTLP (HTTP/protobuf, reqwest's blocking client) to the collector that
`sluice.telemetry.traces` or the standard `OTEL_EXPORTER_OTLP_*` variables name
([`TraceConfig::resolve`]). Off by default: then there is no [`Telemetry`] and the gateway
builds no span at all.

Context: an execution continues the agent's trace when its `tools/call` carried a valid W3C
`traceparent` in `_meta` ([`TraceContext`]); an invalid one is ignored and a new trace begins.
Each tool call's span gives the `traceparent` the downstream server receives in its `_meta`
([`ToolCallSpan::trace_context`]).

Attributes are Sluice's words (`sluice.*`, [`attr`]) plus the MCP semantic conventions'
`mcp.method.name` and `gen_ai.tool.name`; values come from the protocol crate's enums
(`Language`, `ErrorKind`, `CallOutcome`, `Limit`). Tool arguments and results are never
attributes.

A collector that cannot be reached costs nothing but the dropped spans: the export fails on the
SDK's thread, a warning is logged once (and once more after it recovers and fails again), and
executions go on.
*/

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{
    Span as _, SpanKind, Status, TraceContextExt, TraceFlags, Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue, Value};
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{
    BatchSpanProcessor, Sampler, SdkTracer, SdkTracerProvider, SpanData, SpanExporter,
};
use sluice_config::TelemetrySettings;
use sluice_worker_protocol::{CallOutcome, ErrorKind, ExecutionOutcomeWord, Language, Limit};

mod config;

pub use config::{DEFAULT_ENDPOINT, TraceConfig};

/// The attribute keys of Sluice's spans.
pub mod attr {
    /// The client connection that ran the execution or search (`local` for `sluice exec`).
    pub const CLIENT: &str = "sluice.client";
    /// The session the execution ran in.
    pub const SESSION: &str = "sluice.session";
    /// The execution's id, as in the audit log.
    pub const EXECUTION_ID: &str = "sluice.execution.id";
    /// `typescript`, `javascript` or `python`.
    pub const LANGUAGE: &str = "sluice.language";
    /// `ok` or `error` for an execution; `ok` or the `ToolError` kind for a tool call; `ok` or
    /// `error` for a search or a worker start.
    pub const OUTCOME: &str = "sluice.outcome";
    /// The execution's error kind (`Timeout`, `ToolError`, ...), when it failed.
    pub const ERROR_KIND: &str = "sluice.error.kind";
    /// The limits the execution ran into (`timeout`, `tool_calls`, `output_bytes`, ...).
    pub const LIMITS_HIT: &str = "sluice.limits_hit";
    /// o200k tokens of what the execution returned to the model.
    pub const TOKENS_RETURNED: &str = "sluice.tokens.returned";
    /// o200k tokens the same tool calls would have cost with plain tool calling.
    pub const TOKENS_DIRECT_ESTIMATE: &str = "sluice.tokens.direct_estimate";
    /// Tool calls the execution made.
    pub const TOOL_CALLS: &str = "sluice.tool_calls";
    /// The downstream server of a tool call.
    pub const SERVER: &str = "sluice.server";
    /// The tool of a tool call.
    pub const TOOL: &str = "sluice.tool";
    /// Microseconds a tool call waited for a free slot on its server.
    pub const QUEUE_US: &str = "sluice.queue_us";
    /// Tool hits a search returned.
    pub const SEARCH_HITS: &str = "sluice.search.hits";
    /// Skill hits a search returned.
    pub const SEARCH_SKILLS: &str = "sluice.search.skills";
    /// Nothing matched the query well.
    pub const SEARCH_WEAK: &str = "sluice.search.weak";
    /// What a worker was started for ([`WorkerPurpose`](crate::WorkerPurpose)).
    pub const WORKER_PURPOSE: &str = "sluice.worker.purpose";
    /// MCP semantic conventions: the method (`tools/call`).
    pub const MCP_METHOD: &str = "mcp.method.name";
    /// MCP semantic conventions: the tool's name.
    pub const GEN_AI_TOOL: &str = "gen_ai.tool.name";
}

/// Span names.
pub mod name {
    /// One `execute_code` execution.
    pub const EXECUTION: &str = "execute_code";
    /// One tool call from agent code, to a downstream server.
    pub const TOOL_CALL: &str = "tools/call";
    /// One `search_tools`.
    pub const SEARCH: &str = "search_tools";
    /// One worker process started (confined, to `Ready`).
    pub const WORKER_START: &str = "worker.start";
}

/// Why traces could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// An `OTEL_*` variable holds a value Sluice cannot use.
    #[error("{variable} is \"{value}\": {problem}")]
    Variable {
        /// The variable.
        variable: &'static str,
        /// Its value.
        value: String,
        /// What is wrong and what to do.
        problem: String,
    },
    /// The OTLP exporter could not be built.
    #[error(
        "could not set up the trace exporter to {endpoint}: {message}; fix sluice.telemetry.traces or the OTEL_EXPORTER_OTLP_* variables"
    )]
    Exporter {
        /// Where it would export.
        endpoint: String,
        /// Why not.
        message: String,
    },
}

/// The W3C trace context of a request, as received or as sent: the `traceparent` and
/// `tracestate` values of an MCP request's `_meta`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    /// `traceparent`: `00-<trace id>-<span id>-<flags>`.
    pub traceparent: String,
    /// `tracestate`, when there is one.
    pub tracestate: Option<String>,
}

impl Extractor for TraceContext {
    fn get(&self, key: &str) -> Option<&str> {
        match key {
            "traceparent" => Some(&self.traceparent),
            "tracestate" => self.tracestate.as_deref(),
            _ => None,
        }
    }

    fn keys(&self) -> Vec<&str> {
        vec!["traceparent", "tracestate"]
    }
}

/// The gateway's tracer: made once, shared by every execution (`Option<Arc<Telemetry>>`).
pub struct Telemetry {
    provider: SdkTracerProvider,
    tracer: SdkTracer,
    endpoint: String,
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telemetry")
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

impl Telemetry {
    /// Traces as `settings` and the environment (`env`, a variable's value by name) say: `None`
    /// when they are off (the default).
    pub fn from_settings(
        settings: &TelemetrySettings,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Arc<Telemetry>>, TelemetryError> {
        match TraceConfig::resolve(settings, env)? {
            Some(config) => Ok(Some(Arc::new(Telemetry::start(&config)?))),
            None => Ok(None),
        }
    }

    /// Start exporting to `config.endpoint`: the OTLP exporter and the batch processor's thread.
    pub fn start(config: &TraceConfig) -> Result<Telemetry, TelemetryError> {
        let headers: HashMap<String, String> = config.headers.clone().into_iter().collect();
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .with_endpoint(config.endpoint.clone())
            .with_headers(headers)
            .build()
            .map_err(|error| TelemetryError::Exporter {
                endpoint: config.endpoint.clone(),
                message: error.to_string(),
            })?;
        Ok(Telemetry::with_exporter(config, exporter))
    }

    /// The same with another exporter (tests).
    #[doc(hidden)]
    pub fn with_exporter(config: &TraceConfig, exporter: impl SpanExporter + 'static) -> Telemetry {
        let exporter = WarnOnce {
            inner: exporter,
            failing: AtomicBool::new(false),
            endpoint: config.endpoint.clone(),
        };
        let resource = Resource::builder()
            .with_service_name(config.service_name.clone())
            .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
            .build();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(BatchSpanProcessor::builder(exporter).build())
            .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
                config.sample_ratio,
            ))))
            .with_resource(resource)
            .build();
        let tracer = provider.tracer("sluice");
        Telemetry {
            provider,
            tracer,
            endpoint: config.endpoint.clone(),
        }
    }

    /// Where spans go.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The span of one execution: a child of `parent` (the agent's request's trace context)
    /// when it is valid, else the root of a new trace.
    pub fn execution(
        &self,
        parent: Option<&TraceContext>,
        start: ExecutionStart<'_>,
    ) -> ExecutionSpan {
        let mut attributes = vec![
            KeyValue::new(attr::CLIENT, start.client.to_owned()),
            KeyValue::new(attr::EXECUTION_ID, start.execution_id.to_owned()),
            KeyValue::new(attr::LANGUAGE, start.language.as_str()),
        ];
        if let Some(session) = start.session {
            attributes.push(KeyValue::new(attr::SESSION, session.to_owned()));
        }
        let span = self
            .tracer
            .span_builder(name::EXECUTION)
            .with_kind(SpanKind::Server)
            .with_attributes(attributes)
            .start_with_context(&self.tracer, &remote_parent(parent));
        ExecutionSpan {
            cx: Context::new().with_span(span),
            tracer: self.tracer.clone(),
        }
    }

    /// The span of one `search_tools`, a child of `parent` when it is valid.
    pub fn search(&self, parent: Option<&TraceContext>, client: &str) -> SearchSpan {
        let span = self
            .tracer
            .span_builder(name::SEARCH)
            .with_kind(SpanKind::Server)
            .with_attributes([KeyValue::new(attr::CLIENT, client.to_owned())])
            .start_with_context(&self.tracer, &remote_parent(parent));
        SearchSpan { span }
    }

    /// The span of one worker start: a child of the execution it is started for, else a root
    /// span.
    pub fn worker_start(
        &self,
        purpose: WorkerPurpose,
        execution: Option<&ExecutionSpan>,
    ) -> WorkerStartSpan {
        let builder = self
            .tracer
            .span_builder(name::WORKER_START)
            .with_kind(SpanKind::Internal)
            .with_attributes([KeyValue::new(attr::WORKER_PURPOSE, purpose.as_str())]);
        let span = match execution {
            Some(execution) => builder.start_with_context(&self.tracer, &execution.cx),
            None => builder.start_with_context(&self.tracer, &Context::new()),
        };
        WorkerStartSpan { span }
    }

    /// Export what is pending and stop, waiting at most `wait` (blocking: call it off the
    /// async runtime's threads). A collector that does not answer costs `wait`, no more.
    pub fn shutdown(&self, wait: Duration) {
        if let Err(error) = self.provider.shutdown_with_timeout(wait) {
            tracing::warn!(
                "traces not all exported to {} before shutting down: {error}",
                self.endpoint
            );
        }
    }

    /// Export what is pending now (blocking; benchmarks and tests).
    #[doc(hidden)]
    pub fn flush(&self) {
        let _ = self.provider.force_flush();
    }
}

/// The parent context of a span continuing `parent`: empty (a new trace) when there is none or
/// its `traceparent` is not valid W3C trace context.
fn remote_parent(parent: Option<&TraceContext>) -> Context {
    match parent {
        Some(parent) => TraceContextPropagator::new().extract_with_context(&Context::new(), parent),
        None => Context::new(),
    }
}

/// What a worker process is started for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerPurpose {
    /// One execution (or session) that found no warm worker.
    Execution,
    /// The warm pool, ahead of demand.
    Warm,
    /// Checking a skill before it is saved.
    SkillCheck,
}

impl WorkerPurpose {
    /// The attribute's value: `execution`, `warm`, `skill_check`.
    pub fn as_str(self) -> &'static str {
        match self {
            WorkerPurpose::Execution => "execution",
            WorkerPurpose::Warm => "warm",
            WorkerPurpose::SkillCheck => "skill_check",
        }
    }
}

/// What an execution span starts with.
#[derive(Debug, Clone, Copy)]
pub struct ExecutionStart<'a> {
    /// The client connection.
    pub client: &'a str,
    /// The session, if any.
    pub session: Option<&'a str>,
    /// The execution's id.
    pub execution_id: &'a str,
    /// The code's language.
    pub language: Language,
}

/// How an execution ended.
#[derive(Debug, Clone, Copy)]
pub struct ExecutionEnd<'a> {
    /// Its error kind, when it failed.
    pub error: Option<&'a ErrorKind>,
    /// The limits it ran into.
    pub limits_hit: &'a [Limit],
    /// Tool calls it made.
    pub tool_calls: u64,
    /// o200k tokens returned to the model.
    pub tokens_returned: u64,
    /// o200k tokens plain tool calling would have cost.
    pub direct_estimate_tokens: u64,
}

impl<'a> ExecutionEnd<'a> {
    /// How an execution that never ran its code ended: refused, or failed before a worker
    /// took it; no calls, nothing returned.
    pub fn before_running(error: &'a ErrorKind, limits_hit: &'a [Limit]) -> ExecutionEnd<'a> {
        ExecutionEnd {
            error: Some(error),
            limits_hit,
            tool_calls: 0,
            tokens_returned: 0,
            direct_estimate_tokens: 0,
        }
    }
}

/// The span of one execution; cheap to clone (the tasks serving its calls hold it).
#[derive(Clone)]
pub struct ExecutionSpan {
    cx: Context,
    tracer: SdkTracer,
}

impl std::fmt::Debug for ExecutionSpan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecutionSpan")
            .field("span", self.cx.span().span_context())
            .finish()
    }
}

impl ExecutionSpan {
    /// A child span for one tool call to `server`'s `tool` (never its arguments).
    pub fn tool_call(&self, server: &str, tool: &str) -> ToolCallSpan {
        let span = self
            .tracer
            .span_builder(name::TOOL_CALL)
            .with_kind(SpanKind::Client)
            .with_attributes([
                KeyValue::new(attr::MCP_METHOD, "tools/call"),
                KeyValue::new(attr::SERVER, server.to_owned()),
                KeyValue::new(attr::TOOL, tool.to_owned()),
                KeyValue::new(attr::GEN_AI_TOOL, tool.to_owned()),
            ])
            .start_with_context(&self.tracer, &self.cx);
        ToolCallSpan { span }
    }

    /// Record how the execution ended and end its span.
    pub fn end(&self, end: ExecutionEnd<'_>) {
        let span = self.cx.span();
        let outcome = match end.error {
            None => ExecutionOutcomeWord::Ok,
            Some(_) => ExecutionOutcomeWord::Error,
        };
        let mut attributes = vec![
            KeyValue::new(attr::OUTCOME, outcome.as_str().to_owned()),
            KeyValue::new(attr::TOOL_CALLS, saturating_i64(end.tool_calls)),
            KeyValue::new(attr::TOKENS_RETURNED, saturating_i64(end.tokens_returned)),
            KeyValue::new(
                attr::TOKENS_DIRECT_ESTIMATE,
                saturating_i64(end.direct_estimate_tokens),
            ),
        ];
        if !end.limits_hit.is_empty() {
            let limits: Vec<opentelemetry::StringValue> = end
                .limits_hit
                .iter()
                .map(|limit| limit.as_str().to_owned().into())
                .collect();
            attributes.push(KeyValue::new(attr::LIMITS_HIT, Value::Array(limits.into())));
        }
        if let Some(kind) = end.error {
            attributes.push(KeyValue::new(attr::ERROR_KIND, kind.as_str().to_owned()));
            span.set_status(Status::Error {
                description: Cow::Owned(kind.as_str().to_owned()),
            });
        }
        span.set_attributes(attributes);
        span.end();
    }
}

/// The span of one tool call.
pub struct ToolCallSpan {
    span: opentelemetry_sdk::trace::Span,
}

impl std::fmt::Debug for ToolCallSpan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolCallSpan")
            .field("span", self.span.span_context())
            .finish()
    }
}

impl ToolCallSpan {
    /// The trace context the downstream server receives in the call's `_meta`: this span as
    /// the parent.
    pub fn trace_context(&self) -> TraceContext {
        let context = self.span.span_context();
        let state = context.trace_state().header();
        TraceContext {
            traceparent: format!(
                "00-{}-{}-{:02x}",
                context.trace_id(),
                context.span_id(),
                (context.trace_flags() & TraceFlags::SAMPLED).to_u8()
            ),
            tracestate: (!state.is_empty()).then_some(state),
        }
    }

    /// How long the call waited for a free slot on its server.
    pub fn queued(&mut self, queued: Duration) {
        if self.span.is_recording() {
            self.span.set_attribute(KeyValue::new(
                attr::QUEUE_US,
                saturating_i64(queued.as_micros() as u64),
            ));
        }
    }

    /// Record the call's outcome and end its span.
    pub fn end(mut self, outcome: &CallOutcome) {
        if self.span.is_recording() {
            self.span
                .set_attribute(KeyValue::new(attr::OUTCOME, outcome.as_str().to_owned()));
            if let CallOutcome::Failed(kind) = outcome {
                self.span.set_status(Status::Error {
                    description: Cow::Owned(kind.as_str().to_owned()),
                });
            }
        }
        self.span.end();
    }
}

/// The span of one search.
pub struct SearchSpan {
    span: opentelemetry_sdk::trace::Span,
}

impl std::fmt::Debug for SearchSpan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchSpan").finish_non_exhaustive()
    }
}

/// What a search found.
#[derive(Debug, Clone, Copy)]
pub struct SearchEnd {
    /// Tool hits returned.
    pub hits: usize,
    /// Skill hits returned.
    pub skills: usize,
    /// Nothing matched well.
    pub weak: bool,
}

impl SearchSpan {
    /// Record what the search found (`None`: it failed) and end its span.
    pub fn end(mut self, found: Option<SearchEnd>) {
        match found {
            Some(found) => self.span.set_attributes([
                KeyValue::new(attr::OUTCOME, ExecutionOutcomeWord::Ok.as_str().to_owned()),
                KeyValue::new(attr::SEARCH_HITS, saturating_i64(found.hits as u64)),
                KeyValue::new(attr::SEARCH_SKILLS, saturating_i64(found.skills as u64)),
                KeyValue::new(attr::SEARCH_WEAK, found.weak),
            ]),
            None => {
                self.span.set_attribute(KeyValue::new(
                    attr::OUTCOME,
                    ExecutionOutcomeWord::Error.as_str().to_owned(),
                ));
                self.span
                    .set_status(Status::error("the search was refused"));
            }
        }
        self.span.end();
    }
}

/// The span of one worker start.
pub struct WorkerStartSpan {
    span: opentelemetry_sdk::trace::Span,
}

impl std::fmt::Debug for WorkerStartSpan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerStartSpan").finish_non_exhaustive()
    }
}

impl WorkerStartSpan {
    /// Record whether the worker started and end the span.
    pub fn end(mut self, started: bool) {
        let outcome = if started {
            ExecutionOutcomeWord::Ok
        } else {
            self.span
                .set_status(Status::error("the worker did not start"));
            ExecutionOutcomeWord::Error
        };
        self.span
            .set_attribute(KeyValue::new(attr::OUTCOME, outcome.as_str().to_owned()));
        self.span.end();
    }
}

fn saturating_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// The exporter, saying once when exports start failing (and once when they work again).
#[derive(Debug)]
struct WarnOnce<E> {
    inner: E,
    failing: AtomicBool,
    endpoint: String,
}

impl<E: SpanExporter> SpanExporter for WarnOnce<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let spans = batch.len();
        let result = self.inner.export(batch).await;
        match &result {
            Err(error) => {
                if !self.failing.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        "could not export traces to {}: {error}; {spans} spans dropped, and spans \
                         are dropped while the collector cannot be reached (said once)",
                        self.endpoint
                    );
                }
            }
            Ok(()) => {
                if self.failing.swap(false, Ordering::Relaxed) {
                    tracing::info!("traces reach {} again", self.endpoint);
                }
            }
        }
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

#[cfg(test)]
mod tests;
