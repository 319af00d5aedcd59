//! `print()` output: collected in lines while Python runs, sent as `Log` frames between steps,
//! with the same output budget as the TypeScript console.

use std::borrow::Cow;

use monty_types::{MontyException, PrintWriterCallback};

/// How far past the budget the line that crosses it is kept, so the gateway can scan a value at
/// the budget whole before it cuts the output itself (as the TypeScript console does).
const CROSSING_SLACK_BYTES: usize = 512;

/// Output of one execution.
#[derive(Debug)]
pub(crate) struct Output {
    /// Whole lines not sent yet.
    lines: Vec<String>,
    /// The line being written.
    current: String,
    /// Bytes that may still be forwarded.
    remaining: usize,
    /// Bytes dropped because the budget was spent.
    pub dropped: u64,
}

impl Output {
    pub(crate) fn new(budget_bytes: u64) -> Output {
        Output {
            lines: Vec::new(),
            current: String::new(),
            remaining: usize::try_from(budget_bytes).unwrap_or(usize::MAX),
            dropped: 0,
        }
    }

    /// The lines written since the last call; with `all`, the unfinished one too.
    pub(crate) fn take_lines(&mut self, all: bool) -> Vec<String> {
        if all && !self.current.is_empty() {
            self.finish_line();
        }
        std::mem::take(&mut self.lines)
    }

    fn finish_line(&mut self) {
        let line = std::mem::take(&mut self.current);
        self.account(line);
    }

    /// Charge a line (and its line break) against the budget, keeping what fits.
    fn account(&mut self, mut line: String) {
        let cost = line.len() + 1;
        if self.remaining == 0 {
            self.dropped += cost as u64;
            return;
        }
        if cost > self.remaining {
            let mut keep = (self.remaining + CROSSING_SLACK_BYTES).min(line.len());
            while !line.is_char_boundary(keep) {
                keep -= 1;
            }
            self.dropped += (line.len() - keep) as u64;
            line.truncate(keep);
            self.remaining = 0;
        } else {
            self.remaining -= cost;
        }
        self.lines.push(line);
    }

    /// While the budget is spent, text is only counted, never kept.
    fn write(&mut self, text: &str) {
        if self.remaining == 0 {
            self.dropped += text.len() as u64;
        } else if self.current.len() < self.remaining + CROSSING_SLACK_BYTES {
            self.current.push_str(text);
        } else {
            self.dropped += text.len() as u64;
        }
    }
}

impl PrintWriterCallback for Output {
    fn stdout_write(&mut self, output: Cow<'_, str>) -> Result<(), MontyException> {
        self.write(&output);
        Ok(())
    }

    fn stdout_push(&mut self, end: char) -> Result<(), MontyException> {
        if end == '\n' {
            if self.remaining == 0 && self.current.is_empty() {
                self.dropped += 1;
            } else {
                self.finish_line();
            }
        } else {
            let mut buffer = [0u8; 4];
            self.write(end.encode_utf8(&mut buffer));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_kept_within_the_budget_and_the_rest_counted() {
        let mut output = Output::new(10);
        for text in ["abc", "defghijkl", "mno"] {
            output.stdout_write(Cow::Borrowed(text)).unwrap();
            output.stdout_push('\n').unwrap();
        }
        assert_eq!(output.take_lines(true), vec!["abc", "defghijkl"]);
        assert_eq!(output.dropped, 4);
    }
}
