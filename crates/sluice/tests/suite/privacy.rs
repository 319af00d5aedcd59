//! Personal data through `sluice serve`, driven by the Python MCP SDK: the real filesystem server
//! is the source (a contacts file), the real memory server and the filesystem itself are sinks,
//! the fake server's `echo` is a "chat" the policy keeps data from. The agent must never see a raw
//! value; allowed flows deliver the real values (checked on disk); denied flows fail with
//! `policy_denied`; forged, sliced, encoded and cross-execution tokens stay literal.

use std::path::Path;

use serde_json::{Value, json};
use sluice_test_support::{
    McpConfig, fake_server, filesystem_server, memory_server, run_python_client,
};

use super::common::{execute, sluice_serve, structured, text, write_config};

struct Contact {
    name: &'static str,
    email: &'static str,
    phone: &'static str,
    card: &'static str,
    ssn: &'static str,
    ip: &'static str,
    iban: &'static str,
}

const CONTACTS: [Contact; 4] = [
    Contact {
        name: "Ada Lovelace",
        email: "ada.lovelace@example.com",
        phone: "+1 212 555 0143",
        card: "4111 1111 1111 1111",
        ssn: "536-22-1234",
        ip: "198.51.100.41",
        iban: "DE89 3704 0044 0532 0130 00",
    },
    Contact {
        name: "Grace Hopper",
        email: "grace.hopper@navy.example.org",
        phone: "+44 20 7946 0958",
        card: "5555555555554444",
        ssn: "536-22-1235",
        ip: "2001:db8::42",
        iban: "GB82WEST12345698765432",
    },
    Contact {
        name: "Alan Turing",
        email: "alan@bletchley.example.co.uk",
        phone: "(415) 555-0199",
        card: "3782 822463 10005",
        ssn: "536-22-1236",
        ip: "203.0.113.19",
        iban: "NL91ABNA0417164300",
    },
    Contact {
        name: "Katherine Johnson",
        email: "kjohnson@nasa.example.gov",
        phone: "+61 2 5550 1234",
        card: "6011-1111-1111-1117",
        ssn: "536-22-1237",
        ip: "81.2.69.160",
        iban: "CH93 0076 2011 6238 5295 7",
    },
];

fn raw_values() -> Vec<&'static str> {
    CONTACTS
        .iter()
        .flat_map(|c| [c.name, c.email, c.phone, c.card, c.ssn, c.ip, c.iban])
        .collect()
}

/// The contacts file: JSON, one contact's email hidden with a zero-width space.
fn contacts_json() -> String {
    let contacts: Vec<Value> = CONTACTS
        .iter()
        .enumerate()
        .map(|(index, c)| {
            let email = if index == 1 {
                c.email.replacen('.', ".\u{200B}", 1)
            } else {
                c.email.to_owned()
            };
            json!({"name": c.name, "email": email, "phone": c.phone, "card": c.card,
                   "ssn": c.ssn, "lastLogin": {"ip": c.ip}, "iban": c.iban, "tier": "gold"})
        })
        .collect();
    serde_json::to_string_pretty(&json!({ "contacts": contacts })).unwrap_or_default()
}

/// Every `[KIND_N_tag]` token in `text`.
fn tokens(text: &str, kind: &str) -> Vec<String> {
    let prefix = format!("[{kind}_");
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(&prefix) {
        let tail = &rest[start..];
        match tail.find(']') {
            Some(end) => {
                found.push(tail[..=end].to_owned());
                rest = &tail[end + 1..];
            }
            None => break,
        }
    }
    found
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[test]
fn personal_data_flows_only_where_policy_allows() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let dir = scratch.path().canonicalize().expect("canonical tempdir");
    let contacts_path = dir.join("contacts.json");
    std::fs::write(&contacts_path, contacts_json()).expect("write contacts");
    let memory_file = dir.join("memory.jsonl");
    let config = McpConfig::new()
        .server("filesystem", &filesystem_server([&dir]))
        .server("memory", &memory_server(&memory_file))
        .server("chat", &fake_server(&[]));
    let config = write_config(
        config,
        json!({"privacy": {"flows": [
            {"types": ["email", "name"], "from": "filesystem", "to": "memory.create_entities", "allow": true}
        ]}}),
    );
    let read_contacts = format!(
        r#"import * as fs from "./servers/filesystem";
const file = await fs.readTextFile({{ path: {:?} }});
const contacts = JSON.parse(file.content).contacts;
"#,
        contacts_path.display().to_string()
    );
    let path = |name: &str| format!("{:?}", dir.join(name).display().to_string());

    // 1. Reading: the agent sees the file with every value tokenized (structure intact).
    let show = format!(
        "{read_contacts}console.log(file.content);\nexport default {{ first: contacts[0], count: contacts.length }};"
    );
    // 2. An allowed flow (email and name to memory.create_entities) delivers the real values.
    let allowed = format!(
        r#"{read_contacts}import * as memory from "./servers/memory";
const created = await memory.createEntities({{ entities: contacts.slice(0, 2).map((c) => ({{ name: c.name, entityType: "person", observations: [c.email] }})) }});
console.log(JSON.stringify(created));
const graph = await memory.readGraph({{}});
console.log(JSON.stringify(graph));"#
    );
    // 3. The default allows a flow back to the source server: written to disk for real.
    let same_server = format!(
        r#"{read_contacts}await fs.writeFile({{ path: {}, content: contacts.map((c) => `${{c.name}};${{c.email}};${{c.phone}};${{c.card}}`).join("\n") }});
console.log("written");"#,
        path("export.txt")
    );
    // 4. Denied flows: phone to memory (the rule allows email and name only), caught; then an
    //    email to the chat server, uncaught.
    let denied = format!(
        r#"{read_contacts}import * as memory from "./servers/memory";
import * as chat from "./servers/chat";
try {{
  await memory.addObservations({{ observations: [{{ entityName: "someone", contents: [contacts[0].phone] }}] }});
}} catch (error) {{
  console.log("caught", error.kind, error.message);
}}
await chat.echo({{ message: `hello ${{contacts[0].email}}` }});
console.log("not reached");"#
    );
    let results_before = run_ops_with_audit(
        config.path(),
        json!([
            execute(&show),
            execute(&allowed),
            execute(&same_server),
            execute(&denied)
        ]),
    );
    let (results, audit) = results_before;
    assert_eq!(results.len(), 4, "{results:?}");

    let shown = text(&results[0]);
    let first_email = tokens(&shown, "EMAIL");
    assert!(first_email.len() >= 4, "{shown}");
    for kind in ["NAME", "PHONE", "CARD", "SSN", "IP", "IBAN"] {
        assert!(
            !tokens(&shown, kind).is_empty(),
            "no {kind} token in {shown}"
        );
    }
    assert_eq!(structured(&results[0])["result"]["count"], 4);
    assert_eq!(structured(&results[0])["result"]["first"]["tier"], "gold");
    assert!(
        structured(&results[0])["stats"]["pii_tokenized"]
            .as_u64()
            .unwrap_or(0)
            >= 28
    );

    // The memory server holds the real values; what the agent saw of them is tokens.
    let memory = read(&memory_file);
    for contact in &CONTACTS[..2] {
        assert!(memory.contains(contact.name), "{memory}");
        assert!(memory.contains(contact.email), "{memory}");
    }
    let allowed_text = text(&results[1]);
    assert!(!tokens(&allowed_text, "NAME").is_empty(), "{allowed_text}");
    assert_eq!(structured(&results[1])["stats"]["pii_untokenized"], 4);
    assert!(structured(&results[1])["error"].is_null(), "{allowed_text}");

    let exported = read(&dir.join("export.txt"));
    for contact in &CONTACTS {
        assert!(exported.contains(contact.email), "{exported}");
        assert!(exported.contains(contact.card), "{exported}");
    }
    assert_eq!(text(&results[2]), "written\n");

    let denied_text = text(&results[3]);
    assert!(
        denied_text.starts_with("caught policy_denied "),
        "{denied_text}"
    );
    assert!(
        denied_text.contains(
            "privacy policy denies sending phone data from filesystem.read_text_file to memory.add_observations"
        ),
        "{denied_text}"
    );
    let error = &structured(&results[3])["error"];
    assert_eq!(error["type"], "PolicyDenied", "{denied_text}");
    let message = error["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("email data from filesystem.read_text_file to chat.echo"),
        "{message}"
    );
    assert!(!denied_text.contains("not reached"));
    assert_eq!(structured(&results[3])["stats"]["pii_denied"], 2);

    // The audit log names type, source and destination of every release, never a value.
    let released: Vec<&str> = audit
        .lines()
        .filter(|line| line.contains("pii_released"))
        .collect();
    assert_eq!(released.len(), 4 + 16, "{audit}");
    assert!(
        released.iter().any(|line| line.contains("kind=email")
            && line.contains("destination=memory.create_entities")),
        "{audit}"
    );
    assert_eq!(
        audit
            .lines()
            .filter(|line| line.contains("pii_flow_denied"))
            .count(),
        2,
        "{audit}"
    );
    for value in raw_values() {
        assert!(!audit.contains(value), "the audit log shows {value:?}");
    }

    // 5. Forged, sliced, encoded and cross-execution tokens never resolve: written to disk and
    //    echoed by the chat server as literal text.
    let old_token = first_email[0].clone();
    let forged = format!(
        r#"{read_contacts}import * as chat from "./servers/chat";
const token = contacts[0].email;
const b64 = (s) => {{ const t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"; let o = ""; for (let i = 0; i < s.length; i += 3) {{ const n = (s.charCodeAt(i) << 16) | ((s.charCodeAt(i + 1) || 0) << 8) | (s.charCodeAt(i + 2) || 0); o += t[(n >> 18) & 63] + t[(n >> 12) & 63] + (i + 1 < s.length ? t[(n >> 6) & 63] : "=") + (i + 2 < s.length ? t[n & 63] : "="); }} return o; }};
const fakes = [
  "[EMAIL_1]",
  token.replace(/_(\d+)_/, "_99_"),
  token.slice(0, -1),
  token.slice(1),
  token.slice(0, 7) + " " + token.slice(7),
  b64(token),
  token.toLowerCase(),
  {old_token:?},
];
await fs.writeFile({{ path: {}, content: fakes.join("\n") }});
const echoed = await chat.echo({{ message: fakes.join(" | ") }});
console.log(token === {old_token:?} ? "same token" : "new token");
console.log(echoed.message);"#,
        path("forged.txt")
    );
    let (results_after, _) = run_ops_with_audit(config.path(), json!([execute(&forged)]));
    let forged_text = text(&results_after[0]);
    assert!(forged_text.starts_with("new token\n"), "{forged_text}");
    assert!(forged_text.contains(&old_token), "{forged_text}");
    assert_eq!(structured(&results_after[0])["stats"]["pii_untokenized"], 0);
    let written = read(&dir.join("forged.txt"));
    assert_eq!(written.lines().count(), 8, "{written}");
    assert!(
        written.contains("[EMAIL_1]") && written.contains(&old_token),
        "{written}"
    );

    // Nothing the agent received contains a raw value (text, structured content, errors).
    let mut everything = results;
    everything.extend(results_after);
    for result in &everything {
        let seen = result.to_string() + &text(result);
        for value in raw_values() {
            assert!(!seen.contains(value), "the agent saw {value:?}: {seen}");
        }
        assert!(!seen.contains("grace.\u{200B}hopper"), "{seen}");
    }
    // ... while the real values are where they were allowed to go, and forged ones went nowhere.
    for value in raw_values() {
        assert!(
            !written.contains(value),
            "a forged token resolved to {value:?}"
        );
    }
}

/// Run ops against `sluice serve` with the audit log (`sluice::audit`) on; returns the results
/// and the audit lines.
/// Records as a failing tool repeats them in its error: JSON after a sentence, a Python-style
/// dict, `key=value` pairs; among them values that only their field or label identifies (names,
/// SSNs without dashes, bare and national phone numbers).
const FAILED_RECORDS: &str = "import failed for 2 records: [{\"name\": \"Ada Lovelace\", \"ssn\": \"536221234\", \"tel\": \"2125550143\"}, {\"full_name\": \"Grace Hopper\", \"national_id\": \"536221235\", \"mobile\": \"020 7946 0958\"}] / retrying {'cardholder_name': 'Alan Turing', 'tax_id': '536221236', 'ip': '81.2.69.160'} / last error: signed_by=\"Katherine Johnson\" SSN: 536221237 phone=+44 20 7946 0959";

const FAILED_RAW: [&str; 13] = [
    "Ada Lovelace",
    "536221234",
    "2125550143",
    "Grace Hopper",
    "536221235",
    "020 7946 0958",
    "Alan Turing",
    "536221236",
    "81.2.69.160",
    "Katherine Johnson",
    "536221237",
    "+44 20 7946 0959",
    "Lovelace",
];

#[test]
fn a_failing_tool_whose_error_repeats_records_leaks_no_raw_value_to_the_agent() {
    let config = write_config(
        McpConfig::new().server("chat", &fake_server(&[])),
        json!({}),
    );
    // The error is caught and logged, returned, and finally thrown uncaught.
    let code = format!(
        r#"import * as chat from "./servers/chat";
const records = {FAILED_RECORDS:?};
let caught = "";
try {{ await chat.fail({{ message: records }}); }} catch (error) {{
  caught = error.message;
  console.log("caught", error.kind, error.message);
}}
console.log(JSON.stringify({{ error: caught }}));
await chat.fail({{ message: records }});"#
    );
    let returned = format!(
        r#"import * as chat from "./servers/chat";
let value = null;
try {{ await chat.fail({{ message: {FAILED_RECORDS:?} }}); }} catch (error) {{
  value = {{ error: error.message, records: error.message.split(" / ") }};
}}
export default value;"#
    );
    let (results, _) =
        run_ops_with_audit(config.path(), json!([execute(&code), execute(&returned)]));
    assert_eq!(results.len(), 2, "{results:?}");
    for result in &results {
        let seen = result.to_string();
        for raw in FAILED_RAW {
            assert!(!seen.contains(raw), "{raw} reached the agent: {seen}");
        }
    }
    let shown = text(&results[0]);
    for kind in ["NAME", "SSN", "PHONE", "IP"] {
        assert!(
            !tokens(&shown, kind).is_empty(),
            "no {kind} token in {shown}"
        );
    }
}

fn run_ops_with_audit(config: &Path, ops: Value) -> (Vec<Value>, String) {
    let server = sluice_serve(config).env("SLUICE_LOG", "warn,sluice::audit=info");
    let run = run_python_client(&server, &ops);
    let results = run.output["results"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        run.output["error"].is_null(),
        "{}\n{}",
        run.output["error"],
        run.stderr
    );
    let audit = strip_ansi(&run.stderr)
        .lines()
        .filter(|line| line.contains("pii_released") || line.contains("pii_flow_denied"))
        .collect::<Vec<_>>()
        .join("\n");
    (results, audit)
}

/// The text without terminal colour sequences (`ESC [ ... m`).
fn strip_ansi(text: &str) -> String {
    let mut output = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for next in chars.by_ref() {
                if next.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            output.push(c);
        }
    }
    output
}

/// A demo server (`sluice demo server KIND`) as a config entry.
fn demo_server(kind: &str) -> Value {
    json!({"command": env!("CARGO_BIN_EXE_sluice"), "args": ["demo", "server", kind]})
}

/// The reference design's contacts workflow: 1,000 contacts from the documents server imported as
/// CRM leads by agent code. The CRM ends with the real values (it finds every lead when queried
/// by the real email); nothing the agent receives contains any raw name, email or phone; emails
/// from the CRM may not go to the chat server.
#[test]
fn contacts_import_keeps_every_raw_value_from_the_agent() {
    // The raw values, through a gateway with privacy off (the demo data is deterministic).
    let plain = write_config(
        McpConfig::new().entry("documents", demo_server("documents")),
        json!({"privacy": {"enabled": false}, "execution": {"outputBytes": 4_194_304}}),
    );
    let (raw, _) = run_ops_with_audit(
        plain.path(),
        json!([execute(
            r#"import * as documents from "./servers/documents";
const sheet = await documents.getSheet({ sheetId: "sheet-contacts" });
export default sheet.rows.map((row) => [row.name, row.email, row.phone]);"#
        )]),
    );
    let rows: Vec<Vec<String>> =
        serde_json::from_value(structured(&raw[0])["result"].clone()).unwrap_or_default();
    assert_eq!(rows.len(), 1_000, "{}", text(&raw[0]));
    let raw_values: Vec<&str> = rows.iter().flatten().map(String::as_str).collect();
    assert!(raw_values.iter().all(|value| value.len() >= 5));

    let config = write_config(
        McpConfig::new()
            .entry("documents", demo_server("documents"))
            .entry("crm", demo_server("crm"))
            .entry("chat", demo_server("chat")),
        json!({
            "execution": {"toolCalls": 5_000, "timeoutMs": 180_000},
            "callTimeoutMs": 120_000,
            "privacy": {"flows": [{"from": "documents.getSheet", "to": "crm", "allow": true}]}
        }),
    );
    let known = rows[..3]
        .iter()
        .map(|row| format!("{:?}", row[1]))
        .collect::<Vec<_>>()
        .join(", ");
    let import = format!(
        r#"import * as documents from "./servers/documents";
import * as crm from "./servers/crm";
const sheet = await documents.getSheet({{ sheetId: "sheet-contacts" }});
for (const row of sheet.rows) {{
  await crm.createRecord({{ objectType: "Lead", data: {{ Name: row.name, Email: row.email, Phone: row.phone, Company: row.company, Title: row.title }} }});
}}
// The CRM matches on what it stored: querying by each token (released as the real email, back
// to the CRM that has it) finds each lead once only if the CRM holds the real values.
let found = 0;
for (const row of sheet.rows) {{
  const {{ records }} = await crm.query({{ objectType: "Lead", where: {{ Email: row.email }} }});
  found += records.filter((lead) => lead.Name === row.name && lead.Phone === row.phone).length;
}}
// The test knows three raw emails (the agent would not): the CRM has those leads too.
let literal = 0;
for (const email of [{known}]) {{
  literal += (await crm.query({{ objectType: "Lead", where: {{ Email: email }} }})).records.length;
}}
console.log(`imported ${{sheet.rows.length}}, found ${{found}} by token, ${{literal}} by raw email`);
console.log(JSON.stringify(sheet.rows.slice(0, 2)));
export default {{ sample: sheet.rows[0] }};"#
    );
    let leak = r##"import * as crm from "./servers/crm";
import * as chat from "./servers/chat";
const { records } = await crm.query({ objectType: "Lead", limit: 3 });
console.log(JSON.stringify(records));
await chat.sendMessage({ channel: "#sales", text: `new lead: ${records[0].Email}` });"##;
    let (results, audit) = run_ops_with_audit(
        config.path(),
        json!([
            {"op": "call_tool", "name": "execute_code", "arguments": {"code": import, "timeout_ms": 180_000}, "timeout_s": 200},
            execute(leak),
        ]),
    );
    assert_eq!(results.len(), 2, "{results:?}");
    let imported = text(&results[0]);
    assert!(
        imported.starts_with("imported 1000, found 1000 by token, 3 by raw email\n"),
        "{imported}"
    );
    assert!(imported.contains("\"name\":\"[NAME_"), "{imported}");
    let stats = &structured(&results[0])["stats"];
    assert_eq!(stats["tool_calls"], 2_004);
    // 3 values per created lead, 1 per query by token.
    assert_eq!(stats["pii_untokenized"], 4_000, "{stats}");
    eprintln!("contacts import stats: {stats}");

    let leaked = text(&results[1]);
    let error = &structured(&results[1])["error"];
    assert_eq!(error["type"], "PolicyDenied", "{leaked}");
    assert!(
        error["message"]
            .as_str()
            .unwrap_or_default()
            .contains("email data from crm.query to chat.sendMessage"),
        "{leaked}"
    );
    assert!(leaked.contains("\"Email\":\"[EMAIL_"), "{leaked}");

    for result in &results {
        let seen = result.to_string() + &text(result);
        for value in &raw_values {
            assert!(!seen.contains(value), "the agent saw {value:?}");
        }
    }
    for value in &raw_values {
        assert!(!audit.contains(value), "the audit log shows {value:?}");
    }
    assert_eq!(
        audit
            .lines()
            .filter(|line| line.contains("pii_released"))
            .count(),
        4_000
    );
}
