//! Sluice as an OAuth client of its downstream servers, against a real authorization server: the
//! downstream server is `sluice serve --http` trusting `oidc-provider` (the issuers of the
//! `http_auth` suite), and `sluice exec` reaches it with tokens of its own.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use sluice_test_support::{McpConfig, everything_server};

use super::common::{sluice_command, write_config};
use super::http_auth::Issuers;
use super::serve_http::HttpSluice;

/// The downstream server, `sluice serve --http` letting in the issuer's tokens with scope `mcp`,
/// and a client config naming it `a` (with `oauth` settings when given) and the client's data
/// folder. Fields drop in order: the server before its issuer.
struct Setup {
    downstream: HttpSluice,
    config: tempfile::NamedTempFile,
    data: tempfile::TempDir,
    _downstream_config: tempfile::NamedTempFile,
    _downstream_data: tempfile::TempDir,
    _issuers: Issuers,
}

impl Setup {
    fn start(oauth: Option<Value>) -> Setup {
        let issuers = Issuers::start();
        let downstream_data = tempfile::tempdir().expect("data dir");
        let downstream_config = write_config(
            McpConfig::new().server("everything", &everything_server()),
            json!({"http": {"auth": {
                "issuer": issuers.issuer,
                "requiredScopes": ["mcp"],
                "clockSkewSeconds": 0
            }}}),
        );
        let downstream = HttpSluice::start(downstream_config.path(), downstream_data.path(), &[]);
        let mut entry = json!({"url": downstream.url});
        if let Some(oauth) = oauth {
            entry["oauth"] = oauth;
        }
        Setup {
            config: write_config(McpConfig::new().entry("a", entry), json!({})),
            data: tempfile::tempdir().expect("data dir"),
            downstream,
            _downstream_config: downstream_config,
            _downstream_data: downstream_data,
            _issuers: issuers,
        }
    }
}

/// `sluice ARGS --config CONFIG --data-dir DATA --model none`, with `stdin`.
fn sluice(args: &[&str], config: &Path, data: &Path, stdin: &str) -> Output {
    let mut child = sluice_command()
        .args(args)
        .arg("--config")
        .arg(config)
        .arg("--data-dir")
        .arg(data)
        .args(["--model", "none"])
        .env_remove("SLUICE_LOG")
        .env_remove("RUST_LOG")
        .env_remove("BROWSER")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run sluice");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("sluice output")
}

fn token_file(data: &Path, server: &str) -> (Value, u32) {
    let path = data.join("oauth").join(format!("{server}.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    let mode = std::fs::metadata(&path)
        .expect("token file")
        .permissions()
        .mode()
        & 0o777;
    (serde_json::from_str(&text).expect("token file JSON"), mode)
}

/// Code that lists the downstream Sluice's workspace through its `list_files` tool.
const LIST_FILES: &str = "import * as a from './servers/a';\nconst listing = await a.listFiles({});\nconsole.log('listed', JSON.stringify(listing).length > 0);\n";

/// Machine to machine: the client-credentials grant gets a token at connect (the downstream
/// server verifies it against the issuer), keeps it in a 0600 file, and a token that expired
/// (this client's live one second) is replaced by a new grant on the next connection.
#[test]
fn client_credentials_get_a_token_and_a_new_one_when_it_expires() {
    let setup = Setup::start(Some(json!({
        "grant": "client_credentials",
        "clientId": "brief",
        "clientSecret": "${BRIEF_SECRET:-brief-secret}",
        "scopes": ["mcp"]
    })));
    let (config, data, downstream) = (&setup.config, &setup.data, &setup.downstream);
    let first = sluice(&["exec", "-"], config.path(), data.path(), LIST_FILES);
    let stdout = String::from_utf8_lossy(&first.stdout);
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(first.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("listed true"), "{stdout}\n{stderr}");
    let (file, mode) = token_file(data.path(), "a");
    assert_eq!(
        mode, 0o600,
        "the token file must be readable by its owner only"
    );
    assert_eq!(file["credentials"]["client_id"], "brief", "{file}");
    let first_token = file["credentials"]["token_response"]["access_token"].clone();
    assert!(first_token.is_string(), "{file}");

    std::thread::sleep(Duration::from_millis(2100));
    let second = sluice(&["exec", "-"], config.path(), data.path(), LIST_FILES);
    let stdout = String::from_utf8_lossy(&second.stdout);
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(second.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("listed true"), "{stdout}\n{stderr}");
    let (file, mode) = token_file(data.path(), "a");
    assert_eq!(mode, 0o600);
    let second_token = &file["credentials"]["token_response"]["access_token"];
    assert_ne!(
        second_token, &first_token,
        "the expired token must have been replaced"
    );
    // The downstream server let both in as the client's principal.
    let log = downstream
        .stderr
        .lock()
        .map(|text| text.clone())
        .unwrap_or_default();
    assert!(!log.contains("401"), "{log}");
}

/// A wrong client secret is refused by the authorization server: the server is down with that
/// reason, not with a transport error.
#[test]
fn a_refused_client_secret_is_reported_in_words() {
    let setup = Setup::start(Some(json!({
        "grant": "client_credentials", "clientId": "agent", "clientSecret": "wrong"
    })));
    let (config, data) = (&setup.config, &setup.data);
    let output = sluice(&["exec", "-"], config.path(), data.path(), LIST_FILES);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("a unavailable"), "{stderr}");
    assert!(stderr.contains("Token exchange failed"), "{stderr}");
    assert!(!stderr.contains("AuthRequired"), "{stderr}");
}

/// A server that wants a person's login (no `client_credentials` configured) and has no token is
/// "needs login", with the command to run; `sluice auth status` says the same, and the login
/// explains why it cannot register Sluice with this authorization server (no dynamic
/// registration) and what to configure instead.
#[test]
fn a_server_without_a_token_needs_login_and_names_the_command() {
    let setup = Setup::start(None);
    let (config, data) = (&setup.config, &setup.data);
    let output = sluice(&["exec", "-"], config.path(), data.path(), LIST_FILES);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("needs login"), "{stderr}");
    assert!(stderr.contains("run `sluice auth login a`"), "{stderr}");
    for raw in [
        "AuthRequired",
        "StreamableHttpError",
        "Transport channel closed",
    ] {
        assert!(!stderr.contains(raw), "a raw transport error: {stderr}");
    }

    let status = sluice(&["auth", "status"], config.path(), data.path(), "");
    let listing = String::from_utf8_lossy(&status.stdout);
    assert!(status.status.success());
    assert_eq!(listing.trim(), "a\tneeds login: run `sluice auth login a`");

    let login = sluice(
        &["auth", "login", "a", "--timeout", "5"],
        config.path(),
        data.path(),
        "",
    );
    let stderr = String::from_utf8_lossy(&login.stderr);
    assert!(!login.status.success());
    assert!(
        stderr.contains("does not offer dynamic client registration")
            && stderr.contains("\"clientId\""),
        "{stderr}"
    );
}
