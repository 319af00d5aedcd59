//! Tests of `lib.rs`.

use super::*;

fn parse_ok(text: &str) -> Config {
    parse(text, "test.json", &|name| {
        (name == "HOME_DIR").then(|| "/home/u".to_owned())
    })
    .unwrap()
}

fn parse_error(text: &str) -> String {
    parse(text, "test.json", &|_| None).unwrap_err().to_string()
}

#[test]
fn reads_claude_desktop_file_unchanged() {
    let config = parse_ok(
        r#"{"globalShortcut": "Ctrl+Space",
            "mcpServers": {
              "fs": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "${HOME_DIR}/docs"], "env": {"A": "b"}},
              "remote": {"url": "http://127.0.0.1:3901/mcp", "headers": {"X": "${MISSING:-fallback}"}},
              "off": {"command": "x", "disabled": true}
            }}"#,
    );
    let ServerConfig::Stdio(fs) = &config.servers["fs"] else {
        panic!()
    };
    assert_eq!(fs.args[2], "/home/u/docs");
    assert_eq!(fs.env["A"], "b");
    let ServerConfig::Http(remote) = &config.servers["remote"] else {
        panic!()
    };
    assert_eq!(remote.headers["X"], "fallback");
    assert_eq!(config.disabled, ["off"]);
    assert_eq!(config.settings, Settings::default());
}

#[test]
fn reads_vscode_servers_key() {
    let config = parse_ok(
        r#"{"servers": {"a": {"type": "stdio", "command": "x"}, "b": {"type": "http", "url": "https://h/mcp"}}}"#,
    );
    assert_eq!(config.servers.len(), 2);
}

#[test]
fn errors_name_file_entry_and_field() {
    assert_eq!(
        parse_error(r#"{"mcpServers": {"fs": {"command": "npx", "args": "-y"}}}"#),
        "config file test.json: server \"fs\", field \"args\": expected a list of strings, found a string"
    );
    assert_eq!(
        parse_error(r#"{"mcpServers": {"fs": {"command": "npx", "args": ["a", 3]}}}"#),
        "config file test.json: server \"fs\", field \"args[1]\": expected a string, found a number"
    );
    assert!(
        parse_error(r#"{"mcpServers": {"fs": {"args": []}}}"#)
            .contains("server \"fs\", field \"command\": missing")
    );
    assert!(parse_error(r#"{"mcpServers": {"fs": {"url": "ftp://x"}}}"#).contains("field \"url\""));
    // A name that is not a safe folder name is given one, never used as a path.
    assert_eq!(
        parse_ok(r#"{"mcpServers": {"../x": {"command": "a"}}}"#).renamed["x"],
        "../x"
    );
    assert!(
        parse_error(r#"{"mcpServers": {"a": {"type": "sse", "url": "http://x"}}}"#).contains("SSE")
    );
    assert!(parse_error(r#"{"other": 1}"#).contains("no \"mcpServers\""));
    assert!(parse_error("{\n  \"mcpServers\": [}").contains("line 2"));
}

/// Clients start servers with a reduced environment: an unset variable leaves out only the
/// server that uses it, with the reason, and the file still loads.
#[test]
fn an_unset_variable_leaves_out_only_its_server() {
    let config = parse(
        r#"{"mcpServers": {
             "a": {"command": "x", "env": {"K": "${NOPE}"}},
             "b": {"command": "y", "args": ["${NOPE:-fallback}"]},
             "c": {"url": "http://h/mcp", "headers": {"Authorization": "Bearer ${TOKEN}"}}},
           "sluice": {"privacy": {"trustedServers": ["a"]}}}"#,
        "test.json",
        &|_| None,
    )
    .unwrap();
    assert_eq!(config.servers.keys().collect::<Vec<_>>(), ["b"]);
    assert_eq!(config.unusable.keys().collect::<Vec<_>>(), ["a", "c"]);
    assert!(
        config.unusable["a"].contains("environment variable NOPE (used in \"env.K\") is not set"),
        "{}",
        config.unusable["a"]
    );
    assert!(
        config.unusable["c"].contains("TOKEN"),
        "{}",
        config.unusable["c"]
    );
    // A malformed reference is still an error of the file.
    assert!(
        parse_error(r#"{"mcpServers": {"a": {"command": "x", "args": ["${A B}"]}}}"#)
            .contains("not a valid variable reference")
    );
}

/// Claude Desktop accepts any key as a server name; Sluice derives an identifier for the
/// ones code cannot use, keeps the configured name for messages, and settings may use either.
#[test]
fn any_server_name_is_accepted_and_given_an_identifier() {
    let config = parse_ok(
        r#"{"mcpServers": {
             "My Calc": {"command": "calc"},
             "my-calc": {"command": "other"},
             "Ünïcode ✓ Tools!": {"command": "u"},
             "日本": {"command": "j"},
             "  ": {"command": "k"},
             "ok_Name.v2": {"command": "kept"}},
           "sluice": {
             "privacy": {"trustedServers": ["My Calc"], "flows": [{"from": "日本", "to": "My Calc.add", "allow": true}]},
             "limits": {"callsPerSecond": {"My Calc": 2}}}}"#,
    );
    let names: Vec<&str> = config.servers.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "my-calc",
            "my-calc-2",
            "n-code-tools",
            "ok_Name.v2",
            "server",
            "server-2"
        ]
    );
    assert_eq!(config.renamed["my-calc-2"], "My Calc");
    // Entries are taken in the file's order.
    assert_eq!(config.renamed["server"], "日本");
    assert_eq!(config.renamed["server-2"], "  ");
    assert!(!config.renamed.contains_key("my-calc"));
    let ServerConfig::Stdio(calc) = &config.servers["my-calc-2"] else {
        panic!("stdio");
    };
    assert_eq!(calc.command, "calc");
    let privacy = &config.settings.privacy;
    assert_eq!(privacy.trusted_servers, ["my-calc-2"]);
    assert_eq!(privacy.flows[0].from, "server");
    assert_eq!(privacy.flows[0].to, "my-calc-2.add");
    assert_eq!(config.settings.limits.rate_for("my-calc-2"), Some(2.0));
    // Messages about an entry name it as written.
    let error = parse_error(r#"{"mcpServers": {"My Calc": {"args": []}}}"#);
    assert!(error.contains("server \"My Calc\""), "{error}");
}

#[test]
fn sluice_section_is_strict() {
    let config = parse_ok(
        r#"{"mcpServers": {}, "sluice": {"connectTimeoutMs": 5, "execution": {"timeoutMs": 100}}}"#,
    );
    assert_eq!(config.settings.connect_timeout_ms, 5);
    assert_eq!(config.settings.execution.timeout_ms, 100);
    let error = parse_error(r#"{"mcpServers": {}, "sluice": {"execution": {"timeoutMS": 100}}}"#);
    assert!(error.contains("sluice.execution"), "{error}");
    assert!(error.contains("timeoutMS"), "{error}");
    let config = parse_ok(r#"{"mcpServers": {}, "sluice": {"execution": {"spinMicros": 0}}}"#);
    assert_eq!(config.settings.execution.spin(), std::time::Duration::ZERO);
    let error =
        parse_error(r#"{"mcpServers": {}, "sluice": {"execution": {"spinMicros": 20000}}}"#);
    assert!(error.contains("execution.spinMicros"), "{error}");
    assert!(error.contains("at most 10000"), "{error}");
}

#[test]
fn sessions_limits_and_audit_sections() {
    let config = parse_ok(
        r#"{"mcpServers": {}, "sluice": {
            "execution": {"workspaceMb": 5},
            "sessions": {"idleTimeoutMs": 1000, "maxSessions": 2, "maxExecutions": 3},
            "limits": {"concurrentExecutions": 1, "callsPerSecond": {"*": 10, "slow": 0.5, "free": 0}},
            "audit": {"maxFileMb": 1, "keepFiles": 2}}}"#,
    );
    let settings = &config.settings;
    assert_eq!(settings.execution.workspace_mb, 5);
    assert_eq!(settings.sessions.max_sessions, 2);
    assert_eq!(settings.limits.concurrent_executions, 1);
    assert_eq!(settings.limits.rate_for("slow"), Some(0.5));
    assert_eq!(settings.limits.rate_for("other"), Some(10.0));
    assert_eq!(settings.limits.rate_for("free"), None);
    assert_eq!(Settings::default().limits.rate_for("x"), None);
    assert_eq!(
        settings.limits.per_principal,
        PrincipalLimitSettings::default()
    );
    let config = parse_ok(
        r#"{"mcpServers": {}, "sluice": {"limits": {"perPrincipal": {"concurrentExecutions": 2, "executionsPerMinute": 30, "toolCallsPerMinute": 0}}}}"#,
    );
    let per_principal = &config.settings.limits.per_principal;
    assert_eq!(
        (
            per_principal.concurrent_executions,
            per_principal.executions_per_minute,
            per_principal.tool_calls_per_minute
        ),
        (2, 30, 0)
    );
    let error = parse_error(
        r#"{"mcpServers": {}, "sluice": {"limits": {"perPrincipal": {"executionsPerSecond": 1}}}}"#,
    );
    assert!(error.contains("executionsPerSecond"), "{error}");
    assert!(settings.audit.enabled && settings.audit.keep_files == 2);

    let error = parse_error(r#"{"mcpServers": {}, "sluice": {"sessions": {"maxSessions": 0}}}"#);
    assert!(error.contains("sluice.sessions.maxSessions"), "{error}");
    let error =
        parse_error(r#"{"mcpServers": {}, "sluice": {"limits": {"callsPerSecond": {"a": -1}}}}"#);
    assert!(error.contains("sluice.limits.callsPerSecond.a"), "{error}");
    let error = parse_error(r#"{"mcpServers": {}, "sluice": {"audit": {"keep": 1}}}"#);
    assert!(
        error.contains("sluice.audit") && error.contains("keep"),
        "{error}"
    );
}

#[test]
fn search_section() {
    let config = parse_ok(r#"{"mcpServers": {}, "sluice": {"search": {"encoderIdleMs": 0}}}"#);
    assert_eq!(config.settings.search.encoder_idle_ms, 0);
    assert_eq!(Settings::default().search.encoder_idle_ms, 600_000);
    let error = parse_error(r#"{"mcpServers": {}, "sluice": {"search": {"idleMs": 5}}}"#);
    assert!(
        error.contains("sluice.search") && error.contains("idleMs"),
        "{error}"
    );
}

#[test]
fn privacy_section() {
    let config = parse_ok(
        r#"{"mcpServers": {"docs": {"command": "x"}, "crm": {"command": "y"}, "my.srv": {"command": "z"}},
            "sluice": {"privacy": {"detect": {"ip": false}, "trustedServers": ["crm"],
              "nameFields": ["holder"], "phoneRegions": ["US", "GB"], "maxClearValues": 40,
              "privateIps": true,
              "flows": [{"types": ["email", "name"], "from": "docs.getSheet", "to": "crm", "allow": true},
                        {"from": "*", "to": "my.srv.send.it", "allow": false}]}}}"#,
    );
    let privacy = &config.settings.privacy;
    assert!(privacy.enabled);
    assert!(!privacy.detect.ip && privacy.detect.email);
    assert_eq!(privacy.trusted_servers, ["crm"]);
    assert_eq!(privacy.max_clear_values, 40);
    assert!(privacy.private_ips);
    assert!(!Settings::default().privacy.private_ips);
    assert_eq!(privacy.flows.len(), 2);
    assert_eq!(
        privacy.flows[0].types.as_deref(),
        Some(&[PiiKind::Email, PiiKind::Name][..])
    );
    assert_eq!(Settings::default().privacy.phone_regions, ["US"]);

    let servers = r#""mcpServers": {"docs": {"command": "x"}}"#;
    let error = parse_error(&format!(
        r#"{{{servers}, "sluice": {{"privacy": {{"flows": [{{"from": "docs", "to": "chat", "allow": true}}]}}}}}}"#
    ));
    assert!(error.contains("sluice.privacy.flows[0].to"), "{error}");
    assert!(error.contains("\"chat\""), "{error}");
    let error = parse_error(&format!(
        r#"{{{servers}, "sluice": {{"privacy": {{"flows": [{{"from": "docs", "to": "*", "allow": true, "types": ["emial"]}}]}}}}}}"#
    ));
    assert!(error.contains("sluice.privacy.flows[0]"), "{error}");
    assert!(error.contains("emial"), "{error}");
    let error = parse_error(&format!(
        r#"{{{servers}, "sluice": {{"privacy": {{"trustedServer": ["docs"]}}}}}}"#
    ));
    assert!(
        error.contains("sluice.privacy") && error.contains("trustedServer"),
        "{error}"
    );
    let error = parse_error(&format!(
        r#"{{{servers}, "sluice": {{"privacy": {{"trustedServers": ["nope"]}}}}}}"#
    ));
    assert!(error.contains("trustedServers[0]"), "{error}");
    let error = parse_error(&format!(
        r#"{{{servers}, "sluice": {{"privacy": {{"phoneRegions": ["USA"]}}}}}}"#
    ));
    assert!(error.contains("phoneRegions[0]"), "{error}");
    let error = parse_error(&format!(
        r#"{{{servers}, "sluice": {{"privacy": {{"flows": [{{"from": "docs", "to": "docs"}}]}}}}}}"#
    ));
    assert!(error.contains("allow"), "{error}");
}

#[test]
fn reads_a_servers_oauth_settings() {
    let config = parse_ok(
        r#"{"mcpServers": {
              "plain": {"url": "https://a.example/mcp"},
              "fixed": {"url": "https://b.example/mcp", "headers": {"authorization": "Bearer x"}},
              "off": {"url": "https://c.example/mcp", "oauth": false},
              "machine": {"url": "https://d.example/mcp", "oauth": {
                  "grant": "client_credentials", "clientId": "sluice", "clientSecret": "s",
                  "scopes": ["read", "write"], "callbackPort": 8765}}
            }}"#,
    );
    let http = |name: &str| match &config.servers[name] {
        ServerConfig::Http(http) => http.clone(),
        ServerConfig::Stdio(_) => panic!("{name} is not HTTP"),
    };
    assert!(http("plain").uses_oauth());
    assert_eq!(http("plain").oauth, None);
    assert!(
        !http("fixed").uses_oauth(),
        "a static Authorization header wins"
    );
    assert!(!http("off").uses_oauth());
    let machine = http("machine").oauth.expect("oauth settings");
    assert_eq!(machine.grant, OAuthGrant::ClientCredentials);
    assert_eq!(machine.client_id.as_deref(), Some("sluice"));
    assert_eq!(machine.scopes, ["read", "write"]);
    assert_eq!(machine.callback_port, Some(8765));
}

#[test]
fn refuses_unusable_oauth_settings_naming_the_field() {
    for (oauth, field, words) in [
        (r#"{"grant": "password"}"#, "oauth.grant", "unknown grant"),
        (
            r#"{"grant": "client_credentials"}"#,
            "oauth.clientId",
            "client_credentials",
        ),
        (
            r#"{"grant": "client_credentials", "clientId": "x"}"#,
            "oauth.clientSecret",
            "exactly one",
        ),
        (
            r#"{"clientSecret": "x"}"#,
            "oauth.clientSecret",
            "needs its clientId",
        ),
        (
            r#"{"clientMetadataUrl": "http://x/y.json"}"#,
            "oauth.clientMetadataUrl",
            "https://",
        ),
        (r#"{"callbackPort": 70000}"#, "oauth.callbackPort", "port"),
        (r#"{"clientID": "x"}"#, "oauth.clientID", "unknown key"),
        (r#""yes""#, "oauth", "expected an object"),
    ] {
        let error = parse_error(&format!(
            r#"{{"mcpServers": {{"r": {{"url": "https://a.example/mcp", "oauth": {oauth}}}}}}}"#
        ));
        assert!(
            error.contains(&format!("field \"{field}\"")) && error.contains(words),
            "{oauth}: {error}"
        );
    }
}

#[test]
fn reads_the_tool_policy() {
    use sluice_policy::{Action, ToolHints};
    let config = parse_ok(
        r#"{"mcpServers": {"fs": {"command": "x"}, "My Calc": {"command": "y"}, "off": {"command": "z", "disabled": true}},
           "sluice": {"tools": {"*": "ask", "fs.*": "readOnly", "fs.write_file": "allow",
                                "My Calc.div*": "deny", "off.*": "deny"}}}"#,
    );
    let policy = &config.settings.tools;
    let plain = ToolHints::default();
    assert_eq!(
        policy.decide("fs", "write_file", plain).action,
        Action::Allow
    );
    assert_eq!(policy.decide("fs", "move_file", plain).action, Action::Deny);
    assert_eq!(
        policy.decide("my-calc", "divide", plain).action,
        Action::Deny
    );
    assert_eq!(policy.decide("my-calc", "add", plain).action, Action::Ask);
    assert!(parse_ok(r#"{"mcpServers": {}}"#).settings.tools.is_empty());
}

#[test]
fn tool_policy_errors_name_the_entry() {
    let servers = r#""mcpServers": {"fs": {"command": "x"}}"#;
    let error = parse_error(&format!(
        r#"{{{servers}, "sluice": {{"tools": {{"fs.*": "block"}}}}}}"#
    ));
    assert!(error.contains("field \"sluice.tools.fs.*\""), "{error}");
    assert!(error.contains("\"block\" is not a tool policy"), "{error}");
    let error = parse_error(&format!(
        r#"{{{servers}, "sluice": {{"tools": {{"github.*": "deny"}}}}}}"#
    ));
    assert!(error.contains("field \"sluice.tools.github.*\""), "{error}");
    assert!(
        error.contains("names no server in mcpServers (servers: fs)"),
        "{error}"
    );
    let error = parse_error(&format!(
        r#"{{{servers}, "sluice": {{"tools": {{"fs.*": true}}}}}}"#
    ));
    assert!(
        error.contains("got a boolean") || error.contains("got true"),
        "{error}"
    );
    let error = parse_error(&format!(
        r#"{{{servers}, "sluice": {{"tools": ["fs.*"]}}}}"#
    ));
    assert!(
        error.contains("field \"sluice.tools\": expected an object"),
        "{error}"
    );
}

#[test]
fn reads_direct_tools_and_pinning() {
    let config = parse_ok(
        r#"{"mcpServers": {"fs": {"command": "x"}, "fs.v2": {"command": "x"}, "My Calc": {"command": "y"}},
           "sluice": {"direct": ["fs.read_file", "fs.v2.read", "My Calc.add", "my-calc.add"],
                      "pinning": {"changeFreely": ["My Calc"]}}}"#,
    );
    let direct: Vec<(&str, &str)> = config
        .settings
        .direct
        .iter()
        .map(|entry| (entry.server.as_str(), entry.tool.as_str()))
        .collect();
    assert_eq!(
        direct,
        [("fs", "read_file"), ("fs.v2", "read"), ("my-calc", "add")]
    );
    assert!(config.settings.pinning.pins("fs"));
    assert!(!config.settings.pinning.pins("my-calc"));
    let off = parse_ok(r#"{"mcpServers": {}, "sluice": {"pinning": {"enabled": false}}}"#);
    assert!(!off.settings.pinning.pins("fs"));
}

#[test]
fn direct_and_pinning_errors_name_the_entry() {
    let servers = r#""mcpServers": {"fs": {"command": "x"}}"#;
    let error = parse_error(&format!(
        r#"{{{servers}, "sluice": {{"direct": ["fs.read", "github.get_issue"]}}}}"#
    ));
    assert!(error.contains("field \"sluice.direct[1]\""), "{error}");
    assert!(error.contains("names no configured server"), "{error}");
    let error = parse_error(&format!(
        r#"{{{servers}, "sluice": {{"direct": ["fs.*"]}}}}"#
    ));
    assert!(error.contains("patterns are not allowed"), "{error}");
    let error = parse_error(&format!(
        r#"{{{servers}, "sluice": {{"direct": "fs.read"}}}}"#
    ));
    assert!(error.contains("expected a list of tools"), "{error}");
    let error = parse_error(&format!(
        r#"{{{servers}, "sluice": {{"pinning": {{"changeFreely": ["nope"]}}}}}}"#
    ));
    assert!(
        error.contains("field \"sluice.pinning.changeFreely[0]\"")
            && error.contains("no server \"nope\""),
        "{error}"
    );
}

#[test]
fn telemetry_section() {
    let config = parse_ok(r#"{"mcpServers": {}}"#);
    assert_eq!(config.settings.telemetry.traces, None);
    let config = parse_ok(
        r#"{"mcpServers": {}, "sluice": {"telemetry": {"traces": {
            "endpoint": "http://127.0.0.1:4318", "headers": {"x-api-key": "k 1"},
            "serviceName": "gw", "sampleRatio": 0.25}}}}"#,
    );
    let traces = config.settings.telemetry.traces.unwrap();
    assert!(traces.enabled);
    assert_eq!(traces.endpoint.as_deref(), Some("http://127.0.0.1:4318"));
    assert_eq!(traces.headers["x-api-key"], "k 1");
    assert_eq!(traces.service_name.as_deref(), Some("gw"));
    assert_eq!(traces.sample_ratio, 0.25);
    let config = parse_ok(r#"{"mcpServers": {}, "sluice": {"telemetry": {"traces": {}}}}"#);
    let traces = config.settings.telemetry.traces.unwrap();
    assert!(traces.enabled && traces.sample_ratio == 1.0 && traces.endpoint.is_none());

    for (json, field, words) in [
        (
            r#"{"traces": {"sampleRatio": 1.5}}"#,
            "sluice.telemetry.traces.sampleRatio",
            "from 0 to 1",
        ),
        (
            r#"{"traces": {"endpoint": "127.0.0.1:4318"}}"#,
            "sluice.telemetry.traces.endpoint",
            "http://",
        ),
        (
            r#"{"traces": {"endpoint": "http:///v1/traces"}}"#,
            "sluice.telemetry.traces.endpoint",
            "no host",
        ),
        (
            r#"{"traces": {"headers": {"bad name": "x"}}}"#,
            "sluice.telemetry.traces.headers.bad name",
            "header name",
        ),
        (
            r#"{"traces": {"headers": {"a": "x\ny"}}}"#,
            "sluice.telemetry.traces.headers.a",
            "line breaks",
        ),
        (
            r#"{"traces": {"serviceName": " "}}"#,
            "sluice.telemetry.traces.serviceName",
            "must not be empty",
        ),
        (r#"{"trace": {}}"#, "sluice.telemetry", "trace"),
        (
            r#"{"traces": {"endpoints": "x"}}"#,
            "sluice.telemetry",
            "endpoints",
        ),
    ] {
        let error = parse_error(&format!(
            r#"{{"mcpServers": {{}}, "sluice": {{"telemetry": {json}}}}}"#
        ));
        assert!(
            error.contains(&format!("field \"{field}\"")) && error.contains(words),
            "{json}: {error}"
        );
    }
}
