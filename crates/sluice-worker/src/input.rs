//! The gateway's frames, read straight from the input descriptor by whichever thread holds the
//! [`Input`]: the dispatcher between jobs, the execution thread while an execution runs.
//!
//! Why no reader thread: a tool result that goes through a reader thread and a channel costs two
//! thread wake-ups instead of one, and on a virtual machine each wake-up of a sleeping CPU costs
//! tens of microseconds. The execution thread reads its results itself.
//!
//! Why spin: even one wake-up of a sleeping CPU costs more than the rest of a tool call's path
//! through the worker. When results have been arriving quickly, the execution thread polls the
//! descriptor for a short while (see `sluice_worker_protocol::Spin`) before it sleeps, so a fast
//! tool's result is picked up as soon as it lands. When the last wait outlasted the budget (slow
//! tools), the next wait sleeps at once: a slow tool never costs more than one budget of CPU in a
//! row.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};
use sluice_worker_protocol::{
    FrameDecoder, GatewayMessage, MAX_GATEWAY_FRAME_BYTES, ProtocolError, decode_gateway_message,
};

/// Bytes read from the descriptor at a time.
const READ_CHUNK_BYTES: usize = 64 * 1024;

/// What [`Input::next`] saw.
#[derive(Debug)]
pub(crate) enum Received {
    /// A whole message.
    Message(GatewayMessage),
    /// The timeout passed first.
    TimedOut,
    /// The input closed or failed; [`Input::take_end`] says which. Nothing more will come.
    Ended,
}

/// How the input ended.
#[derive(Debug)]
pub(crate) enum InputEnd {
    /// Cleanly, between frames.
    Closed,
    /// Mid-frame, with an I/O error, or with bytes that are not a message.
    Failed(ProtocolError),
}

/// The reading end of the channel from the gateway.
pub(crate) struct Input {
    source: Box<dyn AsFd + Send>,
    decoder: FrameDecoder,
    chunk: Box<[u8]>,
    /// Set once the input ended; nothing is read after that.
    end: Option<InputEnd>,
    /// What the gateway did against the protocol while an execution held the input.
    violation: Option<String>,
}

impl std::fmt::Debug for Input {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Input")
            .field("pending_bytes", &self.decoder.pending_bytes())
            .field("end", &self.end)
            .finish_non_exhaustive()
    }
}

impl Input {
    /// Read frames from `source`. Precondition: nothing else reads it (bytes read elsewhere would
    /// put the frames out of step).
    pub(crate) fn new(source: Box<dyn AsFd + Send>) -> Input {
        Input {
            source,
            decoder: FrameDecoder::new(MAX_GATEWAY_FRAME_BYTES),
            chunk: vec![0; READ_CHUNK_BYTES].into_boxed_slice(),
            end: None,
            violation: None,
        }
    }

    /// Remember that the gateway broke protocol (the worker stops once the job is answered).
    pub(crate) fn record_violation(&mut self, violation: String) {
        self.violation.get_or_insert(violation);
    }

    /// The protocol violation recorded during the last job, once.
    pub(crate) fn take_violation(&mut self) -> Option<String> {
        self.violation.take()
    }

    /// How the input ended, once; `None` while it is open (or after the end was taken).
    pub(crate) fn take_end(&mut self) -> Option<InputEnd> {
        self.end.take()
    }

    /// The next message, waiting at most `timeout` (`None`: as long as it takes), polling without
    /// sleeping for the first `spin` of that time.
    pub(crate) fn next(&mut self, timeout: Option<Duration>, spin: Duration) -> Received {
        let started = Instant::now();
        let deadline = timeout.and_then(|timeout| started.checked_add(timeout));
        let spin_until = started + timeout.map_or(spin, |timeout| spin.min(timeout));
        loop {
            if self.end.is_some() {
                return Received::Ended;
            }
            match self.decoder.next_frame() {
                Ok(Some(body)) => match decode_gateway_message(&body) {
                    Ok(message) => return Received::Message(message),
                    Err(error) => {
                        self.end = Some(InputEnd::Failed(error));
                        return Received::Ended;
                    }
                },
                Ok(None) => {}
                Err(error) => {
                    self.end = Some(InputEnd::Failed(error));
                    return Received::Ended;
                }
            }
            let now = Instant::now();
            let wait = if now < spin_until {
                Some(Duration::ZERO)
            } else {
                match deadline {
                    Some(deadline) if now >= deadline => return Received::TimedOut,
                    Some(deadline) => Some(deadline - now),
                    None => None,
                }
            };
            match readable(self.source.as_fd(), wait) {
                Ok(true) => self.read_available(),
                Ok(false) => std::hint::spin_loop(),
                Err(error) => self.end = Some(InputEnd::Failed(ProtocolError::Io(error))),
            }
        }
    }

    /// Read what the descriptor has (it polled readable, so this does not block) into the
    /// decoder; at the end of the stream, record how it ended.
    fn read_available(&mut self) {
        match rustix::io::read(self.source.as_fd(), &mut self.chunk[..]) {
            Ok(0) if self.decoder.pending_bytes() == 0 => self.end = Some(InputEnd::Closed),
            Ok(0) => {
                self.end = Some(InputEnd::Failed(ProtocolError::Io(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "the input ended inside a frame ({} bytes of it arrived)",
                        self.decoder.pending_bytes()
                    ),
                ))));
            }
            Ok(count) => self.decoder.push(&self.chunk[..count]),
            Err(rustix::io::Errno::INTR | rustix::io::Errno::AGAIN) => {}
            Err(error) => self.end = Some(InputEnd::Failed(ProtocolError::Io(error.into()))),
        }
    }
}

/// Whether `fd` has bytes (or its end) to read, waiting at most `wait` (`None`: forever).
fn readable(fd: BorrowedFd<'_>, wait: Option<Duration>) -> io::Result<bool> {
    let timeout = wait.map(|wait| Timespec {
        tv_sec: wait.as_secs().try_into().unwrap_or(i64::MAX),
        tv_nsec: wait.subsec_nanos().into(),
    });
    let mut fds = [PollFd::new(&fd, PollFlags::IN)];
    match rustix::event::poll(&mut fds, timeout.as_ref()) {
        Ok(ready) => Ok(ready > 0),
        Err(rustix::io::Errno::INTR) => Ok(false),
        Err(error) => Err(error.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_worker_protocol::{ToolOutcome, write_message};
    use std::io::Write;

    fn result(call_id: u64) -> GatewayMessage {
        GatewayMessage::ToolResult {
            call_id,
            outcome: ToolOutcome::Ok {
                value: serde_json::json!({"n": call_id}),
            },
        }
    }

    #[test]
    fn reads_frames_split_across_writes_and_then_the_end() {
        let (reader, mut writer) = std::io::pipe().unwrap();
        let mut input = Input::new(Box::new(reader));
        let mut bytes = Vec::new();
        write_message(&mut bytes, &result(1)).unwrap();
        write_message(&mut bytes, &result(2)).unwrap();
        let (first, second) = bytes.split_at(7);
        writer.write_all(first).unwrap();
        assert!(matches!(
            input.next(Some(Duration::from_millis(20)), Duration::ZERO),
            Received::TimedOut
        ));
        writer.write_all(second).unwrap();
        drop(writer);
        for expected in [result(1), result(2)] {
            match input.next(None, Duration::from_micros(50)) {
                Received::Message(message) => assert_eq!(message, expected),
                other => panic!("expected a message, got {other:?}"),
            }
        }
        assert!(matches!(input.next(None, Duration::ZERO), Received::Ended));
        assert!(matches!(input.take_end(), Some(InputEnd::Closed)));
    }

    #[test]
    fn an_end_inside_a_frame_is_a_failure() {
        let (reader, mut writer) = std::io::pipe().unwrap();
        let mut input = Input::new(Box::new(reader));
        let mut bytes = Vec::new();
        write_message(&mut bytes, &result(1)).unwrap();
        writer.write_all(&bytes[..bytes.len() - 1]).unwrap();
        drop(writer);
        assert!(matches!(input.next(None, Duration::ZERO), Received::Ended));
        let Some(InputEnd::Failed(error)) = input.take_end() else {
            panic!("expected a failure");
        };
        assert!(error.to_string().contains("inside a frame"), "{error}");
    }

    #[test]
    fn oversized_frames_and_garbage_fail_the_input() {
        let (reader, mut writer) = std::io::pipe().unwrap();
        let mut input = Input::new(Box::new(reader));
        writer.write_all(&u32::MAX.to_be_bytes()).unwrap();
        assert!(matches!(input.next(None, Duration::ZERO), Received::Ended));
        assert!(matches!(
            input.take_end(),
            Some(InputEnd::Failed(ProtocolError::FrameTooLarge { .. }))
        ));

        let (reader, mut writer) = std::io::pipe().unwrap();
        let mut input = Input::new(Box::new(reader));
        writer.write_all(&3u32.to_be_bytes()).unwrap();
        writer.write_all(b"{x}").unwrap();
        assert!(matches!(input.next(None, Duration::ZERO), Received::Ended));
        assert!(matches!(
            input.take_end(),
            Some(InputEnd::Failed(ProtocolError::Malformed(_)))
        ));
    }
}
