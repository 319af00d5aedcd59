//! The stdio transport to a child server: one JSON line per message written to the child's
//! stdin, Sluice's own reader of its stdout ([`crate::lines`]), Sluice's message-size limit and
//! process-group shutdown.
//!
//! Writing is done here rather than by rmcp's `AsyncRwTransport`, which holds an 8 KB read
//! buffer (over nothing: the reading is Sluice's) and an 8 KB write buffer for every server for
//! its whole life: 16 KB a server, 3 MB behind 200 servers. A message is serialized into its
//! own buffer, written whole, and the buffer freed.
//!
//! rmcp's `TokioChildProcess` fixes the largest incoming line at 16 MiB, and a longer line is
//! dropped silently (the call then waits for its deadline). Real tool results reach tens of MB (a
//! 100,000-row sheet is ~24 MB as `structuredContent` plus the same as text), so Sluice builds the
//! transport itself with [`MAX_MESSAGE_BYTES`].

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use process_wrap::tokio::{ChildWrapper, CommandWrap, KillOnDrop, ProcessGroup};
use rmcp::RoleClient;
use rmcp::service::{RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use tokio::io::AsyncWriteExt;
use tokio::process::{ChildStderr, ChildStdin, ChildStdout};
use tokio::sync::Mutex;

use sluice_config::StdioServer;

use crate::lines::LineReader;

/// Largest single message accepted from a server; larger ones are dropped by the codec and logged.
/// Kept well under the gateway-to-worker frame cap so any accepted result can reach agent code.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// How long a closing server gets at each step: after its stdin closes, then after SIGTERM.
const EXIT_GRACE: Duration = Duration::from_secs(3);

/// A child server process and the MCP transport over its stdin and stdout.
///
/// Invariant: the child runs in its own process group, and dropping this value kills the group
/// (process-wrap's `KillOnDrop` with a group leader), so a server never outlives its transport.
pub(crate) struct ChildTransport {
    child: Box<dyn ChildWrapper>,
    /// The child's stdin, shared with the writes in flight (a send's future outlives its
    /// borrow of the transport); `None` once closed.
    stdin: Arc<Mutex<Option<ChildStdin>>>,
    messages: LineReader<ChildStdout>,
}

impl ChildTransport {
    /// Start the server. Returns the transport and the child's stderr.
    pub(crate) fn spawn(
        config: &StdioServer,
    ) -> std::io::Result<(ChildTransport, Option<ChildStderr>)> {
        let mut command = tokio::process::Command::new(&config.command);
        command
            .args(&config.args)
            .envs(&config.env)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(cwd) = &config.cwd {
            command.current_dir(cwd);
        }
        let mut wrapped = CommandWrap::from(command);
        // Own process group: `npx` starts node as a grandchild, and killing the group reaches both.
        wrapped.wrap(ProcessGroup::leader()).wrap(KillOnDrop);
        let mut child = wrapped.spawn()?;
        let stdin = child
            .stdin()
            .take()
            .ok_or_else(|| std::io::Error::other("the child's stdin was not piped"))?;
        let stdout = child
            .stdout()
            .take()
            .ok_or_else(|| std::io::Error::other("the child's stdout was not piped"))?;
        let stderr = child.stderr().take();
        let messages = LineReader::new(stdout, MAX_MESSAGE_BYTES);
        Ok((
            ChildTransport {
                child,
                stdin: Arc::new(Mutex::new(Some(stdin))),
                messages,
            },
            stderr,
        ))
    }

    /// The MCP stdio shutdown sequence: close stdin and wait, then SIGTERM the group and wait, then
    /// SIGKILL the group.
    async fn shut_down(&mut self) -> std::io::Result<()> {
        // Dropping stdin closes the pipe: the server sees the end of its input.
        self.stdin.lock().await.take();
        if tokio::time::timeout(EXIT_GRACE, self.child.wait())
            .await
            .is_ok()
        {
            return Ok(());
        }
        if self.child.signal(libc::SIGTERM).is_ok()
            && tokio::time::timeout(EXIT_GRACE, self.child.wait())
                .await
                .is_ok()
        {
            return Ok(());
        }
        Box::into_pin(self.child.kill()).await
    }
}

impl Transport<RoleClient> for ChildTransport {
    type Error = std::io::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleClient>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        let stdin = Arc::clone(&self.stdin);
        // Serialized before the future runs, so the message need not be kept alive with it.
        let line = serde_json::to_vec(&item).map(|mut line| {
            line.push(b'\n');
            line
        });
        async move {
            let line = line.map_err(std::io::Error::other)?;
            let mut stdin = stdin.lock().await;
            let Some(stdin) = stdin.as_mut() else {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::BrokenPipe,
                    "the server's stdin is closed",
                ));
            };
            stdin.write_all(&line).await?;
            stdin.flush().await
        }
    }

    fn receive(&mut self) -> impl Future<Output = Option<RxJsonRpcMessage<RoleClient>>> + Send {
        self.messages.next()
    }

    fn close(&mut self) -> impl Future<Output = Result<(), Self::Error>> + Send {
        self.shut_down()
    }
}
