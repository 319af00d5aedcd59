//! No orphans: when the client goes away or Sluice is told to stop, every server process it
//! started is gone too.

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use sluice_test_support::{McpConfig, everything_server, fake_server};

use super::common::{process_parents, write_config};

/// Every descendant of `root`, found through /proc.
fn descendants(root: u32) -> Vec<u32> {
    let parents = process_parents();
    let mut found = vec![root];
    let mut index = 0;
    while index < found.len() {
        let parent = found[index];
        found.extend(
            parents
                .iter()
                .filter(|(_, of)| *of == parent)
                .map(|(pid, _)| *pid),
        );
        index += 1;
    }
    found.remove(0);
    found
}

fn alive(pid: u32) -> bool {
    // A zombie still has a /proc entry; it counts as gone.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            !stat
                .rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

fn start_serving() -> (Child, Vec<u32>, tempfile::NamedTempFile) {
    let config = McpConfig::new()
        .server("everything", &everything_server())
        .server("one", &fake_server(&[]))
        .server("two", &fake_server(&["garbage-stdout"]));
    let config = write_config(config, json!({}));
    let mut child = super::common::sluice_command()
        .arg("serve")
        .arg("--config")
        .arg(config.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start sluice serve");
    let stdin = child.stdin.as_mut().expect("stdin");
    let initialize = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "test", "version": "1"}}});
    writeln!(stdin, "{initialize}").expect("write");
    writeln!(
        stdin,
        "{}",
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"})
    )
    .expect("write");
    let started = Instant::now();
    // Wait for the three servers (node may start children of its own).
    let servers = loop {
        let servers = descendants(child.id());
        if servers.len() >= 3 {
            std::thread::sleep(Duration::from_millis(500));
            break descendants(child.id());
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "servers did not start: {servers:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    (child, servers, config)
}

fn assert_all_gone(servers: &[u32]) {
    let started = Instant::now();
    while servers.iter().any(|pid| alive(*pid)) {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "left running: {:?}",
            servers
                .iter()
                .filter(|pid| alive(**pid))
                .collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "sluice serve did not exit"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn client_disconnect_stops_every_server() {
    let (mut child, servers, _config) = start_serving();
    drop(child.stdin.take());
    let status = wait_exit(&mut child);
    assert!(status.success(), "{status}");
    assert_all_gone(&servers);
}

#[test]
fn sigterm_stops_every_server() {
    let (mut child, servers, _config) = start_serving();
    let kill = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .expect("kill");
    assert!(kill.success());
    let status = wait_exit(&mut child);
    assert!(status.success(), "{status}");
    assert_all_gone(&servers);
}

/// SIGTERM with an execution in flight: the worker is stopped and Sluice exits cleanly within
/// about a second, not after the execution's time limit or a drain.
#[test]
fn sigterm_with_work_in_flight_exits_within_a_second() {
    let (mut child, servers, _config) = start_serving();
    let stdin = child.stdin.as_mut().expect("stdin");
    writeln!(
        stdin,
        "{}",
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
               "params": {"name": "execute_code", "arguments": {"code": "while (true) {}"}}})
    )
    .expect("write");
    std::thread::sleep(Duration::from_millis(1500));
    let started = Instant::now();
    let kill = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .expect("kill");
    assert!(kill.success());
    let status = wait_exit(&mut child);
    assert!(status.success(), "{status}");
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "took {:?}",
        started.elapsed()
    );
    assert_all_gone(&servers);
}

/// The official TypeScript SDK's close sequence with an execution in flight: stdin ends, and
/// Sluice stops the worker and exits on its own within about a second, before the SDK's SIGTERM
/// (after 2 s) or SIGKILL. Once it took about 5 s and ended in SIGKILL.
#[test]
fn the_typescript_sdk_closes_sluice_with_work_in_flight_without_a_signal() {
    let data = tempfile::tempdir().unwrap();
    let config = write_config(
        McpConfig::new().server("everything", &everything_server()),
        json!({}),
    );
    let server = json!([
        env!("CARGO_BIN_EXE_sluice"),
        "serve",
        "--config",
        config.path(),
        "--data-dir",
        data.path()
    ]);
    let script = sluice_test_support::workspace_root().join("tests/clients/ts_close.mjs");
    let output = Command::new("node")
        .arg(script)
        .env("MCP_SDK_DIR", sluice_test_support::typescript_sdk_dir())
        .env("SERVER_COMMAND", server.to_string())
        .env("SLUICE_LOG", "error")
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let closed: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON line");
    assert_eq!(closed["exitCode"], 0, "{closed}");
    assert!(closed["signal"].is_null(), "{closed}");
    assert!(closed["closeMs"].as_u64().unwrap() < 1_500, "{closed}");
}
