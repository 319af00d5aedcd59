//! The page at `/`: recent executions from the audit log (filterable by client, session, server
//! and outcome), the token savings over time as an SVG chart, downstream servers and skills; and
//! `/execution?id=ID`: one execution's code, error, statistics and tool calls as a timeline.
//!
//! Server-rendered HTML with a few lines of JavaScript (a filter applies when it changes); no
//! build step and nothing fetched from elsewhere. Every text from the log that is not one of
//! Sluice's own words (code, messages, client and session names, tool names) passes the
//! personal-data detectors before it is shown, whatever the log holds: values become typed
//! tokens (`[EMAIL_1]`), as the agent saw them.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::Path;
use std::sync::OnceLock;

use sluice_audit::{AuditError, CallOutcome, ExecutionOutcomeWord, Record};
use sluice_pii::{DetectorConfig, Origin, Tokenizer, Vault};

/// Executions listed when the URL does not say (`limit=`).
pub const DEFAULT_LIMIT: usize = 200;
/// The most executions one page lists.
pub const MAX_LIMIT: usize = 10_000;
/// Points of the savings chart at most (executions are bucketed beyond it).
const CHART_POINTS: usize = 400;

/// What the URL asks the page to show.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageFilter {
    /// Only executions of this client.
    pub client: Option<String>,
    /// Only executions of this session.
    pub session: Option<String>,
    /// Only executions that called a tool of this server.
    pub server: Option<String>,
    /// Only executions with this outcome: `ok`, `error`, or an error kind (`Timeout`).
    pub outcome: Option<String>,
    /// How many to list, newest first.
    pub limit: usize,
}

impl PageFilter {
    /// The filter of a query string (`client=...&outcome=...`); unknown keys are ignored, an
    /// empty value is no filter.
    pub fn from_query(query: Option<&str>) -> PageFilter {
        let mut filter = PageFilter {
            limit: DEFAULT_LIMIT,
            ..PageFilter::default()
        };
        for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            let value = (!value.is_empty()).then(|| value.into_owned());
            match key.as_ref() {
                "client" => filter.client = value,
                "session" => filter.session = value,
                "server" => filter.server = value,
                "outcome" => filter.outcome = value,
                "limit" => {
                    if let Some(limit) = value.and_then(|value| value.parse::<usize>().ok()) {
                        filter.limit = limit.clamp(1, MAX_LIMIT);
                    }
                }
                _ => {}
            }
        }
        filter
    }

    fn is_empty(&self) -> bool {
        self.client.is_none()
            && self.session.is_none()
            && self.server.is_none()
            && self.outcome.is_none()
    }
}

/// One downstream server, for the page (from the live gateway).
#[derive(Debug, Clone)]
pub struct ServerRow {
    /// Its name.
    pub name: String,
    /// Its state in words (`ready`, `down: why`).
    pub state: String,
    /// Whether it is usable.
    pub ready: bool,
    /// Tools it lists.
    pub tools: usize,
}

/// One saved skill, for the page.
#[derive(Debug, Clone)]
pub struct SkillRow {
    /// Its name.
    pub name: String,
    /// Its description.
    pub description: String,
    /// Its version.
    pub version: u32,
}

/// One tool call of an execution.
#[derive(Debug, Clone)]
struct Call {
    at_ms: i64,
    duration_us: u64,
    server: String,
    tool: String,
    outcome: CallOutcome,
    error: Option<String>,
}

/// One execution as the page shows it.
#[derive(Debug, Clone)]
struct Execution {
    id: String,
    client: String,
    session: Option<String>,
    started_ms: i64,
    started: String,
    duration_ms: u64,
    language: String,
    ok: bool,
    error_kind: Option<String>,
    error_message: Option<String>,
    code: String,
    limits: Vec<String>,
    tool_calls: u64,
    result_tokens: u64,
    direct_tokens: u64,
}

impl Execution {
    fn outcome_label(&self) -> &str {
        self.error_kind.as_deref().unwrap_or(if self.ok {
            ExecutionOutcomeWord::Ok.as_str()
        } else {
            ExecutionOutcomeWord::Error.as_str()
        })
    }

    fn matches_outcome(&self, wanted: &str) -> bool {
        let word = if self.ok {
            ExecutionOutcomeWord::Ok
        } else {
            ExecutionOutcomeWord::Error
        };
        wanted == word.as_str() || self.error_kind.as_deref() == Some(wanted)
    }
}

/// What the page reads of an execution record's statistics (the gateway's `ExecutionStats`).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct Stats {
    tool_calls: u64,
    result_tokens: u64,
    direct_estimate_tokens: u64,
}

/// The audit log read for the page.
struct Log {
    /// Every execution, oldest first.
    executions: Vec<Execution>,
    /// Tool calls by execution id.
    calls: HashMap<String, Vec<Call>>,
    /// Records that could not be read.
    unreadable: usize,
}

fn read_log(audit_dir: &Path) -> Result<Log, AuditError> {
    let mut log = Log {
        executions: Vec::new(),
        calls: HashMap::new(),
        unreadable: 0,
    };
    let reader = match sluice_audit::read(audit_dir) {
        Ok(reader) => reader,
        Err(AuditError::NoLog { .. }) => return Ok(log),
        Err(error) => return Err(error),
    };
    for entry in reader {
        let Ok(entry) = entry else {
            log.unreadable += 1;
            continue;
        };
        match entry.record {
            Record::Execution(record) => {
                let stats: Stats = serde_json::from_value(record.stats).unwrap_or_default();
                log.executions.push(Execution {
                    started_ms: record.started_at.unix_millis(),
                    started: record.started_at.to_string(),
                    ok: record.outcome == ExecutionOutcomeWord::Ok,
                    error_kind: record.error_kind.map(|kind| kind.as_str().to_owned()),
                    error_message: record.error_message,
                    limits: record
                        .limits_hit
                        .iter()
                        .map(|limit| limit.as_str().to_owned())
                        .collect(),
                    tool_calls: stats.tool_calls,
                    result_tokens: stats.result_tokens,
                    direct_tokens: stats.direct_estimate_tokens,
                    id: record.execution_id,
                    client: record.client,
                    session: record.session,
                    duration_ms: record.duration_ms,
                    language: record.language,
                    code: record.code,
                });
            }
            Record::ToolCall(record) => {
                log.calls
                    .entry(record.execution_id)
                    .or_default()
                    .push(Call {
                        at_ms: record.at.unix_millis(),
                        duration_us: record.duration_us,
                        server: record.server,
                        tool: record.tool,
                        outcome: record.outcome,
                        error: record.error,
                    });
            }
            _ => {}
        }
    }
    Ok(log)
}

/// The detectors, compiled once per process (`None` if they do not compile, a bug).
fn tokenizer() -> Option<&'static Tokenizer> {
    static TOKENIZER: OnceLock<Option<Tokenizer>> = OnceLock::new();
    TOKENIZER
        .get_or_init(|| Tokenizer::new(&DetectorConfig::default()).ok())
        .as_ref()
}

/// Shows text from the log: personal data found in it becomes a typed token, then it is
/// escaped for HTML. One vault per page, so the same value is the same token on it.
struct Shown {
    tokenizer: Option<&'static Tokenizer>,
    vault: Vault,
}

impl Shown {
    fn new() -> Shown {
        Shown {
            tokenizer: tokenizer(),
            vault: Vault::new(),
        }
    }

    /// `text`, tokenized and escaped. Without detectors (they failed to compile, a bug) nothing
    /// from the log is shown.
    fn text(&mut self, text: &str) -> String {
        let Some(tokenizer) = self.tokenizer else {
            return "(hidden: the personal-data detectors are unavailable)".to_owned();
        };
        let tokenized = tokenizer.tokenize_text(&mut self.vault, text, &Origin::Unattributed);
        escape(&tokenized.text)
    }
}

/// HTML-escape `text` (element content and quoted attribute values).
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

fn query_value(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

const STYLE: &str = "body{font:14px system-ui,sans-serif;margin:1.5em;color:#1d2330}\
h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.6em}\
table{border-collapse:collapse;width:100%}th,td{padding:3px 8px;border-bottom:1px solid #e3e6ec;text-align:left;vertical-align:top}\
th{background:#f3f5f8}td.n{text-align:right;font-variant-numeric:tabular-nums}\
.ok{color:#16794a}.err{color:#b3261e}pre{background:#f6f8fa;padding:8px;overflow:auto;max-height:30em}\
form.filters label{margin-right:1em}.muted{color:#6b7280}svg text{font:11px system-ui,sans-serif}";

const SCRIPT: &str = "document.querySelectorAll('form.filters select').forEach(function(s){\
s.addEventListener('change',function(){s.form.submit();});});";

fn head(out: &mut String, title: &str) {
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\"><title>{}</title>\
         <style>{STYLE}</style></head><body>",
        escape(title)
    );
}

/// The page at `/`.
pub fn index(
    audit_dir: Option<&Path>,
    filter: &PageFilter,
    servers: Option<&[ServerRow]>,
    skills: &[SkillRow],
) -> String {
    let mut out = String::with_capacity(64 * 1024);
    head(&mut out, "Sluice");
    out.push_str("<h1>Sluice</h1>");
    let log = match audit_dir.map(read_log).transpose() {
        Ok(log) => log,
        Err(error) => {
            let _ = write!(
                out,
                "<p class=\"err\">The audit log could not be read: {}</p>",
                escape(&error.to_string())
            );
            None
        }
    };
    let Some(log) = log else {
        if audit_dir.is_none() {
            out.push_str("<p class=\"muted\">No data folder, so no audit log to show.</p>");
        }
        servers_section(&mut out, servers);
        skills_section(&mut out, skills, &mut Shown::new());
        out.push_str("</body></html>");
        return out;
    };
    let mut shown = Shown::new();
    let calls_server = |execution: &Execution, server: &str| {
        log.calls
            .get(&execution.id)
            .is_some_and(|calls| calls.iter().any(|call| call.server == server))
    };
    let matching: Vec<&Execution> = log
        .executions
        .iter()
        .filter(|execution| {
            filter
                .client
                .as_deref()
                .is_none_or(|client| execution.client == client)
                && filter
                    .session
                    .as_deref()
                    .is_none_or(|session| execution.session.as_deref() == Some(session))
                && filter
                    .outcome
                    .as_deref()
                    .is_none_or(|outcome| execution.matches_outcome(outcome))
                && filter
                    .server
                    .as_deref()
                    .is_none_or(|server| calls_server(execution, server))
        })
        .collect();

    filters_form(&mut out, &log, filter, &mut shown);
    savings_chart(&mut out, &matching);

    let listed = matching.len().min(filter.limit);
    let _ = write!(
        out,
        "<h2>Executions</h2><p class=\"muted\" id=\"count\">{} of {} executions{}, newest first{}</p>",
        listed,
        matching.len(),
        if filter.is_empty() { "" } else { " matching" },
        if log.unreadable > 0 {
            format!("; {} unreadable records skipped", log.unreadable)
        } else {
            String::new()
        }
    );
    out.push_str(
        "<table id=\"executions\"><thead><tr><th>started (UTC)</th><th>client</th><th>session</th>\
         <th>language</th><th>outcome</th><th>ms</th><th>tool calls</th><th>tokens returned</th>\
         <th>direct estimate</th><th>code</th></tr></thead><tbody>",
    );
    for execution in matching.iter().rev().take(filter.limit) {
        let first_line = execution.code.lines().find(|line| !line.trim().is_empty());
        let first_line = first_line.unwrap_or_default();
        let cut = first_line
            .char_indices()
            .nth(80)
            .map_or(first_line, |(index, _)| &first_line[..index]);
        let _ = write!(
            out,
            "<tr class=\"execution\" data-id=\"{id}\"><td><a href=\"/execution?id={qid}\">{started}</a></td>\
             <td>{client}</td><td>{session}</td><td>{language}</td><td class=\"{class}\">{outcome}</td>\
             <td class=\"n\">{ms}</td><td class=\"n\">{calls}</td><td class=\"n\">{returned}</td>\
             <td class=\"n\">{direct}</td><td><code>{code}</code></td></tr>",
            id = escape(&execution.id),
            qid = escape(&query_value(&execution.id)),
            started = escape(&execution.started),
            client = shown.text(&execution.client),
            session = execution
                .session
                .as_deref()
                .map(|session| shown.text(session))
                .unwrap_or_default(),
            language = escape(&execution.language),
            class = if execution.ok { "ok" } else { "err" },
            outcome = escape(execution.outcome_label()),
            ms = execution.duration_ms,
            calls = execution.tool_calls,
            returned = execution.result_tokens,
            direct = execution.direct_tokens,
            code = shown.text(cut),
        );
    }
    out.push_str("</tbody></table>");
    servers_section(&mut out, servers);
    skills_section(&mut out, skills, &mut shown);
    let _ = write!(out, "<script>{SCRIPT}</script></body></html>");
    out
}

fn filters_form(out: &mut String, log: &Log, filter: &PageFilter, shown: &mut Shown) {
    let mut clients = BTreeSet::new();
    let mut sessions = BTreeSet::new();
    let mut outcomes = BTreeSet::new();
    for execution in &log.executions {
        clients.insert(execution.client.as_str());
        if let Some(session) = &execution.session {
            sessions.insert(session.as_str());
        }
        outcomes.insert(execution.outcome_label());
    }
    let servers: BTreeSet<&str> = log
        .calls
        .values()
        .flatten()
        .map(|call| call.server.as_str())
        .collect();
    out.push_str("<form class=\"filters\" method=\"get\" action=\"/\">");
    let mut select = |name: &str, values: &BTreeSet<&str>, current: Option<&str>| {
        let _ = write!(
            out,
            "<label>{name} <select name=\"{name}\"><option value=\"\">all</option>"
        );
        for value in values.iter().take(500) {
            let _ = write!(
                out,
                "<option value=\"{}\"{}>{}</option>",
                // The value must round-trip exactly to filter; it is escaped, and shown
                // through the detectors.
                escape(value),
                if current == Some(*value) {
                    " selected"
                } else {
                    ""
                },
                shown.text(value)
            );
        }
        out.push_str("</select></label>");
    };
    select("client", &clients, filter.client.as_deref());
    select("session", &sessions, filter.session.as_deref());
    select("server", &servers, filter.server.as_deref());
    select("outcome", &outcomes, filter.outcome.as_deref());
    let _ = write!(
        out,
        "<input type=\"hidden\" name=\"limit\" value=\"{}\"><noscript><button>filter</button></noscript> \
         <a href=\"/\">clear</a></form>",
        filter.limit
    );
}

/// Cumulative tokens returned against the direct estimate, over time, as an SVG line chart.
fn savings_chart(out: &mut String, executions: &[&Execution]) {
    const WIDTH: f64 = 720.0;
    const HEIGHT: f64 = 200.0;
    const LEFT: f64 = 60.0;
    const BOTTOM: f64 = 20.0;
    let mut returned = 0u64;
    let mut direct = 0u64;
    let mut points: Vec<(i64, u64, u64)> = Vec::with_capacity(executions.len().min(CHART_POINTS));
    let step = executions.len().div_ceil(CHART_POINTS).max(1);
    for (index, execution) in executions.iter().enumerate() {
        returned += execution.result_tokens;
        direct += execution.direct_tokens.max(execution.result_tokens);
        if index % step == step - 1 || index + 1 == executions.len() {
            points.push((execution.started_ms, returned, direct));
        }
    }
    let saved = direct.saturating_sub(returned);
    let percent = if direct > 0 {
        saved as f64 * 100.0 / direct as f64
    } else {
        0.0
    };
    let _ = write!(
        out,
        "<h2>Token savings</h2><p>Returned to agents: <b>{returned}</b> tokens; the same tool \
         calls directly: about <b>{direct}</b>; saved <b>{saved}</b> ({percent:.0}%).</p>"
    );
    let _ = write!(
        out,
        "<svg id=\"savings\" width=\"{WIDTH}\" height=\"{HEIGHT}\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" \
         role=\"img\" aria-label=\"cumulative tokens over time\">\
         <rect x=\"{LEFT}\" y=\"0\" width=\"{}\" height=\"{}\" fill=\"#fafbfc\" stroke=\"#e3e6ec\"/>",
        WIDTH - LEFT,
        HEIGHT - BOTTOM
    );
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        out.push_str("<text x=\"70\" y=\"100\">no executions yet</text></svg>");
        return;
    };
    let span = (last.0 - first.0).max(1) as f64;
    let top = direct.max(1) as f64;
    let x = |at: i64| LEFT + (at - first.0) as f64 / span * (WIDTH - LEFT - 4.0);
    let y = |tokens: u64| (HEIGHT - BOTTOM) - tokens as f64 / top * (HEIGHT - BOTTOM - 6.0);
    for (class, color, pick) in [
        ("direct", "#b3261e", 2usize),
        ("returned", "#16794a", 1usize),
    ] {
        let _ = write!(
            out,
            "<polyline class=\"{class}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\""
        );
        for point in &points {
            let tokens = if pick == 1 { point.1 } else { point.2 };
            let _ = write!(out, "{:.1},{:.1} ", x(point.0), y(tokens));
        }
        out.push_str("\"/>");
    }
    let _ = write!(
        out,
        "<text x=\"4\" y=\"12\">{direct}</text><text x=\"4\" y=\"{}\">0</text>\
         <text x=\"{LEFT}\" y=\"{HEIGHT}\">{}</text>\
         <text x=\"{}\" y=\"{HEIGHT}\" text-anchor=\"end\">{}</text>\
         <text x=\"{}\" y=\"16\" fill=\"#b3261e\">direct (estimate)</text>\
         <text x=\"{}\" y=\"30\" fill=\"#16794a\">through Sluice</text></svg>",
        HEIGHT - BOTTOM,
        escape(
            &executions
                .first()
                .map(|e| e.started.clone())
                .unwrap_or_default()
        ),
        WIDTH - 4.0,
        escape(
            &executions
                .last()
                .map(|e| e.started.clone())
                .unwrap_or_default()
        ),
        LEFT + 10.0,
        LEFT + 10.0,
    );
}

fn servers_section(out: &mut String, servers: Option<&[ServerRow]>) {
    out.push_str("<h2>Downstream servers</h2>");
    let Some(servers) = servers else {
        out.push_str(
            "<p class=\"muted\">No gateway is running here: only the audit log is shown.</p>",
        );
        return;
    };
    out.push_str("<table id=\"servers\"><thead><tr><th>server</th><th>state</th><th>tools</th></tr></thead><tbody>");
    for server in servers {
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"{}\">{}</td><td class=\"n\">{}</td></tr>",
            escape(&server.name),
            if server.ready { "ok" } else { "err" },
            escape(&server.state),
            server.tools
        );
    }
    out.push_str("</tbody></table>");
}

fn skills_section(out: &mut String, skills: &[SkillRow], shown: &mut Shown) {
    out.push_str("<h2>Skills</h2>");
    if skills.is_empty() {
        out.push_str("<p class=\"muted\">No saved skills.</p>");
        return;
    }
    out.push_str("<table id=\"skills\"><thead><tr><th>skill</th><th>version</th><th>description</th></tr></thead><tbody>");
    for skill in skills {
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            escape(&skill.name),
            skill.version,
            shown.text(&skill.description)
        );
    }
    out.push_str("</tbody></table>");
}

/// The page of one execution, `None` when the log has no execution with this id. `output` is
/// what it returned, when a running gateway still has it (the audit log records no output).
pub fn execution(audit_dir: &Path, id: &str, output: Option<&str>) -> Option<String> {
    let log = read_log(audit_dir).ok()?;
    let execution = log
        .executions
        .iter()
        .rev()
        .find(|execution| execution.id == id)?;
    let calls = log.calls.get(id).map(Vec::as_slice).unwrap_or_default();
    let mut shown = Shown::new();
    let mut out = String::new();
    head(&mut out, "Sluice: execution");
    let _ = write!(
        out,
        "<p><a href=\"/\">all executions</a></p><h1>Execution {}</h1>\
         <table><tbody><tr><th>started (UTC)</th><td>{}</td></tr><tr><th>client</th><td>{}</td></tr>\
         <tr><th>session</th><td>{}</td></tr><tr><th>language</th><td>{}</td></tr>\
         <tr><th>outcome</th><td class=\"{}\">{}</td></tr><tr><th>duration</th><td>{} ms</td></tr>\
         <tr><th>limits hit</th><td>{}</td></tr><tr><th>tokens</th><td>{} returned, about {} directly</td></tr>\
         </tbody></table>",
        escape(&execution.id),
        escape(&execution.started),
        shown.text(&execution.client),
        execution
            .session
            .as_deref()
            .map(|session| shown.text(session))
            .unwrap_or_default(),
        escape(&execution.language),
        if execution.ok { "ok" } else { "err" },
        escape(execution.outcome_label()),
        execution.duration_ms,
        escape(&execution.limits.join(", ")),
        execution.result_tokens,
        execution.direct_tokens,
    );
    if let Some(message) = &execution.error_message {
        let _ = write!(
            out,
            "<h2>Error</h2><pre id=\"error\">{}</pre>",
            shown.text(message)
        );
    }
    match output {
        Some(output) => {
            let _ = write!(
                out,
                "<h2>Output</h2><pre id=\"output\">{}</pre>",
                shown.text(output)
            );
        }
        None => out.push_str(
            "<h2>Output</h2><p class=\"muted\">Not kept: the audit log records no output, and a \
             running gateway keeps only its last 500 executions' output.</p>",
        ),
    }
    let _ = write!(
        out,
        "<h2>Code</h2><pre id=\"code\">{}</pre>",
        shown.text(&execution.code)
    );
    let _ = write!(out, "<h2>Tool calls ({})</h2>", calls.len());
    if !calls.is_empty() {
        timeline(&mut out, execution, calls, &mut shown);
    }
    out.push_str("</body></html>");
    Some(out)
}

/// Each call as a bar from its start to its end, on the execution's time axis.
fn timeline(out: &mut String, execution: &Execution, calls: &[Call], shown: &mut Shown) {
    const WIDTH: f64 = 720.0;
    const LABEL: f64 = 220.0;
    const ROW: f64 = 18.0;
    let start = execution.started_ms;
    let span_us = calls
        .iter()
        .map(|call| (call.at_ms - start).max(0) as f64 * 1000.0 + call.duration_us as f64)
        .fold(execution.duration_ms as f64 * 1000.0, f64::max)
        .max(1.0);
    let shown_calls = &calls[..calls.len().min(500)];
    let height = ROW * shown_calls.len() as f64 + 20.0;
    let _ = write!(
        out,
        "<svg id=\"timeline\" width=\"{WIDTH}\" height=\"{height}\" viewBox=\"0 0 {WIDTH} {height}\">"
    );
    for (row, call) in shown_calls.iter().enumerate() {
        let offset_us = (call.at_ms - start).max(0) as f64 * 1000.0;
        let x = LABEL + offset_us / span_us * (WIDTH - LABEL - 4.0);
        let width = (call.duration_us as f64 / span_us * (WIDTH - LABEL - 4.0)).max(2.0);
        let y = row as f64 * ROW;
        let ok = call.outcome == CallOutcome::Ok;
        let _ = write!(
            out,
            "<g class=\"call\"><title>{server}.{tool}: {outcome}, {ms:.1} ms{error}</title>\
             <text x=\"0\" y=\"{ty}\">{server}.{tool}</text>\
             <rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{width:.1}\" height=\"{h}\" fill=\"{color}\"/></g>",
            server = shown.text(&call.server),
            tool = shown.text(&call.tool),
            outcome = escape(call.outcome.as_str()),
            ms = call.duration_us as f64 / 1000.0,
            error = call
                .error
                .as_deref()
                .map(|error| format!(": {}", shown.text(error)))
                .unwrap_or_default(),
            ty = y + 13.0,
            h = ROW - 4.0,
            color = if ok { "#4c8bf5" } else { "#b3261e" },
        );
    }
    let _ = write!(
        out,
        "<text x=\"{LABEL}\" y=\"{}\">0 ms</text><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{:.1} ms</text></svg>",
        height - 4.0,
        WIDTH - 4.0,
        height - 4.0,
        span_us / 1000.0
    );
    if calls.len() > shown_calls.len() {
        let _ = write!(
            out,
            "<p class=\"muted\">The first {} of {} calls.</p>",
            shown_calls.len(),
            calls.len()
        );
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
