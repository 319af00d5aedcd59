//! `sluice serve --metrics ADDR`: `/metrics` after real executions, linted by the real
//! `promtool` and scraped by a real Prometheus server (Debian's package, unpacked by
//! `scripts/test` into `target/test-deps/prometheus`).

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sluice_test_support::{McpConfig, everything_server, prometheus_bin};

use super::common::{execute, refused, text, write_config};
use super::serve_http::{HttpSluice, python_over_http, raw_request};

/// A running Prometheus server, killed when dropped.
struct Prometheus {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    /// Prometheus scraping `127.0.0.1:target` every second.
    fn scraping(target: u16) -> Prometheus {
        let dir = tempfile::tempdir().expect("prometheus dir");
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
                 scrape_configs:\n  - job_name: sluice\n    static_configs:\n      \
                 - targets: ['127.0.0.1:{target}']\n"
            ),
        )
        .expect("write prometheus.yml");
        let port = free_port();
        let child = Command::new(prometheus_bin("prometheus"))
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prometheus");
        Prometheus {
            child,
            port,
            _dir: dir,
        }
    }

    /// The answer of an instant query (`data.result`), or `None` while Prometheus is not
    /// answering yet.
    fn query(&self, query: &str) -> Option<Vec<Value>> {
        let encoded: String = query
            .bytes()
            .map(|byte| match byte {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'-' | b'.' => {
                    (byte as char).to_string()
                }
                _ => format!("%{byte:02X}"),
            })
            .collect();
        let path = format!("/api/v1/query?query={encoded}");
        let stream = std::net::TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        drop(stream);
        let reply = raw_request(self.port, "GET", &path, &[], None);
        let answer: Value = serde_json::from_str(&reply.body).ok()?;
        (answer["status"] == "success").then(|| {
            answer["data"]["result"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("address")
        .port()
}

/// The metrics port, from the line `sluice: metrics at http://127.0.0.1:PORT/metrics`.
fn metrics_port(sluice: &HttpSluice) -> u16 {
    let stderr = sluice.stderr.lock().expect("stderr").clone();
    stderr
        .lines()
        .find_map(|line| line.strip_prefix("sluice: metrics at http://127.0.0.1:"))
        .and_then(|rest| rest.strip_suffix("/metrics"))
        .and_then(|port| port.parse().ok())
        .unwrap_or_else(|| panic!("no metrics address on stderr:\n{stderr}"))
}

/// The value of the sample line `series` in `text`.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.parse().ok())
}

#[test]
fn prometheus_scrapes_the_metrics_of_real_executions() {
    let config = write_config(
        McpConfig::new().server("everything", &everything_server()),
        json!({}),
    );
    let data = tempfile::tempdir().expect("data dir");
    let sluice = HttpSluice::start(config.path(), data.path(), &["--metrics", "127.0.0.1:0"]);
    let port = metrics_port(&sluice);
    let ops = json!([
        execute(
            "import * as everything from './servers/everything';\n\
             console.log(await everything.echo({ message: 'one' }));\n\
             console.log(await everything.echo({ message: 'two' }));"
        ),
        execute(
            "import * as everything from './servers/everything';\n\
             try { await everything.echo({}); } catch (e) { console.log(e.kind); }"
        ),
        execute("throw new Error('on purpose');"),
    ]);
    let run = python_over_http(&sluice.url, "legacy", &[], &ops);
    let output = run.ok();
    let results = &output["results"];
    assert_eq!(
        text(&results[0]),
        "Echo: one\nEcho: two\n",
        "{}",
        results[0]
    );
    assert_eq!(text(&results[1]), "invalid_arguments\n", "{}", results[1]);

    let reply = raw_request(port, "GET", "/metrics", &[], None);
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(
        reply
            .header("content-type")
            .is_some_and(|value| value.starts_with("text/plain; version=0.0.4")),
        "{:?}",
        reply.headers
    );
    let metrics = reply.body;
    let expect = |series: &str, value: f64| {
        assert_eq!(
            sample(&metrics, series),
            Some(value),
            "{series}:\n{metrics}"
        );
    };
    expect(
        r#"sluice_executions_total{language="typescript",outcome="ok"}"#,
        2.0,
    );
    expect(
        r#"sluice_executions_total{language="typescript",outcome="RuntimeError"}"#,
        1.0,
    );
    expect(
        r#"sluice_tool_calls_total{outcome="ok",server="everything"}"#,
        2.0,
    );
    expect(
        r#"sluice_tool_calls_total{outcome="invalid_arguments",server="everything"}"#,
        1.0,
    );
    expect(
        r#"sluice_tool_call_duration_seconds_count{server="everything"}"#,
        3.0,
    );
    expect(
        r#"sluice_execution_duration_seconds_count{language="typescript"}"#,
        3.0,
    );
    expect(
        r#"sluice_downstream_server_state{server="everything",state="ready"}"#,
        1.0,
    );
    assert!(
        sample(&metrics, r#"sluice_downstream_tools{server="everything"}"#)
            .is_some_and(|tools| tools > 5.0),
        "{metrics}"
    );
    assert!(
        sample(&metrics, "sluice_worker_start_seconds_count").is_some_and(|count| count >= 1.0),
        "{metrics}"
    );
    assert!(
        sample(&metrics, "sluice_tokens_returned_total").is_some_and(|tokens| tokens > 0.0),
        "{metrics}"
    );

    // The real linter of the Prometheus project finds nothing to say.
    let mut promtool = Command::new(prometheus_bin("promtool"))
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool");
    {
        use std::io::Write;
        let mut stdin = promtool.stdin.take().expect("stdin");
        stdin.write_all(metrics.as_bytes()).expect("feed promtool");
    }
    let checked = promtool.wait_with_output().expect("promtool");
    assert!(
        checked.status.success(),
        "promtool check metrics: {}{}\n{metrics}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );

    // A real Prometheus server scrapes the address and answers a query over what it stored.
    let prometheus = Prometheus::scraping(port);
    let query = r#"sluice_executions_total{job="sluice",outcome="ok"}"#;
    let started = Instant::now();
    let answer = loop {
        if let Some(result) = prometheus.query(query)
            && !result.is_empty()
        {
            break result;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "Prometheus never had {query}"
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    assert_eq!(answer.len(), 1, "{answer:?}");
    assert_eq!(answer[0]["metric"]["language"], "typescript", "{answer:?}");
    assert_eq!(answer[0]["value"][1], "2", "{answer:?}");
    let up = prometheus.query(r#"up{job="sluice"}"#).unwrap_or_default();
    assert_eq!(
        up.first().map(|up| &up["value"][1]),
        Some(&json!("1")),
        "{up:?}"
    );
}

/// Only loopback without --metrics-allow-remote, with a message that says why and what to do;
/// the flag means nothing without --metrics.
#[test]
fn a_non_loopback_metrics_address_needs_its_own_flag() {
    let config = write_config(McpConfig::new(), json!({}));
    let config = config.path().to_str().expect("a UTF-8 temporary path");
    let stderr = refused([
        "serve",
        "--metrics",
        "0.0.0.0:0",
        "--model",
        "none",
        "--config",
        config,
    ]);
    assert!(
        stderr.contains("not a loopback address") && stderr.contains("--metrics-allow-remote"),
        "{stderr}"
    );
    // --allow-remote (for --http) does not open the metrics address.
    let stderr = refused([
        "serve",
        "--http",
        "127.0.0.1:0",
        "--allow-remote",
        "--metrics",
        "0.0.0.0:0",
        "--model",
        "none",
        "--config",
        config,
    ]);
    assert!(stderr.contains("--metrics-allow-remote"), "{stderr}");
    let stderr = refused(["serve", "--metrics-allow-remote", "--config", config]);
    assert!(stderr.contains("--metrics"), "{stderr}");
}
