use super::*;

fn metrics() -> Metrics {
    Metrics::new(["github", "fs"]).unwrap()
}

fn line<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    text.lines().find(|line| line.starts_with(prefix))
}

#[test]
fn executions_are_counted_by_language_and_outcome() {
    let metrics = metrics();
    let ms = Duration::from_millis(20);
    metrics.execution(
        Language::Typescript,
        ExecutionOutcome::Ok,
        ms,
        &[],
        40,
        4000,
    );
    metrics.execution(Language::Typescript, ExecutionOutcome::Ok, ms, &[], 2, 10);
    metrics.execution(
        Language::Python,
        ExecutionOutcome::Error(&ErrorKind::Timeout),
        ms,
        &[Limit::Timeout, Limit::OutputBytes],
        5,
        0,
    );
    let text = metrics.encode(&Gauges::default());
    assert_eq!(
        line(
            &text,
            r#"sluice_executions_total{language="typescript",outcome="ok"}"#
        ),
        Some(r#"sluice_executions_total{language="typescript",outcome="ok"} 2"#)
    );
    assert!(text.contains(r#"sluice_executions_total{language="python",outcome="Timeout"} 1"#));
    assert!(text.contains(r#"sluice_limits_hit_total{limit="timeout"} 1"#));
    assert!(text.contains(r#"sluice_limits_hit_total{limit="output_bytes"} 1"#));
    assert!(text.contains("sluice_tokens_returned_total 47"));
    assert!(text.contains("sluice_tokens_direct_estimate_total 4010"));
    assert!(text.contains(r#"sluice_execution_duration_seconds_count{language="typescript"} 2"#));
    // Series never used are not written.
    assert!(!text.contains(r#"language="javascript""#));
}

#[test]
fn an_unknown_word_or_server_is_other_never_a_new_label() {
    let metrics = metrics();
    let kind = ToolErrorKind::parse("some_new_kind");
    for server in ["github", "nope-1", "nope-2"] {
        metrics.tool_call(
            server,
            CallOutcome::Failed(&kind),
            Duration::from_micros(300),
        );
    }
    metrics.execution(
        Language::Javascript,
        ExecutionOutcome::Error(&ErrorKind::parse("Brand new")),
        Duration::ZERO,
        &[Limit::parse("weird")],
        0,
        0,
    );
    let text = metrics.encode(&Gauges::default());
    assert!(text.contains(r#"sluice_tool_calls_total{outcome="other",server="github"} 1"#));
    assert!(text.contains(r#"sluice_tool_calls_total{outcome="other",server="other"} 2"#));
    assert!(text.contains(r#"sluice_tool_call_duration_seconds_count{server="other"} 2"#));
    assert!(text.contains(r#"sluice_executions_total{language="javascript",outcome="other"} 1"#));
    assert!(text.contains(r#"sluice_limits_hit_total{limit="other"} 1"#));
    assert!(!text.contains("nope"));
    assert!(!text.contains("Brand"));
}

#[test]
fn policy_refusals_are_denials_and_releases_count_by_type() {
    let metrics = metrics();
    for kind in [
        ToolErrorKind::Denied,
        ToolErrorKind::PolicyDenied,
        ToolErrorKind::PolicyDenied,
        ToolErrorKind::Timeout,
    ] {
        metrics.tool_call("fs", CallOutcome::Failed(&kind), Duration::ZERO);
    }
    metrics.tool_call("fs", CallOutcome::Ok, Duration::ZERO);
    metrics.release(PiiType::Email);
    metrics.release(PiiType::Email);
    let text = metrics.encode(&Gauges::default());
    assert!(text.contains(r#"sluice_policy_denials_total{reason="denied"} 1"#));
    assert!(text.contains(r#"sluice_policy_denials_total{reason="policy_denied"} 2"#));
    assert!(!text.contains(r#"reason="timeout""#));
    assert!(text.contains(r#"sluice_tool_calls_total{outcome="ok",server="fs"} 1"#));
    assert!(text.contains(r#"sluice_tool_calls_total{outcome="timeout",server="fs"} 1"#));
    assert!(text.contains(r#"sluice_pii_releases_total{type="email"} 2"#));
}

#[test]
fn gauges_describe_the_state_when_read() {
    let metrics = metrics();
    metrics.session(&SessionEvent::Created);
    metrics.session(&SessionEvent::Created);
    metrics.session(&SessionEvent::Ended);
    metrics.worker_start(Ok(Duration::from_millis(30)));
    metrics.worker_start(Err(()));
    let gauges = Gauges {
        warm_workers: 2,
        servers: vec![
            ServerGauge {
                name: "github",
                state: ServerStateLabel::Ready,
                tools: 41,
            },
            ServerGauge {
                name: "fs",
                state: ServerStateLabel::Down,
                tools: 0,
            },
        ],
    };
    let text = metrics.encode(&gauges);
    assert!(text.contains("sluice_sessions 1"));
    assert!(text.contains("sluice_workers_warm 2"));
    assert!(text.contains("sluice_worker_start_seconds_count 1"));
    assert!(text.contains("sluice_worker_start_failures_total 1"));
    assert!(text.contains(r#"sluice_downstream_server_state{server="github",state="ready"} 1"#));
    assert!(text.contains(r#"sluice_downstream_server_state{server="github",state="down"} 0"#));
    assert!(text.contains(r#"sluice_downstream_server_state{server="fs",state="down"} 1"#));
    assert!(text.contains(r#"sluice_downstream_tools{server="github"} 41"#));
    // The next read describes the state then, not what it was before.
    let text = metrics.encode(&Gauges::default());
    assert!(!text.contains("sluice_downstream_tools{"));
}

#[test]
fn every_family_has_help_and_type() {
    let metrics = metrics();
    metrics.tool_call("github", CallOutcome::Ok, Duration::from_millis(1));
    let text = metrics.encode(&Gauges::default());
    for line in text.lines().filter(|line| !line.starts_with('#')) {
        let name = line.split(['{', ' ']).next().unwrap();
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| name.strip_suffix(suffix))
            .filter(|base| text.contains(&format!("# TYPE {base} histogram")))
            .unwrap_or(name);
        assert!(text.contains(&format!("# HELP {family} ")), "{line}");
        assert!(text.contains(&format!("# TYPE {family} ")), "{line}");
    }
}
