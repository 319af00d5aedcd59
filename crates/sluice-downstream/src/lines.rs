//! Reading a stdio server's messages: one JSON-RPC message per line, with a size limit, and a
//! line buffer that does not stay at the size of the longest message.
//!
//! rmcp's own reader keeps its line buffer at the capacity of the longest line it ever read. For
//! a server that lists hundreds of tools that is its `tools/list` answer, megabytes held for the
//! connection's life (about 18 MB over 50 connections at 10,000 tools). This reader lets a buffer
//! that grew past [`KEPT_CAPACITY`] go once its line is parsed.
//!
//! What a line may be, as rmcp reads it: a UTF-8 byte order mark and a trailing `\r` are
//! ignored, an empty line is skipped, a line that is not JSON is skipped (answering it could
//! start an error storm with a peer that echoes), and well-formed JSON that is not a message
//! Sluice understands is skipped with a log line naming it. A line over the limit is dropped
//! without being buffered and logged; the connection stays open.

use serde::de::DeserializeOwned;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

/// A line buffer larger than this is freed after its message is parsed rather than kept for
/// the next one.
pub(crate) const KEPT_CAPACITY: usize = 16 * 1024;

/// Newline-delimited messages from `R`.
pub(crate) struct LineReader<R> {
    read: BufReader<R>,
    line: Vec<u8>,
    max_line: usize,
    /// Set once an oversized line was dropped, until its newline is seen. A field, not a local:
    /// `next` is polled in a `select!` and may be cancelled half-way through a line.
    discarding: bool,
}

/// What one pass over the buffered input found.
enum Step {
    /// A whole line is in `line`.
    Line,
    /// The line goes on past what is buffered.
    More,
    /// The line was too long and is dropped.
    Oversized,
}

impl<R: AsyncRead + Unpin> LineReader<R> {
    pub(crate) fn new(read: R, max_line: usize) -> LineReader<R> {
        LineReader {
            read: BufReader::new(read),
            line: Vec::new(),
            max_line,
            discarding: false,
        }
    }

    /// The next message, or `None` when the stream ended or failed.
    ///
    /// Cancel-safe: a partial line stays in the buffer for the next call.
    pub(crate) async fn next<T: DeserializeOwned>(&mut self) -> Option<T> {
        loop {
            match self.read_line().await {
                Ok(Some(Step::Line)) => {}
                Ok(Some(Step::Oversized)) => {
                    tracing::error!(
                        max_bytes = self.max_line,
                        "a message from the server is larger than the limit; dropped"
                    );
                    continue;
                }
                Ok(Some(Step::More)) => continue,
                Ok(None) => return None,
                Err(error) => {
                    tracing::error!("reading from the server failed: {error}");
                    return None;
                }
            }
            let parsed = parse::<T>(&self.line);
            self.line.clear();
            if self.line.capacity() > KEPT_CAPACITY {
                self.line = Vec::new();
            }
            if let Some(message) = parsed {
                return Some(message);
            }
        }
    }

    /// Read up to the end of one line (or what the buffer holds of it). `Ok(None)` at the end of
    /// the stream: a partial last line without a newline is not a message.
    async fn read_line(&mut self) -> std::io::Result<Option<Step>> {
        let available = self.read.fill_buf().await?;
        if available.is_empty() {
            return Ok(None);
        }
        let newline = available.iter().position(|&byte| byte == b'\n');
        let take = newline.map_or(available.len(), |index| index + 1);
        let step = if self.discarding {
            self.discarding = newline.is_none();
            Step::More
        } else if self.line.len().saturating_add(take) > self.max_line {
            self.line = Vec::new();
            self.discarding = newline.is_none();
            Step::Oversized
        } else {
            self.line.extend_from_slice(&available[..take]);
            if newline.is_some() {
                Step::Line
            } else {
                Step::More
            }
        };
        // No await between reading the buffer and consuming it: a cancelled call loses nothing.
        self.read.consume(take);
        Ok(Some(step))
    }
}

/// One line as a message; `None` for a line to skip (logged).
fn parse<T: DeserializeOwned>(line: &[u8]) -> Option<T> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
    if line.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    match serde_json::from_slice(line) {
        Ok(message) => Some(message),
        Err(error) if error.is_syntax() || error.is_eof() => {
            tracing::debug!("skipped a line from the server that is not JSON: {error}");
            None
        }
        Err(error) => {
            let method = serde_json::from_slice::<serde_json::Value>(line)
                .ok()
                .and_then(|value| value.get("method")?.as_str().map(str::to_owned));
            match method {
                Some(method) => {
                    tracing::debug!(%method, "skipped a message from the server Sluice does not handle: {error}")
                }
                None => tracing::warn!("skipped a malformed message from the server: {error}"),
            }
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    async fn read_all(input: &[u8], max_line: usize) -> (Vec<Value>, LineReader<&[u8]>) {
        let mut reader = LineReader::new(input, max_line);
        let mut messages = Vec::new();
        while let Some(message) = reader.next::<Value>().await {
            messages.push(message);
        }
        (messages, reader)
    }

    #[tokio::test]
    async fn reads_one_message_per_line_and_skips_what_is_not_one() {
        let input = b"\xEF\xBB\xBF{\"a\":1}\r\n\n   \nnot json\n{\"b\":2}\n{\"partial\":";
        let (messages, _) = read_all(input, 1024).await;
        assert_eq!(messages, [json!({"a": 1}), json!({"b": 2})]);
    }

    #[tokio::test]
    async fn a_line_over_the_limit_is_dropped_and_the_next_one_read() {
        let long = format!("{{\"x\":\"{}\"}}\n", "y".repeat(100));
        let input = format!("{long}{{\"after\":true}}\n");
        let (messages, _) = read_all(input.as_bytes(), 50).await;
        assert_eq!(messages, [json!({"after": true})]);
    }

    #[tokio::test]
    async fn a_long_line_does_not_keep_its_buffer() {
        let long = format!(
            "{{\"x\":\"{}\"}}\n{{\"y\":1}}\n",
            "z".repeat(KEPT_CAPACITY * 4)
        );
        let (messages, reader) = read_all(long.as_bytes(), usize::MAX).await;
        assert_eq!(messages.len(), 2);
        assert!(reader.line.capacity() <= KEPT_CAPACITY);
    }

    #[tokio::test]
    async fn a_message_split_across_reads_is_put_back_together() {
        let (client, mut server) = tokio::io::duplex(8);
        let writer = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            for chunk in [&b"{\"par"[..], b"ts\":", b"[1,2]}\n"] {
                server.write_all(chunk).await.unwrap();
                tokio::task::yield_now().await;
            }
        });
        let mut reader = LineReader::new(client, 1024);
        assert_eq!(reader.next::<Value>().await, Some(json!({"parts": [1, 2]})));
        writer.await.unwrap();
        assert_eq!(reader.next::<Value>().await, None);
    }
}
