//! Tests of `tokenize.rs`.

use serde_json::json;

use super::*;

fn tokenizer() -> Tokenizer {
    Tokenizer::new(&DetectorConfig::default()).unwrap()
}

fn source() -> Origin {
    Origin::Tool(ToolRef::new("documents", "getSheet"))
}

fn allow_all(_: PiiType, _: &Origin, _: &ToolRef) -> bool {
    true
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut output = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .fold(0u32, |n, byte| (n << 8) | u32::from(*byte))
            << (8 * (3 - chunk.len()));
        for index in 0..=chunk.len() {
            output.push(ALPHABET[((n >> (18 - 6 * index)) & 63) as usize] as char);
        }
        output.push_str(&"=".repeat(3 - chunk.len()));
    }
    output
}

#[test]
fn text_values_become_stable_typed_tokens() {
    let t = tokenizer();
    let mut vault = Vault::new();
    let result = t.tokenize_text(
        &mut vault,
        "ada@example.com called +1 212 555 0123; ada@example.com again",
        &source(),
    );
    assert_eq!(result.text, "[EMAIL_1] called [PHONE_1]; [EMAIL_1] again");
    assert_eq!(result.count, 3);
    let again = t.tokenize_text(&mut vault, "bob@example.com, ada@example.com", &source());
    assert_eq!(again.text, "[EMAIL_2], [EMAIL_1]");
    let clean = t.tokenize_text(&mut vault, "nothing here", &source());
    assert!(matches!(clean.text, Cow::Borrowed(_)));
}

#[test]
fn obfuscated_values_are_replaced_whole_and_share_the_token() {
    let t = tokenizer();
    let mut vault = Vault::new();
    let plain = t.tokenize_text(&mut vault, "ada@example.com", &source());
    let hidden = t.tokenize_text(
        &mut vault,
        "x ａｄ\u{200B}ａ＠ｅｘａｍｐｌｅ．ｃｏｍ y",
        &source(),
    );
    assert_eq!(plain.text, "[EMAIL_1]");
    assert_eq!(hidden.text, "x [EMAIL_1] y");
    assert_eq!(vault.len(), 1);
}

#[test]
fn json_values_keys_names_and_numbers() {
    let t = tokenizer();
    let mut vault = Vault::with_tag("t1").unwrap();
    let mut value = json!({
        "rows": [
            {"name": "Ada Lovelace", "email": "ada@example.com", "phone": "2125550123", "company": "Acme Corp"},
            {"firstName": "Grace", "lastName": "Hopper", "card": 4111111111111111u64}
        ],
        "byEmail": {"ada@example.com": 1},
        "summary": "Ada Lovelace and Grace Hopper joined",
        "files": [{"name": "Q4 Planning Notes", "mimeType": "text/plain"}],
        "version": "1.2.3.4",
        "count": 2
    });
    let count = t.tokenize_value(&mut vault, &mut value, &source());
    assert_eq!(
        value,
        json!({
            "rows": [
                {"name": "[NAME_1_t1]", "email": "[EMAIL_1_t1]", "phone": "[PHONE_1_t1]", "company": "Acme Corp"},
                {"firstName": "[NAME_2_t1]", "lastName": "[NAME_3_t1]", "card": "[CARD_1_t1]"}
            ],
            "byEmail": {"[EMAIL_1_t1]": 1},
            "summary": "[NAME_1_t1] and [NAME_2_t1] [NAME_3_t1] joined",
            "files": [{"name": "Q4 Planning Notes", "mimeType": "text/plain"}],
            "version": "1.2.3.4",
            "count": 2
        })
    );
    assert_eq!(count, 10);
    // Names seen in a field are then hidden in free text too: of the same server, with the
    // same token; of another server, with that server's token.
    let log = t.tokenize_text(&mut vault, "Grace met Ada Lovelace", &source());
    assert_eq!(log.text, "[NAME_2_t1] met [NAME_1_t1]");
    let chat = Origin::Tool(ToolRef::new("chat", "history"));
    let other = t.tokenize_text(&mut vault, "Ada Lovelace joined", &chat);
    assert_eq!(other.text, "[NAME_4_t1] joined");
    // The execution's own text matches only its own namespace: a name the code wrote is
    // left as it is, so logging a guess never shows a result's token.
    let log = t.tokenize_text(&mut vault, "Grace met Ada Lovelace", &Origin::Unattributed);
    assert_eq!(log.text, "Grace met Ada Lovelace");
}

#[test]
fn names_in_json_text_are_found_and_formatting_kept() {
    let t = tokenizer();
    let mut vault = Vault::new();
    let text = "{\n  \"contacts\": [\n    {\"name\": \"Ada Lovelace\", \"email\": \"ada@example.com\", \"mobile\": \"2125550123\"}\n  ]\n}";
    let mut value = json!({"content": text});
    t.tokenize_value(&mut vault, &mut value, &source());
    assert_eq!(
        value["content"],
        "{\n  \"contacts\": [\n    {\"name\": \"[NAME_1]\", \"email\": \"[EMAIL_1]\", \"mobile\": \"[PHONE_1]\"}\n  ]\n}"
    );
}

#[test]
fn untokenize_resolves_exact_tokens_of_this_vault_only() {
    let t = tokenizer();
    let mut vault = Vault::with_tag("aaaa").unwrap();
    let mut other = Vault::with_tag("bbbb").unwrap();
    let token = t
        .tokenize_text(&mut vault, "ada@example.com", &source())
        .text
        .into_owned();
    let foreign = t
        .tokenize_text(&mut other, "eve@example.com", &source())
        .text
        .into_owned();
    assert_eq!(token, "[EMAIL_1_aaaa]");
    assert_eq!(foreign, "[EMAIL_1_bbbb]");
    let destination = ToolRef::new("crm", "createRecord");
    let pieces = [
        format!("to: {token}"),
        token[..token.len() - 1].to_owned(),
        token[1..].to_owned(),
        format!("{}|{}", &token[..6], &token[6..]),
        base64(token.as_bytes()),
        token.to_lowercase(),
        token.replace('[', "［").replace(']', "］"),
        "[EMAIL_1]".to_owned(),
        "[EMAIL_2_aaaa]".to_owned(),
        foreign.clone(),
        format!("[{token}]"),
    ];
    let mut value = json!(pieces);
    let releases = t
        .untokenize_value(&vault, &mut value, &destination, &mut allow_all)
        .unwrap();
    let mut expected = json!(pieces);
    expected[0] = json!("to: ada@example.com");
    expected[10] = json!("[ada@example.com]");
    assert_eq!(value, expected);
    assert_eq!(releases.len(), 2);
    assert_eq!(releases[0].kind, PiiType::Email);
    assert_eq!(releases[0].origin, source());
    assert_eq!(releases[0].destination, destination);
    // Keys too.
    let mut keyed = json!({token.clone(): true});
    t.untokenize_value(&vault, &mut keyed, &destination, &mut allow_all)
        .unwrap();
    assert_eq!(keyed, json!({"ada@example.com": true}));
}

#[test]
fn denied_flows_name_type_origin_and_destination_never_the_value() {
    let t = tokenizer();
    let mut vault = Vault::with_tag("q7").unwrap();
    let mut value = json!({"email": "ada@example.com", "phone": "+1 212 555 0123"});
    t.tokenize_value(&mut vault, &mut value, &source());
    let mut arguments = json!({"to": "[EMAIL_1_q7]", "text": "call [PHONE_1_q7]"});
    let destination = ToolRef::new("chat", "sendMessage");
    let mut only_emails = |kind: PiiType, _: &Origin, _: &ToolRef| kind == PiiType::Email;
    let error = t
        .untokenize_value(&vault, &mut arguments, &destination, &mut only_emails)
        .unwrap_err();
    assert_eq!(error.kind, PiiType::Phone);
    let message = error.to_string();
    assert!(message.contains("phone"), "{message}");
    assert!(message.contains("documents.getSheet"), "{message}");
    assert!(message.contains("chat.sendMessage"), "{message}");
    assert!(message.contains("[PHONE_1_q7]"), "{message}");
    assert!(!message.contains("555"), "{message}");
}

#[test]
fn policy_decides_per_origin() {
    let t = tokenizer();
    let mut vault = Vault::new();
    t.tokenize_text(&mut vault, "ada@example.com", &source());
    let policy = crate::Policy::default();
    let mut allow = |kind: PiiType, origin: &Origin, destination: &ToolRef| {
        policy.allows(kind, origin, destination)
    };
    let mut back = json!("[EMAIL_1]");
    t.untokenize_value(
        &vault,
        &mut back,
        &ToolRef::new("documents", "share"),
        &mut allow,
    )
    .unwrap();
    assert_eq!(back, json!("ada@example.com"));
    let mut away = json!("[EMAIL_1]");
    assert!(
        t.untokenize_value(
            &vault,
            &mut away,
            &ToolRef::new("crm", "createRecord"),
            &mut allow
        )
        .is_err()
    );
    // Seen at the CRM too: the CRM's token may go back there, the documents' token still not.
    let crm = t.tokenize_text(
        &mut vault,
        "ada@example.com",
        &Origin::Tool(ToolRef::new("crm", "query")),
    );
    assert_eq!(crm.text, "[EMAIL_2]");
    let mut now = json!("[EMAIL_2]");
    t.untokenize_value(
        &vault,
        &mut now,
        &ToolRef::new("crm", "createRecord"),
        &mut allow,
    )
    .unwrap();
    let mut still = json!("[EMAIL_1]");
    assert!(
        t.untokenize_value(
            &vault,
            &mut still,
            &ToolRef::new("crm", "createRecord"),
            &mut allow
        )
        .is_err()
    );
}

#[test]
fn reflected_guesses_come_back_as_sent_and_joins_keep_working() {
    let t = tokenizer();
    let mut vault = Vault::with_tag("g1").unwrap();
    let get = ToolRef::new("crm", "get");
    let search = ToolRef::new("crm", "search");
    let echo = ToolRef::new("crm", "echo");
    let mut target =
        json!({"name": "Ada Lovelace", "phone": "+1 212 555 0143", "email": "ada@example.com"});
    t.tokenize_result(&mut vault, &mut target, &get, &Supplied::none());
    assert_eq!(
        target,
        json!({"name": "[NAME_1_g1]", "phone": "[PHONE_1_g1]", "email": "[EMAIL_1_g1]"})
    );
    // Guesses sent in clear, one of them right, reflected by a tool of the same server.
    let guesses =
        json!({"message": "+1 212 555 0142 +1 212 555 0143 Ada Lovelace ada@example.com"});
    let supplied = t.supplied(&vault, &guesses);
    assert_eq!(supplied.len(), 4);
    let mut echoed = guesses.clone();
    t.tokenize_result(&mut vault, &mut echoed, &echo, &supplied);
    assert_eq!(echoed, guesses, "nothing the code sent is replaced");
    // The server's own values still join across its tools.
    let mut again = json!([{"contact": {"name": "Ada Lovelace", "phone": "+1 212 555 0143"}, "email": "ada@example.com"}]);
    t.tokenize_result(&mut vault, &mut again, &search, &Supplied::none());
    assert_eq!(
        again,
        json!([{"contact": {"name": "[NAME_1_g1]", "phone": "[PHONE_1_g1]"}, "email": "[EMAIL_1_g1]"}])
    );
    // Tokens in the arguments are not values the code supplied.
    let released = json!({"to": "[EMAIL_1_g1]", "phone": "[PHONE_1_g1]"});
    assert!(t.supplied(&vault, &released).is_empty());
    // Values supplied by field (a phone field, a name field) count too.
    let by_field =
        json!({"phone": "2125550143", "contact": {"firstName": "Ada", "lastName": "Lovelace"}});
    assert_eq!(t.supplied(&vault, &by_field).len(), 3);
}

#[test]
fn trusted_values_are_registered_in_the_code_namespace() {
    let t = tokenizer();
    let mut vault = Vault::with_tag("tr").unwrap();
    let hr = ToolRef::new("hr", "list");
    let value = json!({"people": [{"name": "Ada Lovelace", "mobile": "2125550143"}]});
    let found = t.register_trusted(&mut vault, &value, &hr);
    assert_eq!(found, 2);
    // Found in free text the way the result path would find them, by the execution's scan.
    let log = t.tokenize_text(
        &mut vault,
        "call Ada Lovelace at 2125550143",
        &Origin::Unattributed,
    );
    assert_eq!(log.text, "call [NAME_1_tr] at [PHONE_1_tr]");
}

#[test]
fn round_trip_restores_the_original_value() {
    let t = tokenizer();
    let mut vault = Vault::with_tag("rt").unwrap();
    let original = json!({
        "contacts": [{"name": "Ada Lovelace", "email": "ada@example.com", "phone": "+1 212 555 0123",
                      "iban": "DE89 3704 0044 0532 0130 00", "ssn": "536-22-1234", "ip": "10.0.0.7"}],
        "note": "card 4111 1111 1111 1111"
    });
    let mut value = original.clone();
    t.tokenize_value(&mut vault, &mut value, &source());
    assert!(!value.to_string().contains("Lovelace"));
    t.untokenize_value(&vault, &mut value, &ToolRef::new("x", "y"), &mut allow_all)
        .unwrap();
    assert_eq!(value, original);
}

#[test]
fn a_phone_number_followed_by_a_card_number_is_found_in_free_text() {
    let t = tokenizer();
    let mut vault = Vault::new();
    for (text, expected) in [
        ("+1 212 555 0143 4111 1111 1111 1111", "[PHONE_1] [CARD_1]"),
        (
            "call +44 20 7946 0958 5555 5555 5555 4444 now",
            "call [PHONE_2] [CARD_2] now",
        ),
    ] {
        let found = t.tokenize_text(&mut vault, text, &Origin::Unattributed);
        assert_eq!(found.text, expected);
    }
}
