//! `sluice audit` and `sluice skills` against a data folder written with the libraries the
//! gateway uses (`sluice-audit`, `sluice-skills`).

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};
use sluice_audit::{
    AuditLog, CallOutcome, ErrorKind, ExecutionOutcomeWord, ExecutionRecord, Limit, Record,
    ReleaseRecord, Rotation, SessionEnd, SessionEvent, SessionRecord, Timestamp, ToolCallRecord,
    sha256_hex,
};
use sluice_skills::SkillStore;

/// Run `sluice ARGS --data-dir DATA`: exit code, stdout, stderr.
fn sluice(data: &Path, args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .env_remove("SLUICE_DATA_DIR")
        .env("SLUICE_LOG", "warn")
        .output()
        .expect("run sluice");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The table with the timestamp that starts each record line replaced by one of the same width,
/// so the snapshot keeps the alignment but not the clock.
fn redact_times(table: &str) -> String {
    let mut redacted = String::new();
    for line in table.lines() {
        match line.get(..24) {
            Some(time) if Timestamp::parse(time).is_ok() => {
                redacted.push_str("YYYY-MM-DDTHH:MM:SS.mmmZ");
                redacted.push_str(&line[24..]);
            }
            _ => redacted.push_str(line),
        }
        redacted.push('\n');
    }
    redacted
}

const RUN_A: &str = "x19d8a1b2c3d-k7qm";
const RUN_B: &str = "x19d8a1b9f00-p2xz";

fn execution(id: &str, at: Timestamp, outcome: &str, limits: &[&str]) -> Record {
    let code = "const rows = await documents.getSheet({ id: 'orders' });";
    Record::Execution(ExecutionRecord {
        execution_id: id.to_owned(),
        client: "cli".to_owned(),
        principal: None,
        session: Some("s-1".to_owned()),
        started_at: at,
        ended_at: Timestamp::from_unix_millis(at.unix_millis() + 1_234),
        duration_ms: 1_234,
        code: code.to_owned(),
        code_sha256: sha256_hex(code.as_bytes()),
        language: "typescript".to_owned(),
        outcome: ExecutionOutcomeWord::parse(outcome),
        error_kind: (outcome == "error").then_some(ErrorKind::Timeout),
        error_message: (outcome == "error").then(|| "the script ran out of time".to_owned()),
        limits_hit: limits.iter().map(|limit| Limit::parse(limit)).collect(),
        stats: json!({"tool_calls": 2}),
    })
}

fn tool_call(id: &str, at: Timestamp, server: &str, tool: &str, outcome: &str) -> Record {
    Record::ToolCall(ToolCallRecord {
        execution_id: id.to_owned(),
        client: "cli".to_owned(),
        principal: None,
        session: Some("s-1".to_owned()),
        at,
        server: server.to_owned(),
        tool: tool.to_owned(),
        arguments_bytes: 17,
        arguments_sha256: sha256_hex(br#"{"id":"orders"}"#),
        outcome: CallOutcome::parse(outcome),
        error: (outcome != "ok").then(|| "EMAIL from crm may not go to chat".to_owned()),
        duration_us: 12_345,
    })
}

/// A log of two executions an hour ago and now, with their tool calls, a release and a session.
fn write_log(data: &Path) -> Vec<Record> {
    let now = Timestamp::now();
    let earlier = now.minus_millis(3_600_000);
    let records = vec![
        Record::Session(SessionRecord {
            client: "connection-1".to_owned(),
            principal: None,
            session: "s-1".to_owned(),
            at: earlier,
            event: SessionEvent::Created,
            reason: None,
        }),
        tool_call(RUN_A, earlier, "documents", "getSheet", "ok"),
        execution(RUN_A, earlier, "ok", &[]),
        tool_call(RUN_B, now, "crm", "query", "ok"),
        Record::Release(ReleaseRecord {
            execution_id: RUN_B.to_owned(),
            client: "cli".to_owned(),
            principal: None,
            session: Some("s-1".to_owned()),
            at: now,
            token_kind: "EMAIL".to_owned(),
            from: "crm.query".to_owned(),
            to: "chat.sendMessage".to_owned(),
        }),
        tool_call(RUN_B, now, "chat", "sendMessage", "policy_denied"),
        execution(RUN_B, now, "error", &["timeout", "tool_calls"]),
        Record::Session(SessionRecord {
            client: "connection-1".to_owned(),
            principal: None,
            session: "s-1".to_owned(),
            at: now,
            event: SessionEvent::Ended,
            reason: Some(SessionEnd::ClientDisconnected),
        }),
    ];
    let log = AuditLog::open(&data.join("audit"), Rotation::default()).unwrap();
    for record in &records {
        log.append(record).unwrap();
    }
    records
}

/// The DETAIL column of the table's record lines.
fn details(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .skip(1)
        .map(|line| {
            let columns: Vec<&str> = line
                .split("  ")
                .filter(|column| !column.is_empty())
                .collect();
            columns[3].trim().to_owned()
        })
        .collect()
}

#[test]
fn audit_without_a_log_says_who_writes_it() {
    let data = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = sluice(data.path(), &["audit"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, "");
    let expected = format!(
        "sluice: no audit log yet in {}: it is written by `sluice serve` and `sluice exec`\n",
        data.path().join("audit").display()
    );
    assert_eq!(stderr, expected);
}

#[test]
fn audit_prints_an_aligned_table() {
    let data = tempfile::tempdir().unwrap();
    write_log(data.path());
    let (code, stdout, stderr) = sluice(data.path(), &["audit"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stderr, "");
    insta::assert_snapshot!("audit_table", redact_times(&stdout));
}

#[test]
fn audit_filters_narrow_the_records() {
    let data = tempfile::tempdir().unwrap();
    write_log(data.path());
    let run = |args: &[&str]| {
        let mut full = vec!["audit"];
        full.extend_from_slice(args);
        let (code, stdout, stderr) = sluice(data.path(), &full);
        assert_eq!(code, 0, "{args:?}: {stderr}");
        (details(&stdout), stderr)
    };

    let (tool_calls, _) = run(&["--kind", "tool_call"]);
    assert_eq!(
        tool_calls,
        [
            "documents.getSheet ok",
            "crm.query ok",
            "chat.sendMessage policy_denied"
        ]
    );
    assert_eq!(
        run(&["--kind", "tool-call", "--server", "crm"]).0,
        ["crm.query ok"]
    );
    // A release counts for the servers and tools at both of its ends.
    assert_eq!(
        run(&["--server", "chat"]).0,
        [
            "EMAIL crm.query -> chat.sendMessage",
            "chat.sendMessage policy_denied"
        ]
    );
    assert_eq!(run(&["--tool", "getSheet"]).0, ["documents.getSheet ok"]);
    assert_eq!(
        run(&["--outcome", "policy_denied"]).0,
        ["chat.sendMessage policy_denied"]
    );
    assert_eq!(
        run(&["--outcome", "error"]).0,
        ["error (Timeout) limits: timeout, tool_calls"]
    );
    // The start of an id, as the EXECUTION column shows it.
    assert_eq!(
        run(&["--execution", "x19d8a1b2", "--kind", "execution"]).0,
        ["ok"]
    );
    assert_eq!(run(&["--session", "s-1", "--kind", "session"]).0.len(), 2);
    assert_eq!(run(&["--since", "10m"]).0.len(), 5);
    let future =
        Timestamp::from_unix_millis(Timestamp::now().unix_millis() + 3_600_000).to_string();
    let (none, stderr) = run(&["--since", &future]);
    assert!(none.is_empty());
    assert_eq!(stderr, "sluice: no records match (8 records in the log)\n");

    let (last_two, stderr) = run(&["--limit", "2"]);
    assert_eq!(
        last_two,
        [
            "error (Timeout) limits: timeout, tool_calls",
            "ended s-1 (client_disconnected)"
        ]
    );
    assert_eq!(
        stderr,
        "sluice: showing the last 2 of 8 matching records (--limit 0 shows all)\n"
    );
    assert_eq!(run(&["--limit", "0"]).0.len(), 8);
}

#[test]
fn audit_json_prints_the_stored_lines() {
    let data = tempfile::tempdir().unwrap();
    let records = write_log(data.path());
    let stored = std::fs::read_to_string(data.path().join("audit/audit.jsonl")).unwrap();
    let (code, stdout, stderr) = sluice(data.path(), &["audit", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, stored);
    let parsed: Vec<Record> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(parsed, records);

    let (_, stdout, _) = sluice(data.path(), &["audit", "--json", "--kind", "release"]);
    let release: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(release["kind"], "release");
    assert_eq!(release["token_kind"], "EMAIL");
}

#[test]
fn audit_reports_a_torn_line_and_shows_the_rest() {
    let data = tempfile::tempdir().unwrap();
    write_log(data.path());
    let path = data.path().join("audit/audit.jsonl");
    let mut contents = std::fs::read_to_string(&path).unwrap();
    contents.push_str("{\"kind\":\"tool_call\",\"execution_id\":\"x19d");
    std::fs::write(&path, contents).unwrap();

    let (code, stdout, stderr) = sluice(data.path(), &["audit", "--limit", "0"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(details(&stdout).len(), 8);
    assert!(
        stderr.starts_with(&format!(
            "sluice: warning: skipped line 9 of {}: the last line is incomplete",
            path.display()
        )),
        "{stderr}"
    );
}

#[test]
fn audit_rejects_a_bad_since_and_kind() {
    let data = tempfile::tempdir().unwrap();
    write_log(data.path());
    let (code, _, stderr) = sluice(data.path(), &["audit", "--since", "yesterday"]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("`yesterday` is not a time to filter from"),
        "{stderr}"
    );
    let (code, _, stderr) = sluice(data.path(), &["audit", "--kind", "call"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("possible values: execution, tool_call"),
        "{stderr}"
    );
}

const TO_CSV: &str = "export function toCsv(rows: string[][]): string {\n  return rows.map((row) => row.join(',')).join('\\n');\n}\n";
const SUM_ORDERS: &str =
    "export default async function sumOrders(): Promise<number> {\n  return 0;\n}\n";

fn write_skills(data: &Path) -> SkillStore {
    let store = SkillStore::open(data).unwrap();
    store
        .save(
            "to-csv",
            "Turn rows into CSV text",
            "export const old = 1;\n",
            &["old".to_owned()],
        )
        .unwrap();
    store
        .save(
            "to-csv",
            "Turn rows into CSV text: one line per row",
            TO_CSV,
            &["toCsv".to_owned()],
        )
        .unwrap();
    store
        .save(
            "sum-orders",
            "Total the pending orders",
            SUM_ORDERS,
            &["default".to_owned()],
        )
        .unwrap();
    store
}

#[test]
fn skills_list_and_show() {
    let data = tempfile::tempdir().unwrap();
    write_skills(data.path());

    let (code, stdout, stderr) = sluice(data.path(), &["skills", "list"]);
    assert_eq!(code, 0, "{stderr}");
    insta::assert_snapshot!("skills_list", stdout);

    let (code, stdout, stderr) = sluice(data.path(), &["skills", "show", "to-csv"]);
    assert_eq!(code, 0, "{stderr}");
    insta::assert_snapshot!("skills_show", stdout);

    let (code, stdout, _) = sluice(data.path(), &["skills", "list", "--json"]);
    assert_eq!(code, 0);
    let listing: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(listing["skills"][1]["name"], "to-csv");
    assert_eq!(listing["skills"][1]["version"], 2);
    assert!(Timestamp::parse(listing["skills"][1]["updated_at"].as_str().unwrap()).is_ok());
    assert_eq!(listing["problems"], json!([]));

    let (code, stdout, _) = sluice(data.path(), &["skills", "show", "sum-orders", "--json"]);
    assert_eq!(code, 0);
    let skill: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(skill["code"], SUM_ORDERS);
    assert_eq!(skill["version"], 1);
    assert!(
        skill["skill_md"]
            .as_str()
            .unwrap()
            .contains("import sumOrders from './skills/sum-orders';")
    );
}

#[test]
fn skills_unknown_names_list_the_skills() {
    let data = tempfile::tempdir().unwrap();
    write_skills(data.path());
    for command in ["show", "remove"] {
        let (code, stdout, stderr) = sluice(data.path(), &["skills", command, "to-json"]);
        assert_eq!(code, 1, "{command}");
        assert_eq!(stdout, "");
        assert_eq!(
            stderr,
            "error: no skill named `to-json`; the skills are: sum-orders, to-csv\n"
        );
    }
}

#[test]
fn skills_remove_keeps_the_files() {
    let data = tempfile::tempdir().unwrap();
    let store = write_skills(data.path());
    let (code, _, stderr) = sluice(data.path(), &["skills", "remove", "to-csv"]);
    assert_eq!(code, 0, "{stderr}");
    let kept = data.path().join("skills/.history/to-csv/2");
    assert_eq!(
        stderr,
        format!(
            "sluice: removed skill `to-csv` (version 2); its files are kept in {}\n",
            kept.display()
        )
    );
    assert_eq!(
        std::fs::read_to_string(kept.join("index.ts")).unwrap(),
        TO_CSV
    );
    let names: Vec<String> = store
        .list()
        .unwrap()
        .skills
        .into_iter()
        .map(|skill| skill.name)
        .collect();
    assert_eq!(names, ["sum-orders"]);
}

#[test]
fn skills_list_reports_broken_folders_and_an_empty_store() {
    let data = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = sluice(data.path(), &["skills", "list"]);
    assert_eq!(code, 0);
    assert_eq!(stdout, "");
    assert!(stderr.starts_with("sluice: no skills in "), "{stderr}");

    write_skills(data.path());
    std::fs::create_dir(data.path().join("skills/half-done")).unwrap();
    let (code, stdout, stderr) = sluice(data.path(), &["skills", "list"]);
    assert_eq!(code, 0);
    assert_eq!(stdout.lines().count(), 3);
    assert!(
        stderr.starts_with("sluice: warning: not a skill: "),
        "{stderr}"
    );
    assert!(
        stderr.contains("half-done/SKILL.md: the skill has no SKILL.md"),
        "{stderr}"
    );
}

/// What an agent or a server puts into a record or a skill cannot repaint the terminal or forge
/// a row: control characters are printed as escapes.
#[test]
fn audit_and_skills_escape_control_characters() {
    let data = tempfile::tempdir().unwrap();
    let log = AuditLog::open(&data.path().join("audit"), Rotation::default()).unwrap();
    let hostile = "query\u{1b}[2J\u{1b}[H\nx19d8a1b2c3d  execution  ok (forged)\r\u{202e}";
    log.append(&tool_call(RUN_A, Timestamp::now(), "crm", hostile, "ok"))
        .unwrap();
    let (code, stdout, stderr) = sluice(data.path(), &["audit"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        !stdout.contains('\u{1b}') && !stdout.contains('\r'),
        "{stdout:?}"
    );
    assert!(!stdout.contains('\u{202e}'), "{stdout:?}");
    // The header and one row: the newline did not make a second one.
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
    assert!(
        stdout.contains("query\\u{1b}[2J\\u{1b}[H\\nx19d8a1b2c3d"),
        "{stdout}"
    );

    let store = SkillStore::open(data.path()).unwrap();
    store
        .save(
            "paint",
            "Paints the terminal",
            "export const a = 1; // \u{1b}[31mred\u{1b}[0m\nexport const b = 2;\n",
            &["a".to_owned(), "b".to_owned()],
        )
        .unwrap();
    let (code, shown, stderr) = sluice(data.path(), &["skills", "show", "paint"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(!shown.contains('\u{1b}'), "{shown:?}");
    // The code keeps its lines.
    assert!(
        shown.contains("\\u{1b}[31mred\\u{1b}[0m\nexport const b = 2;"),
        "{shown}"
    );
    // SKILL.md edited by hand (the store refuses control characters in what it is given, and
    // again when it reads one): reported as broken, without the raw characters.
    let skill_md = data.path().join("skills/paint/SKILL.md");
    let text = std::fs::read_to_string(&skill_md).unwrap();
    std::fs::write(
        &skill_md,
        text.replace("Paints the terminal", "Paints\u{1b}]0;owned\u{7}"),
    )
    .unwrap();
    let (code, listed, stderr) = sluice(data.path(), &["skills", "list"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        !listed.contains('\u{1b}') && !stderr.contains('\u{1b}'),
        "{listed:?} {stderr:?}"
    );
    assert!(stderr.contains("not a skill"), "{stderr}");
}
