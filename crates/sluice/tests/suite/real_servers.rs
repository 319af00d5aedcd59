//! `sluice serve` in front of the five real reference servers, driven by the Python MCP SDK.

use std::process::Command;

use serde_json::json;
use sluice_test_support::{
    McpConfig, everything_server, filesystem_server, git_server, memory_server, time_server,
};

use super::common::{call, run_ops, text, write_config};

fn git_repository(dir: &std::path::Path) {
    let git = |args: &[&str]| {
        let status = Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
            .status()
            .expect("git");
        assert!(status.success(), "git {args:?}");
    };
    std::fs::create_dir_all(dir).expect("mkdir");
    git(&["init", "-q"]);
    std::fs::write(dir.join("a.txt"), "hello").expect("write");
    git(&["add", "a.txt"]);
    git(&["commit", "-q", "-m", "first"]);
}

#[test]
fn five_real_servers_through_sluice() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let repository = scratch.path().join("repo");
    git_repository(&repository);
    let config = McpConfig::new()
        .server("everything", &everything_server())
        .server("filesystem", &filesystem_server([scratch.path()]))
        .server(
            "memory",
            &memory_server(scratch.path().join("memory.jsonl")),
        )
        .server("time", &time_server())
        .server("git", &git_server(&repository));
    let config = write_config(config, json!({}));
    let results = run_ops(
        config.path(),
        json!([
            {"op": "initialize_result"},
            {"op": "list_tools"},
            call("search_tools", json!({"query": "sum of two numbers"})),
            call("search_tools", json!({"query": "", "server": "time", "detail": "name"})),
            call("list_files", json!({"path": "servers"})),
            call("read_file", json!({"path": "servers/everything/getSum.ts"})),
            call("read_file", json!({"path": "servers/filesystem/readTextFile.ts"})),
            call("read_file", json!({"path": "servers/time/convertTime.ts"})),
            call("read_file", json!({"path": "servers/git/index.ts"})),
            call("search_tools", json!({"query": "x", "server": "nope"})),
            call("read_file", json!({"path": "servers/everything/nope.ts"})),
        ]),
    );
    let initialize = &results[0];
    assert_eq!(initialize["serverInfo"]["name"], "sluice");
    assert!(
        initialize["instructions"]
            .as_str()
            .unwrap()
            .contains("execute_code")
    );

    let tools: Vec<&str> = results[1]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tool| tool["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        tools,
        [
            "search_tools",
            "list_files",
            "read_file",
            "execute_code",
            "save_skill"
        ]
    );

    // execute_code declares the shape of its structured content; the SDK checks every
    // successful execution's result against it (the suites' executions pass through it).
    let execute = results[1]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|tool| tool["name"] == "execute_code")
        .unwrap();
    assert_eq!(execute["outputSchema"], json!({"type": "object"}));

    let search = text(&results[2]);
    assert!(search.starts_with("everything.getSum: "), "{search}");

    assert_eq!(
        text(&results[3]),
        "time.convertTime\ntime.getCurrentTime\nImport: import * as x from \"./servers/<server>\"; then await x.<function>({...}).\n"
    );

    let listing = text(&results[4]);
    let folders: Vec<&str> = listing
        .lines()
        .map(|line| line.split("  # ").next().unwrap_or_default())
        .collect();
    assert_eq!(
        folders,
        ["everything/", "filesystem/", "git/", "memory/", "time/"],
        "{listing}"
    );
    assert!(
        listing.contains("time/  # 2 tools: time, convert, current\n"),
        "{listing}"
    );
    assert!(listing.contains("git/  # 12 tools: git"), "{listing}");

    insta::assert_snapshot!("everything_get_sum", text(&results[5]));
    insta::assert_snapshot!("filesystem_read_text_file", text(&results[6]));
    insta::assert_snapshot!("time_convert_time", text(&results[7]));
    insta::assert_snapshot!("git_index", text(&results[8]));

    assert_eq!(results[9]["isError"], true);
    assert_eq!(
        text(&results[9]),
        "no server named \"nope\"; servers: everything, filesystem, git, memory, time"
    );
    assert_eq!(results[10]["isError"], true);
    assert!(text(&results[10]).starts_with("no file or folder \"servers/everything/nope.ts\""));
}
