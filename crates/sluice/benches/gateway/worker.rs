//! Workers without the gateway: the bare `sluice-worker` spawned and driven over the protocol,
//! and this bench binary as a worker without a JS engine.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sluice_gateway::Language;
use sluice_worker_protocol::{
    ExecuteJob, ExecutionLimits, ExecutionOutcome, GatewayMessage, MAX_GATEWAY_FRAME_BYTES,
    MAX_WORKER_FRAME_BYTES, PROTOCOL_VERSION, ToolBinding, ToolOutcome, WorkerMessage,
    decode_gateway_message, decode_worker_message, read_frame, write_message,
};

use crate::report::{BenchResult, ms};

/// The `sluice` binary of this build; workers are it under `worker`.
pub(crate) const SLUICE_BIN: &str = env!("CARGO_BIN_EXE_sluice");
/// The worker binary the gateway starts (`sluice serve` finds it beside `sluice`).
pub(crate) const WORKER_BIN: &str = env!("CARGO_BIN_EXE_sluice-worker");

/// First argument that makes this bench binary a worker without a JS engine.
pub(crate) const FAKE_WORKER_ARG: &str = "__sluice-bench-protocol-worker";

/// A worker without a JS engine, for the protocol gateway `setup.rs` starts: says `Ready`, takes
/// the `Execute` whose code is a number N, makes N sequential `fake.echo` calls over the worker
/// protocol, then reports `Done` with its own loop time in milliseconds (µs resolution). It sleeps
/// on its input between frames, as `sluice-worker` does with polling off.
pub(crate) fn protocol_worker() -> BenchResult<()> {
    let mut input = std::io::stdin().lock();
    let mut output = std::io::stdout().lock();
    write_message(
        &mut output,
        &WorkerMessage::Ready {
            protocol_version: PROTOCOL_VERSION,
        },
    )?;
    let GatewayMessage::Execute(job) =
        decode_gateway_message(&read_frame(&mut input, MAX_GATEWAY_FRAME_BYTES)?)?
    else {
        return Err("expected Execute".into());
    };
    let calls: u64 = job.code.trim().parse()?;
    let started = Instant::now();
    for call_id in 0..calls {
        write_message(
            &mut output,
            &WorkerMessage::ToolCall {
                call_id,
                server: "fake".to_owned(),
                tool: "echo".to_owned(),
                arguments: json!({"message": "x"}),
            },
        )?;
        match decode_gateway_message(&read_frame(&mut input, MAX_GATEWAY_FRAME_BYTES)?)? {
            GatewayMessage::ToolResult {
                call_id: answered,
                outcome: ToolOutcome::Ok { .. },
            } if answered == call_id => {}
            other => return Err(format!("unexpected answer to call {call_id}: {other:?}").into()),
        }
    }
    let elapsed = ms(started.elapsed());
    write_message(
        &mut output,
        &WorkerMessage::Done {
            outcome: ExecutionOutcome::Ok {
                result: json!(elapsed),
            },
            dropped_output_bytes: 0,
        },
    )?;
    Ok(())
}

/// What [`bare_worker`] saw: times from just before the spawn, and the execution's result.
pub(crate) struct BareRun {
    pub(crate) ready: Duration,
    pub(crate) done: Option<Duration>,
    pub(crate) result: Value,
    pub(crate) tool_calls: u64,
}

/// Spawn `sluice-worker` and wait for its `Ready` frame; with `code`, also run it over the bare
/// protocol up to `Done`, answering every `fake.echo` call at once with `{message: "x"}` (no
/// gateway, no MCP server: what the worker itself costs).
pub(crate) fn bare_worker(code: Option<&str>) -> BenchResult<BareRun> {
    let started = Instant::now();
    let mut child = std::process::Command::new(WORKER_BIN)
        .env_clear()
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let outcome = (|| -> BenchResult<BareRun> {
        let mut stdout = child.stdout.take().ok_or("no stdout pipe")?;
        let mut stdin = child.stdin.take().ok_or("no stdin pipe")?;
        match decode_worker_message(&read_frame(&mut stdout, MAX_WORKER_FRAME_BYTES)?)? {
            WorkerMessage::Ready { .. } => {}
            other => return Err(format!("expected Ready, got {other:?}").into()),
        }
        let mut run = BareRun {
            ready: started.elapsed(),
            done: None,
            result: Value::Null,
            tool_calls: 0,
        };
        let Some(code) = code else {
            return Ok(run);
        };
        let mut tools = BTreeMap::new();
        if code.contains("./servers/fake") {
            tools.insert(
                "fake".to_owned(),
                vec![ToolBinding {
                    identifier: "echo".to_owned(),
                    name: "echo".to_owned(),
                }],
            );
        }
        write_message(
            &mut stdin,
            &GatewayMessage::Execute(ExecuteJob {
                protocol_version: PROTOCOL_VERSION,
                code: code.to_owned(),
                language: Language::Typescript,
                limits: ExecutionLimits {
                    timeout_ms: 120_000,
                    memory_bytes: 256 * 1024 * 1024,
                    stack_bytes: 1024 * 1024,
                    output_bytes: 16 * 1024,
                    tool_calls: 20_000,
                    workspace_bytes: 0,
                },
                tools,
                keep_state: false,
                skills: BTreeMap::new(),
            }),
        )?;
        loop {
            match decode_worker_message(&read_frame(&mut stdout, MAX_WORKER_FRAME_BYTES)?)? {
                WorkerMessage::ToolCall { call_id, .. } => {
                    run.tool_calls += 1;
                    write_message(
                        &mut stdin,
                        &GatewayMessage::ToolResult {
                            call_id,
                            outcome: ToolOutcome::Ok {
                                value: json!({"message": "x"}),
                            },
                        },
                    )?;
                }
                WorkerMessage::Done {
                    outcome: ExecutionOutcome::Ok { result },
                    ..
                } => {
                    run.done = Some(started.elapsed());
                    run.result = result;
                    return Ok(run);
                }
                WorkerMessage::Done { outcome, .. } => {
                    return Err(format!("the bare execution ended with {outcome:?}").into());
                }
                _ => {}
            }
        }
    })();
    let _ = child.kill();
    let _ = child.wait();
    outcome
}
