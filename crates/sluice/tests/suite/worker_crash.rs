//! A worker killed in the middle of an execution costs that execution only: `WorkerCrashed`.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sluice_test_support::{McpConfig, fake_server};

use super::common::{process_parents, write_config};

/// Children of `parent` whose command line has a `worker` argument.
fn worker_children(parent: u32) -> Vec<u32> {
    process_parents()
        .into_iter()
        .filter(|(_, of)| *of == parent)
        .map(|(pid, _)| pid)
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            cmdline
                .split(|byte| *byte == 0)
                .any(|argument| argument == b"worker")
        })
        .collect()
}

#[test]
fn killed_worker_is_reported_as_worker_crashed() {
    let config = write_config(
        McpConfig::new().server("fake", &fake_server(&[])),
        json!({}),
    );
    let script = tempfile::Builder::new()
        .suffix(".ts")
        .tempfile()
        .expect("script");
    std::fs::write(
        script.path(),
        "console.log('started');\nawait new Promise((resolve) => setTimeout(resolve, 30_000));\n",
    )
    .expect("write script");
    let mut exec = super::common::sluice_command()
        .arg("exec")
        .arg("--json")
        .arg("--config")
        .arg(config.path())
        .arg(script.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start sluice exec");
    let started = Instant::now();
    let worker = loop {
        if let Some(worker) = worker_children(exec.id()).first() {
            break *worker;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no worker process appeared"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    // Let the script start and log before the kill.
    std::thread::sleep(Duration::from_millis(500));
    let status = Command::new("kill")
        .arg("-KILL")
        .arg(worker.to_string())
        .status()
        .expect("kill");
    assert!(status.success());
    let mut stdout = String::new();
    exec.stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut stdout)
        .expect("read");
    let exit = exec.wait().expect("wait");
    assert_eq!(exit.code(), Some(1));
    let report: Value = serde_json::from_str(&stdout).expect("json report");
    assert_eq!(report["error"]["type"], "WorkerCrashed", "{report}");
    assert_eq!(
        report["error"]["message"],
        "the worker was killed by signal 9 during the execution"
    );
    assert_eq!(report["output"], "started\n");
    assert!(started.elapsed() < Duration::from_secs(25));
}
