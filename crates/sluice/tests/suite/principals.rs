//! Many principals on one `sluice serve --http` (issue 18, item 3), through real HTTP with real
//! tokens: "alice" holds a JWT access token of a real authorization server (`oidc-provider`,
//! subject `agent`), "bob" a static API token. Each gets its own workspace, skills, sessions,
//! audit trail and limits; each test shows one of them is not reachable from the other
//! principal, and that the owner can reach it (so the refusal is not a broken feature).

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use sluice_test_support::{McpConfig, everything_server};

use super::common::{audit_records, call, error_type, execute, text, write_config};
use super::http_auth::{API_TOKEN, API_TOKEN_SHA256, Issuers, token};
use super::serve_http::{HttpSluice, python_over_http, raw_request, session_headers};

/// A second static API token, and `printf %s ... | sha256sum` of it.
const CAROL_TOKEN: &str = "sluice-test-bob-token-0123456789";
const CAROL_SHA256: &str = "602a53444c5afe13d69e0075008f520382590381c639ce1faa16addbae0f1858";

struct Gateway {
    sluice: HttpSluice,
    data: tempfile::TempDir,
    _config: tempfile::NamedTempFile,
    _issuers: Issuers,
    /// `Bearer <JWT of subject agent>`.
    alice: String,
    /// `Bearer <API token ci-bot>`.
    bob: String,
}

impl Gateway {
    fn start(limits: Value) -> Gateway {
        let issuers = Issuers::start();
        let data = tempfile::tempdir().expect("data dir");
        let config = write_config(
            McpConfig::new().server("everything", &everything_server()),
            json!({
                "limits": {"perPrincipal": limits},
                "http": {"auth": {
                    "issuer": issuers.issuer,
                    "apiTokens": [
                        {"name": "ci-bot", "sha256": API_TOKEN_SHA256},
                        {"name": "carol", "sha256": CAROL_SHA256}
                    ]
                }}
            }),
        );
        let sluice = HttpSluice::start(config.path(), data.path(), &[]);
        let alice = format!(
            "Bearer {}",
            token(&issuers.issuer, "agent", &sluice.url, "mcp")
        );
        Gateway {
            sluice,
            data,
            _config: config,
            _issuers: issuers,
            alice,
            bob: format!("Bearer {API_TOKEN}"),
        }
    }

    /// Run `ops` as the principal of `authorization` with the Python SDK (one MCP session).
    fn run(&self, authorization: &str, ops: Value) -> Vec<Value> {
        let output = python_over_http(
            &self.sluice.url,
            "legacy",
            &[format!("Authorization={authorization}")],
            &ops,
        )
        .ok();
        output["results"].as_array().cloned().unwrap_or_default()
    }

    fn data(&self) -> &Path {
        self.data.path()
    }
}

/// `execute_code` with `code` in the MCP session `session`, over raw HTTP.
fn run_code(
    port: u16,
    authorization: &str,
    session: &str,
    id: u32,
    code: &str,
) -> super::serve_http::Reply {
    let body = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {
        "name": "execute_code", "arguments": {"code": code}}})
    .to_string();
    let mut headers = session_headers(session);
    headers.push(("Authorization", authorization));
    raw_request(port, "POST", "/mcp", &headers, Some(&body))
}

fn is_error(result: &Value) -> bool {
    result["isError"] == json!(true)
}

#[test]
fn a_principal_cannot_read_run_in_or_list_another_principals_workspace() {
    let gateway = Gateway::start(json!({}));
    let written = gateway.run(
        &gateway.alice,
        json!([
            execute(
                "import * as fs from 'fs/promises';\n\
                 await fs.writeFile('./workspace/alice-notes.txt', 'alice only');\n\
                 console.log((await fs.readdir('./workspace')).join(','));"
            ),
            call("read_file", json!({"path": "workspace/alice-notes.txt"})),
        ]),
    );
    assert_eq!(text(&written[0]), "alice-notes.txt\n", "{}", written[0]);
    assert!(text(&written[1]).contains("alice only"), "{}", written[1]);
    let bob = gateway.run(
        &gateway.bob,
        json!([
            call("read_file", json!({"path": "workspace/alice-notes.txt"})),
            call("list_files", json!({"path": "workspace"})),
            execute(
                "import * as fs from 'fs/promises';\n\
                 console.log(JSON.stringify(await fs.readdir('./workspace')));"
            ),
            execute(
                "import * as fs from 'fs/promises';\n\
                 console.log(await fs.readFile('./workspace/alice-notes.txt', 'utf8'));"
            ),
            // Out of its own workspace towards the others': refused by the path rules and the
            // worker's confinement.
            execute(
                "import * as fs from 'fs/promises';\n\
                 console.log(await fs.readdir('./workspace/../..'));"
            ),
        ]),
    );
    assert!(is_error(&bob[0]), "{}", bob[0]);
    assert!(!text(&bob[1]).contains("alice"), "{}", bob[1]);
    assert_eq!(text(&bob[2]), "[]\n", "{}", bob[2]);
    assert_eq!(error_type(&bob[3]), "RuntimeError", "{}", bob[3]);
    assert!(!text(&bob[3]).contains("alice only"), "{}", bob[3]);
    assert!(is_error(&bob[4]), "{}", bob[4]);
    // Each principal's folder is under principals/, and the owner's workspace holds neither.
    let principals: Vec<String> = std::fs::read_dir(gateway.data().join("principals"))
        .expect("principals/")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(principals.len(), 2, "{principals:?}");
    assert!(
        std::fs::read_dir(gateway.data().join("workspace"))
            .map(|entries| entries.count())
            .unwrap_or(0)
            == 0
    );
}

#[test]
fn a_principal_cannot_read_run_in_or_list_another_principals_skills() {
    let gateway = Gateway::start(json!({}));
    let skill = "export function aliceTotal(values: number[]) { return values.reduce((a, b) => a + b, 0); }";
    let saved = gateway.run(
        &gateway.alice,
        json!([
            call(
                "save_skill",
                json!({"name": "alice-total", "description": "Sum the quarterly revenue figures", "code": skill})
            ),
            execute(
                "import { aliceTotal } from './skills/alice-total';\nconsole.log(aliceTotal([1, 2, 3]));"
            ),
            call("search_tools", json!({"query": "sum quarterly revenue figures"})),
        ]),
    );
    assert!(!is_error(&saved[0]), "{}", saved[0]);
    assert_eq!(text(&saved[1]), "6\n", "{}", saved[1]);
    assert!(text(&saved[2]).contains("alice-total"), "{}", saved[2]);
    let bob = gateway.run(
        &gateway.bob,
        json!([
            call("search_tools", json!({"query": "sum quarterly revenue figures"})),
            call("list_files", json!({"path": "skills"})),
            call("read_file", json!({"path": "skills/alice-total/SKILL.md"})),
            execute(
                "import { aliceTotal } from './skills/alice-total';\nconsole.log(aliceTotal([1, 2, 3]));"
            ),
        ]),
    );
    assert!(!text(&bob[0]).contains("alice-total"), "{}", bob[0]);
    assert!(!text(&bob[1]).contains("alice-total"), "{}", bob[1]);
    assert!(is_error(&bob[2]), "{}", bob[2]);
    assert_eq!(error_type(&bob[3]), "ImportError", "{}", bob[3]);
    // Bob saves a skill of the same name: his own, which alice's is not replaced by.
    let bob_saved = gateway.run(
        &gateway.bob,
        json!([call(
            "save_skill",
            json!({"name": "alice-total", "description": "Bob's own", "code": "export const aliceTotal = () => 'bob';"})
        )]),
    );
    assert!(
        text(&bob_saved[0]).contains("version 1"),
        "{}",
        bob_saved[0]
    );
    let again = gateway.run(
        &gateway.alice,
        json!([execute(
            "import { aliceTotal } from './skills/alice-total';\nconsole.log(aliceTotal([2, 2]));"
        )]),
    );
    assert_eq!(text(&again[0]), "4\n", "{}", again[0]);
}

#[test]
fn a_principal_cannot_read_run_in_or_list_another_principals_sessions() {
    let gateway = Gateway::start(json!({}));
    let port = gateway.sluice.port;
    // An MCP session of alice's, named by bob: 404, as for a session that does not exist.
    let session =
        super::serve_http::open_session(port, &[("Authorization", gateway.alice.as_str())]);
    let define = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
        "name": "execute_code",
        "arguments": {"code": "globalThis.secret = 'alice-state'; console.log('set');", "session": "work"}}})
    .to_string();
    let mut headers = session_headers(&session);
    headers.push(("Authorization", gateway.alice.as_str()));
    let reply = raw_request(port, "POST", "/mcp", &headers, Some(&define));
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(reply.body.contains("set"), "{reply:?}");
    let read = |id: u32| {
        json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {
            "name": "execute_code",
            "arguments": {"code": "console.log(String(globalThis.secret));", "session": "work"}}})
        .to_string()
    };
    let mut bob_headers = session_headers(&session);
    bob_headers.push(("Authorization", gateway.bob.as_str()));
    for method in ["POST", "GET", "DELETE"] {
        let body = (method == "POST").then(|| read(3));
        let reply = raw_request(port, method, "/mcp", &bob_headers, body.as_deref());
        assert_eq!(reply.status, 404, "{method}: {reply:?}");
        assert!(!reply.body.contains("alice-state"), "{reply:?}");
    }
    // The owner still has it: the refusal was about who asked.
    let reply = raw_request(port, "POST", "/mcp", &headers, Some(&read(4)));
    assert!(reply.body.contains("alice-state"), "{reply:?}");
    // An execute_code session id is per principal: bob's "work" is a new, empty session, also
    // with the sessionless protocol (where each principal has one shared client).
    for mode in ["legacy", "auto"] {
        let output = python_over_http(
            &gateway.sluice.url,
            mode,
            &[format!("Authorization={}", gateway.bob)],
            &json!([call(
                "execute_code",
                json!({"code": "console.log(String(globalThis.secret));", "session": "work"})
            )]),
        )
        .ok();
        assert_eq!(
            text(&output["results"][0]),
            "undefined\n",
            "{mode}: {output}"
        );
    }
}

#[test]
fn a_principal_cannot_read_or_list_the_audit_records_and_every_record_names_its_principal() {
    let gateway = Gateway::start(json!({}));
    let alice = gateway.run(
        &gateway.alice,
        json!([execute(
            "import * as everything from './servers/everything';\n\
             console.log(await everything.echo({ message: 'alice was here' }));"
        )]),
    );
    assert_eq!(text(&alice[0]), "Echo: alice was here\n", "{}", alice[0]);
    let bob = gateway.run(
        &gateway.bob,
        json!([
            call("list_files", json!({"path": ""})),
            call("read_file", json!({"path": "audit/audit.jsonl"})),
            call("list_files", json!({"path": "audit"})),
            execute(
                "import * as fs from 'fs/promises';\n\
                 console.log(await fs.readFile('./workspace/../../../audit/audit.jsonl', 'utf8'));"
            ),
            execute(
                "import * as fs from 'fs/promises';\nconsole.log(await fs.readFile('/proc/self/cwd/audit/audit.jsonl', 'utf8'));"
            ),
        ]),
    );
    assert!(!text(&bob[0]).contains("audit"), "{}", bob[0]);
    assert!(is_error(&bob[1]), "{}", bob[1]);
    assert!(is_error(&bob[2]), "{}", bob[2]);
    for result in &bob[3..] {
        assert!(is_error(result), "{result}");
        assert!(!text(result).contains("alice was here"), "{result}");
    }
    // The operator's log names the principal of every record.
    let records = audit_records(gateway.data());
    assert!(records.len() >= 4, "{records:?}");
    for record in &records {
        let principal = record["principal"].as_str().unwrap_or("<none>");
        assert!(
            principal == "jwt:agent" || principal == "token:ci-bot",
            "{record}"
        );
    }
    let alice_calls = records
        .iter()
        .filter(|record| record["kind"] == "tool_call" && record["principal"] == "jwt:agent")
        .count();
    assert_eq!(alice_calls, 1, "{records:?}");
    // `sluice audit --principal` shows one principal's records only.
    let output = super::common::sluice_command()
        .args([
            "audit",
            "--json",
            "--principal",
            "token:ci-bot",
            "--data-dir",
        ])
        .arg(gateway.data())
        .output()
        .expect("sluice audit");
    let shown = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{shown}");
    assert!(!shown.contains("jwt:agent"), "{shown}");
    assert!(shown.contains("token:ci-bot"), "{shown}");
}

/// `sluice.limits.perPrincipal`: executions per minute and at once are refused at the HTTP layer
/// with 429 and `Retry-After`; tool calls per minute with a retryable `ToolError` that says when.
/// Another principal is not affected.
#[test]
fn per_principal_limits_refuse_with_when_to_retry() {
    let gateway = Gateway::start(json!({
        "concurrentExecutions": 1, "executionsPerMinute": 3, "toolCallsPerMinute": 2
    }));
    let port = gateway.sluice.port;
    let bob: &'static str = Box::leak(gateway.bob.clone().into_boxed_str());
    let carol: &'static str = Box::leak(format!("Bearer {CAROL_TOKEN}").into_boxed_str());
    let run = move |authorization: &str, session: &str, id: u32, code: &str| {
        run_code(port, authorization, session, id, code)
    };
    let bob_session = super::serve_http::open_session(port, &[("Authorization", bob)]);
    // Tool calls per minute: the third call of the minute throws a retryable rate_limited.
    let calls = run(
        bob,
        &bob_session,
        2,
        "import * as everything from './servers/everything';\n\
         const seen = [];\n\
         for (let i = 0; i < 3; i++) {\n\
           try { await everything.echo({ message: 'x' }); seen.push('ok'); }\n\
           catch (e) { seen.push(`${e.kind} ${e.retryable} ${e.message}`); }\n\
         }\n\
         console.log(seen.join('\\n'));",
    );
    assert_eq!(calls.status, 200, "{calls:?}");
    assert!(
        calls.body.contains("ok\\nok\\nrate_limited true"),
        "{calls:?}"
    );
    assert!(calls.body.contains("toolCallsPerMinute"), "{calls:?}");
    assert!(calls.body.contains("retry in "), "{calls:?}");
    // Executions at once: while one runs, the next is refused before it runs.
    let slow = {
        let session = bob_session.clone();
        std::thread::spawn(move || {
            run(
                bob,
                &session,
                3,
                "await new Promise((resolve) => setTimeout(resolve, 3000)); console.log('slow done');",
            )
        })
    };
    std::thread::sleep(Duration::from_millis(1_000));
    let busy = run(bob, &bob_session, 4, "console.log('second');");
    assert_eq!(busy.status, 429, "{busy:?}");
    assert_eq!(busy.header("retry-after"), Some("1"), "{busy:?}");
    assert!(busy.body.contains("concurrentExecutions"), "{busy:?}");
    let slow = slow.join().expect("the slow execution");
    assert!(slow.body.contains("slow done"), "{slow:?}");
    let third = run(bob, &bob_session, 5, "console.log('third');");
    assert!(third.body.contains("third"), "{third:?}");
    // Executions per minute: three were started, the fourth is refused with when to retry.
    let fourth = run(bob, &bob_session, 6, "console.log('fourth');");
    assert_eq!(fourth.status, 429, "{fourth:?}");
    let retry: u64 = fourth
        .header("retry-after")
        .and_then(|value| value.parse().ok())
        .expect("Retry-After seconds");
    assert!((1..=20).contains(&retry), "{fourth:?}");
    assert!(fourth.body.contains("executionsPerMinute"), "{fourth:?}");
    // Another principal has its own allowance.
    let carol_session = super::serve_http::open_session(port, &[("Authorization", carol)]);
    let other = run(carol, &carol_session, 2, "console.log('carol runs');");
    assert_eq!(other.status, 200, "{other:?}");
    assert!(other.body.contains("carol runs"), "{other:?}");
    // The refused executions never ran: the audit log has bob's three executions only.
    let executions = audit_records(gateway.data())
        .into_iter()
        .filter(|record| record["kind"] == "execution" && record["principal"] == "token:ci-bot")
        .count();
    assert_eq!(executions, 3);
}
