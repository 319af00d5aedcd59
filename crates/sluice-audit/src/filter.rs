//! Choosing records: by kind, time, server, tool, session, execution and outcome, keeping the
//! last N.

use std::collections::VecDeque;
use std::path::Path;

use jiff::fmt::friendly::SpanParser;
use jiff::{SignedDuration, SpanRelativeTo};

use crate::error::AuditError;
use crate::read::{Entry, read};
use crate::record::{Record, RecordKind};
use crate::time::Timestamp;

/// Which records to show. Every condition that is set must hold; `None` means any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Only records of this kind.
    pub kind: Option<RecordKind>,
    /// Only records of activity at or after this time: an execution that ended after it counts,
    /// even if it started before.
    pub since: Option<Timestamp>,
    /// Only tool calls to this server, and releases from or to it. Other kinds have no server and
    /// never match.
    pub server: Option<String>,
    /// Only tool calls of this tool, and releases from or to it (a release's `from`/`to` is
    /// `server.tool`). Other kinds never match.
    pub tool: Option<String>,
    /// Only records of this session.
    pub session: Option<String>,
    /// Only records of this principal (`jwt:<sub>`, `token:<name>`).
    pub principal: Option<String>,
    /// Only records of the execution whose id starts with this (the full id, or the short form
    /// `sluice audit` shows). Session records never match.
    pub execution_id: Option<String>,
    /// Only executions and tool calls with this outcome: `ok` or `error` for executions, `ok`
    /// or a tool-error kind (`tool`, `policy_denied`, ...) for tool calls.
    pub outcome: Option<String>,
    /// Only the last this many matching records. Not used by [`Filter::matches`].
    pub limit: Option<usize>,
}

impl Filter {
    /// Whether `record` meets every condition but `limit`.
    pub fn matches(&self, record: &Record) -> bool {
        if self.kind.is_some_and(|kind| kind != record.kind()) {
            return false;
        }
        if self.since.is_some_and(|since| record.end_time() < since) {
            return false;
        }
        if let Some(server) = &self.server {
            let on_server = match record {
                Record::ToolCall(call) => &call.server == server,
                Record::Release(release) => [&release.from, &release.to]
                    .into_iter()
                    .any(|place| split_place(place).0 == server),
                Record::Governance(event) => &event.server == server,
                Record::Execution(_) | Record::Session(_) | Record::Notice(_) => false,
            };
            if !on_server {
                return false;
            }
        }
        if let Some(tool) = &self.tool {
            let of_tool = match record {
                Record::ToolCall(call) => &call.tool == tool,
                Record::Release(release) => [&release.from, &release.to]
                    .into_iter()
                    .any(|place| split_place(place).1 == Some(tool.as_str())),
                Record::Governance(event) => &event.tool == tool,
                Record::Execution(_) | Record::Session(_) | Record::Notice(_) => false,
            };
            if !of_tool {
                return false;
            }
        }
        if let Some(session) = &self.session
            && record.session() != Some(session.as_str())
        {
            return false;
        }
        if let Some(principal) = &self.principal
            && record.principal() != Some(principal.as_str())
        {
            return false;
        }
        if let Some(prefix) = &self.execution_id
            && !record
                .execution_id()
                .is_some_and(|id| !prefix.is_empty() && id.starts_with(prefix.as_str()))
        {
            return false;
        }
        if let Some(outcome) = &self.outcome
            && !record.outcome_is(outcome)
        {
            return false;
        }
        true
    }
}

/// `server.tool` as `(server, Some(tool))`; a place without a dot is a server alone.
fn split_place(place: &str) -> (&str, Option<&str>) {
    match place.split_once('.') {
        Some((server, tool)) => (server, Some(tool)),
        None => (place, None),
    }
}

/// Parse a `since` value: an RFC 3339 timestamp, or a time before `now` in `jiff`'s friendly
/// duration format: one or more number-and-unit pairs from the largest unit to the smallest, such
/// as `30s`, `10m`, `2h`, `1d`, `1w`, `1h30m` or `90 minutes`. A day is 24 hours and a week 7 days;
/// months and years (of varying length) and negative durations are refused.
pub fn parse_since(text: &str, now: Timestamp) -> Result<Timestamp, AuditError> {
    let text = text.trim();
    if let Some(ago) = parse_time_ago(text) {
        return Ok(now.minus(ago));
    }
    Timestamp::parse(text).map_err(|error| AuditError::InvalidSince {
        text: text.to_owned(),
        // The timestamp's own complaint helps only if the text was meant as a date.
        source: looks_like_a_date(text).then_some(error),
    })
}

fn looks_like_a_date(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() >= 5 && bytes[..4].iter().all(u8::is_ascii_digit) && bytes[4] == b'-'
}

/// The duration of `1h30m`-style text, `None` unless the whole text is one that is not negative.
fn parse_time_ago(text: &str) -> Option<SignedDuration> {
    let span = SpanParser::new().parse_span(text).ok()?;
    let duration = span.to_duration(SpanRelativeTo::days_are_24_hours()).ok()?;
    (!duration.is_negative()).then_some(duration)
}

/// The records of a log that pass a filter.
#[derive(Debug, Default)]
pub struct Query {
    /// The matching records, oldest first: the last [`Filter::limit`] of them when it is set.
    pub entries: Vec<Entry>,
    /// How many records matched in all, before the limit.
    pub matched: usize,
    /// How many records were read in all.
    pub read: usize,
    /// Lines that are not records and files that could not be read, in the order met.
    pub problems: Vec<AuditError>,
}

/// Read the log in `dir` and keep what passes `filter`.
pub fn query(dir: &Path, filter: &Filter) -> Result<Query, AuditError> {
    let mut result = Query::default();
    let mut kept = VecDeque::new();
    for item in read(dir)? {
        match item {
            Ok(entry) => {
                result.read += 1;
                if !filter.matches(&entry.record) {
                    continue;
                }
                result.matched += 1;
                kept.push_back(entry);
                if filter.limit.is_some_and(|limit| kept.len() > limit) {
                    kept.pop_front();
                }
            }
            Err(problem) => result.problems.push(problem),
        }
    }
    result.entries = kept.into();
    Ok(result)
}

#[cfg(test)]
#[path = "filter_tests.rs"]
mod tests;
