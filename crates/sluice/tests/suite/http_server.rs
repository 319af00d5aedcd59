//! A downstream server over Streamable HTTP: the real `server-everything` in its HTTP mode.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use sluice_test_support::{McpConfig, everything_server};

use super::common::{call, run_ops, text, write_config};

/// Kills the HTTP server when the test ends, however it ends.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("address")
        .port()
}

#[test]
fn streamable_http_server_is_searchable_and_callable() {
    let port = free_port();
    let stdio = everything_server();
    let child = Command::new(&stdio.command)
        .arg("streamableHttp")
        .env("PORT", port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start server-everything over HTTP");
    let _server = KillOnDrop(child);
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the HTTP server did not start listening"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let config = McpConfig::new().entry(
        "remote",
        json!({"url": format!("http://127.0.0.1:{port}/mcp")}),
    );
    let config = write_config(config, json!({}));
    let results = run_ops(
        config.path(),
        json!([
            call(
                "search_tools",
                json!({"query": "sum", "server": "remote", "detail": "name"})
            ),
            call(
                "execute_code",
                json!({"code": "import * as remote from './servers/remote'; console.log(await remote.getSum({ a: 2, b: 3 }));"})
            ),
        ]),
    );
    assert!(
        text(&results[0]).starts_with("remote.getSum\n"),
        "{}",
        text(&results[0])
    );
    assert_eq!(text(&results[1]), "The sum of 2 and 3 is 5.\n");
}

/// A remote server that answers 401 (it wants a token): the agent reads what happened and what
/// to do, not the transport's Rust type names.
#[test]
fn a_server_that_wants_a_token_is_reported_in_words() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buffer = [0u8; 8192];
            let _ = stream.read(&mut buffer);
            let _ = stream.write_all(
                b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm=\"mcp\"\r\nContent-Type: application/json\r\nContent-Length: 27\r\nConnection: close\r\n\r\n{\"error\":\"invalid_token\"}\r\n",
            );
        }
    });
    let config = McpConfig::new().entry(
        "remote",
        json!({"url": format!("http://127.0.0.1:{port}/mcp")}),
    );
    let config = write_config(config, json!({"connectTimeoutMs": 5000}));
    let results = run_ops(
        config.path(),
        json!([call("search_tools", json!({"query": "anything"}))]),
    );
    let listing = text(&results[0]);
    let line = listing
        .lines()
        .find(|line| line.starts_with("Unavailable server remote: "))
        .unwrap_or_else(|| panic!("{listing}"));
    assert!(line.contains("401"), "{line}");
    assert!(line.contains("needs login"), "{line}");
    assert!(line.contains("run `sluice auth login remote`"), "{line}");
    assert!(line.contains("headers"), "{line}");
    assert!(!line.contains("::") && !line.contains('<'), "{line}");
}
