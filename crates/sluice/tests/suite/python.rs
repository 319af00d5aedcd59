//! Python through `execute_code {language: "python"}` on a real `sluice serve` with the
//! everything server (issue 19): tool calls through the same path as TypeScript's (schema check,
//! rate limit, audit), typed errors with Python lines, sessions, and the attack cases of
//! `docs/security.md` that apply to Python, each contained, typed, audited and survived.

use serde_json::{Value, json};
use sluice_test_support::{McpConfig, everything_server, run_python_client};

use super::common::{
    audit_records, call, error_type, sluice_serve_with_data, structured, text, workers_running,
    write_config,
};

fn python(code: &str) -> Value {
    call("execute_code", json!({"code": code, "language": "python"}))
}

fn python_with(code: &str, extra: Value) -> Value {
    let mut arguments = json!({"code": code, "language": "python"});
    if let (Some(arguments), Value::Object(extra)) = (arguments.as_object_mut(), extra) {
        arguments.extend(extra);
    }
    call("execute_code", arguments)
}

fn error_field<'a>(result: &'a Value, field: &str) -> &'a Value {
    &result["structuredContent"]["error"][field]
}

#[test]
fn python_calls_tools_through_the_gateway_with_typed_errors_and_sessions() {
    let data = tempfile::tempdir().unwrap();
    let config = write_config(
        McpConfig::new().server("everything", &everything_server()),
        json!({
            "execution": {"memoryMb": 64, "outputBytes": 2048, "toolCalls": 30},
            "limits": {"callsPerSecond": {"everything": 20}}
        }),
    );
    let fan_out = "import asyncio\nfrom servers.everything import get_sum, echo\n\
                   sums = await asyncio.gather(*[get_sum(a=n, b=1) for n in range(10)])\n\
                   said = await echo(message='from python')\n\
                   print(len(sums), said)\n\
                   {'last': sums[-1], 'count': len(sums)}";
    let wrong_arguments = "from servers.everything import get_sum\n\
                           try:\n    await get_sum(a='one', b=2)\nexcept RuntimeError as e:\n    \
                           info = tool_error(e)\n    print(info['kind'], info['server'], info['tool'], info['retryable'])\n\
                           await get_sum(a='one', b=2)\n";
    let error_line = "x = 1\n\ndef f():\n    return {}['missing']\n\nf()\n";
    // 25 calls in a row within a second: 20 pass, the rest are refused by the rate limit, each
    // a catchable failure. Then a gather over the limit fails at the gather.
    let rate = "import asyncio\nfrom servers.everything import echo\n\
                outcomes = []\nfor n in range(25):\n    try:\n        await echo(message=str(n))\n        outcomes.append('ok')\n    \
                except RuntimeError as e:\n        outcomes.append(tool_error(e)['kind'])\n\
                try:\n    await asyncio.gather(*[echo(message='x') for _ in range(5)])\n    gathered = 'ok'\n\
                except RuntimeError as e:\n    gathered = tool_error(e)['kind']\n\
                [sorted(set(outcomes)), gathered]";
    let ops = json!([
        python(fan_out),
        python(wrong_arguments),
        python(error_line),
        python_with("total = 40\n", json!({"session": "s1"})),
        python_with("total += 2\ntotal", json!({"session": "s1"})),
        python("total"),
        python(rate),
        call("execute_code", json!({"code": "export default 1 + 1;"})),
        call(
            "search_tools",
            json!({"query": "sum of two numbers", "detail": "full", "language": "python"})
        ),
        call(
            "read_file",
            json!({"path": "servers/everything/echo", "language": "python"})
        ),
        call("read_file", json!({"path": "servers/everything/echo"})),
        python(
            "from pathlib import Path\nPath('workspace/notes').mkdir(exist_ok=True)\nPath('workspace/notes/a.txt').write_text('kept')\nPath('./workspace/notes/a.txt').append_text(' across')"
        ),
        python(
            "from pathlib import Path\n[Path('workspace/notes/a.txt').read_text(), Path('workspace/notes/a.txt').exists(), Path('workspace/none').exists(), [str(p) for p in Path('workspace/notes').iterdir()]]"
        ),
        python("from pathlib import Path\nPath('workspace/../../outside.txt').write_text('x')"),
    ]);
    let output = run_python_client(&sluice_serve_with_data(config.path(), data.path()), &ops).ok();
    let results = output["results"].as_array().cloned().unwrap_or_default();
    assert_eq!(results.len(), 14, "{output}");

    // Fan-out with asyncio.gather, the value of the last expression, print() as output, stats.
    let fan = &results[0];
    assert_eq!(fan["isError"], false, "{}", text(fan));
    assert_eq!(structured(fan)["result"]["count"], 10);
    assert!(text(fan).starts_with("10 "), "{}", text(fan));
    assert_eq!(
        structured(fan)["stats"]["tool_calls"],
        11,
        "{}",
        structured(fan)
    );

    // Arguments are checked against the schema before sending: catchable, then uncaught.
    let wrong = &results[1];
    assert!(
        text(wrong).contains("invalid_arguments everything get-sum False"),
        "{}",
        text(wrong)
    );
    assert_eq!(error_type(wrong), "ToolError", "{}", text(wrong));
    assert_eq!(error_field(wrong, "line"), 7, "{}", structured(wrong));

    // A Python exception: its type and line.
    let keyed = &results[2];
    assert_eq!(error_type(keyed), "RuntimeError");
    assert_eq!(error_field(keyed, "line"), 4, "{}", structured(keyed));
    let message = error_field(keyed, "message").as_str().unwrap_or("");
    assert!(message.contains("KeyError: missing"), "{message}");
    assert!(message.contains("main.py"), "{message}");

    // A session keeps globals; an execution outside it does not see them.
    assert_eq!(
        structured(&results[4])["result"],
        42,
        "{}",
        text(&results[4])
    );
    assert_eq!(
        error_type(&results[5]),
        "RuntimeError",
        "{}",
        text(&results[5])
    );
    assert!(
        text(&results[5]).contains("NameError"),
        "{}",
        text(&results[5])
    );

    // The per-server rate limit holds for gathered Python calls as for TypeScript's.
    assert_eq!(
        structured(&results[6])["result"],
        json!([["ok", "rate_limited"], "rate_limited"]),
        "{}",
        text(&results[6])
    );
    // TypeScript still runs beside it.
    assert_eq!(structured(&results[7])["result"], 2);

    // search_tools and read_file speak Python when asked, TypeScript by default.
    let found = text(&results[8]);
    assert!(found.contains("# servers/everything/get_sum.py"), "{found}");
    assert!(
        found.contains("from servers.everything import get_sum"),
        "{found}"
    );
    assert!(
        found.contains("async def get_sum(*, a: float, b: float)"),
        "{found}"
    );
    assert!(
        text(&results[9]).contains("async def echo("),
        "{}",
        text(&results[9])
    );
    assert!(
        text(&results[10]).contains("export async function echo("),
        "{}",
        text(&results[10])
    );

    // The workspace through pathlib: the same folder and rules as fs/promises.
    assert_eq!(
        structured(&results[12])["result"],
        json!(["kept across", true, false, ["workspace/notes/a.txt"]]),
        "{}",
        text(&results[12])
    );
    assert_eq!(
        std::fs::read_to_string(data.path().join("workspace/notes/a.txt")).unwrap(),
        "kept across"
    );
    assert_eq!(
        error_type(&results[13]),
        "RuntimeError",
        "{}",
        text(&results[13])
    );
    assert!(!data.path().join("outside.txt").exists());

    // Every Python execution and tool call is audited, with its language.
    let records = audit_records(data.path());
    let python_executions = records
        .iter()
        .filter(|record| record["kind"] == "execution" && record["language"] == "python")
        .count();
    assert_eq!(python_executions, 10, "{records:?}");
    assert!(records.iter().any(|record| record["kind"] == "tool_call"
        && record["tool"] == "get-sum"
        && record["outcome"] == "invalid_arguments"));
    assert_eq!(workers_running(data.path()), 0, "workers left running");
}

/// One attack case: Python code, the error type it must end with, words of its message, and
/// the limit its audit record must list.
struct Case {
    name: &'static str,
    code: &'static str,
    error: &'static str,
    reason: &'static str,
    limit: Option<&'static str>,
}

#[test]
fn hostile_python_is_contained_typed_audited_and_survived() {
    let data = tempfile::tempdir().unwrap();
    let config = write_config(
        McpConfig::new().server("everything", &everything_server()),
        json!({"execution": {"memoryMb": 64, "outputBytes": 2048, "toolCalls": 20, "timeoutMs": 2000}}),
    );
    let cases = [
        Case {
            name: "os.system",
            code: "import os\nos.system('touch /tmp/sluice-python-escape')\n",
            error: "RuntimeError",
            reason: "AttributeError",
            limit: None,
        },
        Case {
            name: "os.getenv",
            code: "import os\nos.getenv('HOME')\n",
            error: "RuntimeError",
            reason: "PermissionError",
            limit: None,
        },
        Case {
            name: "pathlib read outside",
            code: "from pathlib import Path\nPath('/etc/passwd').read_text()\n",
            error: "RuntimeError",
            reason: "only the workspace folder is accessible",
            limit: None,
        },
        Case {
            name: "pathlib climbing out of the workspace",
            code: "from pathlib import Path\nPath('workspace/../../../etc/passwd').read_text()\n",
            error: "RuntimeError",
            reason: "PermissionError",
            limit: None,
        },
        Case {
            name: "open()",
            code: "open('/etc/passwd').read()\n",
            error: "RuntimeError",
            reason: "no access to the host",
            limit: None,
        },
        Case {
            name: "subprocess",
            code: "import subprocess\nsubprocess.run(['id'])\n",
            error: "ImportError",
            reason: "No module named 'subprocess'",
            limit: None,
        },
        Case {
            name: "socket",
            code: "import socket\nsocket.create_connection(('1.1.1.1', 80))\n",
            error: "ImportError",
            reason: "No module named 'socket'",
            limit: None,
        },
        Case {
            name: "__import__",
            code: "__import__('os').system('id')\n",
            error: "RuntimeError",
            reason: "NameError",
            limit: None,
        },
        Case {
            name: "big integer",
            code: "x = 10 ** (10 ** 9)\n",
            error: "OutOfMemory",
            reason: "memory limit",
            limit: Some("memory"),
        },
        Case {
            // Multiplying integers of megabytes cannot be interrupted inside Monty: the worker's
            // watchdog ends it just past the deadline, and the worker with it.
            name: "growing big integer",
            code: "x = 7\nwhile True:\n    x = x * x\n",
            error: "Timeout",
            reason: "time limit",
            limit: Some("timeout"),
        },
        Case {
            name: "huge string",
            code: "s = 'a' * (10 ** 9)\n",
            error: "OutOfMemory",
            reason: "memory limit",
            limit: Some("memory"),
        },
        Case {
            name: "doubling string",
            code: "s = 'a'\nwhile True:\n    s = s + s\n",
            error: "OutOfMemory",
            reason: "memory",
            limit: Some("memory"),
        },
        Case {
            name: "growing list",
            code: "items = []\nwhile True:\n    items.append([0] * 1000)\n",
            error: "OutOfMemory",
            reason: "memory",
            limit: Some("memory"),
        },
        Case {
            name: "deep recursion",
            code: "def down(n):\n    return down(n + 1)\ndown(0)\n",
            error: "RuntimeError",
            reason: "RecursionError",
            limit: None,
        },
        Case {
            name: "infinite iterator",
            code: "import itertools\nlist(itertools.count())\n",
            error: "OutOfMemory",
            reason: "memory",
            limit: Some("memory"),
        },
        Case {
            name: "infinite loop over an iterator",
            code: "import itertools\nfor _ in itertools.count():\n    pass\n",
            error: "Timeout",
            reason: "time limit",
            limit: Some("timeout"),
        },
        Case {
            name: "exception swallowing past the deadline",
            code: "while True:\n    try:\n        while True:\n            pass\n    except BaseException:\n        pass\n",
            error: "Timeout",
            reason: "time limit",
            limit: Some("timeout"),
        },
        Case {
            name: "swallowing around tool calls past the deadline",
            code: "from servers.everything import echo\nwhile True:\n    try:\n        await echo(message='x')\n    except BaseException:\n        pass\n",
            error: "ToolCallLimit",
            reason: "more than 20 tool calls",
            limit: Some("tool_calls"),
        },
        Case {
            name: "tool-call flood",
            code: "import asyncio\nfrom servers.everything import echo\nawait asyncio.gather(*[echo(message='x') for _ in range(10000)])\n",
            error: "ToolCallLimit",
            reason: "more than 20 tool calls",
            limit: Some("tool_calls"),
        },
        Case {
            name: "output flood",
            code: "for i in range(100000):\n    print('flood', i)\nraise ValueError('after the flood')\n",
            error: "RuntimeError",
            reason: "after the flood",
            limit: None,
        },
    ];
    let mut ops: Vec<Value> = cases.iter().map(|case| python(case.code)).collect();
    ops.push(python("import sys\n[6 * 7, sys.platform]"));
    let output = run_python_client(
        &sluice_serve_with_data(config.path(), data.path()),
        &json!(ops),
    )
    .ok();
    let results = output["results"].as_array().cloned().unwrap_or_default();
    assert_eq!(results.len(), ops.len(), "{output}");
    let records = audit_records(data.path());
    for (case, result) in cases.iter().zip(&results) {
        let name = case.name;
        assert_eq!(error_type(result), case.error, "{name}: {}", text(result));
        let message = error_field(result, "message").as_str().unwrap_or("");
        assert!(
            message.contains(case.reason),
            "{name}: {message:?} lacks {:?}",
            case.reason
        );
        let record = records
            .iter()
            .find(|record| record["kind"] == "execution" && record["code"] == case.code)
            .unwrap_or_else(|| panic!("{name}: no audit record"));
        assert_eq!(record["error_kind"], case.error, "{name}: {record}");
        assert_eq!(record["language"], "python", "{name}: {record}");
        if let Some(limit) = case.limit {
            assert!(
                record["limits_hit"]
                    .as_array()
                    .is_some_and(|hit| hit.contains(&json!(limit))),
                "{name}: {record}"
            );
        }
    }
    assert!(!std::path::Path::new("/tmp/sluice-python-escape").exists());
    // The output flood was cut at the budget.
    let flood = &results[cases.len() - 1];
    assert!(text(flood).len() < 4096, "{}", text(flood).len());
    // The gateway still serves, and no worker outlived its execution.
    let alive = &results[cases.len()];
    assert_eq!(structured(alive)["result"][0], 42, "{}", text(alive));
    assert_eq!(workers_running(data.path()), 0, "workers left running");
}

/// Skills in Python (issue 19, item 4): saved with `save_skill` and `language: "python"`, found by
/// search, imported from Python with the tools they call; a Python skill from TypeScript, a
/// TypeScript skill from Python, a skill whose top level awaits and one that defines nothing are
/// each a clear error.
#[test]
fn python_skills_are_saved_found_and_imported_from_python_only() {
    let data = tempfile::tempdir().unwrap();
    let config = write_config(
        McpConfig::new().server("everything", &everything_server()),
        json!({"execution": {"memoryMb": 64}}),
    );
    let skill = "import asyncio\nfrom servers.everything import get_sum\n\n\
                 PAIRS_NOTE = \"\"\"Sums each pair\nwith the everything server.\"\"\"\n\n\
                 async def sum_pairs(pairs):\n    \
                 return await asyncio.gather(*[get_sum(a=a, b=b) for a, b in pairs])\n";
    let save = |name: &str, code: &str, language: &str| {
        call(
            "save_skill",
            json!({"name": name, "description": "Sum pairs of numbers", "code": code, "language": language}),
        )
    };
    let ops = json!([
        save("sum-pairs", skill, "python"),
        python(
            "from skills.sum_pairs import sum_pairs, PAIRS_NOTE\n\
             sums = await sum_pairs([[1, 2], [30, 4]])\n[len(sums), str(sums), PAIRS_NOTE]"
        ),
        call(
            "execute_code",
            json!({"code": "import { sum_pairs } from './skills/sum-pairs';\nexport default sum_pairs([[1, 2]]);"})
        ),
        save(
            "ts-double",
            "export function double(x: number) { return 2 * x; }",
            "typescript"
        ),
        python("from skills.ts_double import double\ndouble(2)"),
        save("awaits", "x = await something()\n", "python"),
        save("empty", "_private = 1\n", "python"),
        call(
            "search_tools",
            json!({"query": "sum pairs of numbers", "detail": "summary"})
        ),
        call("read_file", json!({"path": "skills/sum-pairs/SKILL.md"})),
        python("from skills.sum_pairs import nothing_here\n"),
    ]);
    let output = run_python_client(&sluice_serve_with_data(config.path(), data.path()), &ops).ok();
    let results = output["results"].as_array().cloned().unwrap_or_default();
    assert_eq!(results.len(), 10, "{output}");

    assert_eq!(results[0]["isError"], false, "{}", text(&results[0]));
    assert!(
        text(&results[0]).contains("from skills.sum_pairs import PAIRS_NOTE, sum_pairs"),
        "{}",
        text(&results[0])
    );
    assert!(data.path().join("skills/sum-pairs/skill.py").is_file());

    let used = &results[1];
    assert_eq!(used["isError"], false, "{}", text(used));
    let result = &structured(used)["result"];
    assert_eq!(result[0], 2, "{result}");
    let sums = result[1].as_str().unwrap_or_default();
    assert!(sums.contains('3') && sums.contains("34"), "{sums}");
    assert_eq!(result[2], "Sums each pair\nwith the everything server.");
    assert_eq!(structured(used)["stats"]["tool_calls"], 2);

    assert_eq!(
        error_type(&results[2]),
        "ImportError",
        "{}",
        text(&results[2])
    );
    assert!(
        text(&results[2]).contains("was saved in Python"),
        "{}",
        text(&results[2])
    );
    assert_eq!(results[3]["isError"], false, "{}", text(&results[3]));
    assert_eq!(
        error_type(&results[4]),
        "ImportError",
        "{}",
        text(&results[4])
    );
    assert!(
        text(&results[4]).contains("saved in TypeScript"),
        "{}",
        text(&results[4])
    );
    assert_eq!(results[5]["isError"], true);
    assert!(
        text(&results[5]).contains("`await` at the top level of a skill"),
        "{}",
        text(&results[5])
    );
    assert_eq!(results[6]["isError"], true);
    assert!(
        text(&results[6]).contains("defines nothing to import"),
        "{}",
        text(&results[6])
    );
    assert!(
        text(&results[7]).contains("skill sum-pairs (Python)"),
        "{}",
        text(&results[7])
    );
    assert!(
        text(&results[8]).contains("from skills.sum_pairs import PAIRS_NOTE, sum_pairs"),
        "{}",
        text(&results[8])
    );
    assert_eq!(error_type(&results[9]), "ImportError");
    assert!(
        text(&results[9]).contains(
            "defines no 'nothing_here'. It defines: asyncio, get_sum, PAIRS_NOTE, sum_pairs."
        ),
        "{}",
        text(&results[9])
    );
}
