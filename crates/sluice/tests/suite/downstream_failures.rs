//! Servers that fail in the ways real ones do, and the exact words the agent reads about them.

use serde_json::json;
use sluice_test_support::{McpConfig, ServerCommand, fake_server};

use super::common::{call, run_ops, text, write_config};

#[test]
fn broken_servers_are_reported_and_others_keep_working() {
    let config = McpConfig::new()
        .server(
            "missing",
            &ServerCommand::new("sluice-test-no-such-command"),
        )
        .server("exits", &fake_server(&["exit-at-start"]))
        .server("hangs", &fake_server(&["hang-initialize"]))
        .server("noisy", &fake_server(&["garbage-stdout", "stderr-noise"]))
        .server("huge", &fake_server(&["huge-line"]))
        .server("untyped", &fake_server(&["no-type-schema"]))
        .server("prompts", &fake_server(&["prompts-only"]))
        .server(
            "needs-env",
            &fake_server(&[]).env("TOKEN", "${SLUICE_TEST_UNSET_VARIABLE}"),
        )
        .server("healthy", &fake_server(&[]));
    // Under the five seconds a first request waits for the servers, so every one has settled.
    let config = write_config(config, json!({"connectTimeoutMs": 1500}));
    let results = run_ops(
        config.path(),
        json!([
            call("list_files", json!({"path": "servers"})),
            call(
                "search_tools",
                json!({"query": "echo", "server": "noisy", "detail": "name"})
            ),
            call("list_files", json!({"path": "servers/huge"})),
            call("read_file", json!({"path": "servers/untyped/index.ts"})),
        ]),
    );
    let listing = text(&results[0]);
    let lines: Vec<&str> = listing.lines().collect();
    // Each server folder with its tool count and topics: `healthy/  # 5 tools: big, echo, ...`.
    let folders: Vec<&str> = lines[..5]
        .iter()
        .map(|line| line.split("  # ").next().unwrap_or_default())
        .collect();
    assert_eq!(
        folders,
        ["healthy/", "huge/", "noisy/", "prompts/", "untyped/"],
        "{listing}"
    );
    assert_eq!(lines[3], "prompts/  # 0 tools", "{listing}");
    assert!(lines[1].starts_with("huge/  # 6 tools: "), "{listing}");
    assert!(listing.contains(
        "Unavailable server missing: command \"sluice-test-no-such-command\" was not found: install it or give its full path in the config\n"
    ), "{listing}");
    assert!(listing.contains(
        "Unavailable server exits: exited or closed its stdout during the MCP handshake; its stderr ended with: "
    ), "{listing}");
    assert!(listing.contains(
        "Unavailable server hangs: did not complete the MCP handshake within 1500 ms (raise sluice.connectTimeoutMs if it is just slow)"
    ), "{listing}");
    // An unset variable leaves out only the server that uses it (the file still loads).
    assert!(listing.contains(
        "Unavailable server needs-env: environment variable SLUICE_TEST_UNSET_VARIABLE (used in \"env.TOKEN\") is not set where Sluice was started"
    ), "{listing}");
    // A server with prompts only is healthy, with no tools (it is not asked for them).
    assert!(!listing.contains("server prompts"), "{listing}");
    assert!(
        text(&results[1]).starts_with("noisy.echo\n"),
        "{}",
        text(&results[1])
    );
    assert!(text(&results[2]).lines().count() > 1);
    assert!(
        text(&results[3]).contains("export {"),
        "{}",
        text(&results[3])
    );
}

#[test]
fn crash_mid_run_is_an_error_then_the_server_comes_back() {
    let config = McpConfig::new().server("crashy", &fake_server(&["crash-after-calls=2"]));
    let config = write_config(config, json!({}));
    let calls = r#"import * as crashy from "./servers/crashy";
console.log(JSON.stringify(await crashy.echo({ message: "one" })));
try {
  await crashy.echo({ message: "two" });
} catch (error) {
  console.log("second call:", (error as any).kind);
  console.log((error as Error).message);
}"#;
    let results = run_ops(
        config.path(),
        json!([
            call("execute_code", json!({"code": calls})),
            // While it is being restarted: the code still loads, and the call is a retryable
            // ToolError, not an ImportError.
            call("execute_code", json!({"code": "import * as crashy from './servers/crashy';\ntry { await crashy.echo({message: 'meanwhile'}); console.log('answered'); } catch (error) { console.log((error as any).kind, (error as any).retryable); }"})),
            {"op": "sleep", "ms": 2500},
            call("list_files", json!({"path": "servers"})),
            call("execute_code", json!({"code": "import * as crashy from './servers/crashy'; console.log((await crashy.echo({message: 'back'})).message);"})),
        ]),
    );
    let output = text(&results[0]);
    let lines: Vec<&str> = output.lines().collect();
    assert_eq!(lines[0], "{\"message\":\"one\"}", "{output}");
    assert_eq!(lines[1], "second call: transport", "{output}");
    assert!(
        lines[2].starts_with("crashy.echo: call to crashy.echo failed after "),
        "{output}"
    );
    assert!(
        lines[2].ends_with("the connection to the server closed"),
        "{output}"
    );
    let meanwhile = text(&results[1]);
    assert!(meanwhile == "server_unavailable true\n", "{meanwhile}");
    assert!(
        text(&results[3]).starts_with("crashy/  # 5 tools"),
        "the server was restarted: {}",
        text(&results[3])
    );
    assert_eq!(text(&results[4]), "back\n");
}

#[test]
fn noisy_server_works_answers_unknown_requests_and_refreshes_tools() {
    let config =
        McpConfig::new().server("noisy", &fake_server(&["garbage-stdout", "list-changed"]));
    let config = write_config(config, json!({}));
    let results = run_ops(
        config.path(),
        json!([
            call("search_tools", json!({"query": "extra", "server": "noisy", "detail": "name"})),
            call("execute_code", json!({"code": "import * as noisy from './servers/noisy'; console.log(await noisy.sawUnknownAnswer({}));"})),
            {"op": "sleep", "ms": 1000},
            call("search_tools", json!({"query": "extra", "server": "noisy", "detail": "name"})),
        ]),
    );
    assert!(
        !text(&results[0]).contains("noisy.extra"),
        "{}",
        text(&results[0])
    );
    let answered = text(&results[1]);
    assert!(
        answered.contains("answered: true") || answered.starts_with("true"),
        "{answered}"
    );
    assert!(
        text(&results[3]).starts_with("noisy.extra\n"),
        "{}",
        text(&results[3])
    );
}

/// One slow server does not hold up the others: the first search is answered after about five
/// seconds with what is ready, and says the slow one is still starting. (It used to wait for the
/// slow server, up to `connectTimeoutMs`.)
#[test]
fn a_slow_server_does_not_hold_up_the_others() {
    let config = McpConfig::new()
        .server("slow", &fake_server(&["slow-start=20000"]))
        .server("healthy", &fake_server(&[]));
    let config = write_config(config, json!({"connectTimeoutMs": 30000}));
    let started = std::time::Instant::now();
    let results = run_ops(
        config.path(),
        json!([call(
            "search_tools",
            json!({"query": "echo", "detail": "name"})
        )]),
    );
    let elapsed = started.elapsed();
    let answer = text(&results[0]);
    assert!(answer.starts_with("healthy.echo"), "{answer}");
    assert!(
        answer.contains("Unavailable server slow: it is still starting"),
        "{answer}"
    );
    assert!(elapsed.as_secs() < 15, "took {elapsed:?}");
}
