//! Tests of `vault.rs`.

use super::*;

fn origin() -> Origin {
    Origin::Tool(ToolRef::new("crm", "query"))
}

#[test]
fn same_value_same_token_numbered_per_type() {
    let mut vault = Vault::new();
    assert_eq!(
        vault.token_for(PiiType::Email, "a@x.com", &origin()),
        "[EMAIL_1]"
    );
    assert_eq!(
        vault.token_for(PiiType::Email, "b@x.com", &origin()),
        "[EMAIL_2]"
    );
    assert_eq!(
        vault.token_for(PiiType::Phone, "+1 212 555 0123", &origin()),
        "[PHONE_1]"
    );
    assert_eq!(
        vault.token_for(PiiType::Email, "a@x.com", &origin()),
        "[EMAIL_1]"
    );
    let other = Origin::Tool(ToolRef::new("crm", "get"));
    vault.token_for(PiiType::Email, "a@x.com", &other);
    let entry = vault.resolve("[EMAIL_1]").unwrap();
    assert_eq!(entry.value(), "a@x.com");
    assert_eq!(entry.origins(), [origin(), other]);
    assert_eq!(vault.len(), 3);
}

#[test]
fn tags_are_checked_and_used() {
    let mut vault = Vault::with_tag("k7qm").unwrap();
    assert_eq!(
        vault.token_for(PiiType::Ip, "10.0.0.1", &origin()),
        "[IP_1_k7qm]"
    );
    assert!(vault.resolve("[IP_1]").is_none());
    assert!(Vault::with_tag("K7").is_err());
    assert!(Vault::with_tag("").is_err());
    assert!(Vault::with_tag("abcdefghi").is_err());
}

#[test]
fn literals_match_at_word_boundaries() {
    let mut vault = Vault::new();
    let crm = Origin::Tool(ToolRef::new("crm", "query"));
    let sight = Sight::of(&crm);
    vault.issue(PiiType::Name, "Ada Lovelace", &sight, true);
    vault.issue(PiiType::Name, "Al", &sight, true);
    let text = "Met Ada Lovelace and Al; not Ada Lovelaces.";
    let found = vault.literal_matches(text, None);
    assert_eq!(found.len(), 1);
    assert_eq!(&text[found[0].0.clone()], "Ada Lovelace");
    // The execution's own text matches only literals of the code namespace.
    assert!(
        vault
            .literal_matches(text, Some(&Sight::Execution))
            .is_empty()
    );
}

#[test]
fn literals_are_found_among_words_of_any_script() {
    let mut vault = Vault::new();
    let crm = Origin::Tool(ToolRef::new("crm", "query"));
    let sight = Sight::of(&crm);
    vault.issue(PiiType::Name, "Zoë Müller", &sight, true);
    vault.issue(PiiType::Name, "王秀英", &sight, true);
    vault.issue(PiiType::Phone, "(212) 555-0123", &sight, true);
    let text = "Éric, zoë müller, Zoë Müller; 王秀英は (212) 555-0123 — Zoë Müllers";
    let found: Vec<&str> = vault
        .literal_matches(text, None)
        .into_iter()
        .map(|(range, _)| &text[range])
        .collect();
    assert_eq!(found, ["Zoë Müller", "(212) 555-0123"]);
    let text = "王秀英 wrote";
    assert_eq!(vault.literal_matches(text, None).len(), 1);
}

fn supplied(values: &[(PiiType, &str)]) -> Supplied {
    let mut supplied = Supplied::none();
    for (kind, value) in values {
        supplied.add(*kind, value, true);
    }
    supplied
}

fn result<'a>(origin: &'a Origin, supplied: &'a Supplied) -> Sight<'a> {
    let Origin::Tool(tool) = origin else {
        panic!("a tool origin");
    };
    Sight::Result {
        origin,
        server: &tool.server,
        supplied: Some(supplied),
    }
}

#[test]
fn same_server_values_join_other_servers_get_their_own_tokens() {
    let mut vault = Vault::with_tag("j1").unwrap();
    let search = Origin::Tool(ToolRef::new("crm", "search"));
    let get = Origin::Tool(ToolRef::new("crm", "get"));
    let chat = Origin::Tool(ToolRef::new("chat", "history"));
    let from_search = vault
        .token_for(PiiType::Email, "ada@x.com", &search)
        .to_owned();
    let from_get = vault
        .token_for(PiiType::Email, "ada@x.com", &get)
        .to_owned();
    let from_chat = vault
        .token_for(PiiType::Email, "ada@x.com", &chat)
        .to_owned();
    let from_code = vault
        .token_for(PiiType::Email, "ada@x.com", &Origin::Unattributed)
        .to_owned();
    assert_eq!(from_search, from_get, "a join over one server");
    assert_ne!(from_search, from_chat);
    assert_ne!(from_search, from_code);
    assert_ne!(from_chat, from_code);
    assert_eq!(
        vault.resolve(&from_search).unwrap().origins(),
        [search, get]
    );
    assert_eq!(
        vault.resolve(&from_chat).unwrap().scope(),
        &Scope::Server("chat".into())
    );
    assert_eq!(vault.resolve(&from_code).unwrap().scope(), &Scope::Code);
}

#[test]
fn a_released_token_is_the_token_of_its_destination_too() {
    let mut vault = Vault::new();
    let documents = Origin::Tool(ToolRef::new("documents", "getSheet"));
    let crm = Origin::Tool(ToolRef::new("crm", "query"));
    let token = vault
        .token_for(PiiType::Email, "ada@x.com", &documents)
        .to_owned();
    vault.link(&token, "crm");
    assert_eq!(vault.token_for(PiiType::Email, "ada@x.com", &crm), token);
    assert_eq!(
        vault.resolve(&token).unwrap().origins(),
        [documents.clone(), crm.clone()]
    );
    // The destination's own earlier token stays.
    let mut vault = Vault::new();
    let own = vault
        .token_for(PiiType::Email, "ada@x.com", &crm)
        .to_owned();
    let other = vault
        .token_for(PiiType::Email, "ada@x.com", &documents)
        .to_owned();
    vault.link(&other, "crm");
    assert_eq!(vault.token_for(PiiType::Email, "ada@x.com", &crm), own);
}

#[test]
fn supplied_values_never_take_a_token_of_the_vault() {
    let mut vault = Vault::new();
    let crm = Origin::Tool(ToolRef::new("crm", "get"));
    let echo = Origin::Tool(ToolRef::new("crm", "echo"));
    let target = vault
        .token_for(PiiType::Phone, "+1 212 555 0143", &crm)
        .to_owned();
    // Reflected in the call that supplied it, even by the same server: left as it is.
    let guess = supplied(&[(PiiType::Phone, "+1 212 555 0143")]);
    assert_eq!(
        vault.issue(
            PiiType::Phone,
            "+1 212 555 0143",
            &result(&echo, &guess),
            false
        ),
        None
    );
    // The server's own later sightings keep its token (the join still works).
    assert_eq!(
        vault.token_for(PiiType::Phone, "+1 212 555 0143", &crm),
        target
    );
    // Sent to another server in clear, then returned by it in a later call: left as it is.
    let chat_post = Origin::Tool(ToolRef::new("chat", "post"));
    let chat_read = Origin::Tool(ToolRef::new("chat", "read"));
    let guess = supplied(&[(PiiType::Phone, "+1 212 555 0143")]);
    vault.record_supplied("chat", &guess);
    let nothing = Supplied::none();
    assert_eq!(
        vault.issue(
            PiiType::Phone,
            "+1 212 555 0143",
            &result(&chat_read, &nothing),
            false
        ),
        None
    );
    // ... while a value it did not send gets that server's own token.
    let other = vault
        .issue(
            PiiType::Phone,
            "+1 212 555 0199",
            &result(&chat_post, &nothing),
            false,
        )
        .map(|index| vault.entry(index).token().to_owned());
    assert!(other.is_some_and(|token| token != target));
}

#[test]
fn the_guessing_budget_counts_distinct_values_found_in_clear() {
    let mut vault = Vault::new();
    let trusted = Origin::Tool(ToolRef::new("hr", "list"));
    vault.issue(
        PiiType::Email,
        "known@x.com",
        &Sight::Trusted(&trusted),
        false,
    );
    let first = supplied(&[(PiiType::Email, "a@x.com"), (PiiType::Email, "known@x.com")]);
    assert_eq!(vault.supplied_count_with(&first), 1);
    assert_eq!(vault.record_supplied("chat", &first), 1);
    let second = supplied(&[(PiiType::Email, "a@x.com"), (PiiType::Email, "b@x.com")]);
    assert_eq!(vault.supplied_count_with(&second), 2);
    assert_eq!(vault.record_supplied("crm", &second), 2);
    // Values found through the vault (literals) are not counted: the count must not depend
    // on what the vault holds.
    let mut literal = Supplied::none();
    literal.add(PiiType::Name, "Ada Lovelace", false);
    assert_eq!(vault.record_supplied("crm", &literal), 2);
}
