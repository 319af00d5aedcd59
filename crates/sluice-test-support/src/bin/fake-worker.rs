//! A worker that breaks the gateway-worker frame protocol on purpose, for the gateway's
//! protocol-abuse tests (security cases 33: malformed frames must fail one execution, never the
//! gateway).
//!
//! Usage: `fake-worker MODE [ignored gateway flags...]`. In mode `sandbox-refused` it does what
//! `sluice worker` does when it cannot confine itself: a `sandbox: ...` line on stderr and exit
//! status 3, before `Ready`. Otherwise it says `Ready` (protocol version of
//! `sluice-worker-protocol`), reads the first frame the gateway sends (the `Execute`), then:
//!
//! - `huge-length`: a frame header announcing 4 GiB, then a few bytes;
//! - `bad-utf8`: a frame whose body is not UTF-8;
//! - `deep-json`: a frame of 10,000 nested JSON arrays;
//! - `unknown-message`: a well-formed frame of a message type that does not exist;
//! - `second-ready`: another `Ready` in the middle of the execution;
//! - `exit`: exits with status 7 without answering;
//! - `hang`: never answers (the gateway's watchdog must kill it);
//! - `tidied-early`: a `Tidied` in the middle of the execution (as the real worker's preparer
//!   may send about an earlier runtime), then a `Done` with the result 1, and no `Tidied` after.

use std::io::{Read, Write};
use std::process::ExitCode;

use sluice_worker_protocol::{PROTOCOL_VERSION, WorkerMessage, encode};

fn main() -> ExitCode {
    let mode = std::env::args().nth(1).unwrap_or_default();
    if mode == "sandbox-refused" {
        eprintln!("sandbox: landlock: the kernel does not support Landlock ABI 6 or later");
        return ExitCode::from(sluice_worker_protocol::SANDBOX_REFUSED_EXIT_CODE);
    }
    let mut stdout = std::io::stdout().lock();
    let Ok(ready) = encode(&WorkerMessage::Ready {
        protocol_version: PROTOCOL_VERSION,
    }) else {
        return ExitCode::FAILURE;
    };
    if stdout
        .write_all(&ready)
        .and_then(|()| stdout.flush())
        .is_err()
    {
        return ExitCode::FAILURE;
    }
    // The Execute: a 4-byte big-endian length, then the body, which is ignored. A `Prepare`
    // before it (a warm worker gets one) is answered `Tidied`, as the real worker does.
    let mut stdin = std::io::stdin().lock();
    loop {
        let mut header = [0u8; 4];
        if stdin.read_exact(&mut header).is_err() {
            return ExitCode::FAILURE;
        }
        let mut body = vec![0u8; u32::from_be_bytes(header) as usize];
        if stdin.read_exact(&mut body).is_err() {
            return ExitCode::FAILURE;
        }
        let prepare = matches!(
            serde_json::from_slice::<sluice_worker_protocol::GatewayMessage>(&body),
            Ok(sluice_worker_protocol::GatewayMessage::Prepare { .. })
        );
        if !prepare {
            break;
        }
        let Ok(tidied) = encode(&WorkerMessage::Tidied) else {
            return ExitCode::FAILURE;
        };
        if stdout
            .write_all(&tidied)
            .and_then(|()| stdout.flush())
            .is_err()
        {
            return ExitCode::FAILURE;
        }
    }
    let frame = |body: &[u8]| {
        let mut frame = (body.len() as u32).to_be_bytes().to_vec();
        frame.extend_from_slice(body);
        frame
    };
    let bytes = match mode.as_str() {
        "huge-length" => {
            let mut bytes = u32::MAX.to_be_bytes().to_vec();
            bytes.extend_from_slice(b"{\"type\":");
            bytes
        }
        "bad-utf8" => frame(&[0xff, 0xfe, 0xfd, b'{', 0xc3]),
        "deep-json" => frame(format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)).as_bytes()),
        "unknown-message" => frame(br#"{"type":"launch_missiles","target":"gateway"}"#),
        "second-ready" => ready.clone(),
        "tidied-early" => {
            let messages = [
                WorkerMessage::Tidied,
                WorkerMessage::Done {
                    outcome: sluice_worker_protocol::ExecutionOutcome::Ok {
                        result: serde_json::json!(1),
                    },
                    dropped_output_bytes: 0,
                },
            ];
            let mut bytes = Vec::new();
            for message in &messages {
                let Ok(encoded) = encode(message) else {
                    return ExitCode::FAILURE;
                };
                bytes.extend_from_slice(&encoded);
            }
            bytes
        }
        "exit" => return ExitCode::from(7),
        "hang" => loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        },
        other => {
            eprintln!("fake-worker: unknown mode {other:?}");
            return ExitCode::FAILURE;
        }
    };
    let _ = stdout.write_all(&bytes).and_then(|()| stdout.flush());
    // Stay alive, reading, so only the gateway's decision ends this process.
    let mut sink = Vec::new();
    let _ = stdin.read_to_end(&mut sink);
    ExitCode::SUCCESS
}
