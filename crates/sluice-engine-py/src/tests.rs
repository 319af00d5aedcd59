//! The engine against a fake gateway that answers tool calls from a script.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use serde_json::{Value, json};
use sluice_engine_host::{Finished, Host, HostError};
use sluice_worker_protocol::{
    ErrorKind, ExecuteJob, ExecutionLimits, ExecutionOutcome, Language, PROTOCOL_VERSION,
    SkillSource, ToolBinding, ToolErrorKind, ToolOutcome, WorkerMessage,
};

use crate::Engine;

#[global_allocator]
static ALLOCATOR: monty_alloc::LimitedAllocator = monty_alloc::LimitedAllocator;

/// Answers each tool call at once: `fail` fails with `kind`, anything else echoes its input.
#[derive(Default)]
struct FakeHost {
    sent: Vec<WorkerMessage>,
    ready: VecDeque<(u64, ToolOutcome)>,
    /// Never answer (a tool that hangs).
    silent: bool,
}

impl Host for FakeHost {
    fn send(&mut self, message: WorkerMessage) -> Result<(), HostError> {
        if let WorkerMessage::ToolCall {
            call_id,
            tool,
            arguments,
            ..
        } = &message
        {
            let outcome = if tool == "fail" {
                ToolOutcome::Error {
                    kind: ToolErrorKind::Tool,
                    message: "the tool said no".into(),
                    content: Some(json!([{"type": "text", "text": "no"}])),
                    retryable: true,
                }
            } else if tool == "deny" {
                ToolOutcome::failure(ToolErrorKind::PolicyDenied, "not allowed".into(), false)
            } else {
                ToolOutcome::Ok {
                    value: json!({"echo": arguments}),
                }
            };
            if !self.silent {
                // Answer in reverse order of calls, as a real gateway may.
                self.ready.push_front((*call_id, outcome));
            }
        }
        self.sent.push(message);
        Ok(())
    }

    fn wait_tool_result(
        &mut self,
        timeout: Option<Duration>,
    ) -> Result<Option<(u64, ToolOutcome)>, HostError> {
        match self.ready.pop_front() {
            Some(result) => Ok(Some(result)),
            None => {
                if let Some(timeout) = timeout {
                    std::thread::sleep(timeout.min(Duration::from_millis(50)));
                }
                Ok(None)
            }
        }
    }
}

fn job(code: &str) -> ExecuteJob {
    let binding = |identifier: &str, name: &str| ToolBinding {
        identifier: identifier.into(),
        name: name.into(),
    };
    ExecuteJob {
        protocol_version: PROTOCOL_VERSION,
        code: code.into(),
        language: Language::Python,
        limits: ExecutionLimits {
            timeout_ms: 2_000,
            memory_bytes: 64 * 1024 * 1024,
            stack_bytes: 0,
            output_bytes: 16 * 1024,
            tool_calls: 10,
            workspace_bytes: 0,
        },
        tools: BTreeMap::from([(
            "github".to_owned(),
            vec![
                binding("createIssue", "create_issue"),
                binding("fail", "fail"),
                binding("deny", "deny"),
            ],
        )]),
        keep_state: false,
        skills: BTreeMap::new(),
    }
}

fn run(code: &str) -> (Finished, FakeHost) {
    let mut host = FakeHost::default();
    let finished = Engine::new().execute(&job(code), &mut host);
    (finished, host)
}

fn result(finished: &Finished) -> Value {
    match &finished.outcome {
        ExecutionOutcome::Ok { result } => result.clone(),
        ExecutionOutcome::Error(error) => panic!("expected a result, got {error:?}"),
    }
}

fn logs(host: &FakeHost) -> Vec<String> {
    host.sent
        .iter()
        .filter_map(|message| match message {
            WorkerMessage::Log { text, .. } => Some(text.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn the_result_is_the_last_expression_and_prints_are_the_console() {
    let (finished, host) =
        run("x = [1, 2]\nprint('hello', len(x))\n{'sum': sum(x), 't': (1, None)}");
    assert_eq!(result(&finished), json!({"sum": 3, "t": [1, null]}));
    assert_eq!(logs(&host), vec!["hello 2"]);
    let (finished, _) = run("x = 1\nif x:\n    y = 2\n");
    assert_eq!(result(&finished), Value::Null);
}

#[test]
fn tools_are_awaited_and_gathered() {
    let code = "import asyncio\nfrom servers.github import create_issue\n\
                one = await create_issue(title='a')\n\
                many = await asyncio.gather(create_issue(title='b'), create_issue({'title': 'c'}))\n\
                [one, many]";
    let (finished, host) = run(code);
    assert_eq!(
        result(&finished),
        json!([{"echo": {"title": "a"}}, [{"echo": {"title": "b"}}, {"echo": {"title": "c"}}]])
    );
    let calls: Vec<&WorkerMessage> = host
        .sent
        .iter()
        .filter(|message| matches!(message, WorkerMessage::ToolCall { .. }))
        .collect();
    assert_eq!(calls.len(), 3);
    assert!(
        matches!(calls[0], WorkerMessage::ToolCall { server, tool, .. } if server == "github" && tool == "create_issue")
    );
}

#[test]
fn a_failed_call_is_catchable_with_its_fields_and_uncaught_is_a_tool_error() {
    let code = "from servers.github import fail\n\
                try:\n    await fail()\nexcept RuntimeError as e:\n    info = tool_error(e)\n\
                [info['kind'], info['retryable'], info['server'], info['tool'], info['content'][0]['text'], tool_error(ValueError('x'))]";
    let (finished, _) = run(code);
    assert_eq!(
        result(&finished),
        json!(["tool", true, "github", "fail", "no", null])
    );
    let (finished, _) = run("from servers.github import fail\nx = 1\nawait fail()\n");
    let error = finished.error().unwrap();
    assert_eq!(error.kind, ErrorKind::ToolError);
    assert_eq!(error.line, Some(3));
    assert!(
        error
            .message
            .contains("ToolError(tool): github.fail: the tool said no"),
        "{}",
        error.message
    );
    let (finished, _) = run("from servers.github import deny\nawait deny()\n");
    assert_eq!(finished.error().unwrap().kind, ErrorKind::PolicyDenied);
}

#[test]
fn errors_have_python_types_and_lines() {
    let (finished, _) = run("def f(x):\n    return x / 0\n\nf(1)\n");
    let error = finished.error().unwrap();
    assert_eq!(
        (error.kind.clone(), error.line),
        (ErrorKind::RuntimeError, Some(2))
    );
    assert!(
        error
            .message
            .contains("ZeroDivisionError: division by zero"),
        "{}",
        error.message
    );
    assert!(
        error.message.contains("File \"main.py\", line 4"),
        "{}",
        error.message
    );
    let (finished, _) = run("x = (\n");
    assert_eq!(finished.error().unwrap().kind, ErrorKind::SyntaxError);
    let (finished, _) = run("import socket\n");
    assert_eq!(finished.error().unwrap().kind, ErrorKind::ImportError);
    let (finished, _) = run("from servers.gitlab import x\n");
    assert_eq!(finished.error().unwrap().kind, ErrorKind::ImportError);
}

#[test]
fn limits_end_the_execution_with_their_kind() {
    let (finished, _) =
        run("while True:\n    try:\n        pass\n    except BaseException:\n        pass\n");
    assert_eq!(finished.error().unwrap().kind, ErrorKind::Timeout);
    let (finished, _) = run("x = 10 ** (10 ** 9)\n");
    assert_eq!(finished.error().unwrap().kind, ErrorKind::OutOfMemory);
    let (finished, _) = run("s = 'a' * (10 ** 9)\n");
    assert_eq!(finished.error().unwrap().kind, ErrorKind::OutOfMemory);
    let (finished, _) = run(
        "from servers.github import create_issue\nfor i in range(20):\n    await create_issue(n=i)\n",
    );
    assert_eq!(finished.error().unwrap().kind, ErrorKind::ToolCallLimit);
    let (finished, _) = run("def r(n):\n    return r(n + 1)\nr(0)\n");
    let error = finished.error().unwrap();
    assert_eq!(error.kind, ErrorKind::RuntimeError);
    assert!(
        error.message.contains("RecursionError"),
        "{}",
        error.message
    );
}

#[test]
fn a_tool_that_never_answers_ends_at_the_deadline() {
    let mut host = FakeHost {
        silent: true,
        ..FakeHost::default()
    };
    let mut job = job(
        "from servers.github import create_issue\ntry:\n    await create_issue()\nexcept BaseException:\n    pass\n'swallowed'",
    );
    job.limits.timeout_ms = 300;
    let finished = Engine::new().execute(&job, &mut host);
    assert_eq!(finished.error().unwrap().kind, ErrorKind::Timeout);
}

#[test]
fn output_past_the_budget_is_counted() {
    let mut host = FakeHost::default();
    let mut job = job("for i in range(1000):\n    print('x' * 100)\n");
    job.limits.output_bytes = 1000;
    let finished = Engine::new().execute(&job, &mut host);
    assert!(finished.error().is_none());
    assert_eq!(logs(&host).len(), 10);
    assert!(finished.dropped_output_bytes > 90_000);
}

#[test]
fn a_session_keeps_globals_and_a_fresh_execution_does_not() {
    let mut engine = Engine::new();
    let mut host = FakeHost::default();
    let mut first = job(
        "from servers.github import create_issue\ncount = 1\ndef twice(x):\n    return 2 * x\n",
    );
    first.keep_state = true;
    assert!(engine.execute(&first, &mut host).error().is_none());
    let mut second = job("count += 1\n[twice(count), await create_issue(n=count)]");
    second.keep_state = true;
    second.tools.clear();
    let finished = engine.execute(&second, &mut host);
    assert_eq!(result(&finished), json!([4, {"echo": {"n": 2}}]));
    let mut failing = job("count += 1\nraise ValueError('kept')\n");
    failing.keep_state = true;
    assert_eq!(
        engine.execute(&failing, &mut host).error().unwrap().kind,
        ErrorKind::RuntimeError
    );
    let mut third = job("count");
    third.keep_state = true;
    assert_eq!(result(&engine.execute(&third, &mut host)), json!(3));
    let fresh = engine.execute(&job("count"), &mut host);
    assert_eq!(fresh.error().unwrap().kind, ErrorKind::RuntimeError);
    let mut after = job("count");
    after.keep_state = true;
    assert!(engine.execute(&after, &mut host).error().is_some());
}

#[test]
fn a_session_ends_after_a_timeout() {
    let mut engine = Engine::new();
    let mut host = FakeHost::default();
    let mut first = job("kept = 1\n");
    first.keep_state = true;
    assert!(engine.execute(&first, &mut host).error().is_none());
    let mut spin = job("while True:\n    pass\n");
    spin.keep_state = true;
    spin.limits.timeout_ms = 200;
    let error = engine.execute(&spin, &mut host).error().cloned().unwrap();
    assert_eq!(error.kind, ErrorKind::Timeout);
    assert!(
        error.message.contains("state was discarded"),
        "{}",
        error.message
    );
    let mut next = job("kept");
    next.keep_state = true;
    assert!(engine.execute(&next, &mut host).error().is_some());
}

#[test]
fn the_host_is_out_of_reach() {
    for code in [
        "import os\nos.getenv('HOME')",
        "from pathlib import Path\nPath('/etc/passwd').read_text()",
        "import subprocess",
        "open('/etc/passwd').read()",
    ] {
        let (finished, _) = run(code);
        let error = finished
            .error()
            .unwrap_or_else(|| panic!("{code} ran: {:?}", finished.outcome));
        assert!(
            matches!(error.kind, ErrorKind::RuntimeError | ErrorKind::ImportError),
            "{code}: {error:?}"
        );
        assert!(
            !error.message.contains("root:"),
            "{code}: {}",
            error.message
        );
    }
}

#[test]
fn check_reports_syntax_errors_with_positions() {
    assert!(crate::check("x = 1\n").error.is_none());
    let error = crate::check("x = 1\ny = (\n").error.unwrap();
    assert_eq!(error.kind, ErrorKind::SyntaxError);
    assert!(error.line.is_some());
}

#[test]
fn the_out_of_memory_exit_status_is_monty_s() {
    assert_eq!(
        i32::from(sluice_worker_protocol::OUT_OF_MEMORY_EXIT_CODE),
        monty_types::OOM_EXIT_CODE
    );
}

#[test]
fn a_failed_call_in_a_gather_surfaces_at_the_gather() {
    // Monty 0.0.23: a gathered coroutine's own try/except does not see its call's failure; the
    // first failure is raised by the gather (where the code can catch it).
    let code = "import asyncio\nfrom servers.github import fail, create_issue\n\
                async def one(n):\n    if n % 2:\n        await fail()\n    return await create_issue(n=n)\n\
                try:\n    await asyncio.gather(*[one(n) for n in range(4)])\nexcept RuntimeError as e:\n    caught = tool_error(e)['kind']\n\
                results = []\nfor n in range(4):\n    try:\n        results.append(await one(n))\n    except RuntimeError as e:\n        results.append(tool_error(e)['kind'])\n\
                [caught, len(results), results[1]]";
    let (finished, _) = run(code);
    assert_eq!(result(&finished), json!(["tool", 4, "tool"]));
}

#[test]
fn the_clock_is_readable() {
    let (finished, _) = run(
        "from datetime import datetime, date, timezone, timedelta\n[datetime.now().year >= 2025, date.today().year >= 2025, datetime.now(timezone(timedelta(hours=2))).isoformat().endswith(\"+02:00\")]",
    );
    assert_eq!(result(&finished), json!([true, true, true]));
}

#[test]
fn sleep_waits_beside_tool_calls_and_not_past_the_deadline() {
    let started = std::time::Instant::now();
    let code = "import asyncio\nfrom servers.github import create_issue\n\
                await sleep(0.1)\n\
                both = await asyncio.gather(sleep(0.15), create_issue(n=1), sleep(seconds=0))\n\
                both";
    let (finished, _) = run(code);
    assert_eq!(result(&finished), json!([null, {"echo": {"n": 1}}, null]));
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(250), "{elapsed:?}");

    let mut host = FakeHost::default();
    let mut long = job("try:\n    await sleep(60)\nexcept BaseException:\n    pass\n'swallowed'");
    long.limits.timeout_ms = 200;
    let started = std::time::Instant::now();
    let finished = Engine::new().execute(&long, &mut host);
    assert_eq!(finished.error().unwrap().kind, ErrorKind::Timeout);
    assert!(started.elapsed() < Duration::from_secs(5));

    for (code, wanted) in [
        ("await sleep(-1)", "ValueError"),
        ("await sleep(float('nan'))", "ValueError"),
        ("await sleep('1')", "TypeError"),
        ("await sleep()", "TypeError"),
    ] {
        let (finished, _) = run(code);
        let error = finished.error().unwrap_or_else(|| panic!("{code} ran"));
        assert!(error.message.contains(wanted), "{code}: {}", error.message);
    }
}

fn with_skills(code: &str, skills: &[(&str, SkillSource)]) -> ExecuteJob {
    let mut job = job(code);
    job.skills = skills
        .iter()
        .map(|(name, source)| ((*name).to_owned(), source.clone()))
        .collect();
    job
}

#[test]
fn python_skills_are_imported_with_their_own_namespace_and_tools() {
    let rows = SkillSource::python(
        "from servers.github import create_issue\n\
         SCALE = 10\n\
         def helper(x):\n    return x * SCALE\n\
         def total(rows):\n    return sum(helper(r) for r in rows)\n\
         async def file(title):\n    return await create_issue(title=title)\n",
    );
    let report = SkillSource::python(
        "from skills.sum_rows import total\n\
         NOTE = \"\"\"two\nlines\"\"\"\n\
         def summary(rows):\n    return {'total': total(rows), 'note': NOTE}\n",
    );
    let skills = [("sum-rows", rows), ("report", report)];
    let code = "from skills.report import summary\nfrom skills.sum_rows import file, total as t\n\
                helper = 'the agent own'\n\
                [summary([1, 2]), t([3]), await file('x'), helper]";
    let mut host = FakeHost::default();
    let finished = Engine::new().execute(&with_skills(code, &skills), &mut host);
    assert_eq!(
        result(&finished),
        json!([{"total": 30, "note": "two\nlines"}, 30, {"echo": {"title": "x"}}, "the agent own"])
    );
}

#[test]
fn a_failing_skill_says_where_and_a_session_loads_a_skill_once() {
    let broken = SkillSource::python("def boom():\n    return 1 / 0\nVALUE = 1\n");
    let mut host = FakeHost::default();
    let finished = Engine::new().execute(
        &with_skills(
            "from skills.broken import boom\n\nboom()\n",
            &[("broken", broken.clone())],
        ),
        &mut host,
    );
    let error = finished.error().unwrap();
    assert!(
        error
            .message
            .contains("File \"skills/broken/skill.py\", line 2"),
        "{}",
        error.message
    );
    assert!(
        error.message.contains("File \"main.py\", line 3"),
        "{}",
        error.message
    );
    assert_eq!(error.line, Some(3));

    let at_load = SkillSource::python("X = 1\nY = [][0]\n");
    let finished = Engine::new().execute(
        &with_skills("from skills.bad import X\nX", &[("bad", at_load)]),
        &mut host,
    );
    let error = finished.error().unwrap();
    assert_eq!(
        (error.line, error.kind.clone()),
        (None, ErrorKind::RuntimeError)
    );
    assert!(
        error
            .message
            .contains("File \"skills/bad/skill.py\", line 2")
            && error.message.contains("IndexError"),
        "{}",
        error.message
    );

    // Within a session the skill's module state is loaded once and kept.
    let counter = SkillSource::python(
        "state = {'n': 0}\ndef bump():\n    state['n'] += 1\n    return state['n']\n",
    );
    let mut engine = Engine::new();
    let mut values = Vec::new();
    for _ in 0..2 {
        let mut step = with_skills(
            "from skills.counter import bump\nbump()",
            &[("counter", counter.clone())],
        );
        step.keep_state = true;
        values.push(result(&engine.execute(&step, &mut host)));
    }
    assert_eq!(values, [json!(1), json!(2)]);
    // A fresh execution loads it anew.
    let fresh = with_skills(
        "from skills.counter import bump\nbump()",
        &[("counter", counter)],
    );
    assert_eq!(result(&Engine::new().execute(&fresh, &mut host)), json!(1));
}

#[test]
fn skill_cycles_and_typescript_skills_are_import_errors() {
    let a = SkillSource::python("from skills.b import g\ndef f():\n    return g()\n");
    let b = SkillSource::python("from skills.a import f\ndef g():\n    return 1\n");
    let (finished, _) = {
        let mut host = FakeHost::default();
        let finished = Engine::new().execute(
            &with_skills("from skills.a import f\nf()", &[("a", a), ("b", b)]),
            &mut host,
        );
        (finished, host)
    };
    let error = finished.error().unwrap();
    assert_eq!(error.kind, ErrorKind::ImportError);
    assert!(error.message.contains("a -> b -> a"), "{}", error.message);

    let mut host = FakeHost::default();
    let ts = SkillSource::typescript("export const x = 1;");
    let finished = Engine::new().execute(
        &with_skills("from skills.ts_one import x\n", &[("ts-one", ts)]),
        &mut host,
    );
    let error = finished.error().unwrap();
    assert!(
        error.message.contains("saved in TypeScript"),
        "{}",
        error.message
    );
}

#[test]
fn check_lists_a_python_skill_s_exports_and_refuses_a_top_level_await() {
    let report = crate::check(
        "import json\n_private = 1\nLIMIT = 5\ndef run():\n    pass\nasync def fetch():\n    await x()\n",
    );
    assert!(report.error.is_none());
    assert_eq!(report.exports, ["LIMIT", "run", "fetch"]);
    let report = crate::check("x = 1\nrows = await fetch()\n");
    let error = report.error.unwrap();
    assert_eq!((error.kind, error.line), (ErrorKind::SyntaxError, Some(2)));
}
