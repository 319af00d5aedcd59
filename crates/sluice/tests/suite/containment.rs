//! Hostile code through `execute_code` on a real `sluice serve` (confined workers), one case of
//! `docs/security.md` after another in one connection: each must be contained
//! (the effect did not happen), end with a typed error, leave an audit record with the reason,
//! and leave the gateway serving the next execution. Syscall-level cases (sockets, ptrace,
//! mknod, io_uring, fork) run under the same confinement in `sluice-sandbox`'s probe tests.

use std::path::Path;

use serde_json::{Value, json};
use sluice_test_support::{McpConfig, everything_server, fake_server, run_python_client};

use super::common::{
    audit_records, call, error_type, execute, execute_with_timeout, sluice_serve_with_data, text,
    workers_running, write_config,
};

fn error_message(result: &Value) -> String {
    result["structuredContent"]["error"]["message"]
        .as_str()
        .unwrap_or("")
        .to_owned()
}

/// The execution record of the execution that ran `code`.
fn execution_record<'a>(records: &'a [Value], code: &str) -> &'a Value {
    records
        .iter()
        .find(|record| record["kind"] == "execution" && record["code"] == code)
        .unwrap_or_else(|| panic!("no audit record for {code:?}"))
}

struct Case {
    /// What the case is, for failure messages.
    name: &'static str,
    code: String,
    timeout_ms: Option<u64>,
    /// The error type the execution must end with.
    error: &'static str,
    /// Words its message must contain.
    reason: &'static str,
    /// A limit the audit record must list, if any.
    limit: Option<&'static str>,
}

fn case(name: &'static str, code: &str, error: &'static str, reason: &'static str) -> Case {
    Case {
        name,
        code: code.to_owned(),
        timeout_ms: None,
        error,
        reason,
        limit: None,
    }
}

#[test]
fn hostile_code_is_contained_typed_audited_and_survived() {
    let data = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("secret.txt");
    std::fs::write(&secret, "TOP SECRET").unwrap();
    let workspace = data.path().join("workspace");
    std::fs::create_dir_all(&workspace).unwrap();
    // A symlink planted in the workspace (as a compromised helper might): out to the secret.
    std::os::unix::fs::symlink(&secret, workspace.join("escape")).unwrap();
    std::os::unix::fs::symlink(outside.path(), workspace.join("escape-dir")).unwrap();

    let config = write_config(
        McpConfig::new().server("everything", &everything_server()),
        json!({
            "execution": {"memoryMb": 64, "outputBytes": 2048, "toolCalls": 50, "workspaceMb": 1},
            "limits": {"callsPerSecond": {"everything": 20}}
        }),
    );
    let secret_path = secret.display().to_string();
    let fs_import = "import * as fs from 'fs/promises';\n";
    let mut cases = vec![
        // 1. Reads outside the workspace, through the file API.
        case(
            "read ../../etc/passwd",
            &format!("{fs_import}await fs.readFile('./workspace/../../etc/passwd');"),
            "RuntimeError",
            "EACCES",
        ),
        case(
            "read /proc/self/environ",
            &format!("{fs_import}await fs.readFile('/proc/self/environ');"),
            "RuntimeError",
            "EACCES",
        ),
        case(
            "read an absolute path outside",
            &format!("{fs_import}await fs.readFile({secret_path:?});"),
            "RuntimeError",
            "EACCES",
        ),
        // 2. A symlink in the workspace pointing out: reading and writing through it fail.
        case(
            "read through a planted symlink",
            &format!("{fs_import}await fs.readFile('./workspace/escape');"),
            "RuntimeError",
            "E",
        ),
        case(
            "write through a planted symlink",
            &format!("{fs_import}await fs.writeFile('./workspace/escape', 'pwned');"),
            "RuntimeError",
            "E",
        ),
        case(
            "write through a planted folder symlink",
            &format!("{fs_import}await fs.writeFile('./workspace/escape-dir/new.txt', 'pwned');"),
            "RuntimeError",
            "E",
        ),
        // 9. No network API, no remote or host modules.
        case(
            "fetch",
            "await fetch('http://169.254.169.254/latest/meta-data/');",
            "RuntimeError",
            "fetch",
        ),
        case(
            "import a URL",
            "await import('https://example.com/x.js');",
            "ImportError",
            "https://example.com/x.js",
        ),
        case(
            "import os",
            "import * as os from 'os';\nconsole.log(os);",
            "ImportError",
            "os",
        ),
        case(
            "import std",
            "import * as std from 'std';\nconsole.log(std);",
            "ImportError",
            "std",
        ),
        // 16, 18, 19: loops that poll the interrupt handler end at the time limit.
        Case {
            timeout_ms: Some(600),
            limit: Some("timeout"),
            ..case("busy loop", "while (true) {}", "Timeout", "600 ms")
        },
        Case {
            timeout_ms: Some(600),
            limit: Some("timeout"),
            ..case(
                "ReDoS",
                "/^(a+)+$/.test('a'.repeat(40) + '!');",
                "Timeout",
                "600 ms",
            )
        },
        Case {
            timeout_ms: Some(600),
            limit: Some("timeout"),
            ..case(
                "microtask loop",
                "(async () => { for (;;) await null; })(); await new Promise(() => {});",
                "Timeout",
                "600 ms",
            )
        },
        // 17. A C builtin that never polls: the gateway's watchdog kills the worker.
        Case {
            timeout_ms: Some(500),
            limit: Some("timeout"),
            ..case(
                "non-polling builtin",
                "Array.prototype.indexOf.call({ length: 2 ** 32 - 1 }, 1);",
                "Timeout",
                "500 ms",
            )
        },
        // 20. Heap bombs.
        Case {
            limit: Some("memory"),
            ..case(
                "heap bomb",
                "const a = []; while (true) a.push(new Array(100000).fill('x'));",
                "OutOfMemory",
                "",
            )
        },
        Case {
            limit: Some("memory"),
            ..case("huge string", "'x'.repeat(2 ** 29);", "OutOfMemory", "")
        },
        // 21. Deep recursion and nested JSON.
        case(
            "deep recursion",
            "const f = (n: number): number => f(n + 1) + 1; f(0);",
            "RuntimeError",
            "stack",
        ),
        case(
            "nested JSON.parse",
            "JSON.parse('['.repeat(1_000_000) + ']'.repeat(1_000_000));",
            "RuntimeError",
            "",
        ),
        // 23. A flood of tool calls: the per-execution cap and the server's rate both bite.
        Case {
            limit: Some("tool_calls"),
            ..case(
                "tool call flood",
                "import * as e from './servers/everything';\n\
                 await Promise.all(Array.from({ length: 100_000 }, () => e.echo({ message: 'x' })));",
                "ToolCallLimit",
                "50 tool calls",
            )
        },
        // 23 (rate): more calls in a second than the server's rate allows.
        Case {
            limit: Some("rate"),
            ..case(
                "rate flood",
                "import * as e from './servers/everything';\n\
                 await Promise.all(Array.from({ length: 45 }, () => e.echo({ message: 'x' })));",
                "ToolError",
                "calls per second",
            )
        },
        // 25. Disk fill: the workspace quota.
        case(
            "disk fill",
            &format!(
                "{fs_import}const chunk = 'x'.repeat(256 * 1024);\n\
                 for (let i = 0; i < 100; i++) await fs.appendFile('./workspace/fill.txt', chunk);"
            ),
            "RuntimeError",
            "EDQUOT",
        ),
        // 27, 28: the dangerous engine features are gone.
        case(
            "SharedArrayBuffer and Atomics",
            "if (typeof SharedArrayBuffer !== 'undefined' || typeof Atomics !== 'undefined') \
             console.log('present'); throw new Error('checked');",
            "RuntimeError",
            "checked",
        ),
        // 34, 35: unknown tools and bad arguments are refused before anything is forwarded.
        case(
            "unknown tool",
            "import { callMCPTool } from './runtime'; await callMCPTool('everything', 'no-such-tool', {});",
            "ToolError",
            "no-such-tool",
        ),
        case(
            "arguments violating the schema",
            "import * as e from './servers/everything'; await e.getSum({ a: 'one', b: 2 } as any);",
            "ToolError",
            "field `a`",
        ),
    ];
    // 29, 30, 31 are observations, not errors: checked below from their output.
    let globals = "console.log(typeof Function('return this')().process, typeof require, \
                   typeof std, typeof os, typeof SharedArrayBuffer, typeof Atomics);\n\
                   Object.prototype.polluted = 'yes';";
    let after_pollution = "console.log(({} as any).polluted === undefined ? 'clean' : 'polluted');";
    let leaks = format!(
        "{fs_import}try {{ await fs.readFile('./workspace/nope.txt'); }} catch (e) {{ console.log(String(e), e.stack); }}"
    );
    let alive = "export default 6 * 7;";

    let mut ops: Vec<Value> = Vec::new();
    for case in &cases {
        ops.push(match case.timeout_ms {
            Some(timeout_ms) => execute_with_timeout(&case.code, timeout_ms),
            None => execute(&case.code),
        });
    }
    ops.push(execute(globals));
    ops.push(execute(after_pollution));
    ops.push(execute(&leaks));
    ops.push(execute(alive));
    // 6. The gateway's own view of the workspace never follows the planted symlinks either.
    ops.push(call("read_file", json!({"path": "workspace/escape"})));
    ops.push(call("list_files", json!({"path": "workspace/escape-dir"})));

    let output = run_python_client(
        &sluice_serve_with_data(config.path(), data.path()),
        &json!(ops),
    )
    .ok();
    let results = output["results"].as_array().cloned().unwrap_or_default();
    assert_eq!(results.len(), ops.len(), "{output}");
    let records = audit_records(data.path());

    for (case, result) in cases.iter_mut().zip(&results) {
        let name = case.name;
        assert_eq!(error_type(result), case.error, "{name}: {}", text(result));
        assert!(
            error_message(result).contains(case.reason),
            "{name}: {:?} lacks {:?}",
            error_message(result),
            case.reason
        );
        let record = execution_record(&records, &case.code);
        assert_eq!(record["outcome"], "error", "{name}: {record}");
        assert_eq!(record["error_kind"], case.error, "{name}: {record}");
        if let Some(limit) = case.limit {
            assert!(
                record["limits_hit"]
                    .as_array()
                    .unwrap()
                    .contains(&json!(limit)),
                "{name}: {record}"
            );
        }
    }
    let base = cases.len();

    // Contained: the secret is untouched, nothing was created outside.
    assert_eq!(std::fs::read_to_string(&secret).unwrap(), "TOP SECRET");
    assert!(!outside.path().join("new.txt").exists());
    for result in &results {
        assert!(!text(result).contains("TOP SECRET"), "{}", text(result));
    }
    // The quota held: the workspace holds at most 1 MiB.
    let filled = std::fs::metadata(workspace.join("fill.txt"))
        .map(|metadata| metadata.len())
        .unwrap_or(0);
    assert!(filled <= 1024 * 1024, "{filled} bytes");
    // The flood: at most the cap was forwarded, every call audited with its outcome.
    // The rate: at most 20 echo calls went through in that second, the rest were refused and
    // every one is audited with its outcome.
    let echo = |outcome: &str| {
        records
            .iter()
            .filter(|record| {
                record["kind"] == "tool_call"
                    && record["tool"] == "echo"
                    && record["outcome"] == outcome
            })
            .count()
    };
    assert!(
        echo("ok") <= 20,
        "{} calls forwarded past the rate",
        echo("ok")
    );
    assert!(
        echo("rate_limited") >= 20,
        "{} calls refused",
        echo("rate_limited")
    );
    assert!(
        records.iter().any(|record| record["kind"] == "tool_call"
            && record["outcome"] == "invalid_arguments"),
        "no audit record of the refused arguments"
    );

    // 29: the global object is the sandbox's; no host objects. 30: no pollution carried over.
    assert_eq!(
        text(&results[base]),
        "undefined undefined undefined undefined undefined undefined\n"
    );
    assert_eq!(text(&results[base + 1]), "clean\n");
    // 31: errors name the agent's path, never the host's folders.
    let leak = text(&results[base + 2]);
    assert!(leak.contains("ENOENT"), "{leak}");
    assert!(!leak.contains(&data.path().display().to_string()), "{leak}");
    assert!(
        !leak.contains("/home/") && !leak.contains("/root/"),
        "{leak}"
    );
    // The gateway still serves.
    assert_eq!(text(&results[base + 3]), "[result] 42\n");
    assert!(
        text(&results[base + 4]).contains("outside"),
        "{}",
        text(&results[base + 4])
    );
    assert!(
        text(&results[base + 5]).contains("outside"),
        "{}",
        text(&results[base + 5])
    );

    // 26: no worker outlived its execution (killed ones included).
    assert_eq!(workers_running(data.path()), 0, "workers left running");
}

/// What the workspace under `path` costs against the quota (`sluice_paths::entry_cost`),
/// walked by the test itself; and the number of folders in it.
fn quota_usage(path: &Path) -> (u64, usize) {
    let mut total = 0;
    let mut folders = 0;
    let mut pending = vec![path.to_path_buf()];
    while let Some(folder) = pending.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let entry = entry.unwrap();
            let metadata = entry.metadata().unwrap();
            total += sluice_paths::entry_cost(
                entry.file_name().len(),
                metadata.is_dir(),
                metadata.len(),
            );
            if metadata.is_dir() {
                folders += 1;
                pending.push(entry.path());
            }
        }
    }
    (total, folders)
}

/// A configuration with a quota of 1 MiB and one (fake) server.
fn workspace_config() -> tempfile::NamedTempFile {
    write_config(
        McpConfig::new().server("alpha", &fake_server(&[])),
        json!({"execution": {"workspaceMb": 1, "timeoutMs": 20_000}}),
    )
}

/// Security issue, items 4 and 7: folders (and names) cost quota, and a deep tree neither
/// escapes the quota nor makes the workspace unwritable, under the real worker's descriptor
/// limit. Each case ends with a typed error, an audit record, and the next execution works.
#[test]
fn folder_floods_and_deep_trees_are_contained() {
    let data = tempfile::tempdir().unwrap();
    let config = workspace_config();
    let fs_import = "import * as fs from 'fs/promises';\n";
    let levels = "const levels = (n: number) => './workspace/' + \
                  Array.from({ length: n }, () => 'a').join('/');\n";
    // 7. A tree at the depth limit: made, written into, and the workspace stays writable
    // (before: the quota walk held a descriptor per level and failed near 58 levels); one
    // level more is refused with the true limit.
    let deep = format!(
        "{fs_import}{levels}await fs.mkdir(levels(64), {{ recursive: true }});\n\
         await fs.writeFile(levels(64) + '/deepest.txt', 'deep');\n\
         await fs.writeFile('./workspace/top.txt', 'still writable');\n\
         console.log('made');\n\
         await fs.mkdir(levels(65), {{ recursive: true }});"
    );
    let after_deep = format!(
        "{fs_import}{levels}await fs.appendFile('./workspace/top.txt', '!');\n\
         export default [await fs.readFile(levels(64) + '/deepest.txt'), \
         await fs.readFile('./workspace/top.txt')];"
    );
    let remove_deep = format!("{fs_import}await fs.rm('./workspace/a', {{ recursive: true }});");
    // 4. Thousands of folders with long names (before: free, tens of MB in half a second).
    let flood = format!(
        "{fs_import}const started = Date.now();\n\
         for (let i = 0; i < 5000; i++) \
         await fs.mkdir(`./workspace/${{String(i).padStart(4, '0')}}${{'n'.repeat(240)}}`);"
    );
    let alive = format!(
        "{fs_import}await fs.rm('./workspace/0000' + 'n'.repeat(240), {{ recursive: true }});\n\
         await fs.writeFile('./workspace/alive.txt', 'yes');\n\
         export default await fs.readFile('./workspace/alive.txt');"
    );
    let ops = json!([
        execute(&deep),
        execute(&after_deep),
        execute(&remove_deep),
        execute(&flood),
        execute(&alive),
    ]);
    let output = run_python_client(&sluice_serve_with_data(config.path(), data.path()), &ops).ok();
    let results = output["results"].as_array().cloned().unwrap_or_default();
    assert_eq!(results.len(), 5, "{output}");

    // The deep tree: made and written at the limit, one level more refused, truthfully.
    assert_eq!(
        error_type(&results[0]),
        "RuntimeError",
        "{}",
        text(&results[0])
    );
    assert!(text(&results[0]).contains("made"), "{}", text(&results[0]));
    let message = error_message(&results[0]);
    assert!(
        message.contains("at most 64 levels") && message.contains("65 levels deep"),
        "{message}"
    );
    assert_eq!(error_type(&results[1]), "<none>", "{}", text(&results[1]));
    assert!(
        text(&results[1]).contains(r#"["deep","still writable!"]"#),
        "{}",
        text(&results[1])
    );
    assert_eq!(error_type(&results[2]), "<none>", "{}", text(&results[2]));

    // The flood: refused at the quota, which held.
    assert_eq!(
        error_type(&results[3]),
        "RuntimeError",
        "{}",
        text(&results[3])
    );
    assert!(
        error_message(&results[3]).contains("EDQUOT"),
        "{}",
        text(&results[3])
    );
    let workspace = data.path().join("workspace");
    let (usage, folders) = quota_usage(&workspace);
    assert!(usage <= 1024 * 1024, "{usage} bytes in {folders} folders");
    // 1 MiB holds at most 228 folders of 4096 + 256 + 244 bytes; the top file is there too.
    assert!((200..=228).contains(&folders), "{folders} folders");

    // The next execution works.
    assert_eq!(error_type(&results[4]), "<none>", "{}", text(&results[4]));
    assert!(text(&results[4]).contains("yes"), "{}", text(&results[4]));

    // Audited with the reason.
    let records = audit_records(data.path());
    for (code, reason) in [(&deep, "at most 64 levels"), (&flood, "EDQUOT")] {
        let record = execution_record(&records, code);
        assert_eq!(record["outcome"], "error", "{record}");
        assert_eq!(record["error_kind"], "RuntimeError", "{record}");
        assert!(record.to_string().contains(reason), "{record}");
    }
}

/// Security issue, item 5: the quota holds across concurrent executions of clients of two
/// gateways sharing one workspace (one of them in a session). Each execution writes (before:
/// its one measurement of the workspace), waits, then writes 600 KiB against a quota of 1 MiB:
/// exactly one of the big writes may succeed.
#[test]
fn concurrent_executions_cannot_race_the_quota() {
    let data = tempfile::tempdir().unwrap();
    let config = workspace_config();
    let code = |name: &str| {
        format!(
            "import * as fs from 'fs/promises';\n\
             await fs.writeFile('./workspace/{name}-small.txt', 'x');\n\
             await new Promise((resolve) => setTimeout(resolve, 1500));\n\
             await fs.writeFile('./workspace/{name}-big.txt', 'x'.repeat(600 * 1024));\n\
             export default 'written';"
        )
    };
    let codes = [code("first"), code("second")];
    // Then each client's next execution works (a small write fits whatever the other did).
    let after = |name: &str| {
        execute(&format!(
            "import * as fs from 'fs/promises';\n\
             await fs.writeFile('./workspace/{name}-after.txt', 'ok');\n\
             export default await fs.readFile('./workspace/{name}-after.txt');"
        ))
    };
    let runs: Vec<_> = codes
        .iter()
        .enumerate()
        .map(|(index, code)| {
            let arguments = if index == 0 {
                json!({"code": code})
            } else {
                json!({"code": code, "session": "s1"})
            };
            let ops = json!([
                call("execute_code", arguments),
                after(if index == 0 { "first" } else { "second" })
            ]);
            let server = sluice_serve_with_data(config.path(), data.path());
            std::thread::spawn(move || run_python_client(&server, &ops).ok())
        })
        .collect();
    let outputs: Vec<Value> = runs.into_iter().map(|run| run.join().unwrap()).collect();
    let results: Vec<Value> = outputs
        .iter()
        .map(|output| output["results"][0].clone())
        .collect();
    let written = results
        .iter()
        .filter(|result| error_type(result) == "<none>")
        .count();
    let refused: Vec<&Value> = results
        .iter()
        .filter(|result| error_type(result) == "RuntimeError")
        .collect();
    assert_eq!((written, refused.len()), (1, 1), "{results:?}");
    assert!(error_message(refused[0]).contains("EDQUOT"), "{results:?}");
    let (usage, _) = quota_usage(&data.path().join("workspace"));
    assert!(usage <= 1024 * 1024, "{usage} bytes");
    // Both executions are audited, the refused one with the reason.
    let records = audit_records(data.path());
    let outcomes: Vec<&Value> = codes
        .iter()
        .map(|code| &execution_record(&records, code)["outcome"])
        .collect();
    assert!(outcomes.contains(&&json!("ok")) && outcomes.contains(&&json!("error")));
    let refused_record = codes
        .iter()
        .map(|code| execution_record(&records, code))
        .find(|record| record["outcome"] == "error")
        .unwrap();
    assert!(
        refused_record["error_message"]
            .as_str()
            .is_some_and(|message| message.contains("EDQUOT")),
        "{refused_record}"
    );
    for output in &outputs {
        let after = &output["results"][1];
        assert_eq!(error_type(after), "<none>", "{output}");
        assert!(text(after).contains("ok"), "{output}");
    }
}
