//! OpenTelemetry traces (`sluice.telemetry`): `sluice serve` driven by the Python SDK client with
//! `_meta.traceparent`, exporting to an OTLP/HTTP receiver in the test whose requests are
//! decoded with the official protobuf definitions (`opentelemetry-proto`).

use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use serde_json::{Value, json};
use sluice_test_support::{McpConfig, OtlpReceiver, OtlpRequest, fake_server};

use super::common::{call, run_ops_with_data, sluice_serve_with_data, structured, write_config};

const CLIENT_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CLIENT_SPAN: &str = "00f067aa0ba902b7";
/// The client's span of a request the gateway refuses (an invalid session id).
const REFUSED_SPAN: &str = "00f067aa0ba902b8";
/// Written into the tool calls' arguments: it must never reach the collector.
const SECRET: &str = "ARG-SECRET-4242";

/// Two calls to the fake server's `echo_meta`, returning what it received in `_meta`.
const TWO_CALLS: &str = r#"import * as fake from "./servers/fake";
const first = await fake.echoMeta({ note: "ARG-SECRET-4242 one" });
const second = await fake.echoMeta({ note: "ARG-SECRET-4242 two" });
export default [first.meta, second.meta];
"#;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn string(value: &AnyValue) -> Option<&str> {
    match &value.value {
        Some(any_value::Value::StringValue(text)) => Some(text),
        _ => None,
    }
}

fn attribute<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a AnyValue> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
}

fn text_attribute<'a>(span: &'a Span, key: &str) -> Option<&'a str> {
    attribute(&span.attributes, key).and_then(string)
}

fn int_attribute(span: &Span, key: &str) -> Option<i64> {
    match attribute(&span.attributes, key)?.value {
        Some(any_value::Value::IntValue(value)) => Some(value),
        _ => None,
    }
}

/// Every span of every request, with its resource's `service.name`.
fn decode(requests: &[OtlpRequest]) -> Vec<(String, Span)> {
    let mut spans = Vec::new();
    for request in requests {
        assert_eq!(request.path, "/v1/traces");
        assert!(
            request
                .headers
                .iter()
                .any(|(name, value)| name == "content-type" && value == "application/x-protobuf"),
            "{:?}",
            request.headers
        );
        let export = ExportTraceServiceRequest::decode(request.body.as_slice())
            .expect("an ExportTraceServiceRequest");
        for resource_spans in export.resource_spans {
            let service = resource_spans
                .resource
                .as_ref()
                .and_then(|resource| attribute(&resource.attributes, "service.name"))
                .and_then(string)
                .unwrap_or_default()
                .to_owned();
            for scope in resource_spans.scope_spans {
                for span in scope.spans {
                    spans.push((service.clone(), span));
                }
            }
        }
    }
    spans
}

fn traced_config(receiver_endpoint: &str) -> tempfile::NamedTempFile {
    write_config(
        McpConfig::new().server("fake", &fake_server(&["echo-meta"])),
        json!({"telemetry": {"traces": {
            "endpoint": receiver_endpoint,
            "serviceName": "sluice-traces-test",
            "headers": {"x-test-key": "k1"}
        }}}),
    )
}

fn traced_ops() -> Value {
    let meta = json!({
        "traceparent": format!("00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"),
        "tracestate": "vendor=abc"
    });
    let mut search = call("search_tools", json!({"query": "echo meta"}));
    search["meta"] = meta.clone();
    let mut execute = call("execute_code", json!({"code": TWO_CALLS}));
    execute["meta"] = meta;
    let mut refused = call(
        "execute_code",
        json!({"code": "export default 1", "session": "not a session id!"}),
    );
    refused["meta"] = json!({"traceparent": format!("00-{CLIENT_TRACE}-{REFUSED_SPAN}-01")});
    json!([search, execute, refused])
}

/// A real execution with two tool calls continues the client's trace; each call is a child
/// span naming its server and tool, the server receives the call span's `traceparent`, and no
/// argument value is exported. Spans are exported only when `sluice serve` shuts down (the
/// batch delay is a minute here), so this also shows the flush at shutdown.
#[test]
fn an_execution_continues_the_clients_trace_and_passes_it_downstream() {
    let receiver = OtlpReceiver::start();
    let config = traced_config(&receiver.endpoint());
    let data = tempfile::tempdir().expect("data dir");
    let serve = sluice_serve_with_data(config.path(), data.path())
        .arg("--model")
        .arg("none")
        .env("OTEL_BSP_SCHEDULE_DELAY", "60000");
    let output = sluice_test_support::run_python_client(&serve, &traced_ops()).ok();
    let results = output["results"].as_array().cloned().unwrap_or_default();
    let execution = &results[1];
    assert_eq!(execution["isError"], false, "{execution}");
    let metas = structured(execution)["result"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(metas.len(), 2, "{execution}");

    let requests = receiver.wait_until(Duration::from_secs(5), |requests| !requests.is_empty());
    assert!(!requests.is_empty(), "nothing was exported");
    for request in &requests {
        assert!(
            request
                .headers
                .iter()
                .any(|(name, value)| name == "x-test-key" && value == "k1"),
            "{:?}",
            request.headers
        );
        assert!(
            !request
                .body
                .windows(SECRET.len())
                .any(|window| window == SECRET.as_bytes()),
            "an argument value was exported"
        );
    }
    let spans = decode(&requests);
    assert!(
        spans
            .iter()
            .all(|(service, _)| service == "sluice-traces-test")
    );
    let exec = spans
        .iter()
        .map(|(_, span)| span)
        .find(|span| span.name == "execute_code" && hex(&span.parent_span_id) == CLIENT_SPAN)
        .expect("an execute_code span");
    assert_eq!(hex(&exec.trace_id), CLIENT_TRACE);
    assert_eq!(hex(&exec.parent_span_id), CLIENT_SPAN);
    assert_eq!(exec.trace_state, "vendor=abc");
    assert_eq!(text_attribute(exec, "sluice.language"), Some("typescript"));
    assert_eq!(text_attribute(exec, "sluice.outcome"), Some("ok"));
    assert!(
        text_attribute(exec, "sluice.client").is_some_and(|client| !client.is_empty()),
        "{exec:?}"
    );
    assert_eq!(int_attribute(exec, "sluice.tool_calls"), Some(2));
    assert!(int_attribute(exec, "sluice.tokens.returned").is_some_and(|tokens| tokens > 0));
    assert!(int_attribute(exec, "sluice.tokens.direct_estimate").is_some_and(|tokens| tokens > 0));
    let calls: Vec<&Span> = spans
        .iter()
        .map(|(_, span)| span)
        .filter(|span| span.name == "tools/call")
        .collect();
    assert_eq!(calls.len(), 2, "{calls:?}");
    for call in &calls {
        assert_eq!(call.trace_id, exec.trace_id);
        assert_eq!(call.parent_span_id, exec.span_id);
        assert_eq!(text_attribute(call, "sluice.server"), Some("fake"));
        assert_eq!(text_attribute(call, "sluice.tool"), Some("echo_meta"));
        assert_eq!(text_attribute(call, "sluice.outcome"), Some("ok"));
        assert!(int_attribute(call, "sluice.queue_us").is_some(), "{call:?}");
    }
    // The server received each call span as its parent, in the client's trace.
    let call_ids: Vec<String> = calls.iter().map(|call| hex(&call.span_id)).collect();
    let mut received: Vec<String> = Vec::new();
    for meta in &metas {
        let traceparent = meta["traceparent"].as_str().unwrap_or_default();
        let parts: Vec<&str> = traceparent.split('-').collect();
        assert_eq!(parts.len(), 4, "{meta}");
        assert_eq!(parts[0], "00");
        assert_eq!(parts[1], CLIENT_TRACE, "{meta}");
        assert_eq!(parts[3], "01");
        assert_eq!(meta["tracestate"], "vendor=abc");
        received.push(parts[2].to_owned());
    }
    received.sort();
    let mut expected = call_ids.clone();
    expected.sort();
    assert_eq!(received, expected);
    let search = spans
        .iter()
        .map(|(_, span)| span)
        .find(|span| span.name == "search_tools")
        .expect("a search_tools span");
    assert_eq!(hex(&search.trace_id), CLIENT_TRACE);
    assert_eq!(hex(&search.parent_span_id), CLIENT_SPAN);
    assert!(int_attribute(search, "sluice.search.hits").is_some_and(|hits| hits > 0));
    // An execution refused before it ran is a span too, with its error kind.
    assert_eq!(results[2]["isError"], true, "{}", results[2]);
    let refused = spans
        .iter()
        .map(|(_, span)| span)
        .find(|span| span.name == "execute_code" && hex(&span.parent_span_id) == REFUSED_SPAN)
        .expect("the refused execution's span");
    assert_eq!(hex(&refused.trace_id), CLIENT_TRACE);
    assert_eq!(text_attribute(refused, "sluice.outcome"), Some("error"));
    assert_eq!(
        text_attribute(refused, "sluice.error.kind"),
        Some("InvalidSession")
    );
    // Workers are started too (the warm pool's, or this execution's own).
    assert!(
        spans.iter().any(|(_, span)| span.name == "worker.start"
            && text_attribute(span, "sluice.outcome") == Some("ok")),
        "no worker.start span"
    );
}

/// Without `sluice.telemetry` (and no `OTEL_*` variables: the client starts the gateway with a
/// minimal environment) nothing is sent, and the downstream server gets no trace context.
#[test]
fn with_traces_off_nothing_is_sent() {
    let receiver = OtlpReceiver::start();
    let config = write_config(
        McpConfig::new().server("fake", &fake_server(&["echo-meta"])),
        json!({}),
    );
    let data = tempfile::tempdir().expect("data dir");
    let results = run_ops_with_data(config.path(), data.path(), traced_ops());
    let execution = &results[1];
    assert_eq!(execution["isError"], false, "{execution}");
    let metas = structured(execution)["result"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(metas.len(), 2, "{execution}");
    for meta in &metas {
        assert!(meta.get("traceparent").is_none(), "{meta}");
    }
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(receiver.count(), 0);
}

/// A collector that refuses connections, or one that accepts and never answers, fails no
/// execution and slows none: spans are exported on the SDK's own thread.
#[test]
fn an_unreachable_collector_fails_nothing() {
    // Accepts connections (the kernel's backlog) and never reads or answers.
    let hung = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let refused = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("address")
    };
    for endpoint in [
        format!("http://{refused}"),
        format!("http://{}", hung.local_addr().expect("address")),
    ] {
        let config = traced_config(&endpoint);
        let data = tempfile::tempdir().expect("data dir");
        let serve = sluice_serve_with_data(config.path(), data.path())
            .arg("--model")
            .arg("none")
            .env("OTEL_BSP_SCHEDULE_DELAY", "20");
        let mut ops = Vec::new();
        for _ in 0..3 {
            ops.push(call("execute_code", json!({"code": TWO_CALLS})));
            ops.push(json!({"op": "sleep", "ms": 100}));
        }
        let output = sluice_test_support::run_python_client(&serve, &Value::Array(ops)).ok();
        let results = output["results"].as_array().cloned().unwrap_or_default();
        for execution in results.iter().step_by(2) {
            assert_eq!(execution["isError"], false, "{endpoint}: {execution}");
            let duration = structured(execution)["stats"]["duration_ms"]
                .as_u64()
                .unwrap_or(u64::MAX);
            assert!(duration < 3_000, "{endpoint}: took {duration} ms");
        }
    }
}
