use super::*;

const SERVERS: &[&str] = &["everything", "fs", "my.server"];
const PLAIN: ToolHints = ToolHints {
    read_only: false,
    destructive: false,
};
const READ_ONLY: ToolHints = ToolHints {
    read_only: true,
    destructive: false,
};
const DESTRUCTIVE: ToolHints = ToolHints {
    read_only: false,
    destructive: true,
};

fn policy(entries: &[(&str, &str)]) -> ToolPolicy {
    match ToolPolicy::new(entries.iter().copied(), SERVERS) {
        Ok(policy) => policy,
        Err(error) => panic!("{error}"),
    }
}

fn action(policy: &ToolPolicy, server: &str, tool: &str, hints: ToolHints) -> Action {
    policy.decide(server, tool, hints).action
}

#[test]
fn no_rule_allows_everything() {
    let policy = ToolPolicy::allow_all();
    assert!(policy.is_empty());
    let decision = policy.decide("fs", "write_file", DESTRUCTIVE);
    assert_eq!(decision.action, Action::Allow);
    assert_eq!(decision.rule, None);
}

#[test]
fn the_most_specific_pattern_wins() {
    let policy = policy(&[
        ("*", "deny"),
        ("fs.*", "ask"),
        ("fs.read_*", "allow"),
        ("fs.read_secret", "deny"),
    ]);
    assert_eq!(action(&policy, "everything", "echo", PLAIN), Action::Deny);
    assert_eq!(action(&policy, "fs", "write_file", PLAIN), Action::Ask);
    assert_eq!(action(&policy, "fs", "read_file", PLAIN), Action::Allow);
    assert_eq!(action(&policy, "fs", "read_secret", PLAIN), Action::Deny);
    let decision = policy.decide("fs", "read_secret", PLAIN);
    assert_eq!(
        decision.rule.map(|rule| rule.pattern.as_str()),
        Some("fs.read_secret")
    );
    assert!(decision.describe().contains("\"fs.read_secret\": \"deny\""));
}

#[test]
fn equally_specific_globs_take_the_stricter_value() {
    let policy = policy(&[("fs.write*", "allow"), ("fs.*_file", "deny")]);
    // Both have 5 literal characters and match.
    assert_eq!(action(&policy, "fs", "write_file", PLAIN), Action::Deny);
    assert_eq!(action(&policy, "fs", "write_dir", PLAIN), Action::Allow);
    assert_eq!(action(&policy, "fs", "read_file", PLAIN), Action::Deny);
}

#[test]
fn read_only_allows_only_annotated_tools() {
    let policy = policy(&[("everything.*", "readOnly")]);
    assert_eq!(
        action(&policy, "everything", "echo", READ_ONLY),
        Action::Allow
    );
    assert_eq!(action(&policy, "everything", "reset", PLAIN), Action::Deny);
    assert_eq!(
        action(&policy, "everything", "reset", DESTRUCTIVE),
        Action::Deny
    );
    let decision = policy.decide("everything", "reset", PLAIN);
    assert!(decision.describe().contains("not annotated readOnlyHint"));
    // Other servers are untouched.
    assert_eq!(
        action(&policy, "fs", "write_file", DESTRUCTIVE),
        Action::Allow
    );
}

#[test]
fn deny_destructive_unless_allowed_by_name() {
    let policy = policy(&[("fs.*", "denyDestructive"), ("fs.write_file", "allow")]);
    assert_eq!(
        action(&policy, "fs", "move_file", DESTRUCTIVE),
        Action::Deny
    );
    assert_eq!(
        action(&policy, "fs", "write_file", DESTRUCTIVE),
        Action::Allow
    );
    assert_eq!(action(&policy, "fs", "list", PLAIN), Action::Allow);
    // readOnlyHint wins over a contradictory destructiveHint.
    let both = ToolHints {
        read_only: true,
        destructive: true,
    };
    assert_eq!(action(&policy, "fs", "odd", both), Action::Allow);
    assert!(
        policy
            .decide("fs", "move_file", DESTRUCTIVE)
            .describe()
            .contains("annotated destructiveHint")
    );
}

#[test]
fn globs() {
    let policy = policy(&[("fs.?et_*", "deny"), ("fs.*tmp*", "ask")]);
    assert_eq!(action(&policy, "fs", "get_info", PLAIN), Action::Deny);
    assert_eq!(action(&policy, "fs", "set_x", PLAIN), Action::Deny);
    assert_eq!(action(&policy, "fs", "reset_x", PLAIN), Action::Allow);
    assert_eq!(action(&policy, "fs", "et_x", PLAIN), Action::Allow);
    assert_eq!(action(&policy, "fs", "a_tmp_b", PLAIN), Action::Ask);
    assert_eq!(action(&policy, "fs", "tmp", PLAIN), Action::Ask);
    assert!(wildcard_match(&['é', '?', '*'], "éxyz"));
    assert!(!wildcard_match(&['a', '*', 'b'], "axxc"));
    assert!(wildcard_match(&['a', '*', 'b', '*', 'b'], "axbxxb"));
    assert!(wildcard_match(&['*', '*'], ""));
    // A long adversarial name is still answered at once.
    let long = "a".repeat(10_000);
    let pattern: Vec<char> = "*a*a*a*a*b".chars().collect();
    assert!(!wildcard_match(&pattern, &long));
}

#[test]
fn server_names_with_dots_take_the_longest_match() {
    let policy = policy(&[("my.server.*", "deny")]);
    assert_eq!(
        action(&policy, "my.server", "anything", PLAIN),
        Action::Deny
    );
    assert_eq!(
        action(&policy, "everything", "anything", PLAIN),
        Action::Allow
    );
}

#[test]
fn errors_name_the_entry() {
    let error = ToolPolicy::new([("fs.*", "block")], SERVERS).err();
    assert_eq!(
        error,
        Some(PolicyError::BadValue {
            pattern: "fs.*".into(),
            value: "block".into()
        })
    );
    let error = ToolPolicy::new([("github.*", "deny")], SERVERS).err();
    assert!(
        matches!(error, Some(PolicyError::UnknownServer { ref pattern, .. }) if pattern == "github.*")
    );
    assert!(
        error
            .map(|error| error.to_string())
            .is_some_and(|text| text.contains("everything, fs, my.server"))
    );
    for pattern in ["fs", "fs.", ""] {
        assert_eq!(
            ToolPolicy::new([(pattern, "deny")], SERVERS).err(),
            Some(PolicyError::BadPattern {
                pattern: pattern.into()
            }),
            "{pattern:?}"
        );
    }
}
