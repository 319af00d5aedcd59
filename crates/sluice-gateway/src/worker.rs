//! One worker process as the gateway sees it: started confined, read as untrusted frames, killed
//! whenever it misbehaves.
//!
//! A worker serves one execution, or many in a row: a session's (its runtime kept), or one
//! client's executions outside sessions (a brand-new runtime for each; see `warm.rs` and
//! `sluice.workers`). Everything it writes is decoded with a size cap; a bad frame, an early exit or a
//! missed deadline costs that worker and the execution it was running, never the gateway.

use std::collections::VecDeque;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use sluice_worker_protocol::{
    ExecutionError, ExecutionLimits, FrameDecoder, GatewayMessage, Language,
    MAX_WORKER_FRAME_BYTES, OUT_OF_MEMORY_EXIT_CODE, PROTOCOL_VERSION, SANDBOX_REFUSED_EXIT_CODE,
    WorkerMessage, decode_worker_message, encode,
};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use crate::Gateway;

/// How long a worker may take to start, confine itself and say it is ready.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// Lines of a worker's stderr kept to explain why it died (a sandbox refusal, a panic).
const STDERR_TAIL_LINES: usize = 8;
/// The longest the gateway busy-waits for a worker's next frame. A runtime thread runs no other
/// task meanwhile, so this stays well under the ~100 µs a task may hold its thread; a script
/// that computes longer between two calls just finds the gateway asleep.
pub(crate) const GATEWAY_SPIN_LIMIT: Duration = Duration::from_micros(50);

/// How to start a worker process: a program and its arguments (for the `sluice` binary, itself
/// with the hidden `worker` subcommand).
#[derive(Debug, Clone)]
pub struct WorkerCommand {
    /// The program.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// Confine the worker (the default). `false` passes `--no-sandbox`: the worker then runs
    /// agent code with the gateway's own rights, for machines without Landlock or user
    /// namespaces.
    pub sandbox: bool,
}

impl WorkerCommand {
    /// `program` with `args`, confined.
    pub fn new(program: impl Into<PathBuf>, args: Vec<String>) -> WorkerCommand {
        WorkerCommand {
            program: program.into(),
            args,
            sandbox: true,
        }
    }
}

/// What one worker process is allowed: the OS limits it applies to itself before it reads any
/// code (see `sluice-sandbox`).
#[derive(Debug, Clone)]
pub(crate) struct Launch {
    /// The folder it may read and write (`./workspace/` in agent code).
    pub workspace: Option<PathBuf>,
    /// The JS heap limit; the address-space limit is derived from it.
    pub memory_mb: u64,
    /// CPU seconds for the whole life of the process.
    pub cpu_seconds: u64,
    /// Largest file it may write.
    pub file_size_mb: u64,
    /// How long it polls for a tool result before sleeping (`execution.spinMicros`).
    pub spin_micros: u64,
}

impl Launch {
    fn args(&self, command: &WorkerCommand) -> Vec<String> {
        let mut args = command.args.clone();
        if !command.sandbox {
            args.push("--no-sandbox".to_owned());
        }
        if let Some(workspace) = &self.workspace {
            args.push("--workspace".to_owned());
            args.push(workspace.display().to_string());
        }
        for (flag, value) in [
            ("--memory-mb", self.memory_mb),
            ("--cpu-seconds", self.cpu_seconds),
            ("--file-size-mb", self.file_size_mb),
            ("--spin-us", self.spin_micros),
            ("--parent-pid", u64::from(std::process::id())),
        ] {
            args.push(flag.to_owned());
            args.push(value.to_string());
        }
        args
    }
}

/// A started worker that said `Ready`.
pub(crate) struct WorkerProcess {
    /// Executions it has served.
    pub served: u64,
    /// Wall time of those executions: a bound on the CPU time its `RLIMIT_CPU` counts.
    pub busy: Duration,
    child: Child,
    /// Shared with the tasks answering tool calls; each writes a whole frame while holding it.
    stdin: Arc<tokio::sync::Mutex<ChildStdin>>,
    frames: FrameSource,
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
    /// It said `Tidied` after its last job: its next runtime is made. True for a new worker,
    /// which has nothing to put away (its first runtime is made by its first job).
    tidied: bool,
}

impl WorkerProcess {
    /// Start a worker and wait for its `Ready`. The error says why it could not start, with the
    /// end of its stderr (where a sandbox refusal is explained).
    pub(crate) async fn spawn(command: &WorkerCommand, launch: &Launch) -> Result<Self, String> {
        let mut child = Command::new(&command.program)
            .args(launch.args(command))
            .env_clear()
            .env(
                "RUST_LOG",
                std::env::var("SLUICE_WORKER_LOG").unwrap_or_else(|_| "warn".to_owned()),
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|error| {
                format!(
                    "could not start a worker ({}): {error}",
                    command.program.display()
                )
            })?;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err("the worker's pipes were not set up".to_owned());
        };
        let stderr_tail = Arc::new(Mutex::new(VecDeque::new()));
        let tail = stderr_tail.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                tracing::debug!(target: "sluice::worker", "{line}");
                let mut tail = tail.lock().unwrap_or_else(PoisonError::into_inner);
                if tail.len() == STDERR_TAIL_LINES {
                    tail.pop_front();
                }
                tail.push_back(line);
            }
        });
        let mut worker = WorkerProcess {
            served: 0,
            busy: Duration::ZERO,
            child,
            stdin: Arc::new(tokio::sync::Mutex::new(stdin)),
            frames: FrameSource::new(stdout),
            stderr_tail,
            tidied: true,
        };
        match tokio::time::timeout(READY_TIMEOUT, worker.frames.next(None)).await {
            Ok(Some(Ok(WorkerMessage::Ready { protocol_version })))
                if protocol_version == PROTOCOL_VERSION =>
            {
                Ok(worker)
            }
            Ok(Some(Ok(WorkerMessage::Ready { protocol_version }))) => Err(format!(
                "the worker speaks protocol {protocol_version}, the gateway {PROTOCOL_VERSION}: rebuild Sluice"
            )),
            Ok(Some(Ok(other))) => Err(format!(
                "the worker sent {} before it was ready",
                message_name(&other)
            )),
            Ok(Some(Err(problem))) => Err(problem),
            Ok(None) => Err(worker.exit_description("while starting").await),
            Err(_) => Err(format!(
                "the worker did not start within {} ms",
                READY_TIMEOUT.as_millis()
            )),
        }
    }

    /// The worker's stdin, for tasks that answer tool calls.
    pub(crate) fn stdin(&self) -> Arc<tokio::sync::Mutex<ChildStdin>> {
        self.stdin.clone()
    }

    /// The next message; `None` when the worker closed its output. Cancel-safe: a message is
    /// never lost when the future is dropped. `Tidied` is noted, not returned.
    pub(crate) async fn next(&mut self) -> Option<Result<WorkerMessage, String>> {
        self.next_soon(None).await
    }

    /// Whether the worker is ready for an `Execute` to start at once: it said `Tidied` after its
    /// last job (read here if it is waiting in the pipe; never waits). A job sent resets it.
    pub(crate) fn is_tidied(&mut self) -> bool {
        if !self.tidied {
            // Anything else between jobs breaks the protocol: the worker will be found dead or
            // misbehaving when it is used; it is not ready.
            if let Some(Ok(WorkerMessage::Tidied)) = self.frames.try_next() {
                self.tidied = true;
            }
        }
        self.tidied
    }

    /// [`WorkerProcess::next`], polling the pipe without sleeping until `spin_until`, because the
    /// worker is expected to write soon (it just got a tool result): waking a sleeping runtime
    /// thread would cost more than the poll (see `sluice_worker_protocol::Spin`). The thread does
    /// nothing else meanwhile, so callers keep the window under [`GATEWAY_SPIN_LIMIT`].
    pub(crate) async fn next_soon(
        &mut self,
        spin_until: Option<Instant>,
    ) -> Option<Result<WorkerMessage, String>> {
        loop {
            match self.frames.next(spin_until).await {
                Some(Ok(WorkerMessage::Tidied)) => self.tidied = true,
                other => {
                    // A `Tidied` read before a job's end was about an earlier runtime (the
                    // worker's preparer may say it while the next job runs): the one that counts
                    // follows the `Done` or `Checked`.
                    if let Some(Ok(WorkerMessage::Done { .. } | WorkerMessage::Checked { .. })) =
                        &other
                    {
                        self.tidied = false;
                    }
                    return other;
                }
            }
        }
    }

    /// Send `message` as one frame, on its own task: a worker that stops reading must not block
    /// the caller (its watchdog keeps running). The lock is taken before this returns, so no
    /// other frame can overtake this one.
    pub(crate) async fn send_detached(&mut self, message: GatewayMessage) {
        self.tidied = false;
        let mut stdin = self.stdin.clone().lock_owned().await;
        tokio::spawn(async move {
            if let Ok(frame) = encode(&message) {
                write_encoded(&mut stdin, &frame).await;
            }
        });
    }

    /// Have the worker make its next execution's runtime now (it says `Tidied` when done).
    pub(crate) async fn prepare(&mut self, limits: ExecutionLimits) {
        self.send_detached(GatewayMessage::Prepare { limits }).await;
    }

    /// Ask the worker whether `code` transpiles, and what it exports.
    pub(crate) async fn check(
        &mut self,
        code: String,
        language: Language,
        deadline: Duration,
    ) -> Result<(Option<ExecutionError>, Vec<String>), String> {
        self.send_detached(GatewayMessage::Check { code, language })
            .await;
        match tokio::time::timeout(deadline, self.next()).await {
            Ok(Some(Ok(WorkerMessage::Checked { error, exports }))) => Ok((error, exports)),
            Ok(Some(Ok(other))) => Err(format!(
                "the worker answered a check with {}",
                message_name(&other)
            )),
            Ok(Some(Err(problem))) => Err(problem),
            Ok(None) => Err(self.exit_description("while checking code").await),
            Err(_) => Err(format!(
                "the worker did not check the code within {} ms",
                deadline.as_millis()
            )),
        }
    }

    /// Whether the process is still running (a waiting worker can be killed from outside).
    pub(crate) fn is_alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Kill the worker now (it may already be gone).
    pub(crate) fn kill(&mut self) {
        let _ = self.child.start_kill();
    }

    /// Kill and reap.
    pub(crate) async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(Duration::from_secs(2), self.child.wait()).await;
    }

    /// Why the worker's stream ended: its exit status or the signal that killed it, and the end
    /// of its stderr when that explains it (a sandbox that could not be set up).
    pub(crate) async fn exit_description(&mut self, when: &str) -> String {
        self.exit(when).await.description
    }

    /// How the worker's stream ended: [`Self::exit_description`], and whether the worker exited
    /// because its code went past the memory limit (status [`OUT_OF_MEMORY_EXIT_CODE`]).
    pub(crate) async fn exit(&mut self, when: &str) -> WorkerExit {
        let mut out_of_memory = false;
        let status = tokio::time::timeout(Duration::from_secs(2), self.child.wait()).await;
        let mut description = match status {
            Ok(Ok(status)) => {
                use std::os::unix::process::ExitStatusExt;
                match (status.code(), status.signal()) {
                    (_, Some(signal)) => {
                        format!("the worker was killed by signal {signal} {when}")
                    }
                    (Some(code), _) if code == i32::from(SANDBOX_REFUSED_EXIT_CODE) => format!(
                        "the worker refused to run because its sandbox could not be set up {when}"
                    ),
                    (Some(code), _) if code == i32::from(OUT_OF_MEMORY_EXIT_CODE) => {
                        out_of_memory = true;
                        format!("the worker went past its memory limit {when}")
                    }
                    (Some(code), _) => format!("the worker exited with code {code} {when}"),
                    _ => format!("the worker ended {when}"),
                }
            }
            _ => {
                let _ = self.child.start_kill();
                format!("the worker closed its channel {when}")
            }
        };
        // Give the stderr reader a moment to catch the last lines.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let tail = self
            .stderr_tail
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(reason) = tail.iter().rev().find(|line| line.contains("sandbox:")) {
            description.push_str(": ");
            description.push_str(reason.trim());
        }
        WorkerExit {
            description,
            out_of_memory,
        }
    }
}

/// How a worker's stream ended.
pub(crate) struct WorkerExit {
    /// Why, in words.
    pub description: String,
    /// It exited because its code went past the memory limit.
    pub out_of_memory: bool,
}

/// The name of a message, for errors (never its content, which may be large or hostile).
pub(crate) fn message_name(message: &WorkerMessage) -> &'static str {
    match message {
        WorkerMessage::Ready { .. } => "Ready",
        WorkerMessage::ToolCall { .. } => "ToolCall",
        WorkerMessage::Log { .. } => "Log",
        WorkerMessage::Progress { .. } => "Progress",
        WorkerMessage::Done { .. } => "Done",
        WorkerMessage::Checked { .. } => "Checked",
        WorkerMessage::Tidied => "Tidied",
    }
}

/// Write one whole frame. A failed write is not reported here: a worker that stopped reading is
/// dead or dying, and the frame reader notices that.
pub(crate) async fn write_encoded(stdin: &mut ChildStdin, frame: &[u8]) {
    if stdin.write_all(frame).await.is_ok() {
        let _ = stdin.flush().await;
    }
}

/// Frames from the worker's stdout, decoded into typed messages.
struct FrameSource {
    stdout: ChildStdout,
    decoder: FrameDecoder,
    buffer: Vec<u8>,
}

impl FrameSource {
    fn new(stdout: ChildStdout) -> FrameSource {
        FrameSource {
            stdout,
            decoder: FrameDecoder::new(MAX_WORKER_FRAME_BYTES),
            buffer: vec![0u8; 64 * 1024],
        }
    }

    /// The next whole message the decoder holds, if any.
    fn decoded(&mut self) -> Option<Result<WorkerMessage, String>> {
        match self.decoder.next_frame() {
            Ok(Some(body)) => Some(
                decode_worker_message(&body)
                    .map_err(|error| format!("the worker sent a bad message: {error}")),
            ),
            Ok(None) => None,
            Err(error) => Some(Err(format!("the worker sent a bad frame: {error}"))),
        }
    }

    /// A message already in the pipe, read without waiting: what `next` would return at once,
    /// or `None` when nothing complete is there (or the worker closed its output).
    fn try_next(&mut self) -> Option<Result<WorkerMessage, String>> {
        loop {
            if let Some(message) = self.decoded() {
                return Some(message);
            }
            // As in `next`'s busy loop: the pipe is non-blocking.
            match rustix::io::read(self.stdout.as_fd(), &mut self.buffer[..]) {
                Ok(0) | Err(_) => return None,
                Ok(count) => self.decoder.push(&self.buffer[..count]),
            }
        }
    }

    /// The next message; `None` when the stream ended. A bad frame or message is an `Err`, after
    /// which the source must not be used again. Until `spin_until`, reads in a busy loop without
    /// waiting for readiness (see [`WorkerProcess::next_soon`]). Cancel-safe: bytes are handed to
    /// the decoder in the same poll that reads them.
    async fn next(&mut self, spin_until: Option<Instant>) -> Option<Result<WorkerMessage, String>> {
        loop {
            if let Some(message) = self.decoded() {
                return Some(message);
            }
            if spin_until.is_some_and(|until| Instant::now() < until) {
                // A busy wait, without yielding: yielding lets the runtime wake its other threads
                // to look for work, which costs more than it saves. The window is short (see
                // `GATEWAY_SPIN_LIMIT`). The runtime made the pipe non-blocking; reading behind
                // its back is sound: a stale readiness only costs it one `EAGAIN` later.
                match rustix::io::read(self.stdout.as_fd(), &mut self.buffer[..]) {
                    Ok(0) => return None,
                    Ok(count) => self.decoder.push(&self.buffer[..count]),
                    Err(rustix::io::Errno::AGAIN | rustix::io::Errno::INTR) => {
                        std::hint::spin_loop();
                    }
                    Err(_) => return None,
                }
                continue;
            }
            match self.stdout.read(&mut self.buffer).await {
                Ok(0) | Err(_) => return None,
                Ok(count) => self.decoder.push(&self.buffer[..count]),
            }
        }
    }
}

impl Gateway {
    /// Start a worker process (counted in [`Gateway::worker_counts`]).
    /// Traced (with traces on) as a child of `execution`, if it is for one.
    pub(crate) async fn start_worker_for(
        &self,
        launch: &Launch,
        purpose: sluice_telemetry::WorkerPurpose,
        execution: Option<&sluice_telemetry::ExecutionSpan>,
    ) -> Result<WorkerProcess, String> {
        let command = self
            .worker_command()
            .ok_or_else(|| "code execution is not enabled in this gateway".to_owned())?;
        self.count_worker_started();
        let span = self
            .telemetry()
            .map(|telemetry| telemetry.worker_start(purpose, execution));
        let worker = match self.metrics() {
            None => WorkerProcess::spawn(command, launch).await,
            Some(metrics) => {
                let started = std::time::Instant::now();
                let worker = WorkerProcess::spawn(command, launch).await;
                metrics.worker_start(match &worker {
                    Ok(_) => Ok(started.elapsed()),
                    Err(_) => Err(()),
                });
                worker
            }
        };
        if let Some(span) = span {
            span.end(worker.is_ok());
        }
        worker
    }
}

#[cfg(test)]
mod tests {
    use sluice_worker_protocol::{ExecuteJob, Language, PROTOCOL_VERSION};

    use super::*;

    /// A `Tidied` that came during a job was about an earlier runtime: once the job is over the
    /// worker is not ready until it says `Tidied` again.
    #[tokio::test]
    async fn a_tidied_read_before_the_done_does_not_count() {
        let command = WorkerCommand::new(
            sluice_test_support::fake_worker_bin(),
            vec!["tidied-early".to_owned()],
        );
        let launch = Launch {
            workspace: None,
            memory_mb: 64,
            cpu_seconds: 60,
            file_size_mb: 1,
            spin_micros: 0,
        };
        let mut worker = WorkerProcess::spawn(&command, &launch).await.unwrap();
        assert!(worker.is_tidied(), "a new worker is ready");
        worker
            .send_detached(GatewayMessage::Execute(ExecuteJob {
                protocol_version: PROTOCOL_VERSION,
                code: "export default 1;".to_owned(),
                language: Language::Typescript,
                limits: ExecutionLimits::default(),
                tools: Default::default(),
                keep_state: false,
                skills: Default::default(),
            }))
            .await;
        match worker.next().await {
            Some(Ok(WorkerMessage::Done { .. })) => {}
            other => panic!("expected Done, got {other:?}"),
        }
        assert!(!worker.is_tidied());
        worker.kill();
    }
}
