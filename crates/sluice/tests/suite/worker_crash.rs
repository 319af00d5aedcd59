//! A worker killed in the middle of an execution costs that execution only: `WorkerCrashed`.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sluice_test_support::{McpConfig, fake_server};

use super::common::{process_parents, write_config};

/// Children of `parent` that are workers: the `sluice-worker` binary (or `sluice worker`).
fn worker_children(parent: u32) -> Vec<u32> {
    process_parents()
        .into_iter()
        .filter(|(_, of)| *of == parent)
        .map(|(pid, _)| pid)
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            cmdline
                .split(|byte| *byte == 0)
                .any(|argument| argument == b"worker" || argument.ends_with(b"/sluice-worker"))
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

/// `sluice exec` of a trivial script with `sluice` at `program` (the worker binary beside it is
/// whatever the test put there): its stdout report and stderr.
fn exec_with(program: &std::path::Path) -> (Value, String) {
    let config = write_config(McpConfig::new(), json!({}));
    let data = tempfile::tempdir().expect("data dir");
    let mut child = Command::new(program)
        .args(["exec", "--model", "none", "--json", "--config"])
        .arg(config.path())
        .arg("--data-dir")
        .arg(data.path())
        .arg("-")
        .env("SLUICE_LOG", "sluice=debug")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sluice exec");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(b"export default 40 + 2;").expect("script");
    }
    let output = child.wait_with_output().expect("sluice exec");
    let report = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    (report, String::from_utf8_lossy(&output.stderr).into_owned())
}

#[test]
fn a_worker_binary_of_another_build_is_never_started() {
    let folder = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("folder");
    let sluice = folder.path().join("sluice");
    std::fs::hard_link(env!("CARGO_BIN_EXE_sluice"), &sluice).expect("link sluice");
    let worker = folder.path().join("sluice-worker");

    // One that says it is another build: not used; the code runs in `sluice worker`.
    std::fs::write(&worker, "#!/bin/sh\necho 0000000000000000\n").expect("stale worker");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&worker, std::fs::Permissions::from_mode(0o755))
            .expect("executable");
    }
    let (report, stderr) = exec_with(&sluice);
    assert_eq!(report["result"], json!(42), "{report} {stderr}");
    assert!(stderr.contains("from another build"), "{stderr}");
    assert!(
        !stderr.contains("workers run as the worker binary"),
        "{stderr}"
    );

    // The worker binary of this build: used.
    std::fs::remove_file(&worker).expect("remove");
    std::fs::hard_link(env!("CARGO_BIN_EXE_sluice-worker"), &worker).expect("link worker");
    let (report, stderr) = exec_with(&sluice);
    assert_eq!(report["result"], json!(42), "{report} {stderr}");
    assert!(
        stderr.contains("workers run as the worker binary"),
        "{stderr}"
    );
    assert!(!stderr.contains("from another build"), "{stderr}");
}
