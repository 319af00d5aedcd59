//! Engine tests with a fake gateway that answers tool calls in-process.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};
use sluice_worker_protocol::{
    ErrorKind, ExecutionError, ExecutionLimits, ExecutionOutcome, Language, LogLevel, SkillSource,
    ToolBinding, ToolErrorKind, ToolOutcome, WorkerMessage,
};

use crate::{
    Engine, ExecuteJob, Finished, Host, HostError, WorkspaceError, WorkspaceReply,
    WorkspaceRequest, execute, thread_stack_bytes,
};

mod preparer;
mod security;
mod sessions;
mod skills;

type Responder = Box<dyn FnMut(&str, &str, &Json) -> Option<ToolOutcome> + Send>;
type Files = Box<dyn FnMut(&WorkspaceRequest) -> Result<WorkspaceReply, WorkspaceError> + Send>;

/// A gateway that answers each tool call when the engine next waits.
struct FakeHost {
    sent: Vec<WorkerMessage>,
    answers: VecDeque<(u64, ToolOutcome)>,
    responder: Responder,
    /// Tool calls sent before each wait for a result.
    calls_sent_at_wait: Vec<usize>,
    /// Answers `fs/promises` calls; `None`: no workspace.
    files: Option<Files>,
}

impl FakeHost {
    fn new(
        responder: impl FnMut(&str, &str, &Json) -> Option<ToolOutcome> + Send + 'static,
    ) -> Self {
        Self {
            sent: Vec::new(),
            answers: VecDeque::new(),
            responder: Box::new(responder),
            calls_sent_at_wait: Vec::new(),
            files: None,
        }
    }

    fn with_files(
        mut self,
        files: impl FnMut(&WorkspaceRequest) -> Result<WorkspaceReply, WorkspaceError> + Send + 'static,
    ) -> Self {
        self.files = Some(Box::new(files));
        self
    }

    fn echo() -> Self {
        Self::new(|_, tool, arguments| Some(ok(json!({ "tool": tool, "arguments": arguments }))))
    }

    fn tool_calls(&self) -> Vec<(String, String, Json)> {
        self.sent
            .iter()
            .filter_map(|message| match message {
                WorkerMessage::ToolCall {
                    server,
                    tool,
                    arguments,
                    ..
                } => Some((server.clone(), tool.clone(), arguments.clone())),
                _ => None,
            })
            .collect()
    }

    fn logs(&self) -> Vec<(LogLevel, String)> {
        self.sent
            .iter()
            .filter_map(|message| match message {
                WorkerMessage::Log { level, text } => Some((*level, text.clone())),
                _ => None,
            })
            .collect()
    }

    fn log_texts(&self) -> Vec<String> {
        self.logs().into_iter().map(|(_, text)| text).collect()
    }
}

impl Host for FakeHost {
    fn send(&mut self, message: WorkerMessage) -> Result<(), HostError> {
        if let WorkerMessage::ToolCall {
            call_id,
            server,
            tool,
            arguments,
        } = &message
            && let Some(outcome) = (self.responder)(server, tool, arguments)
        {
            self.answers.push_back((*call_id, outcome));
        }
        self.sent.push(message);
        Ok(())
    }

    fn wait_tool_result(
        &mut self,
        timeout: Option<Duration>,
    ) -> Result<Option<(u64, ToolOutcome)>, HostError> {
        self.calls_sent_at_wait.push(self.tool_calls().len());
        match self.answers.pop_front() {
            Some(answer) => Ok(Some(answer)),
            None => match timeout {
                Some(timeout) => {
                    std::thread::sleep(timeout);
                    Ok(None)
                }
                None => Err(HostError::Closed),
            },
        }
    }

    fn workspace(&mut self, request: &WorkspaceRequest) -> Result<WorkspaceReply, WorkspaceError> {
        match &mut self.files {
            Some(files) => files(request),
            None => Err(WorkspaceError::no_workspace(request)),
        }
    }
}

/// One execution of [`run_steps`].
struct Step {
    code: &'static str,
    keep_state: bool,
    skills: BTreeMap<String, SkillSource>,
    limits: ExecutionLimits,
}

impl Step {
    fn session(code: &'static str) -> Self {
        Self {
            code,
            keep_state: true,
            skills: BTreeMap::new(),
            limits: limits(),
        }
    }

    fn fresh(code: &'static str) -> Self {
        Self {
            keep_state: false,
            ..Self::session(code)
        }
    }

    fn with_skills(mut self, skills: &[(&str, &str)]) -> Self {
        self.skills = skills
            .iter()
            .map(|(name, source)| ((*name).to_owned(), SkillSource::typescript(*source)))
            .collect();
        self
    }

    fn with_python_skill(mut self, name: &str, source: &str) -> Self {
        self.skills
            .insert(name.to_owned(), SkillSource::python(source));
        self
    }

    fn with_limits(mut self, limits: ExecutionLimits) -> Self {
        self.limits = limits;
        self
    }
}

/// Run executions one after another on one [`Engine`], each with a fresh echoing host, on a
/// thread with the stack an execution needs.
fn run_steps(steps: Vec<Step>) -> Vec<(Finished, FakeHost)> {
    std::thread::Builder::new()
        .stack_size(thread_stack_bytes(&limits()))
        .spawn(move || {
            let mut engine = Engine::new();
            let tools = tools();
            steps
                .iter()
                .map(|step| {
                    let mut host = FakeHost::echo();
                    let execution = ExecuteJob {
                        keep_state: step.keep_state,
                        skills: step.skills.clone(),
                        ..job(step.code, Language::Typescript, &step.limits, &tools)
                    };
                    (engine.execute(&execution, &mut host), host)
                })
                .collect()
        })
        .unwrap()
        .join()
        .unwrap()
}

/// A job for the engine, outside any session, without skills.
fn job(
    code: &str,
    language: Language,
    limits: &ExecutionLimits,
    tools: &BTreeMap<String, Vec<ToolBinding>>,
) -> ExecuteJob {
    ExecuteJob {
        protocol_version: sluice_worker_protocol::PROTOCOL_VERSION,
        code: code.to_owned(),
        language,
        limits: limits.clone(),
        tools: tools.clone(),
        keep_state: false,
        skills: BTreeMap::new(),
    }
}

fn ok(value: Json) -> ToolOutcome {
    ToolOutcome::Ok { value }
}

fn tool_failure(kind: &str, message: &str, retryable: bool) -> ToolOutcome {
    ToolOutcome::Error {
        kind: ToolErrorKind::parse(kind),
        message: message.into(),
        content: Some(json!([{ "type": "text", "text": message }])),
        retryable,
    }
}

fn limits() -> ExecutionLimits {
    ExecutionLimits {
        timeout_ms: 10_000,
        memory_bytes: 64 * 1024 * 1024,
        stack_bytes: 512 * 1024,
        output_bytes: 1024 * 1024,
        tool_calls: 100,
        workspace_bytes: 0,
    }
}

fn tools() -> BTreeMap<String, Vec<ToolBinding>> {
    let mut tools = BTreeMap::new();
    tools.insert(
        "math".to_owned(),
        vec![
            ToolBinding {
                identifier: "add".into(),
                name: "add".into(),
            },
            ToolBinding {
                identifier: "getSum".into(),
                name: "get-sum".into(),
            },
            ToolBinding {
                identifier: "status".into(),
                name: "job_status".into(),
            },
        ],
    );
    tools.insert(
        "files".to_owned(),
        vec![ToolBinding {
            identifier: "readFile".into(),
            name: "read_file".into(),
        }],
    );
    tools
}

/// Run on a thread with the stack an execution needs, like the worker does.
fn run_with(code: &str, limits: ExecutionLimits, host: FakeHost) -> (Finished, FakeHost) {
    let code = code.to_owned();
    std::thread::Builder::new()
        .stack_size(thread_stack_bytes(&limits))
        .spawn(move || {
            let mut host = host;
            let tools = tools();
            let execution = job(&code, Language::Typescript, &limits, &tools);
            let finished = execute(&execution, &mut host);
            (finished, host)
        })
        .unwrap()
        .join()
        .unwrap()
}

fn run(code: &str, host: FakeHost) -> (Finished, FakeHost) {
    run_with(code, limits(), host)
}

fn result(finished: &Finished) -> &Json {
    match &finished.outcome {
        ExecutionOutcome::Ok { result } => result,
        ExecutionOutcome::Error(error) => panic!("execution failed: {error:#?}"),
    }
}

fn error(finished: &Finished) -> &ExecutionError {
    match &finished.outcome {
        ExecutionOutcome::Error(error) => error,
        ExecutionOutcome::Ok { result } => panic!("execution succeeded with {result}"),
    }
}

#[test]
fn console_output_is_captured_and_formatted() {
    let (finished, host) = run(
        r#"
        console.log("hello", 1, { a: [1, "two", null], "b-c": undefined }, true);
        console.info("%s has %d items", "list", 3);
        console.warn(new Map([["k", 1]]), new Set([1]));
        console.error([1, , 3], -0, 10n, Symbol("s"), () => 1, function named() {});
        const cycle: any = { name: "x" }; cycle.self = cycle;
        console.debug(cycle, new Date(0), /re/g, "raw\nstring", ["quoted\n"]);
        "#,
        FakeHost::echo(),
    );
    assert_eq!(result(&finished), &Json::Null);
    assert_eq!(
        host.logs(),
        vec![
            (LogLevel::Log, "hello 1 { a: [ 1, 'two', null ], 'b-c': undefined } true".to_owned()),
            (LogLevel::Log, "list has 3 items".to_owned()),
            (LogLevel::Warn, "Map(1) { 'k' => 1 } Set(1) { 1 }".to_owned()),
            (
                LogLevel::Error,
                "[ 1, <1 empty item>, 3 ] -0 10n Symbol(s) [Function (anonymous)] [Function: named]"
                    .to_owned()
            ),
            (
                LogLevel::Log,
                "{ name: 'x', self: [Circular] } 1970-01-01T00:00:00.000Z /re/g raw\nstring [ 'quoted\\n' ]"
                    .to_owned()
            ),
        ]
    );
    assert_eq!(finished.dropped_output_bytes, 0);
}

/// `reportProgress` sends the message (cut to its limit) and a fraction only when it is one,
/// and drops reports that come closer than the minimum interval after the last one sent.
#[test]
fn progress_reports_are_cut_and_spaced() {
    let (finished, host) = run(
        r#"
        import { reportProgress } from "./runtime";
        reportProgress("x".repeat(1000), 0.5);
        for (let i = 0; i < 1000; i++) reportProgress("dropped " + i, 2);
        await new Promise((resolve) => setTimeout(resolve, 80));
        reportProgress("later", Number.NaN);
        await new Promise((resolve) => setTimeout(resolve, 80));
        reportProgress({ toString: () => "last" } as any, 7);
        "#,
        FakeHost::echo(),
    );
    result(&finished);
    let reports: Vec<(String, Option<f64>)> = host
        .sent
        .iter()
        .filter_map(|message| match message {
            WorkerMessage::Progress { message, fraction } => Some((message.clone(), *fraction)),
            _ => None,
        })
        .collect();
    assert_eq!(
        reports,
        [
            ("x".repeat(200), Some(0.5)),
            ("later".to_owned(), None),
            ("last".to_owned(), None),
        ]
    );
}

#[test]
fn logged_errors_show_message_and_original_position() {
    let (finished, host) = run(
        "type Unused = { a: string };\n\ninterface AlsoUnused { b: number }\n\nconsole.log(new Error(\"bad thing\"));\n",
        FakeHost::echo(),
    );
    result(&finished);
    let logs = host.log_texts();
    assert!(logs[0].starts_with("Error: bad thing"), "{logs:?}");
    assert!(logs[0].contains("main.ts:5:"), "{logs:?}");
}

#[test]
fn top_level_await_and_default_export() {
    let (finished, _) = run(
        "const value: number = await new Promise<number>((resolve) => setTimeout(() => resolve(41), 10));\n\
         export default { value: value + 1, big: 12345678901234567890n, missing: undefined, f() {}, list: [undefined, () => 1] };\n",
        FakeHost::echo(),
    );
    assert_eq!(
        result(&finished),
        &json!({ "value": 42, "big": "12345678901234567890", "list": [null, null] })
    );
}

#[test]
fn default_export_edge_cases() {
    for (code, expected) in [
        ("const x = 1;", Json::Null),
        ("export default undefined;", Json::Null),
        ("export default () => 1;", Json::Null),
        ("export default 'text';", json!("text")),
        (
            "export default Promise.resolve([1, NaN]);",
            json!([1, null]),
        ),
        ("export default 7n;", json!("7")),
    ] {
        let (finished, _) = run(code, FakeHost::echo());
        assert_eq!(result(&finished), &expected, "{code}");
    }
    let (finished, _) = run(
        "const a: any = {}; a.a = a; export default a;",
        FakeHost::echo(),
    );
    let error = error(&finished);
    assert_eq!(error.kind, ErrorKind::RuntimeError);
    assert!(
        error.message.contains("could not be converted to JSON"),
        "{}",
        error.message
    );
}

#[test]
fn imports_index_and_single_tool_modules() {
    let (finished, host) = run(
        r#"
        import { add } from "./servers/math";
        import * as math from "./servers/math/index.ts";
        import { getSum } from "./servers/math/getSum";
        import { readFile } from "./servers/files/readFile.js";
        import type { ToolError } from "./runtime";
        const results = [await add({ a: 1, b: 2 }), await math.status(), await getSum(), await readFile({ path: "x" })];
        export default results.map((result: any) => result.tool);
        "#,
        FakeHost::echo(),
    );
    assert_eq!(
        result(&finished),
        &json!(["add", "job_status", "get-sum", "read_file"])
    );
    let calls = host.tool_calls();
    assert_eq!(
        calls[0],
        (
            "math".to_owned(),
            "add".to_owned(),
            json!({ "a": 1, "b": 2 })
        )
    );
    assert_eq!(calls[1].2, json!({}));
    assert_eq!(calls[3].0, "files");
}

#[test]
fn promise_all_puts_every_call_in_flight_before_waiting() {
    let (finished, host) = run(
        r#"
        import { add } from "./servers/math";
        const sums = await Promise.all([1, 2, 3, 4, 5].map((n) => add({ a: n, b: n })));
        export default sums.length;
        "#,
        FakeHost::echo(),
    );
    assert_eq!(result(&finished), &json!(5));
    assert_eq!(host.tool_calls().len(), 5);
    assert_eq!(
        host.calls_sent_at_wait.first(),
        Some(&5),
        "{:?}",
        host.calls_sent_at_wait
    );
}

#[test]
fn tool_errors_can_be_caught_and_carry_their_fields() {
    let host = FakeHost::new(|_, _, _| Some(tool_failure("tool", "division by zero", false)));
    let (finished, _) = run(
        r#"
        import { add } from "./servers/math";
        import { ToolError } from "./runtime";
        let caught: unknown;
        try {
          await add({ a: 1, b: 0 });
        } catch (error) {
          caught = error;
        }
        const e = caught as ToolError;
        export default {
          isToolError: e instanceof ToolError,
          isError: e instanceof Error,
          name: e.name, message: e.message, server: e.server, tool: e.tool,
          kind: e.kind, retryable: e.retryable, content: e.content,
        };
        "#,
        host,
    );
    assert_eq!(
        result(&finished),
        &json!({
            "isToolError": true, "isError": true, "name": "ToolError",
            "message": "math.add: division by zero", "server": "math", "tool": "add",
            "kind": "tool", "retryable": false,
            "content": [{ "type": "text", "text": "division by zero" }],
        })
    );
}

#[test]
fn uncaught_tool_error_is_reported_as_tool_error() {
    let host =
        FakeHost::new(|_, _, _| Some(tool_failure("server_unavailable", "math is down", true)));
    let (finished, _) = run(
        "import { add } from './servers/math';\n\nawait add({ a: 1 });\n",
        host,
    );
    let error = error(&finished);
    assert_eq!(error.kind, ErrorKind::ToolError);
    assert!(
        error.message.starts_with("math.add: math is down"),
        "{}",
        error.message
    );
    assert!(
        error.message.contains("retryable: true"),
        "{}",
        error.message
    );
    assert_eq!(error.line, Some(3), "{error:?}");
}

#[test]
fn set_timeout_polling_loop() {
    let mut polls = 0;
    let host = FakeHost::new(move |_, tool, _| {
        assert_eq!(tool, "job_status");
        polls += 1;
        Some(ok(json!({ "done": polls >= 3, "polls": polls })))
    });
    let started = Instant::now();
    let (finished, host) = run(
        r#"
        import { status } from "./servers/math";
        const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
        let state: any;
        while (true) {
          state = await status({ id: 1 });
          if (state.done) break;
          await sleep(30);
        }
        const cleared = setTimeout(() => { throw new Error("cleared timers never fire"); }, 1);
        clearTimeout(cleared);
        let ticks = 0;
        await new Promise<void>((resolve) => {
          const interval = setInterval(() => { if (++ticks === 3) { clearInterval(interval); resolve(); } }, 5);
        });
        export default { polls: state.polls, ticks };
        "#,
        host,
    );
    assert_eq!(result(&finished), &json!({ "polls": 3, "ticks": 3 }));
    assert_eq!(host.tool_calls().len(), 3);
    assert!(started.elapsed() >= Duration::from_millis(60));
}

#[test]
fn syntax_errors_have_line_and_column() {
    let (finished, _) = run("const ok = 1;\nconst broken = (1 + ;\n", FakeHost::echo());
    let error = error(&finished);
    assert_eq!(error.kind, ErrorKind::SyntaxError);
    assert_eq!(
        (error.line, error.column),
        (Some(2), Some(21)),
        "{}",
        error.message
    );
    assert!(
        error.message.contains("const broken = (1 + ;"),
        "{}",
        error.message
    );
}

#[test]
fn runtime_errors_map_to_the_original_line() {
    let (finished, _) = run(
        "interface A {\n  x: number;\n}\nconst a: A = { x: 1 };\nfunction f(value: A): never {\n  throw new TypeError(`bad ${value.x}`);\n}\nf(a);\n",
        FakeHost::echo(),
    );
    let error = error(&finished);
    assert_eq!(error.kind, ErrorKind::RuntimeError);
    assert!(
        error.message.starts_with("TypeError: bad 1"),
        "{}",
        error.message
    );
    assert_eq!(error.line, Some(6), "{error:?}");
    assert!(error.message.contains("main.ts:6:"), "{}", error.message);

    let (finished, _) = run("throw 'a plain string';", FakeHost::echo());
    let error = crate::tests::error(&finished);
    assert_eq!(error.kind, ErrorKind::RuntimeError);
    assert!(
        error.message.contains("Uncaught 'a plain string'"),
        "{}",
        error.message
    );
}

#[test]
fn infinite_loop_times_out() {
    let limits = ExecutionLimits {
        timeout_ms: 200,
        ..limits()
    };
    for code in [
        "while (true) {}",
        "while (true) { await null; }",
        "for (;;) { try { while (true) {} } catch {} }",
    ] {
        let started = Instant::now();
        let (finished, _) = run_with(code, limits.clone(), FakeHost::echo());
        assert_eq!(error(&finished).kind, ErrorKind::Timeout, "{code}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{code}: {:?}",
            started.elapsed()
        );
    }
}

#[test]
fn waiting_on_a_silent_tool_times_out() {
    let limits = ExecutionLimits {
        timeout_ms: 200,
        ..limits()
    };
    let started = Instant::now();
    let (finished, _) = run_with(
        "import { add } from './servers/math'; await add({});",
        limits,
        FakeHost::new(|_, _, _| None),
    );
    assert_eq!(error(&finished).kind, ErrorKind::Timeout);
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[test]
fn memory_bomb_runs_out_of_memory() {
    let limits = ExecutionLimits {
        memory_bytes: 32 * 1024 * 1024,
        ..limits()
    };
    for code in [
        "const chunks: string[] = []; while (true) { chunks.push('x'.repeat(1 << 20) + chunks.length); }",
        "const objects: object[] = []; let i = 0; while (true) { objects.push({ i: i++, text: 'item ' + i }); }",
        "const a: number[][] = []; while (true) { a.push(new Array(100000).fill(1)); }",
    ] {
        let (finished, _) = run_with(code, limits.clone(), FakeHost::echo());
        assert_eq!(
            error(&finished).kind,
            ErrorKind::OutOfMemory,
            "{code}: {:?}",
            error(&finished)
        );
    }
}

#[test]
fn stack_overflow_is_a_runtime_error_about_the_stack() {
    let (finished, _) = run(
        "function f(n: number): number { return f(n + 1) + 1; }\nf(0);",
        FakeHost::echo(),
    );
    let error = error(&finished);
    assert_eq!(error.kind, ErrorKind::RuntimeError);
    assert!(error.message.contains("stack"), "{}", error.message);
}

#[test]
fn output_flood_is_truncated_and_counted() {
    let limits = ExecutionLimits {
        output_bytes: 100,
        ..limits()
    };
    let (finished, host) = run_with(
        "for (let i = 0; i < 1000; i++) console.log('0123456789'.slice(0, 9));",
        limits,
        FakeHost::echo(),
    );
    result(&finished);
    // The line that crosses the budget is forwarded whole (up to a margin past it): the
    // gateway scans output before it cuts it, so a value at the cut must arrive whole.
    let forwarded: usize = host.log_texts().iter().map(String::len).sum();
    assert_eq!(forwarded, 108);
    assert_eq!(host.logs().len(), 12);
    assert_eq!(finished.dropped_output_bytes, 9000 - 108);
}

#[test]
fn tool_call_limit_ends_the_execution() {
    let limits = ExecutionLimits {
        tool_calls: 3,
        ..limits()
    };
    for (code, sent) in [
        (
            "import { add } from './servers/math'; for (let i = 0; i < 10; i++) await add({ i });",
            3,
        ),
        (
            "import { add } from './servers/math'; for (let i = 0; i < 10; i++) { try { await add({ i }); } catch {} } export default 'swallowed';",
            3,
        ),
        // Calls queued in the same synchronous burst as the refused one are never sent.
        (
            "import { add } from './servers/math'; console.log('before'); await Promise.allSettled([1, 2, 3, 4, 5].map((i) => add({ i })));",
            0,
        ),
    ] {
        let (finished, host) = run_with(code, limits.clone(), FakeHost::echo());
        let error = error(&finished);
        assert_eq!(error.kind, ErrorKind::ToolCallLimit, "{code}: {error:?}");
        assert!(error.message.contains('3'), "{}", error.message);
        assert_eq!(host.tool_calls().len(), sent, "{code}");
        if sent == 0 {
            assert_eq!(
                host.log_texts(),
                ["before"],
                "logs before the failure are still sent"
            );
        }
    }
}

#[test]
fn unknown_modules_are_import_errors() {
    let (finished, _) = run(
        "const x = 1;\nimport { nope } from './servers/math/nope';\nnope(x);\n",
        FakeHost::echo(),
    );
    let error = error(&finished);
    assert_eq!(error.kind, ErrorKind::ImportError);
    assert_eq!((error.line, error.column), (Some(2), Some(22)));
    assert!(
        error.message.contains("server 'math' has no tool 'nope'"),
        "{}",
        error.message
    );
    assert!(
        error.message.contains("add, getSum, status"),
        "{}",
        error.message
    );

    let (finished, _) = run(
        "import { readFileSync } from 'fs';\nreadFileSync('x');",
        FakeHost::echo(),
    );
    let error = crate::tests::error(&finished);
    assert_eq!(error.kind, ErrorKind::ImportError);
    assert!(error.message.contains("'fs'"), "{}", error.message);
    assert!(
        error.message.contains("import * as fs from 'fs/promises'"),
        "{}",
        error.message
    );

    let (finished, _) = run(
        "import * as path from 'path';
path.join('a');",
        FakeHost::echo(),
    );
    let error = crate::tests::error(&finished);
    assert_eq!(error.kind, ErrorKind::ImportError);
    assert!(
        error.message.contains("./servers/<server>/<tool>"),
        "{}",
        error.message
    );

    let (finished, _) = run(
        "import { ad } from './servers/math';\nad();",
        FakeHost::echo(),
    );
    let error = crate::tests::error(&finished);
    assert_eq!(error.kind, ErrorKind::ImportError);
    assert!(
        error.message.contains("Did you mean 'add'?"),
        "{}",
        error.message
    );

    let (finished, _) = run(
        "const m = await import('./servers/nowhere');",
        FakeHost::echo(),
    );
    let error = crate::tests::error(&finished);
    assert_eq!(error.kind, ErrorKind::ImportError, "{error:?}");
    assert!(
        error.message.contains("no server 'nowhere'"),
        "{}",
        error.message
    );

    let (finished, _) = run(
        "const m = await import('./servers/math/add'); export default typeof m.add;",
        FakeHost::echo(),
    );
    assert_eq!(result(&finished), &json!("function"));
}

#[test]
fn no_ambient_io_capabilities() {
    let (finished, _) = run(
        "export default [typeof fetch, typeof require, typeof process, typeof std, typeof os, typeof XMLHttpRequest];",
        FakeHost::echo(),
    );
    assert_eq!(result(&finished), &json!(vec!["undefined"; 6]));
}

#[test]
fn retry_retries_a_retryable_failure() {
    let mut attempts = 0;
    let host = FakeHost::new(move |_, _, _| {
        attempts += 1;
        Some(if attempts < 3 {
            tool_failure("timeout", "slow", true)
        } else {
            ok(json!("finally"))
        })
    });
    let (finished, host) = run(
        r#"
        import { add } from "./servers/math";
        import { retry } from "./runtime";
        export default await retry(() => add({}), { attempts: 5, initialDelayMs: 5 });
        "#,
        host,
    );
    assert_eq!(result(&finished), &json!("finally"));
    assert_eq!(host.tool_calls().len(), 3);

    let host = FakeHost::new(|_, _, _| Some(tool_failure("tool", "bad input", false)));
    let (finished, host) = run(
        "import { add } from './servers/math'; import { retry } from './runtime'; await retry(() => add({}), { initialDelayMs: 1 });",
        host,
    );
    assert_eq!(error(&finished).kind, ErrorKind::ToolError);
    assert_eq!(
        host.tool_calls().len(),
        1,
        "a failure that is not retryable is not retried"
    );
}

#[test]
fn unhandled_rejections_surface() {
    let (finished, _) = run(
        "Promise.reject(new Error('nobody listens'));\nawait new Promise((resolve) => setTimeout(resolve, 50));\nexport default 1;",
        FakeHost::echo(),
    );
    let error = error(&finished);
    assert_eq!(error.kind, ErrorKind::RuntimeError);
    assert!(
        error.message.contains("Unhandled promise rejection"),
        "{}",
        error.message
    );
    assert!(
        error.message.contains("nobody listens"),
        "{}",
        error.message
    );

    // A rejection handled in the same turn is fine.
    let (finished, _) = run(
        "const p = Promise.reject(new Error('x')); export default await p.catch(() => 'handled');",
        FakeHost::echo(),
    );
    assert_eq!(result(&finished), &json!("handled"));
}

#[test]
fn a_promise_that_can_never_settle_ends_the_execution() {
    let started = Instant::now();
    let (finished, _) = run("await new Promise(() => {});", FakeHost::echo());
    let error = error(&finished);
    assert_eq!(error.kind, ErrorKind::RuntimeError);
    assert!(error.message.contains("never settle"), "{}", error.message);
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn uncaught_errors_in_timers_end_the_execution() {
    let (finished, _) = run(
        "setTimeout(() => { throw new RangeError('from a timer'); }, 1);\nawait new Promise((resolve) => setTimeout(resolve, 100));",
        FakeHost::echo(),
    );
    let error = error(&finished);
    assert_eq!(error.kind, ErrorKind::RuntimeError);
    assert!(
        error.message.contains("RangeError: from a timer"),
        "{}",
        error.message
    );
    assert_eq!(error.line, Some(1), "{error:?}");
}

#[test]
fn executions_do_not_share_state() {
    let (first, _) = run(
        "(globalThis as any).leak = 1; export default 1;",
        FakeHost::echo(),
    );
    assert_eq!(result(&first), &json!(1));
    let (second, _) = run(
        "export default typeof (globalThis as any).leak;",
        FakeHost::echo(),
    );
    assert_eq!(result(&second), &json!("undefined"));
}

#[test]
fn javascript_code_runs_too() {
    let tools = tools();
    let limits = limits();
    let mut host = FakeHost::echo();
    let execution = job(
        "import { add } from './servers/math.js';\nexport default (await add({ a: 1 })).tool;",
        Language::Javascript,
        &limits,
        &tools,
    );
    let finished = execute(&execution, &mut host);
    assert_eq!(result(&finished), &json!("add"));
    let execution = ExecuteJob {
        code: "const x: number = 1;".to_owned(),
        ..execution
    };
    let finished = execute(&execution, &mut host);
    assert_eq!(error(&finished).kind, ErrorKind::SyntaxError);
}

#[test]
fn typescript_features_run() {
    let (finished, _) = run(
        r#"
        function pick(value: string): string;
        function pick(value: number): number;
        function pick(value: any): any { return value; }
        enum Color { Red = 1, Green }
        namespace Util { export const twice = (n: number) => n * 2; }
        declare const nothing: unknown;
        abstract class Shape { abstract area(): number; }
        class Square extends Shape {
          constructor(private readonly side: number) { super(); }
          area(): number { return this.side ** 2; }
        }
        type Point = { x: number; y?: number };
        const point = { x: 1 } satisfies Point;
        const tuple = [1, 2] as const;
        const generic = <T,>(items: T[]): T | undefined => items[0];
        let definite!: number;
        definite = point.y ?? 3;
        export default [pick("a"), pick(2), Color.Green, Util.twice(4), new Square(3).area(), tuple[1], generic([9]), definite, point?.x];
        "#,
        FakeHost::echo(),
    );
    assert_eq!(result(&finished), &json!(["a", 2, 2, 8, 9, 2, 9, 3, 1]));
}

#[test]
fn hostile_globals_do_not_break_the_engine() {
    let (finished, host) = run(
        r#"
        import { add } from "./servers/math";
        (Error as any).prepareStackTrace = () => { console.log("prepare"); return "custom"; };
        (globalThis as any).JSON = { stringify: () => { throw new Error("replaced"); }, parse: () => 0 };
        Object.keys = () => { throw new Error("replaced"); };
        const sum: any = await add({ a: 1 });
        console.log({ tool: sum.tool });
        export default { ok: sum.tool };
        "#,
        FakeHost::echo(),
    );
    assert_eq!(result(&finished), &json!({ "ok": "add" }));
    assert!(
        host.log_texts().contains(&"{ tool: 'add' }".to_owned()),
        "{:?}",
        host.log_texts()
    );
}
