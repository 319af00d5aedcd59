use std::sync::{Arc, Mutex};

use opentelemetry::trace::{SpanId, SpanKind, TraceId};
use sluice_config::{TelemetrySettings, TraceSettings};
use sluice_worker_protocol::ToolErrorKind;

use super::*;

/// Keeps what it is given.
#[derive(Debug, Clone, Default)]
struct Keep(Arc<Mutex<Vec<SpanData>>>);

impl SpanExporter for Keep {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.0.lock().unwrap().extend(batch);
        Ok(())
    }
}

/// Fails every export.
#[derive(Debug)]
struct Fail;

impl SpanExporter for Fail {
    async fn export(&self, _batch: Vec<SpanData>) -> OTelSdkResult {
        Err(opentelemetry_sdk::error::OTelSdkError::InternalFailure(
            "connection refused".to_owned(),
        ))
    }
}

fn config() -> TraceConfig {
    TraceConfig {
        endpoint: "http://127.0.0.1:9/v1/traces".to_owned(),
        headers: Vec::new(),
        service_name: "sluice-test".to_owned(),
        sample_ratio: 1.0,
    }
}

fn kept() -> (Telemetry, Keep) {
    let keep = Keep::default();
    (Telemetry::with_exporter(&config(), keep.clone()), keep)
}

fn spans(telemetry: &Telemetry, keep: &Keep) -> Vec<SpanData> {
    telemetry.flush();
    keep.0.lock().unwrap().clone()
}

fn attribute<'a>(span: &'a SpanData, key: &str) -> Option<&'a Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| &kv.value)
}

const CLIENT_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CLIENT_SPAN: &str = "00f067aa0ba902b7";

fn start() -> ExecutionStart<'static> {
    ExecutionStart {
        client: "claude#1",
        session: Some("s1"),
        execution_id: "exec-1",
        language: Language::Python,
    }
}

#[test]
fn an_execution_continues_the_agents_trace_and_its_calls_are_children() {
    let (telemetry, keep) = kept();
    let parent = TraceContext {
        traceparent: format!("00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"),
        tracestate: Some("vendor=abc".to_owned()),
    };
    let execution = telemetry.execution(Some(&parent), start());
    let mut call = execution.tool_call("github", "create_issue");
    let sent = call.trace_context();
    call.queued(Duration::from_micros(1234));
    call.end(&CallOutcome::Ok);
    let failed = execution.tool_call("github", "list_issues");
    failed.end(&CallOutcome::Failed(ToolErrorKind::RateLimited));
    execution.end(ExecutionEnd {
        error: Some(&ErrorKind::Timeout),
        limits_hit: &[Limit::Timeout, Limit::OutputBytes],
        tool_calls: 2,
        tokens_returned: 40,
        direct_estimate_tokens: 4000,
    });
    let spans = spans(&telemetry, &keep);
    assert_eq!(spans.len(), 3);
    let exec = spans
        .iter()
        .find(|span| span.name == name::EXECUTION)
        .unwrap();
    assert_eq!(
        exec.span_context.trace_id(),
        TraceId::from_hex(CLIENT_TRACE).unwrap()
    );
    assert_eq!(exec.parent_span_id, SpanId::from_hex(CLIENT_SPAN).unwrap());
    assert!(exec.parent_span_is_remote);
    assert_eq!(exec.span_kind, SpanKind::Server);
    assert_eq!(exec.span_context.trace_state().get("vendor"), Some("abc"));
    assert_eq!(
        attribute(exec, attr::CLIENT),
        Some(&Value::from("claude#1"))
    );
    assert_eq!(attribute(exec, attr::SESSION), Some(&Value::from("s1")));
    assert_eq!(
        attribute(exec, attr::LANGUAGE),
        Some(&Value::from("python"))
    );
    assert_eq!(attribute(exec, attr::OUTCOME), Some(&Value::from("error")));
    assert_eq!(
        attribute(exec, attr::ERROR_KIND),
        Some(&Value::from("Timeout"))
    );
    assert_eq!(
        attribute(exec, attr::TOKENS_RETURNED),
        Some(&Value::I64(40))
    );
    assert_eq!(
        attribute(exec, attr::TOKENS_DIRECT_ESTIMATE),
        Some(&Value::I64(4000))
    );
    assert_eq!(
        attribute(exec, attr::LIMITS_HIT).map(|value| value.to_string()),
        Some("[\"timeout\",\"output_bytes\"]".to_owned())
    );
    let calls: Vec<&SpanData> = spans
        .iter()
        .filter(|span| span.name == name::TOOL_CALL)
        .collect();
    assert_eq!(calls.len(), 2);
    for call in &calls {
        assert_eq!(call.parent_span_id, exec.span_context.span_id());
        assert_eq!(call.span_context.trace_id(), exec.span_context.trace_id());
        assert_eq!(call.span_kind, SpanKind::Client);
        assert_eq!(attribute(call, attr::SERVER), Some(&Value::from("github")));
    }
    let ok = calls
        .iter()
        .find(|call| attribute(call, attr::TOOL) == Some(&Value::from("create_issue")))
        .unwrap();
    assert_eq!(attribute(ok, attr::QUEUE_US), Some(&Value::I64(1234)));
    assert_eq!(attribute(ok, attr::OUTCOME), Some(&Value::from("ok")));
    let refused = calls
        .iter()
        .find(|call| attribute(call, attr::TOOL) == Some(&Value::from("list_issues")))
        .unwrap();
    assert_eq!(
        attribute(refused, attr::OUTCOME),
        Some(&Value::from("rate_limited"))
    );
    // What the downstream server receives names the call's span, in the client's trace.
    assert_eq!(
        sent.traceparent,
        format!("00-{CLIENT_TRACE}-{}-01", ok.span_context.span_id())
    );
    assert_eq!(sent.tracestate.as_deref(), Some("vendor=abc"));
}

#[test]
fn an_invalid_traceparent_starts_a_new_trace() {
    let (telemetry, keep) = kept();
    for traceparent in [
        "",
        "garbage",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
    ] {
        let parent = TraceContext {
            traceparent: traceparent.to_owned(),
            tracestate: Some("=bad".to_owned()),
        };
        telemetry
            .execution(Some(&parent), start())
            .end(ExecutionEnd {
                error: None,
                limits_hit: &[],
                tool_calls: 0,
                tokens_returned: 1,
                direct_estimate_tokens: 0,
            });
    }
    let spans = spans(&telemetry, &keep);
    assert_eq!(spans.len(), 7);
    for span in &spans {
        assert_eq!(span.parent_span_id, SpanId::INVALID, "{span:?}");
        assert_ne!(
            span.span_context.trace_id(),
            TraceId::from_hex(CLIENT_TRACE).unwrap()
        );
        assert_eq!(attribute(span, attr::OUTCOME), Some(&Value::from("ok")));
        assert_eq!(attribute(span, attr::ERROR_KIND), None);
    }
}

#[test]
fn an_unsampled_agent_trace_is_not_recorded_but_still_propagated() {
    let (telemetry, keep) = kept();
    let parent = TraceContext {
        traceparent: format!("00-{CLIENT_TRACE}-{CLIENT_SPAN}-00"),
        tracestate: None,
    };
    let execution = telemetry.execution(Some(&parent), start());
    let call = execution.tool_call("a", "b");
    let sent = call.trace_context();
    assert!(sent.traceparent.starts_with(&format!("00-{CLIENT_TRACE}-")));
    assert!(sent.traceparent.ends_with("-00"));
    call.end(&CallOutcome::Ok);
    execution.end(ExecutionEnd {
        error: None,
        limits_hit: &[],
        tool_calls: 1,
        tokens_returned: 1,
        direct_estimate_tokens: 1,
    });
    assert!(spans(&telemetry, &keep).is_empty());
}

#[test]
fn search_and_worker_start_spans() {
    let (telemetry, keep) = kept();
    let execution = telemetry.execution(None, start());
    telemetry
        .worker_start(WorkerPurpose::Execution, Some(&execution))
        .end(true);
    telemetry.worker_start(WorkerPurpose::Warm, None).end(false);
    telemetry.search(None, "c").end(Some(SearchEnd {
        hits: 3,
        skills: 1,
        weak: true,
    }));
    telemetry.search(None, "c").end(None);
    drop(execution);
    let spans = spans(&telemetry, &keep);
    let starts: Vec<&SpanData> = spans
        .iter()
        .filter(|span| span.name == name::WORKER_START)
        .collect();
    assert_eq!(starts.len(), 2);
    let for_execution = starts
        .iter()
        .find(|span| attribute(span, attr::WORKER_PURPOSE) == Some(&Value::from("execution")))
        .unwrap();
    assert_eq!(
        attribute(for_execution, attr::OUTCOME),
        Some(&Value::from("ok"))
    );
    assert_ne!(for_execution.parent_span_id, SpanId::INVALID);
    let warm = starts
        .iter()
        .find(|span| attribute(span, attr::WORKER_PURPOSE) == Some(&Value::from("warm")))
        .unwrap();
    assert_eq!(warm.parent_span_id, SpanId::INVALID);
    assert_eq!(attribute(warm, attr::OUTCOME), Some(&Value::from("error")));
    let searches: Vec<&SpanData> = spans
        .iter()
        .filter(|span| span.name == name::SEARCH)
        .collect();
    assert_eq!(searches.len(), 2);
    assert!(searches.iter().any(
        |span| attribute(span, attr::SEARCH_HITS) == Some(&Value::I64(3))
            && attribute(span, attr::SEARCH_WEAK) == Some(&Value::Bool(true))
    ));
    assert!(
        searches
            .iter()
            .any(|span| attribute(span, attr::OUTCOME) == Some(&Value::from("error")))
    );
}

#[test]
fn a_failing_collector_fails_nothing() {
    let telemetry = Telemetry::with_exporter(&config(), Fail);
    for _ in 0..3 {
        let execution = telemetry.execution(None, start());
        execution.tool_call("a", "b").end(&CallOutcome::Ok);
        telemetry.flush();
    }
    telemetry.shutdown(Duration::from_millis(500));
}

fn resolve(
    settings: &TelemetrySettings,
    vars: &[(&str, &str)],
) -> Result<Option<TraceConfig>, TelemetryError> {
    let vars: Vec<(String, String)> = vars
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect();
    TraceConfig::resolve(settings, |name| {
        vars.iter()
            .find(|(variable, _)| variable == name)
            .map(|(_, value)| value.clone())
    })
}

fn traces(traces: TraceSettings) -> TelemetrySettings {
    TelemetrySettings {
        traces: Some(traces),
    }
}

#[test]
fn traces_are_off_unless_asked_for() {
    let off = TelemetrySettings::default();
    assert_eq!(resolve(&off, &[]).unwrap(), None);
    assert_eq!(resolve(&off, &[("OTEL_SERVICE_NAME", "x")]).unwrap(), None);
    assert_eq!(
        resolve(&off, &[("OTEL_EXPORTER_OTLP_ENDPOINT", " ")]).unwrap(),
        None
    );

    let on = resolve(
        &off,
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/")],
    )
    .unwrap()
    .unwrap();
    assert_eq!(on.endpoint, "http://collector:4318/v1/traces");
    assert_eq!(on.service_name, "sluice");
    assert_eq!(on.sample_ratio, 1.0);
    let on = resolve(
        &off,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://wrong:4318"),
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "https://collector/custom",
            ),
            ("OTEL_SERVICE_NAME", "gateway-a"),
        ],
    )
    .unwrap()
    .unwrap();
    assert_eq!(on.endpoint, "https://collector/custom");
    assert_eq!(on.service_name, "gateway-a");

    let configured = traces(TraceSettings {
        endpoint: Some("http://127.0.0.1:4318/v1/traces".to_owned()),
        service_name: Some("mine".to_owned()),
        sample_ratio: 0.5,
        ..TraceSettings::default()
    });
    let on = resolve(
        &configured,
        &[
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "http://other/v1/traces",
            ),
            ("OTEL_SERVICE_NAME", "theirs"),
        ],
    )
    .unwrap()
    .unwrap();
    assert_eq!(on.endpoint, "http://127.0.0.1:4318/v1/traces");
    assert_eq!(on.service_name, "mine");
    assert_eq!(on.sample_ratio, 0.5);
    let on = resolve(&traces(TraceSettings::default()), &[])
        .unwrap()
        .unwrap();
    assert_eq!(on.endpoint, "http://localhost:4318/v1/traces");

    let disabled = traces(TraceSettings {
        enabled: false,
        ..TraceSettings::default()
    });
    assert_eq!(
        resolve(
            &disabled,
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318")]
        )
        .unwrap(),
        None
    );
    for vars in [
        [("OTEL_SDK_DISABLED", "true")],
        [("OTEL_TRACES_EXPORTER", "none")],
    ] {
        assert_eq!(resolve(&configured, &vars).unwrap(), None);
    }
}

#[test]
fn unusable_variables_say_which_and_why() {
    let off = TelemetrySettings::default();
    let error = resolve(&off, &[("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318")])
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with("OTEL_EXPORTER_OTLP_ENDPOINT is \"collector:4318\""),
        "{error}"
    );
    assert!(error.contains("http://"), "{error}");
    let error = resolve(
        &off,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ],
    )
    .unwrap_err()
    .to_string();
    assert!(
        error.contains("OTEL_EXPORTER_OTLP_PROTOCOL") && error.contains("http/protobuf"),
        "{error}"
    );
    let error = resolve(&off, &[("OTEL_TRACES_EXPORTER", "zipkin")])
        .unwrap_err()
        .to_string();
    assert!(error.contains("otlp or none"), "{error}");
}
