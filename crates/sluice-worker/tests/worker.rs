//! Drive the worker over pipes, with the test thread playing the gateway.

// The helpers below are test code too; clippy's test allowance only covers `#[test]` functions.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::io::{PipeReader, PipeWriter};
use std::thread::JoinHandle;

use serde_json::json;
use sluice_worker::WorkerError;
use sluice_worker_protocol::{
    ExecutionLimits, ExecutionOutcome, GatewayMessage, Language, LogLevel, MAX_WORKER_FRAME_BYTES,
    PROTOCOL_VERSION, ToolBinding, ToolOutcome, WorkerMessage, decode_worker_message, read_frame,
    write_message,
};

struct Gateway {
    to_worker: Option<PipeWriter>,
    from_worker: PipeReader,
    worker: Option<JoinHandle<Result<(), WorkerError>>>,
}

impl Gateway {
    fn start() -> Self {
        let (worker_input, to_worker) = std::io::pipe().unwrap();
        let (from_worker, worker_output) = std::io::pipe().unwrap();
        let worker = std::thread::spawn(move || {
            sluice_worker::run(
                &sluice_worker::WorkerOptions::default(),
                worker_input,
                worker_output,
            )
        });
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

    fn receive(&mut self) -> WorkerMessage {
        let body = read_frame(&mut self.from_worker, MAX_WORKER_FRAME_BYTES).unwrap();
        decode_worker_message(&body).unwrap()
    }

    fn execute(&mut self, code: &str) {
        self.execute_with_version(code, PROTOCOL_VERSION);
    }

    fn execute_with_version(&mut self, code: &str, protocol_version: u32) {
        self.send(&GatewayMessage::Execute {
            protocol_version,
            code: code.to_owned(),
            language: Language::Typescript,
            limits: ExecutionLimits {
                timeout_ms: 10_000,
                memory_bytes: 64 * 1024 * 1024,
                stack_bytes: 1024 * 1024,
                output_bytes: 64 * 1024,
                tool_calls: 50,
                workspace_bytes: 0,
            },
            tools: tools(),
            keep_state: false,
            skills: BTreeMap::new(),
        });
    }

    /// Close the worker's input and wait for `run` to return.
    fn finish(mut self) -> Result<(), WorkerError> {
        drop(self.to_worker.take());
        self.worker.take().unwrap().join().unwrap()
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
            assert_eq!(error.kind, "SyntaxError");
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
            kind: "invalid_arguments".into(),
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
            assert_eq!(error.kind, "ToolError");
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
            assert_eq!(error.kind, "InternalError", "{error:?}");
        }
        other => panic!("expected Done with an error, got {other:?}"),
    }
    worker.unwrap().join().unwrap().unwrap();
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
            assert_eq!(error.kind, sluice_worker::PROTOCOL_ERROR_KIND);
        }
        other => panic!("expected Done with an error, got {other:?}"),
    }
    assert!(matches!(
        gateway.finish(),
        Err(WorkerError::ProtocolVersion { .. })
    ));
}
