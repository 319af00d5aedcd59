//! Drive the worker over pipes, with the test thread playing the gateway.

// The helpers below are test code too; clippy's test allowance only covers `#[test]` functions.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::io::{PipeReader, PipeWriter};
use std::thread::JoinHandle;

use serde_json::json;
use sluice_worker::{WorkerError, WorkerOptions};
use sluice_worker_protocol::{
    ErrorKind, ExecuteJob, ExecutionError, ExecutionLimits, ExecutionOutcome, GatewayMessage,
    Language, LogLevel, MAX_WORKER_FRAME_BYTES, PROTOCOL_VERSION, SkillSource, ToolBinding,
    ToolErrorKind, ToolOutcome, WorkerMessage, decode_worker_message, read_frame, write_message,
};

struct Gateway {
    to_worker: Option<PipeWriter>,
    from_worker: PipeReader,
    worker: Option<JoinHandle<Result<(), WorkerError>>>,
}

impl Gateway {
    fn start() -> Self {
        Self::start_with(WorkerOptions::default())
    }

    fn start_with(options: WorkerOptions) -> Self {
        let (worker_input, to_worker) = std::io::pipe().unwrap();
        let (from_worker, worker_output) = std::io::pipe().unwrap();
        let worker =
            std::thread::spawn(move || sluice_worker::run(&options, worker_input, worker_output));
        let mut gateway = Self {
            to_worker: Some(to_worker),
            from_worker,
            worker: Some(worker),
        };
        assert_eq!(
            gateway.receive(),
            WorkerMessage::Ready {
                protocol_version: PROTOCOL_VERSION
            }
        );
        gateway
    }

    fn send(&mut self, message: &GatewayMessage) {
        write_message(self.to_worker.as_mut().unwrap(), message).unwrap();
    }

    /// The next message other than `Tidied` (which follows every job, see
    /// `a_runtime_is_made_after_each_execution_and_said`).
    fn receive(&mut self) -> WorkerMessage {
        loop {
            match self.receive_any() {
                WorkerMessage::Tidied => {}
                message => return message,
            }
        }
    }

    fn receive_any(&mut self) -> WorkerMessage {
        let body = read_frame(&mut self.from_worker, MAX_WORKER_FRAME_BYTES).unwrap();
        decode_worker_message(&body).unwrap()
    }

    fn execute(&mut self, code: &str) {
        self.execute_with_version(code, PROTOCOL_VERSION);
    }

    fn execute_with_version(&mut self, code: &str, protocol_version: u32) {
        self.send(&GatewayMessage::Execute(ExecuteJob {
            protocol_version,
            code: code.to_owned(),
            language: Language::Typescript,
            limits: limits(),
            tools: tools(),
            keep_state: false,
            skills: BTreeMap::new(),
        }));
    }

    /// Send an Execute with these settings.
    fn execute_with(&mut self, code: &str, settings: Settings) {
        self.send(&GatewayMessage::Execute(ExecuteJob {
            protocol_version: PROTOCOL_VERSION,
            code: code.to_owned(),
            language: Language::Typescript,
            limits: settings.limits,
            tools: tools(),
            keep_state: settings.keep_state,
            skills: settings.skills,
        }));
    }

    /// Run an execution whose tool calls are answered with `{tool, arguments}`; its logs and
    /// its outcome.
    fn run(&mut self, code: &str, settings: Settings) -> (Vec<String>, ExecutionOutcome) {
        self.execute_with(code, settings);
        let mut logs = Vec::new();
        loop {
            match self.receive() {
                WorkerMessage::Log { text, .. } => logs.push(text),
                WorkerMessage::ToolCall {
                    call_id,
                    tool,
                    arguments,
                    ..
                } => self.send(&GatewayMessage::ToolResult {
                    call_id,
                    outcome: ToolOutcome::Ok {
                        value: json!({ "tool": tool, "arguments": arguments }),
                    },
                }),
                WorkerMessage::Done { outcome, .. } => return (logs, outcome),
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    /// [`Gateway::run`], expecting success: the result.
    fn value(&mut self, code: &str, settings: Settings) -> serde_json::Value {
        match self.run(code, settings) {
            (_, ExecutionOutcome::Ok { result }) => result,
            (logs, ExecutionOutcome::Error(error)) => panic!("{error:?} (logs: {logs:?})"),
        }
    }

    /// [`Gateway::run`], expecting an error.
    fn failure(&mut self, code: &str, settings: Settings) -> ExecutionError {
        match self.run(code, settings) {
            (_, ExecutionOutcome::Error(error)) => error,
            (_, ExecutionOutcome::Ok { result }) => panic!("succeeded with {result}"),
        }
    }

    /// Close the worker's input and wait for `run` to return.
    fn finish(mut self) -> Result<(), WorkerError> {
        drop(self.to_worker.take());
        self.worker.take().unwrap().join().unwrap()
    }
}

fn limits() -> ExecutionLimits {
    ExecutionLimits {
        timeout_ms: 10_000,
        memory_bytes: 64 * 1024 * 1024,
        stack_bytes: 1024 * 1024,
        output_bytes: 64 * 1024,
        tool_calls: 50,
        workspace_bytes: 1024 * 1024,
    }
}

/// The per-execution settings of [`Gateway::execute_with`].
#[derive(Clone)]
struct Settings {
    keep_state: bool,
    skills: BTreeMap<String, SkillSource>,
    limits: ExecutionLimits,
}

impl Settings {
    fn fresh() -> Self {
        Self {
            keep_state: false,
            skills: BTreeMap::new(),
            limits: limits(),
        }
    }

    fn session() -> Self {
        Self {
            keep_state: true,
            ..Self::fresh()
        }
    }

    fn skill(mut self, name: &str, source: &str) -> Self {
        self.skills
            .insert(name.to_owned(), SkillSource::typescript(source));
        self
    }

    fn quota(mut self, bytes: u64) -> Self {
        self.limits.workspace_bytes = bytes;
        self
    }

    fn timeout_ms(mut self, timeout_ms: u64) -> Self {
        self.limits.timeout_ms = timeout_ms;
        self
    }
}

fn tools() -> BTreeMap<String, Vec<ToolBinding>> {
    let mut tools = BTreeMap::new();
    tools.insert(
        "math".to_owned(),
        vec![ToolBinding {
            identifier: "addNumbers".into(),
            name: "add-numbers".into(),
        }],
    );
    tools
}

#[test]
fn serves_executions_with_parallel_tool_calls() {
    let mut gateway = Gateway::start();
    gateway.execute(
        r#"
        import { addNumbers } from "./servers/math";
        const [first, second] = await Promise.all([
          addNumbers({ a: 1, b: 2 }),
          addNumbers({ a: 3, b: 4 }),
        ]);
        console.log("sums", first, second);
        export default (first as number) + (second as number);
        "#,
    );
    // Both calls arrive before the gateway answers either: they are in flight together.
    let mut calls = Vec::new();
    for _ in 0..2 {
        match gateway.receive() {
            WorkerMessage::ToolCall {
                call_id,
                server,
                tool,
                arguments,
            } => {
                assert_eq!((server.as_str(), tool.as_str()), ("math", "add-numbers"));
                calls.push((call_id, arguments));
            }
            other => panic!("expected a tool call, got {other:?}"),
        }
    }
    assert_ne!(calls[0].0, calls[1].0);
    // A result nobody asked for is ignored; answers may come in any order.
    gateway.send(&GatewayMessage::ToolResult {
        call_id: 999_999,
        outcome: ToolOutcome::Ok { value: json!(0) },
    });
    for (call_id, arguments) in calls.iter().rev() {
        let sum = arguments["a"].as_i64().unwrap() + arguments["b"].as_i64().unwrap();
        gateway.send(&GatewayMessage::ToolResult {
            call_id: *call_id,
            outcome: ToolOutcome::Ok { value: json!(sum) },
        });
    }
    assert_eq!(
        gateway.receive(),
        WorkerMessage::Log {
            level: LogLevel::Log,
            text: "sums 3 7".into()
        }
    );
    assert_eq!(
        gateway.receive(),
        WorkerMessage::Done {
            outcome: ExecutionOutcome::Ok { result: json!(10) },
            dropped_output_bytes: 0
        }
    );

    // The same worker serves the next execution, in a fresh runtime.
    gateway
        .execute("console.warn('second'); export default typeof (globalThis as any).__previous;");
    assert_eq!(
        gateway.receive(),
        WorkerMessage::Log {
            level: LogLevel::Warn,
            text: "second".into()
        }
    );
    assert_eq!(
        gateway.receive(),
        WorkerMessage::Done {
            outcome: ExecutionOutcome::Ok {
                result: json!("undefined")
            },
            dropped_output_bytes: 0
        }
    );

    // Errors end an execution, not the worker.
    gateway.execute("const broken = ;");
    match gateway.receive() {
        WorkerMessage::Done {
            outcome: ExecutionOutcome::Error(error),
            ..
        } => {
            assert_eq!(error.kind, ErrorKind::SyntaxError);
            assert_eq!(error.line, Some(1));
        }
        other => panic!("expected Done with an error, got {other:?}"),
    }
    gateway.execute("import { addNumbers } from './servers/math'; await addNumbers({ a: 1 });");
    let call_id = match gateway.receive() {
        WorkerMessage::ToolCall { call_id, .. } => call_id,
        other => panic!("expected a tool call, got {other:?}"),
    };
    gateway.send(&GatewayMessage::ToolResult {
        call_id,
        outcome: ToolOutcome::Error {
            kind: ToolErrorKind::InvalidArguments,
            message: "b is required".into(),
            content: None,
            retryable: false,
        },
    });
    match gateway.receive() {
        WorkerMessage::Done {
            outcome: ExecutionOutcome::Error(error),
            ..
        } => {
            assert_eq!(error.kind, ErrorKind::ToolError);
            assert!(error.message.contains("b is required"), "{}", error.message);
        }
        other => panic!("expected Done with an error, got {other:?}"),
    }

    gateway.finish().unwrap();
}

#[test]
fn closing_the_input_ends_a_waiting_execution_and_the_worker() {
    let mut gateway = Gateway::start();
    gateway.execute("import { addNumbers } from './servers/math'; await addNumbers({});");
    assert!(matches!(gateway.receive(), WorkerMessage::ToolCall { .. }));
    let Gateway {
        to_worker,
        mut from_worker,
        worker,
    } = gateway;
    drop(to_worker);
    let body = read_frame(&mut from_worker, MAX_WORKER_FRAME_BYTES).unwrap();
    match decode_worker_message(&body).unwrap() {
        WorkerMessage::Done {
            outcome: ExecutionOutcome::Error(error),
            ..
        } => {
            assert_eq!(error.kind, ErrorKind::InternalError, "{error:?}");
        }
        other => panic!("expected Done with an error, got {other:?}"),
    }
    worker.unwrap().join().unwrap().unwrap();
}

#[test]
fn an_execute_during_an_execution_fails_it_and_stops_the_worker() {
    let mut gateway = Gateway::start();
    gateway.execute("import { addNumbers } from './servers/math'; await addNumbers({});");
    assert!(matches!(gateway.receive(), WorkerMessage::ToolCall { .. }));
    gateway.execute("export default 1;");
    match gateway.receive() {
        WorkerMessage::Done {
            outcome: ExecutionOutcome::Error(error),
            ..
        } => assert!(
            error
                .message
                .contains("an Execute arrived while an execution was running"),
            "{error:?}"
        ),
        other => panic!("expected Done with an error, got {other:?}"),
    }
    match gateway.finish() {
        Err(WorkerError::Unexpected(message)) => {
            assert!(message.contains("an Execute"), "{message}");
        }
        other => panic!("expected a protocol error, got {other:?}"),
    }
}

#[test]
fn a_tool_result_between_executions_is_ignored() {
    let mut gateway = Gateway::start();
    gateway.send(&GatewayMessage::ToolResult {
        call_id: 99,
        outcome: ToolOutcome::Ok { value: json!(1) },
    });
    let (_, outcome) = gateway.run("export default 2;", Settings::fresh());
    assert_eq!(outcome, ExecutionOutcome::Ok { result: json!(2) });
    gateway.finish().unwrap();
}

#[test]
fn refuses_another_protocol_version() {
    let mut gateway = Gateway::start();
    gateway.execute_with_version("export default 1;", PROTOCOL_VERSION + 1);
    match gateway.receive() {
        WorkerMessage::Done {
            outcome: ExecutionOutcome::Error(error),
            ..
        } => {
            assert_eq!(error.kind, ErrorKind::ProtocolError);
        }
        other => panic!("expected Done with an error, got {other:?}"),
    }
    assert!(matches!(
        gateway.finish(),
        Err(WorkerError::ProtocolVersion { .. })
    ));
}

#[test]
fn a_session_keeps_variables_and_functions_until_a_fresh_execution() {
    let mut gateway = Gateway::start();
    assert_eq!(
        gateway.value(
            "const greeting = 'hi';\nfunction greet(name: string) { return `${greeting} ${name}`; }\nexport default greet('a');",
            Settings::session()
        ),
        json!("hi a")
    );
    assert_eq!(
        gateway.value(
            "export default [greet('b'), greeting];",
            Settings::session()
        ),
        json!(["hi b", "hi"])
    );
    assert_eq!(
        gateway.value(
            "export default [typeof (globalThis as any).greet, typeof (globalThis as any).greeting];",
            Settings::fresh()
        ),
        json!(["undefined", "undefined"])
    );
    // A timeout in a session discards it, and says so.
    gateway.value("var counter = 1;", Settings::session());
    let timeout = gateway.failure("while (true) {}", Settings::session().timeout_ms(200));
    assert_eq!(timeout.kind, ErrorKind::Timeout);
    assert!(timeout.message.contains("discarded"), "{}", timeout.message);
    assert_eq!(
        gateway.value(
            "export default typeof (globalThis as any).counter;",
            Settings::session()
        ),
        json!("undefined")
    );
    gateway.finish().unwrap();
}

#[test]
fn a_runtime_is_made_after_each_execution_and_said() {
    let mut gateway = Gateway::start();
    for _ in 0..2 {
        gateway.execute("export default 1;");
        assert!(matches!(gateway.receive_any(), WorkerMessage::Done { .. }));
        assert_eq!(gateway.receive_any(), WorkerMessage::Tidied);
    }
}

#[test]
fn a_prepared_runtime_is_said_and_used_by_the_next_execution() {
    let mut gateway = Gateway::start();
    gateway.send(&GatewayMessage::Prepare { limits: limits() });
    assert_eq!(gateway.receive_any(), WorkerMessage::Tidied);
    // A fresh execution runs in it; nothing of another runtime is there to find.
    let (_, outcome) = gateway.run(
        "export default typeof globalThis.leftOver;",
        Settings::fresh(),
    );
    assert_eq!(
        outcome,
        ExecutionOutcome::Ok {
            result: json!("undefined")
        }
    );
    gateway.finish().unwrap();
}

#[test]
fn checks_code_between_executions() {
    let mut gateway = Gateway::start();
    gateway.send(&GatewayMessage::Check {
        code: "import { addNumbers } from '../../servers/math';\nexport async function total(xs: number[]) { return addNumbers({ a: xs[0], b: xs[1] }); }\nexport default total;".into(),
        language: Language::Typescript,
    });
    assert_eq!(
        gateway.receive(),
        WorkerMessage::Checked {
            error: None,
            exports: vec!["default".into(), "total".into()]
        }
    );
    gateway.send(&GatewayMessage::Check {
        code: "export const = 1;".into(),
        language: Language::Typescript,
    });
    match gateway.receive() {
        WorkerMessage::Checked {
            error: Some(error),
            exports,
        } => {
            assert_eq!(error.kind, ErrorKind::SyntaxError);
            assert_eq!(error.line, Some(1));
            assert!(exports.is_empty());
        }
        other => panic!("expected Checked with an error, got {other:?}"),
    }
    assert_eq!(
        gateway.value("export default 1;", Settings::session()),
        json!(1)
    );
    gateway.finish().unwrap();
}

#[test]
fn skills_import_tools_and_other_skills() {
    let mut gateway = Gateway::start();
    let settings = Settings::fresh()
        .skill(
            "sum-pairs",
            "import { addNumbers } from '../../servers/math';\nimport { label } from '../label';\nexport async function sumPairs(pairs: [number, number][]) {\n  const sums = [];\n  for (const [a, b] of pairs) sums.push(((await addNumbers({ a, b })) as any).tool);\n  return label(sums.join('+'));\n}\n",
        )
        .skill("label", "export const label = (text: string) => `[${text}]`;\n");
    assert_eq!(
        gateway.value(
            "import { sumPairs } from './skills/sum-pairs';\nexport default await sumPairs([[1, 2], [3, 4]]);",
            settings.clone()
        ),
        json!("[add-numbers+add-numbers]")
    );
    let unknown = gateway.failure(
        "import { nothing } from './skills/nothing';\nnothing();",
        settings,
    );
    assert_eq!(unknown.kind, ErrorKind::ImportError);
    assert!(
        unknown
            .message
            .contains("Skills loaded for this code: label, sum-pairs."),
        "{}",
        unknown.message
    );
    gateway.finish().unwrap();
}

/// A workspace folder inside a temporary directory, with a secret file next to it that agent
/// code must never reach.
struct Folder {
    _root: tempfile::TempDir,
    workspace: std::path::PathBuf,
    secret: std::path::PathBuf,
}

fn folder() -> Folder {
    let root = tempfile::tempdir().unwrap();
    let workspace = root.path().join("workspace");
    std::fs::create_dir(&workspace).unwrap();
    let secret = root.path().join("secret.txt");
    std::fs::write(&secret, "top secret").unwrap();
    Folder {
        workspace,
        secret,
        _root: root,
    }
}

fn with_workspace(folder: &Folder) -> Gateway {
    Gateway::start_with(WorkerOptions {
        workspace: Some(folder.workspace.clone()),
        ..WorkerOptions::default()
    })
}

#[test]
fn files_round_trip_in_the_workspace() {
    let folder = folder();
    let mut gateway = with_workspace(&folder);
    let value = gateway.value(
        r#"
        import * as fs from "fs/promises";
        import { readFile } from "node:fs/promises";
        await fs.mkdir("./workspace/reports/2024", { recursive: true });
        await fs.writeFile("./workspace/reports/2024/q1.csv", "a,b\n");
        await fs.appendFile("workspace/reports/2024/q1.csv", "1,2\n");
        const text = await readFile("./workspace/reports/2024/q1.csv", "utf8");
        const info = await fs.stat("./workspace/reports/2024/q1.csv");
        const folderInfo = await fs.stat("./workspace/reports");
        await fs.writeFile("./workspace/notes.txt", "é ✓");
        const names = await fs.readdir("./workspace");
        let notEmpty = "";
        try { await fs.rm("./workspace/reports"); } catch (e: any) { notEmpty = e.code; }
        await fs.rm("./workspace/reports", { recursive: true });
        let gone = "";
        try { await fs.stat("./workspace/reports"); } catch (e: any) { gone = e.code; }
        await fs.rm("./workspace/missing", { force: true });
        let exists = "";
        try { await fs.mkdir("./workspace/notes.txt"); } catch (e: any) { exists = e.code; }
        export default {
          text, size: info.size, isFile: info.isFile(), folderIsDirectory: folderInfo.isDirectory(),
          fresh: Date.now() - info.mtimeMs < 60_000, names, notEmpty, gone, exists,
          after: await fs.readdir("./workspace"), notes: await fs.readFile("./workspace/notes.txt"),
        };
        "#,
        Settings::fresh(),
    );
    assert_eq!(
        value,
        json!({
            "text": "a,b\n1,2\n", "size": 8, "isFile": true, "folderIsDirectory": true,
            "fresh": true, "names": ["notes.txt", "reports"], "notEmpty": "EISDIR",
            "gone": "ENOENT", "exists": "EEXIST", "after": ["notes.txt"], "notes": "é ✓"
        })
    );
    assert_eq!(
        std::fs::read_to_string(folder.workspace.join("notes.txt")).unwrap(),
        "é ✓"
    );
    gateway.finish().unwrap();
}

#[test]
fn paths_outside_the_workspace_are_refused() {
    let folder = folder();
    std::os::unix::fs::symlink(&folder.secret, folder.workspace.join("link.txt")).unwrap();
    std::os::unix::fs::symlink(folder.secret.parent().unwrap(), folder.workspace.join("up"))
        .unwrap();
    std::fs::hard_link(&folder.secret, folder.workspace.join("hard.txt")).unwrap();
    let mut gateway = with_workspace(&folder);
    let value = gateway.value(
        r#"
        import * as fs from "fs/promises";
        const attempts: Record<string, string> = {};
        const probe = async (name: string, operation: () => Promise<unknown>) => {
          try { attempts[name] = `read: ${await operation()}`; } catch (e: any) { attempts[name] = `${e.code}: ${e.message}`; }
        };
        await probe("parent", () => fs.readFile("../x"));
        await probe("absolute", () => fs.readFile("/etc/passwd"));
        await probe("escape", () => fs.readFile("./workspace/../../x"));
        await probe("dotdot-inside", () => fs.readFile("./workspace/a/../link.txt"));
        await probe("outside-prefix", () => fs.readFile("secret.txt"));
        await probe("nul", () => fs.readFile("./workspace/a\0b"));
        await probe("symlink-file", () => fs.readFile("./workspace/link.txt"));
        await probe("symlink-dir", () => fs.readFile("./workspace/up/secret.txt"));
        await probe("symlink-write", () => fs.writeFile("./workspace/link.txt", "overwritten"));
        await probe("symlink-dir-write", () => fs.writeFile("./workspace/up/new.txt", "x"));
        await probe("symlink-stat", () => fs.stat("./workspace/up"));
        await probe("symlink-readdir", () => fs.readdir("./workspace/up"));
        await probe("symlink-mkdir", () => fs.mkdir("./workspace/up/sub", { recursive: true }));
        await probe("root-rm", () => fs.rm("./workspace", { recursive: true }));
        await probe("hardlink-read", () => fs.readFile("./workspace/hard.txt"));
        await probe("hardlink-write", () => fs.writeFile("./workspace/hard.txt", "overwritten"));
        await probe("hardlink-append", () => fs.appendFile("./workspace/hard.txt", "more"));
        await fs.rm("./workspace/hard.txt");
        // Removing a link removes the link, never its target.
        await fs.rm("./workspace/up", { recursive: true });
        await fs.rm("./workspace/link.txt");
        export default { attempts, left: await fs.readdir("./workspace") };
        "#,
        Settings::fresh(),
    );
    let attempts = value["attempts"].as_object().unwrap();
    for (name, outcome) in attempts {
        let outcome = outcome.as_str().unwrap();
        assert!(outcome.starts_with("EACCES: "), "{name}: {outcome}");
        assert!(!outcome.contains("top secret"), "{name}: {outcome}");
        let host_path = folder.workspace.to_string_lossy();
        assert!(!outcome.contains(host_path.as_ref()), "{name}: {outcome}");
    }
    assert_eq!(attempts.len(), 17);
    assert!(
        attempts["hardlink-write"]
            .as_str()
            .unwrap()
            .contains("hard link")
    );
    assert!(
        attempts["absolute"]
            .as_str()
            .unwrap()
            .contains("Absolute paths")
    );
    assert!(
        attempts["symlink-file"]
            .as_str()
            .unwrap()
            .contains("links are not followed")
    );
    assert_eq!(value["left"], json!([]));
    assert_eq!(
        std::fs::read_to_string(&folder.secret).unwrap(),
        "top secret"
    );
    assert!(!folder.secret.parent().unwrap().join("new.txt").exists());
    assert!(!folder.secret.parent().unwrap().join("sub").exists());
    gateway.finish().unwrap();
}

#[test]
fn the_quota_refuses_writes_that_would_pass_it() {
    let folder = folder();
    // 256 + 12 + 600 = 868 bytes of the quota (see `sluice_paths::entry_cost`).
    std::fs::write(folder.workspace.join("existing.bin"), vec![b'x'; 600]).unwrap();
    let mut gateway = with_workspace(&folder);
    let value = gateway.value(
        r#"
        import * as fs from "fs/promises";
        const outcome = async (operation: () => Promise<unknown>) => {
          try { await operation(); return "ok"; } catch (e: any) { return `${e.code}: ${e.message}`; }
        };
        export default [
          await outcome(() => fs.writeFile("./workspace/a.txt", "x".repeat(300))),
          await outcome(() => fs.writeFile("./workspace/b.txt", "x".repeat(400))),
          await outcome(() => fs.appendFile("./workspace/a.txt", "x".repeat(600))),
          await outcome(() => fs.writeFile("./workspace/a.txt", "x".repeat(400))),
          await outcome(() => fs.rm("./workspace/existing.bin")),
          await outcome(() => fs.writeFile("./workspace/b.txt", "x".repeat(600))),
        ];
        "#,
        Settings::fresh().quota(2000),
    );
    let outcomes: Vec<&str> = value
        .as_array()
        .unwrap()
        .iter()
        .map(|outcome| outcome.as_str().unwrap())
        .collect();
    // a.txt costs 256 + 5 + 300 = 561: 1429 in all.
    assert_eq!(outcomes[0], "ok");
    assert!(outcomes[1].starts_with("EDQUOT: "), "{}", outcomes[1]);
    assert!(
        outcomes[1].contains("may hold 2000 bytes"),
        "{}",
        outcomes[1]
    );
    assert!(
        outcomes[1].contains("it holds 1429 and this would make it 2090"),
        "{}",
        outcomes[1]
    );
    assert!(outcomes[2].starts_with("EDQUOT: "), "{}", outcomes[2]);
    assert_eq!(
        outcomes[3], "ok",
        "replacing a file counts only the difference"
    );
    assert_eq!(outcomes[4..], ["ok", "ok"]);
    // Refused writes wrote nothing.
    assert!(!folder.workspace.join("existing.bin").exists());
    assert_eq!(
        std::fs::read_to_string(folder.workspace.join("a.txt"))
            .unwrap()
            .len(),
        400
    );
    gateway.finish().unwrap();
}

/// What the workspace under `path` costs against the quota (`sluice_paths::entry_cost`),
/// walked by the test itself.
fn quota_usage(path: &std::path::Path) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(path).unwrap() {
        let entry = entry.unwrap();
        let metadata = entry.metadata().unwrap();
        let name = entry.file_name().len();
        total += sluice_paths::entry_cost(name, metadata.is_dir(), metadata.len());
        if metadata.is_dir() {
            total += quota_usage(&entry.path());
        }
    }
    total
}

#[test]
fn folders_and_names_count_against_the_quota() {
    let folder = folder();
    let mut gateway = with_workspace(&folder);
    // Before folders counted, all 1,000 folders were made at no cost.
    let value = gateway.value(
        r#"
        import * as fs from "fs/promises";
        let made = 0;
        let refusal = "";
        for (let i = 0; i < 1000; i++) {
          try {
            await fs.mkdir(`./workspace/${String(i).padStart(4, "0")}${"n".repeat(200)}`);
            made++;
          } catch (e: any) { refusal = `${e.code}: ${e.message}`; break; }
        }
        let file = "";
        try { await fs.writeFile(`./workspace/${"f".repeat(250)}`, "y".repeat(1500)); } catch (e: any) { file = e.code; }
        export default { made, refusal, file };
        "#,
        Settings::fresh().quota(64 * 1024),
    );
    // Each folder costs 256 + 204 + 4096 = 4556 bytes: 14 fit in 64 KiB.
    assert_eq!(value["made"], 14, "{value}");
    let refusal = value["refusal"].as_str().unwrap();
    assert!(refusal.starts_with("EDQUOT: "), "{refusal}");
    assert!(refusal.contains("4096 bytes for every folder"), "{refusal}");
    // 14 * 4556 = 63784; a file of 1500 bytes with a 250-byte name costs 2006 more: too much.
    assert_eq!(value["file"], "EDQUOT", "{value}");
    assert_eq!(quota_usage(&folder.workspace), 14 * 4556);
    assert!(quota_usage(&folder.workspace) <= 64 * 1024);
    gateway.finish().unwrap();
}

#[test]
fn concurrent_executions_cannot_share_the_same_room() {
    let folder = folder();
    let mut first = with_workspace(&folder);
    let mut second = with_workspace(&folder);
    // Each execution writes (before the fix: measured the workspace once), waits for a tool
    // result, then writes 600 KiB against a quota of 1 MiB: only one of them may succeed.
    let code = |name: &str| {
        format!(
            r#"
            import * as fs from "fs/promises";
            import {{ addNumbers }} from "./servers/math";
            await fs.writeFile("./workspace/{name}-small.txt", "x");
            await addNumbers({{ a: 1, b: 2 }});
            let outcome = "written";
            try {{
              await fs.writeFile("./workspace/{name}-big.txt", "x".repeat(600 * 1024));
            }} catch (e: any) {{ outcome = e.code; }}
            export default outcome;
            "#
        )
    };
    let settings = Settings::fresh().quota(1024 * 1024);
    let mut calls = Vec::new();
    for (gateway, name) in [(&mut first, "first"), (&mut second, "second")] {
        gateway.execute_with(&code(name), settings.clone());
        match gateway.receive() {
            WorkerMessage::ToolCall { call_id, .. } => calls.push(call_id),
            other => panic!("expected a tool call, got {other:?}"),
        }
    }
    let mut outcomes = Vec::new();
    for (gateway, call_id) in [&mut first, &mut second].into_iter().zip(calls) {
        gateway.send(&GatewayMessage::ToolResult {
            call_id,
            outcome: ToolOutcome::Ok { value: json!(3) },
        });
        match gateway.receive() {
            WorkerMessage::Done {
                outcome: ExecutionOutcome::Ok { result },
                ..
            } => outcomes.push(result),
            other => panic!("expected Done, got {other:?}"),
        }
    }
    assert_eq!(outcomes, [json!("written"), json!("EDQUOT")]);
    assert!(quota_usage(&folder.workspace) <= 1024 * 1024);
    first.finish().unwrap();
    second.finish().unwrap();
}

#[test]
fn folders_nest_at_most_max_depth_levels_and_deep_trees_stay_writable() {
    let folder = folder();
    // A tree deeper than the file API makes, planted from outside: 200 levels, and a branch
    // whose path is longer than the kernel opens at once (30 names of 200 bytes).
    let mut deep = folder.workspace.join("planted");
    for _ in 0..200 {
        deep.push("d");
    }
    std::fs::create_dir_all(&deep).unwrap();
    std::fs::write(deep.join("leaf.txt"), "leaf").unwrap();
    let mut current = rustix::fs::open(
        &folder.workspace,
        rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::RDONLY,
        rustix::fs::Mode::empty(),
    )
    .unwrap();
    let long_name = "L".repeat(200);
    for _ in 0..30 {
        rustix::fs::mkdirat(
            &current,
            long_name.as_str(),
            rustix::fs::Mode::from_raw_mode(0o755),
        )
        .unwrap();
        current = rustix::fs::openat(
            &current,
            long_name.as_str(),
            rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::RDONLY,
            rustix::fs::Mode::empty(),
        )
        .unwrap();
    }
    drop(current);
    let mut gateway = with_workspace(&folder);
    let value = gateway.value(
        r#"
        import * as fs from "fs/promises";
        const outcome = async (operation: () => Promise<unknown>) => {
          try { await operation(); return "ok"; } catch (e: any) { return `${e.code}: ${e.message}`; }
        };
        const levels = (n: number) => "./workspace/" + Array.from({ length: n }, () => "a").join("/");
        export default {
          // The planted trees are measured: the workspace stays writable.
          write: await outcome(() => fs.writeFile("./workspace/note.txt", "still writable")),
          atLimit: await outcome(() => fs.mkdir(levels(64), { recursive: true })),
          fileAtLimit: await outcome(() => fs.writeFile(levels(64) + "/f.txt", "deepest")),
          pastLimit: await outcome(() => fs.mkdir(levels(65), { recursive: true })),
          pastLimitOne: await outcome(() => fs.mkdir(levels(65))),
          longPath: await outcome(() => fs.writeFile("./workspace/" + "p/".repeat(2048) + "x", "")),
          afterDeep: await outcome(() => fs.appendFile("./workspace/note.txt", "!")),
          removeOurs: await outcome(() => fs.rm("./workspace/a", { recursive: true })),
          removePlanted: await outcome(() => fs.rm("./workspace/planted", { recursive: true })),
          removeLong: await outcome(() => fs.rm("./workspace/" + "L".repeat(200), { recursive: true })),
          left: await fs.readdir("./workspace"),
        };
        "#,
        // The planted folders cost about 1 MiB.
        Settings::fresh().quota(8 * 1024 * 1024),
    );
    assert_eq!(value["write"], "ok", "{value}");
    assert_eq!(value["atLimit"], "ok", "{value}");
    assert_eq!(value["fileAtLimit"], "ok", "{value}");
    for past in ["pastLimit", "pastLimitOne"] {
        let message = value[past].as_str().unwrap();
        assert!(message.starts_with("EACCES: "), "{message}");
        assert!(
            message.contains("at most 64 levels") && message.contains("would be 65 levels deep"),
            "{message}"
        );
    }
    let long = value["longPath"].as_str().unwrap();
    assert!(long.starts_with("ENAMETOOLONG: "), "{long}");
    assert!(long.contains("at most 4095"), "{long}");
    for done in ["afterDeep", "removeOurs", "removePlanted", "removeLong"] {
        assert_eq!(value[done], "ok", "{done}: {value}");
    }
    assert_eq!(value["left"], json!(["note.txt"]));
    gateway.finish().unwrap();
}

#[test]
fn without_a_workspace_file_calls_fail_clearly() {
    let mut gateway = Gateway::start();
    let value = gateway.value(
        "import { readdir } from 'fs/promises';\nlet message = '';\ntry { await readdir('./workspace'); } catch (e: any) { message = `${e.code}|${e.message}`; }\nexport default message;",
        Settings::fresh(),
    );
    let message = value.as_str().unwrap();
    assert!(
        message.starts_with("ENOSYS|ENOSYS: no workspace folder"),
        "{message}"
    );
    gateway.finish().unwrap();
}

#[test]
fn a_builtin_that_cannot_be_interrupted_stops_the_worker_with_a_timeout() {
    let mut gateway = Gateway::start();
    let started = std::time::Instant::now();
    let error = gateway.failure(
        "export default (new Array(1e9) + '').length;",
        Settings::fresh().timeout_ms(300),
    );
    assert_eq!(error.kind, ErrorKind::Timeout);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(
        error.message.contains("cannot be interrupted"),
        "{}",
        error.message
    );
    // The worker returns at once (the process would exit); its stuck thread is left behind.
    let Gateway { worker, .. } = gateway;
    assert!(matches!(
        worker.unwrap().join().unwrap(),
        Err(WorkerError::Stuck { limit_ms: 300, .. })
    ));
}
