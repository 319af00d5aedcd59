//! The reader: every file of the log, oldest first, one record per line. A line that does not
//! parse is reported and skipped, never the end of reading.

use std::collections::VecDeque;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};

use crate::error::AuditError;
use crate::log::{CURRENT_FILE, rotated_file_number};
use crate::record::Record;

/// One record read from the log, with where it was found.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The file it is in.
    pub path: PathBuf,
    /// Its 1-based line number in that file.
    pub line: usize,
    /// The line exactly as stored, without its newline.
    pub raw: String,
    /// The parsed record.
    pub record: Record,
}

/// The files of the log in `dir`, oldest first: `audit.<keep>.jsonl` … `audit.1.jsonl`,
/// `audit.jsonl`. [`AuditError::NoLog`] if there are none (or no folder).
pub fn log_files(dir: &Path) -> Result<Vec<PathBuf>, AuditError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            return Err(AuditError::NoLog {
                dir: dir.to_owned(),
            });
        }
        Err(source) => {
            return Err(AuditError::ReadDir {
                path: dir.to_owned(),
                source,
            });
        }
    };
    let mut rotated = Vec::new();
    let mut current = None;
    for entry in entries {
        let entry = entry.map_err(|source| AuditError::ReadDir {
            path: dir.to_owned(),
            source,
        })?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            continue;
        };
        if name == CURRENT_FILE {
            current = Some(entry.path());
        } else if let Some(number) = rotated_file_number(name) {
            rotated.push((number, entry.path()));
        }
    }
    // The highest number is the oldest.
    rotated.sort_by_key(|(number, _)| std::cmp::Reverse(*number));
    let mut files: Vec<PathBuf> = rotated.into_iter().map(|(_, path)| path).collect();
    files.extend(current);
    if files.is_empty() {
        return Err(AuditError::NoLog {
            dir: dir.to_owned(),
        });
    }
    Ok(files)
}

/// Read every record of the log in `dir`, oldest first.
///
/// The iterator yields [`AuditError::Malformed`] for a line that is not a record (naming the file
/// and line) and [`AuditError::Read`] for a file that cannot be read, then goes on with the next
/// line or file. A file that disappears between listing and reading (rotated by a writer) is
/// passed over.
pub fn read(dir: &Path) -> Result<Reader, AuditError> {
    Ok(Reader {
        files: log_files(dir)?.into(),
        open: None,
    })
}

/// The records of a log; see [`read`].
pub struct Reader {
    files: VecDeque<PathBuf>,
    open: Option<OpenFile>,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Reader")
            .field("files", &self.files)
            .field("reading", &self.open.as_ref().map(|open| &open.path))
            .finish()
    }
}

struct OpenFile {
    path: PathBuf,
    reader: BufReader<File>,
    line: usize,
}

impl Iterator for Reader {
    type Item = Result<Entry, AuditError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let Some(open) = &mut self.open else {
                let path = self.files.pop_front()?;
                match File::open(&path) {
                    Ok(file) => {
                        self.open = Some(OpenFile {
                            path,
                            reader: BufReader::new(file),
                            line: 0,
                        });
                    }
                    Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                    Err(source) => return Some(Err(AuditError::Read { path, source })),
                }
                continue;
            };

            let mut bytes = Vec::new();
            match open.reader.read_until(b'\n', &mut bytes) {
                Ok(0) => {
                    self.open = None;
                    continue;
                }
                Ok(_) => {}
                Err(source) => {
                    let path = open.path.clone();
                    self.open = None;
                    return Some(Err(AuditError::Read { path, source }));
                }
            }
            open.line += 1;
            let complete = bytes.last() == Some(&b'\n');
            if complete {
                bytes.pop();
            }
            if bytes.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            return Some(parse_line(&open.path, open.line, bytes, complete));
        }
    }
}

fn parse_line(
    path: &Path,
    line: usize,
    bytes: Vec<u8>,
    complete: bool,
) -> Result<Entry, AuditError> {
    let malformed = |reason: String| AuditError::Malformed {
        path: path.to_owned(),
        line,
        reason: if complete {
            reason
        } else {
            format!("the last line is incomplete ({reason})")
        },
    };
    let raw = String::from_utf8(bytes).map_err(|error| malformed(format!("not UTF-8: {error}")))?;
    let record = serde_json::from_str::<Record>(&raw)
        .map_err(|error| malformed(format!("not an audit record: {error}")))?;
    Ok(Entry {
        path: path.to_owned(),
        line,
        raw,
        record,
    })
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use std::time::Duration;

    use super::*;
    use crate::log::{AuditLog, Rotation};
    use crate::record::tests::tool_call;

    fn ids(results: &[Result<Entry, AuditError>]) -> Vec<String> {
        results
            .iter()
            .filter_map(|result| result.as_ref().ok())
            .map(|entry| entry.record.execution_id().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn no_folder_or_no_files_is_no_log() {
        let scratch = tempfile::tempdir().unwrap();
        let missing = scratch.path().join("audit");
        assert!(matches!(read(&missing), Err(AuditError::NoLog { dir }) if dir == missing));
        assert!(matches!(
            read(scratch.path()),
            Err(AuditError::NoLog { .. })
        ));
        let message = read(&missing).unwrap_err().to_string();
        assert!(message.contains("sluice serve"), "{message}");
    }

    #[test]
    fn reads_rotated_files_oldest_first() {
        let scratch = tempfile::tempdir().unwrap();
        let rotation = Rotation {
            max_bytes: 10,
            keep: 20,
            retain: Duration::ZERO,
            max_total_bytes: u64::MAX,
        };
        let log = AuditLog::open(scratch.path(), rotation).unwrap();
        // Twelve files, so `audit.10.jsonl` must sort after `audit.9.jsonl` as a number.
        for index in 0..12 {
            log.append(&tool_call(&format!("exec-{index}"), "crm", "query", 0))
                .unwrap();
        }
        let results: Vec<_> = read(scratch.path()).unwrap().collect();
        let expected: Vec<String> = (0..12).map(|index| format!("exec-{index}")).collect();
        assert_eq!(ids(&results), expected);
        let last = results.last().unwrap().as_ref().unwrap();
        assert_eq!(last.path, scratch.path().join(CURRENT_FILE));
        assert_eq!(last.line, 1);
        assert_eq!(
            last.raw,
            serde_json::to_string(&tool_call("exec-11", "crm", "query", 0)).unwrap()
        );
    }

    #[test]
    fn bad_lines_are_reported_with_file_and_line_and_reading_goes_on() {
        let scratch = tempfile::tempdir().unwrap();
        let log = AuditLog::open(scratch.path(), Rotation::default()).unwrap();
        log.append(&tool_call("exec-1", "crm", "query", 0)).unwrap();
        let path = log.path().to_owned();
        drop(log);
        let mut file = fs::OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(b"\n   \nnot json\n{\"kind\":\"mystery\"}\n\xff\xfe\n")
            .unwrap();
        let good = serde_json::to_string(&tool_call("exec-2", "crm", "query", 0)).unwrap();
        writeln!(file, "{good}").unwrap();
        // A crash mid-write: the last line has no newline.
        file.write_all(&good.as_bytes()[..good.len() / 2]).unwrap();
        drop(file);

        let results: Vec<_> = read(scratch.path()).unwrap().collect();
        assert_eq!(ids(&results), ["exec-1", "exec-2"]);
        let problems: Vec<(usize, String)> = results
            .iter()
            .filter_map(|result| match result {
                Err(AuditError::Malformed {
                    path: bad_path,
                    line,
                    reason,
                }) => {
                    assert_eq!(bad_path, &path);
                    Some((*line, reason.clone()))
                }
                Err(other) => panic!("{other}"),
                Ok(_) => None,
            })
            .collect();
        let lines: Vec<usize> = problems.iter().map(|(line, _)| *line).collect();
        assert_eq!(lines, [4, 5, 6, 8]);
        assert!(
            problems[0].1.starts_with("not an audit record"),
            "{problems:?}"
        );
        assert!(
            problems[1].1.contains("unknown variant `mystery`"),
            "{problems:?}"
        );
        assert!(problems[2].1.starts_with("not UTF-8"), "{problems:?}");
        assert!(
            problems[3].1.starts_with("the last line is incomplete"),
            "{problems:?}"
        );
        let message = results[1].as_ref().unwrap_err().to_string();
        assert!(message.contains("line 4 of"), "{message}");
        assert!(message.contains("audit.jsonl"), "{message}");
    }
}
