//! State that outlives one execution, through `sluice serve` driven by the Python MCP SDK: the
//! workspace (files agent code keeps, across executions and restarts), skills (`save_skill`,
//! imported by later code, found by `search_tools`), and sessions (globals kept per session id,
//! evicted when idle or over the limit, ended by a limit hit).

use std::path::Path;

use serde_json::{Value, json};
use sluice_test_support::{McpConfig, run_python_client};

use super::common::{
    audit_records, call, error_type, execute, sluice_serve_with_data, text, write_config,
};

fn in_session(session: &str, code: &str) -> Value {
    call("execute_code", json!({"code": code, "session": session}))
}

fn demo_server(kind: &str) -> Value {
    json!({"command": env!("CARGO_BIN_EXE_sluice"), "args": ["demo", "server", kind]})
}

fn run(config: &Path, data: &Path, ops: Value) -> Vec<Value> {
    let count = ops.as_array().map_or(0, Vec::len);
    let output = run_python_client(&sluice_serve_with_data(config, data), &ops).ok();
    let results = output["results"].as_array().cloned().unwrap_or_default();
    assert_eq!(results.len(), count, "{output}");
    results
}

const SAVE_LEADS: &str = r#"import * as documents from "./servers/documents";
import * as fs from "fs/promises";
const sheet = await documents.getSheet({ sheetId: "sheet-contacts" });
const lines = sheet.rows.map((row) => [row.name, row.company].join(","));
await fs.writeFile("./workspace/leads.csv", ["name,company", ...lines].join("\n") + "\n");
console.log(`saved ${lines.length} leads`);"#;

const COUNT_LEADS: &str = r#"import * as fs from "fs/promises";
const text = await fs.readFile("./workspace/leads.csv", "utf8");
const stat = await fs.stat("./workspace/leads.csv");
console.log(text.trim().split("\n").length - 1, stat.isFile(), stat.size === text.length);
console.log((await fs.readdir("./workspace")).includes("leads.csv"));"#;

const SEND_FROM_LEADS: &str = r##"import * as fs from "fs/promises";
import * as chat from "./servers/chat";
const rows = (await fs.readFile("./workspace/leads.csv", "utf8")).trim().split("\n").slice(1);
let sent = 0;
for (const row of rows) {
  const [name, company] = row.split(",");
  await chat.sendMessage({ channel: "#leads", text: `Welcome ${name} of ${company}` });
  sent++;
}
console.log(`sent ${sent} messages`);"##;

const SKILL: &str = r#"import * as documents from "../../servers/documents";
import * as fs from "fs/promises";

/** Save every row of a sheet as CSV in the workspace; returns the number of rows. */
export async function saveSheetAsCsv(sheetId: string, path: string): Promise<number> {
  const sheet = await documents.getSheet({ sheetId });
  const columns = Object.keys(sheet.rows[0] ?? {});
  const lines = sheet.rows.map((row: Record<string, unknown>) => columns.map((c) => String(row[c])).join(","));
  await fs.writeFile(path, [columns.join(","), ...lines].join("\n") + "\n");
  return lines.length;
}"#;

const USE_SKILL: &str = r#"import { saveSheetAsCsv } from "./skills/save-sheet-as-csv";
import * as fs from "fs/promises";
const rows = await saveSheetAsCsv("sheet-contacts", "./workspace/contacts.csv");
const text = await fs.readFile("./workspace/contacts.csv", "utf8");
console.log(rows, text.split("\n")[0]);"#;

#[test]
fn workspace_and_skills_persist_across_executions_and_restarts() {
    let data = tempfile::tempdir().unwrap();
    let config = write_config(
        McpConfig::new()
            .entry("documents", demo_server("documents"))
            .entry("chat", demo_server("chat")),
        json!({
            // The CSV holds names: tokens would be useless after this execution's vault is gone.
            "privacy": {"enabled": false},
            "execution": {"toolCalls": 2_000, "timeoutMs": 120_000, "workspaceMb": 1}
        }),
    );
    let results = run(
        config.path(),
        data.path(),
        json!([
            execute(SAVE_LEADS),
            execute(COUNT_LEADS),
            call("list_files", json!({"path": "workspace"})),
            call("read_file", json!({"path": "workspace/leads.csv"})),
            call(
                "save_skill",
                json!({"name": "save-sheet-as-csv", "description": "Save a sheet's rows to a CSV file in the workspace", "code": SKILL})
            ),
            execute(USE_SKILL),
            call("search_tools", json!({"query": "save sheet csv"})),
            call("list_files", json!({"path": "skills"})),
            call(
                "read_file",
                json!({"path": "skills/save-sheet-as-csv/SKILL.md"})
            ),
            // Saving again keeps the previous version.
            call(
                "save_skill",
                json!({"name": "save-sheet-as-csv", "description": "Save a sheet as CSV (v2)", "code": SKILL})
            ),
            // Bad skills are refused with a reason.
            call(
                "save_skill",
                json!({"name": "Bad Name", "description": "x", "code": SKILL})
            ),
            call(
                "save_skill",
                json!({"name": "broken", "description": "x", "code": "export function f( {"})
            ),
            // Traversal through the file API is refused; nothing is written outside.
            execute(
                "import * as fs from 'fs/promises'; await fs.writeFile('./workspace/../escape.txt', 'x');"
            ),
            execute("import * as fs from 'fs/promises'; await fs.readFile('/etc/hostname');"),
            // Over the quota (1 MiB): refused, nothing written.
            execute(
                "import * as fs from 'fs/promises'; await fs.writeFile('./workspace/big.txt', 'x'.repeat(2 * 1024 * 1024));"
            ),
        ]),
    );
    assert_eq!(text(&results[0]), "saved 1000 leads\n", "{}", results[0]);
    assert_eq!(text(&results[1]), "1000 true true\ntrue\n");
    assert!(
        text(&results[2]).contains("leads.csv"),
        "{}",
        text(&results[2])
    );
    assert!(text(&results[3]).starts_with("name,company\n"));
    let saved = text(&results[4]);
    assert!(saved.contains("version 1"), "{saved}");
    assert!(
        saved.contains("import { saveSheetAsCsv } from './skills/save-sheet-as-csv'"),
        "{saved}"
    );
    assert_eq!(
        text(&results[5]),
        "1000 name,email,phone,company,title\n",
        "{}",
        results[5]
    );
    assert!(
        text(&results[6]).contains("skill save-sheet-as-csv: \"Save a sheet's rows")
            && text(&results[6]).contains("(saved by mcp")
            && text(&results[6]).contains("data not instructions"),
        "{}",
        text(&results[6])
    );
    assert!(text(&results[7]).contains("save-sheet-as-csv/"));
    assert!(text(&results[8]).contains("name: save-sheet-as-csv"));
    assert!(
        text(&results[9]).contains("replaces version 1"),
        "{}",
        text(&results[9])
    );
    assert_eq!(results[10]["isError"], true);
    assert!(
        text(&results[10]).contains("save-sheet-as-csv"),
        "{}",
        text(&results[10])
    );
    assert_eq!(results[11]["isError"], true);
    assert!(
        text(&results[11]).contains("line 1"),
        "{}",
        text(&results[11])
    );
    assert!(
        text(&results[12]).contains("EACCES"),
        "{}",
        text(&results[12])
    );
    assert!(!data.path().join("escape.txt").exists());
    assert!(
        text(&results[13]).contains("EACCES"),
        "{}",
        text(&results[13])
    );
    assert!(
        text(&results[14]).contains("EDQUOT"),
        "{}",
        text(&results[14])
    );
    assert!(!data.path().join("workspace/big.txt").exists());
    // The previous version is kept on disk.
    let history = data.path().join("skills/.history/save-sheet-as-csv");
    assert!(history.exists(), "no history folder");

    // After a restart: the workspace file and the skill are still there.
    let results = run(
        config.path(),
        data.path(),
        json!([execute(SEND_FROM_LEADS), execute(USE_SKILL)]),
    );
    assert_eq!(text(&results[0]), "sent 1000 messages\n", "{}", results[0]);
    assert_eq!(results[0]["structuredContent"]["stats"]["tool_calls"], 1000);
    assert_eq!(text(&results[1]), "1000 name,email,phone,company,title\n");
}

#[test]
fn sessions_keep_globals_and_end_cleanly() {
    let data = tempfile::tempdir().unwrap();
    let config = write_config(
        McpConfig::new(),
        json!({"sessions": {"idleTimeoutMs": 400, "maxSessions": 2}}),
    );
    let results = run(
        config.path(),
        data.path(),
        json!([
            in_session(
                "a",
                "const base = 40; function answer() { return base + 2; }"
            ),
            in_session("a", "export default answer();"),
            in_session("b", "export default typeof answer;"),
            execute("export default typeof answer;"),
            // Idle eviction: "a" is idle past 400 ms while this fresh execution waits.
            execute("await new Promise((resolve) => setTimeout(resolve, 1200));"),
            in_session("a", "export default typeof answer;"),
            // The session limit: a third session ends the least recently used idle one ("b").
            in_session("b", "globalThis.mark = 'b';"),
            in_session("c", "globalThis.mark = 'c';"),
            in_session("d", "globalThis.mark = 'd';"),
            in_session("b", "export default typeof mark;"),
            // A limit hit ends the session, with a clear error; the id then starts afresh.
            in_session("e", "var kept = 1;"),
            call(
                "execute_code",
                json!({"code": "while (true) {}", "session": "e", "timeout_ms": 500})
            ),
            in_session("e", "export default typeof kept;"),
            in_session("../bad", "1"),
        ]),
    );
    assert_eq!(text(&results[1]), "[result] 42\n", "{}", results[1]);
    assert_eq!(text(&results[2]), "[result] \"undefined\"\n");
    assert_eq!(text(&results[3]), "[result] \"undefined\"\n");
    assert_eq!(text(&results[5]), "[result] \"undefined\"\n", "not evicted");
    assert_eq!(text(&results[9]), "[result] \"undefined\"\n", "not evicted");
    assert_eq!(error_type(&results[11]), "Timeout");
    assert!(
        text(&results[11]).contains("session \"e\" ended"),
        "{}",
        text(&results[11])
    );
    assert_eq!(text(&results[12]), "[result] \"undefined\"\n");
    assert_eq!(error_type(&results[13]), "InvalidSession");

    let records = audit_records(data.path());
    let ended = |reason: &str| {
        records.iter().any(|record| {
            record["kind"] == "session" && record["event"] == "ended" && record["reason"] == reason
        })
    };
    assert!(ended("idle"), "no idle eviction record");
    assert!(ended("max_sessions"), "no max_sessions record");
    assert!(
        ended("Timeout"),
        "no record of the session the timeout ended"
    );
    let in_a = records
        .iter()
        .filter(|record| record["kind"] == "execution" && record["session"] == "a")
        .count();
    assert_eq!(in_a, 3);
}
