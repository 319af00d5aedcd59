//! The page at `/` of `sluice serve --metrics` and of `sluice ui`, loaded in a real headless
//! Chromium (Debian's package, unpacked by `scripts/test`): it lists real executions, a filter URL
//! narrows the list, the savings chart and an execution's timeline render. Screenshots are kept
//! under the target folder (`tmp/page/*.png`) as artefacts.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::json;
use sluice_test_support::{McpConfig, chromium_bin, everything_server};

use super::common::{execute, text, write_config};
use super::serve_http::{HttpSluice, python_over_http};

fn artefacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("page");
    std::fs::create_dir_all(&dir).expect("artefact folder");
    dir
}

/// Chromium with a fresh profile and nothing running in the background.
fn chromium(url: &str, extra: &[String]) -> std::process::Output {
    let profile = tempfile::tempdir().expect("profile");
    let output = Command::new(chromium_bin())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1280,1600",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(url)
        .stdin(Stdio::null())
        .output()
        .expect("run chromium");
    assert!(
        output.status.success(),
        "chromium {url}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The DOM after the page loaded and its script ran.
fn dom(url: &str) -> String {
    String::from_utf8_lossy(&chromium(url, &["--dump-dom".to_owned()]).stdout).into_owned()
}

fn screenshot(url: &str, name: &str) -> PathBuf {
    let path = artefacts().join(name);
    let _ = std::fs::remove_file(&path);
    chromium(url, &[format!("--screenshot={}", path.display())]);
    let size = std::fs::metadata(&path).map(|meta| meta.len()).unwrap_or(0);
    assert!(size > 10_000, "{} is {size} bytes", path.display());
    path
}

fn rows(dom: &str) -> usize {
    dom.matches("<tr class=\"execution\"").count()
}

fn port_of(sluice: &HttpSluice, prefix: &str) -> u16 {
    let stderr = sluice.stderr.lock().expect("stderr").clone();
    stderr
        .lines()
        .find_map(|line| line.strip_prefix(prefix))
        .and_then(|rest| rest.split(['/', ' ']).next())
        .and_then(|port| port.parse().ok())
        .unwrap_or_else(|| panic!("no {prefix} on stderr:\n{stderr}"))
}

#[test]
fn the_page_lists_real_executions_in_chromium() {
    let config = write_config(
        McpConfig::new().server("everything", &everything_server()),
        json!({}),
    );
    let data = tempfile::tempdir().expect("data dir");
    let sluice = HttpSluice::start(config.path(), data.path(), &["--metrics", "127.0.0.1:0"]);
    let port = port_of(&sluice, "sluice: metrics at http://127.0.0.1:");
    let mut in_session = execute(
        "import * as everything from './servers/everything';\n\
         console.log(await everything.echo({ message: 'in a session' }));",
    );
    in_session["arguments"]["session"] = json!("page-session");
    let ops = json!([
        execute(
            "import * as everything from './servers/everything';\n\
             // write to jane.doe@example.com\n\
             console.log(await everything.echo({ message: 'first' }));\n\
             console.log(await everything.echo({ message: 'second' }));"
        ),
        in_session,
        execute("throw new Error('on purpose');"),
    ]);
    let output = python_over_http(&sluice.url, "legacy", &[], &ops).ok();
    assert_eq!(
        text(&output["results"][1]),
        "Echo: in a session\n",
        "{output}"
    );

    let base = format!("http://127.0.0.1:{port}");
    let page = dom(&format!("{base}/"));
    assert_eq!(rows(&page), 3, "{page}");
    assert!(page.contains("3 of 3 executions"), "{page}");
    assert!(page.contains("<svg id=\"savings\""), "{page}");
    assert!(page.contains("<polyline class=\"direct\""), "{page}");
    assert!(page.contains("everything"), "{page}");
    assert!(page.contains(">RuntimeError<"), "{page}");
    assert!(!page.contains("jane.doe@example.com"), "{page}");
    screenshot(&format!("{base}/"), "index.png");

    // Filters narrow the list, as the select's URL says.
    let session = dom(&format!("{base}/?session=page-session"));
    assert_eq!(rows(&session), 1, "{session}");
    assert!(session.contains("1 of 1 executions matching"), "{session}");
    assert!(
        session.contains("<option value=\"page-session\" selected=\"\">"),
        "{session}"
    );
    let failed = dom(&format!("{base}/?outcome=error"));
    assert_eq!(rows(&failed), 1, "{failed}");
    assert_eq!(rows(&dom(&format!("{base}/?server=everything"))), 2);
    screenshot(&format!("{base}/?session=page-session"), "filtered.png");

    // One execution: its code (personal data tokenized) and its calls as a timeline.
    let id = page
        .split("<tr class=\"execution\" data-id=\"")
        .nth(3)
        .and_then(|rest| rest.split('"').next())
        .expect("the oldest execution's id");
    let detail = dom(&format!("{base}/execution?id={id}"));
    assert!(detail.contains("<svg id=\"timeline\""), "{detail}");
    assert_eq!(detail.matches("<g class=\"call\">").count(), 2, "{detail}");
    assert!(detail.contains("[EMAIL_1]"), "{detail}");
    assert!(
        detail.contains("<pre id=\"output\">Echo: first\nEcho: second\n</pre>"),
        "{detail}"
    );
    assert!(!detail.contains("jane.doe@example.com"), "{detail}");
    screenshot(&format!("{base}/execution?id={id}"), "execution.png");
}

#[test]
fn sluice_ui_serves_the_audit_log_without_a_gateway() {
    // A data folder with an audit log, written by a real `sluice serve` run.
    let config = write_config(McpConfig::new(), json!({}));
    let data = tempfile::tempdir().expect("data dir");
    {
        let sluice = HttpSluice::start(config.path(), data.path(), &[]);
        let ops = json!([execute("console.log('from before'); 1")]);
        python_over_http(&sluice.url, "legacy", &[], &ops).ok();
    }
    let mut ui = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["ui", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start sluice ui");
    let stderr = ui.stderr.take().expect("stderr");
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(url) = line.strip_prefix("sluice: page at ") {
                let _ = sender.send(url.to_owned());
            }
        }
    });
    let url = receiver.recv_timeout(Duration::from_secs(30));
    let page = url.as_deref().map(dom);
    let _ = ui.kill();
    let _ = ui.wait();
    let page = page.expect("sluice ui said where it serves");
    assert_eq!(rows(&page), 1, "{page}");
    assert!(page.contains("No gateway is running here"), "{page}");
}
