//! Attacks on the privacy layer through a real `sluice serve` (Python MCP SDK client): the vault
//! as an oracle (guessed values sent through a reflecting tool and compared with a target's
//! token), personal data in the workspace shown by `read_file`/`list_files`, and a trusted
//! server's values reaching the model or the audit log unscanned. Each checks containment, that
//! the next execution works, and the audit record.

use std::path::Path;

use serde_json::{Value, json};
use sluice_test_support::{McpConfig, fake_server, filesystem_server};

use super::common::{
    audit_records, call, execute, run_ops_with_data, structured, text, write_config,
};

const TARGET_NAME: &str = "Ada Lovelace";
const TARGET_EMAIL: &str = "ada.lovelace@example.com";
const TARGET_PHONE: &str = "+1 212 555 0143";
const TARGET_CARD: &str = "4111 1111 1111 1111";

/// Both attacks' ground: a contacts file the filesystem server serves, a data folder, and a
/// config with that server and a chat server whose `echo` reflects text, plus `settings`.
struct Ground {
    /// Holds the contacts file.
    _files: tempfile::TempDir,
    data: tempfile::TempDir,
    /// The contacts file's path.
    contacts: String,
    config: tempfile::NamedTempFile,
}

fn ground(settings: Value) -> Ground {
    let files = tempfile::tempdir().expect("tempdir");
    let dir = files.path().canonicalize().expect("canonical tempdir");
    let contacts = contacts(&dir);
    let config = write_config(
        McpConfig::new()
            .server("filesystem", &filesystem_server([&dir]))
            .server("chat", &fake_server(&[])),
        settings,
    );
    Ground {
        _files: files,
        data: tempfile::tempdir().expect("data dir"),
        contacts,
        config,
    }
}

fn contacts(dir: &Path) -> String {
    let path = dir.join("contacts.json");
    let contacts = json!({"contacts": [
        {"name": TARGET_NAME, "email": TARGET_EMAIL, "phone": TARGET_PHONE, "card": TARGET_CARD},
        {"name": "Grace Hopper", "email": "grace@navy.example.org", "phone": "+44 20 7946 0958"}
    ]});
    std::fs::write(&path, contacts.to_string()).expect("write contacts");
    path.display().to_string()
}

/// The target's phone and email reach the code as tokens; the code then sends 50 guessed phone
/// numbers and emails (the right ones among them) and the target's name through the chat
/// server's `echo`, in clear, in one call and one by one, and logs them: no reflected guess, and
/// nothing in the output, carries the target's token. Over `maxClearValues` guesses a call is
/// refused (`privacy_budget`, audited), and the next execution works.
#[test]
fn guesses_through_a_reflecting_tool_never_match_a_tokenized_value() {
    let Ground {
        _files,
        data,
        contacts,
        config,
    } = ground(json!({"privacy": {"maxClearValues": 120}}));
    let attack = format!(
        r#"import * as fs from "./servers/filesystem";
import * as chat from "./servers/chat";
const file = await fs.readTextFile({{ path: {contacts:?} }});
const target = JSON.parse(file.content).contacts[0];
const phones = Array.from({{ length: 50 }}, (_, n) => `+1 212 555 ${{String(100 + n).padStart(4, "0")}}`);
const emails = Array.from({{ length: 50 }}, (_, n) => n === 7 ? {TARGET_EMAIL:?} : `someone${{n}}@example.com`);
const guesses = [...phones, ...emails, {TARGET_NAME:?}];
const together = (await chat.echo({{ message: guesses.join(" | ") }})).message.split(" | ");
let matches = 0;
for (let n = 0; n < guesses.length; n++) {{
  const one = (await chat.echo({{ message: guesses[n] }})).message;
  if ([target.phone, target.email, target.name].includes(one)) matches++;
  if ([target.phone, target.email, target.name].includes(together[n])) matches++;
}}
console.log(`tokens ${{target.phone}} ${{target.email}} ${{target.name}}`);
console.log(`matches ${{matches}}`);
console.log(`guess 43 ${{guesses[43]}}, echoed ${{together[43]}}`);
console.log(`guess 57 ${{guesses[57]}}, echoed ${{together[57]}}`);"#
    );
    let flood = r#"import * as chat from "./servers/chat";
const many = Array.from({ length: 200 }, (_, n) => `guess${n}@example.com`).join(" ");
try { await chat.echo({ message: many }); } catch (error) { console.log("refused", error.kind); }"#;
    let next = r#"import * as chat from "./servers/chat";
console.log((await chat.echo({ message: "still working" })).message);"#;
    let results = run_ops_with_data(
        config.path(),
        data.path(),
        json!([execute(&attack), execute(flood), execute(next)]),
    );
    assert_eq!(results.len(), 3, "{results:?}");
    let shown = text(&results[0]);
    assert!(shown.contains("matches 0\n"), "{shown}");
    let tokens = shown
        .lines()
        .find_map(|line| line.strip_prefix("tokens "))
        .unwrap_or_default();
    assert!(tokens.starts_with("[PHONE_"), "{shown}");
    // What the model reads shows no target token next to a guess: the guesses it wrote are
    // shown as a token of the execution's own, or as written (a name), never as the target's.
    for token in tokens.split(' ') {
        assert_eq!(shown.matches(token).count(), 1, "{token} in {shown}");
    }
    assert!(structured(&results[0])["error"].is_null(), "{shown}");
    for raw in [TARGET_EMAIL, TARGET_PHONE, TARGET_CARD] {
        assert!(!shown.contains(raw), "the agent saw {raw}: {shown}");
    }

    let flooded = text(&results[1]);
    assert_eq!(flooded, "refused privacy_budget\n", "{flooded}");
    assert_eq!(text(&results[2]), "still working\n");

    let records = audit_records(data.path());
    assert!(
        records.iter().any(|record| record["kind"] == "tool_call"
            && record["tool"] == "echo"
            && record["outcome"] == "privacy_budget"),
        "no audit record of the refused call"
    );
    let log = std::fs::read_to_string(data.path().join("audit/audit.jsonl")).unwrap_or_default();
    for raw in [TARGET_PHONE, TARGET_CARD] {
        assert!(!log.contains(raw), "the audit log shows {raw}");
    }
}

/// A trusted server's results reach code in clear; code saves them in the workspace, names a
/// file after an email, logs a phone number followed by a card number and a phone number cut by
/// the output limit, and has a trusted tool fail with an email in its message. `read_file`,
/// `list_files`, the output and the audit log show tokens, never the values.
#[test]
fn trusted_values_are_scanned_on_every_path_the_model_or_the_audit_log_sees() {
    let Ground {
        _files,
        data,
        contacts,
        config,
    } = ground(json!({
        "privacy": {"trustedServers": ["filesystem", "chat"]},
        "execution": {"outputBytes": 400}
    }));
    let save = format!(
        r#"import * as fs from "./servers/filesystem";
import * as chat from "./servers/chat";
import {{ writeFile }} from "fs/promises";
const file = await fs.readTextFile({{ path: {contacts:?} }});
const [ada] = JSON.parse(file.content).contacts;
await writeFile("./workspace/contacts.json", file.content);
await writeFile("./workspace/contacts.txt", `${{ada.email}}; ${{ada.phone}}`);
await writeFile(`./workspace/${{ada.email}}.txt`, "notes");
try {{ await chat.fail({{ message: `no mailbox ${{ada.email}} (${{ada.name}})` }}); }} catch (error) {{ console.log("failed", error.kind); }}
console.log(`${{ada.phone}} ${{ada.card}}`);
console.log("x".repeat(345) + " " + ada.phone);"#
    );
    let next = r#"console.log("next");"#;
    let results = run_ops_with_data(
        config.path(),
        data.path(),
        json!([
            execute(&save),
            call("read_file", json!({"path": "workspace/contacts.json"})),
            call("list_files", json!({"path": "workspace"})),
            call(
                "read_file",
                json!({"path": format!("workspace/{TARGET_EMAIL}.missing")})
            ),
            execute(next)
        ]),
    );
    assert_eq!(results.len(), 5, "{results:?}");
    let output = text(&results[0]);
    assert!(output.starts_with("failed tool\n[PHONE_"), "{output}");
    assert!(output.contains("] [CARD_"), "{output}");
    assert!(output.contains("[output truncated"), "{output}");
    let file = text(&results[1]);
    assert!(file.contains("\"name\":\"[NAME_"), "{file}");
    assert!(
        file.contains("[EMAIL_") && file.contains("[PHONE_"),
        "{file}"
    );
    assert!(file.contains("[CARD_"), "{file}");
    let listing = text(&results[2]);
    assert!(listing.contains("[EMAIL_"), "{listing}");
    assert!(listing.contains("contacts.json"), "{listing}");
    let missing = text(&results[3]);
    assert!(missing.contains("[EMAIL_"), "{missing}");
    assert_eq!(text(&results[4]), "next\n");

    let log = std::fs::read_to_string(data.path().join("audit/audit.jsonl")).unwrap_or_default();
    assert!(
        audit_records(data.path())
            .iter()
            .any(|record| record["tool"] == "fail"
                && record["error"]
                    .as_str()
                    .is_some_and(|error| error.contains("[EMAIL_"))),
        "{log}"
    );
    for result in &results {
        let seen = result.to_string() + &text(result);
        for raw in [
            TARGET_NAME,
            TARGET_EMAIL,
            TARGET_PHONE,
            TARGET_CARD,
            "+1 212",
            "0143",
        ] {
            assert!(!seen.contains(raw), "the agent saw {raw:?}: {seen}");
        }
    }
    for raw in [TARGET_NAME, TARGET_EMAIL, TARGET_PHONE, TARGET_CARD] {
        assert!(!log.contains(raw), "the audit log shows {raw:?}");
    }
}
