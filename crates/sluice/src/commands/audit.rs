//! `sluice audit`: show the audit log of the data folder.

use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::{Context, Result};
use sluice_audit::{AuditError, Entry, Filter, Limit, Record, RecordKind, Timestamp};

use crate::cli::{AuditArgs, AuditKindArg};
use crate::commands::{data_dir, printable, write_stdout};

/// The shortest execution id prefix shown; longer when needed to tell the shown ids apart.
const MIN_SHORT_ID: usize = 8;

pub fn run(args: AuditArgs) -> Result<ExitCode> {
    let dir = data_dir(&args.global)?.join(sluice_audit::AUDIT_DIR);
    let since = args
        .since
        .as_deref()
        .map(|text| sluice_audit::parse_since(text, Timestamp::now()))
        .transpose()?;
    let filter = Filter {
        kind: args.kind.map(|kind| match kind {
            AuditKindArg::Execution => RecordKind::Execution,
            AuditKindArg::ToolCall => RecordKind::ToolCall,
            AuditKindArg::Release => RecordKind::Release,
            AuditKindArg::Session => RecordKind::Session,
            AuditKindArg::Notice => RecordKind::Notice,
            AuditKindArg::Governance => RecordKind::Governance,
        }),
        since,
        server: args.server,
        tool: args.tool,
        session: args.session,
        principal: args.principal,
        execution_id: args.execution,
        outcome: args.outcome,
        // 0 means everything, as "the last 0 records" is never what anyone asks for.
        limit: (args.limit > 0).then_some(args.limit),
    };
    let query = match sluice_audit::query(&dir, &filter) {
        Ok(query) => query,
        Err(AuditError::NoLog { dir }) => {
            eprintln!(
                "sluice: no audit log yet in {}: it is written by `sluice serve` and `sluice exec`",
                dir.display()
            );
            return Ok(ExitCode::SUCCESS);
        }
        Err(error) => {
            return Err(error)
                .with_context(|| format!("cannot read the audit log in {}", dir.display()));
        }
    };
    for problem in &query.problems {
        eprintln!("sluice: warning: {problem}");
    }
    if query.entries.is_empty() {
        eprintln!(
            "sluice: no records match ({} record{} in the log)",
            query.read,
            if query.read == 1 { "" } else { "s" }
        );
        return Ok(ExitCode::SUCCESS);
    }

    if args.json {
        write_stdout(|stdout| write_json(stdout, &query.entries))?;
    } else {
        write_stdout(|stdout| write_table(stdout, &query.entries))?;
    }
    if query.matched > query.entries.len() {
        eprintln!(
            "sluice: showing the last {} of {} matching records (--limit 0 shows all)",
            query.entries.len(),
            query.matched
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Each record exactly as stored, one per line.
fn write_json(stdout: &mut impl Write, entries: &[Entry]) -> io::Result<()> {
    for entry in entries {
        writeln!(stdout, "{}", entry.raw)?;
    }
    Ok(())
}

/// One aligned line per record: time, kind, execution, what happened, how long it took.
fn write_table(stdout: &mut impl Write, entries: &[Entry]) -> io::Result<()> {
    let short_len = short_id_len(entries);
    let header = Row {
        time: "TIME".to_owned(),
        kind: "KIND",
        execution: "EXECUTION".to_owned(),
        detail: "DETAIL".to_owned(),
        duration: "DURATION".to_owned(),
    };
    let rows: Vec<Row> = std::iter::once(header)
        .chain(
            entries
                .iter()
                .map(|entry| Row::of(&entry.record, short_len)),
        )
        .collect();
    let width = |column: fn(&Row) -> usize| rows.iter().map(column).max().unwrap_or(0);
    let time_width = width(|row| row.time.chars().count());
    let kind_width = width(|row| row.kind.chars().count());
    let execution_width = width(|row| row.execution.chars().count());
    let detail_width = width(|row| row.detail.chars().count());
    let duration_width = width(|row| row.duration.chars().count());

    for row in &rows {
        let line = format!(
            "{:<time_width$}  {:<kind_width$}  {:<execution_width$}  {:<detail_width$}  {:>duration_width$}",
            row.time, row.kind, row.execution, row.detail, row.duration
        );
        writeln!(stdout, "{}", line.trim_end())?;
    }
    Ok(())
}

struct Row {
    time: String,
    kind: &'static str,
    execution: String,
    detail: String,
    duration: String,
}

impl Row {
    fn of(record: &Record, short_len: usize) -> Row {
        let execution = record
            .execution_id()
            .map(|id| id.chars().take(short_len).collect())
            .unwrap_or_else(|| "-".to_owned());
        let (detail, duration) = match record {
            Record::Execution(run) => {
                let mut detail = run.outcome.to_string();
                if let Some(kind) = &run.error_kind {
                    detail.push_str(&format!(" ({kind})"));
                }
                if !run.limits_hit.is_empty() {
                    let limits: Vec<&str> = run.limits_hit.iter().map(Limit::as_str).collect();
                    detail.push_str(&format!(" limits: {}", limits.join(", ")));
                }
                (detail, format!("{} ms", run.duration_ms))
            }
            Record::ToolCall(call) => (
                format!("{}.{} {}", call.server, call.tool, call.outcome),
                format_micros(call.duration_us),
            ),
            Record::Release(release) => (
                format!("{} {} -> {}", release.token_kind, release.from, release.to),
                String::new(),
            ),
            Record::Session(session) => {
                let mut detail = format!("{} {}", session.event, session.session);
                if let Some(reason) = &session.reason {
                    detail.push_str(&format!(" ({reason})"));
                }
                (detail, String::new())
            }
            Record::Notice(notice) => (
                format!(
                    "{} {} record(s): {}",
                    notice.event.as_str(),
                    notice.records,
                    notice.detail
                ),
                String::new(),
            ),
            Record::Governance(event) => (
                format!(
                    "{} {}.{}: {}",
                    event.event.as_str(),
                    event.server,
                    event.tool,
                    event.detail
                ),
                String::new(),
            ),
        };
        // Everything in a record may come from an agent or a server: no control character
        // reaches the terminal.
        Row {
            time: record.time().to_string(),
            kind: record.kind().as_str(),
            execution: printable(&execution, false).into_owned(),
            detail: printable(&detail, false).into_owned(),
            duration,
        }
    }
}

/// Microseconds as milliseconds with one decimal: tool calls are often well under a millisecond.
fn format_micros(micros: u64) -> String {
    format!("{}.{} ms", micros / 1_000, micros % 1_000 / 100)
}

/// How many characters of the execution ids to show: at least [`MIN_SHORT_ID`], and enough that
/// no two shown ids look the same, so a shown id can be passed to `--execution` as it is.
fn short_id_len(entries: &[Entry]) -> usize {
    let mut ids: Vec<&str> = entries
        .iter()
        .filter_map(|entry| entry.record.execution_id())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids.windows(2)
        .map(|pair| common_prefix_chars(pair[0], pair[1]) + 1)
        .fold(MIN_SHORT_ID, usize::max)
}

fn common_prefix_chars(first: &str, second: &str) -> usize {
    first
        .chars()
        .zip(second.chars())
        .take_while(|(left, right)| left == right)
        .count()
}
