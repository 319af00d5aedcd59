//! Tool search end to end: the recorded real catalogs behind `sluice serve` (each server a real
//! process speaking MCP), the sentence-encoder model from `scripts/fetch-model`, the Python SDK
//! as the agent, and the frozen labelled queries through `sluice tools eval`.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use sluice_test_support::{
    McpConfig, fake_server, model_folder, run_python_client, workspace_root,
};

use super::common::{call, sluice_command, sluice_serve_with_data};

/// One fake server per recorded server, each serving that server's recorded tools.
fn recorded_catalog_config(folder: &Path) -> tempfile::NamedTempFile {
    let combined: Value = serde_json::from_str(
        &std::fs::read_to_string(
            workspace_root().join("data/catalogs/_combined_excluding_twilio_all.json"),
        )
        .expect("read the combined catalog"),
    )
    .expect("the combined catalog is JSON");
    let mut servers: std::collections::BTreeMap<String, Vec<Value>> = Default::default();
    for tool in combined["tools"].as_array().expect("tools") {
        let mut tool = tool.clone();
        let server = tool["server"].as_str().expect("server").to_owned();
        tool.as_object_mut().expect("object").remove("server");
        servers.entry(server).or_default().push(tool);
    }
    let mut config = McpConfig::new();
    for (server, tools) in servers {
        let file = folder.join(format!("{server}.json"));
        std::fs::write(&file, serde_json::to_vec(&tools).expect("json")).expect("write tools");
        let command = fake_server(&[])
            .arg("--tools-file")
            .arg(file.to_string_lossy().into_owned());
        config = config.server(&server, &command);
    }
    config.write_temp()
}

/// A data folder kept between test runs in `target/`, so the tool vectors are computed once.
/// The tests that use it take turns (the guard), so the second finds the vectors the first
/// computed instead of computing them at the same time.
fn persistent_data_dir() -> (PathBuf, std::sync::MutexGuard<'static, ()>) {
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let guard = TURN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let dir = workspace_root().join("target/test-data/search");
    std::fs::create_dir_all(&dir).expect("create the test data folder");
    (dir, guard)
}

fn search_text(result: &Value) -> String {
    result["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn the_labelled_held_out_queries_meet_the_recall_floor() {
    let (data_dir, _turn) = persistent_data_dir();
    let output = sluice_command()
        .current_dir(workspace_root())
        .args(["tools", "eval", "--split", "heldout", "--json", "--model"])
        .arg(model_folder())
        .arg("--data-dir")
        .arg(&data_dir)
        .output()
        .expect("run sluice tools eval");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).expect("eval prints JSON");
    let all = &report["by_split"]["heldout"]["all"];
    assert_eq!(all["queries"], 121);
    let recall_at_5 = all["recall"][1].as_f64().expect("recall@5");
    let recall_at_10 = all["recall"][2].as_f64().expect("recall@10");
    let mrr = all["mrr"].as_f64().expect("mrr");
    // The floors sit a little under the measured figures (see the issue note), so a change that
    // makes search worse fails here.
    assert!(recall_at_5 >= 0.78, "recall@5 {recall_at_5}");
    assert!(recall_at_10 >= 0.85, "recall@10 {recall_at_10}");
    assert!(mrr >= 0.62, "MRR {mrr}");
    // Lexical alone is measurably worse: the encoder earns its place.
    let lexical = sluice_command()
        .current_dir(workspace_root())
        .args([
            "tools", "eval", "--split", "heldout", "--json", "--method", "lexical",
        ])
        .output()
        .expect("run sluice tools eval");
    let lexical: Value = serde_json::from_slice(&lexical.stdout).expect("eval prints JSON");
    let lexical_mrr = lexical["by_split"]["heldout"]["all"]["mrr"]
        .as_f64()
        .expect("mrr");
    assert!(
        mrr > lexical_mrr + 0.03,
        "fused {mrr} vs lexical {lexical_mrr}"
    );
}

#[test]
fn search_tools_over_fifty_real_catalogs_answers_paraphrases_and_browsing() {
    let folder = tempfile::tempdir().expect("temp dir");
    let config = recorded_catalog_config(folder.path());
    let (data_dir, _turn) = persistent_data_dir();
    // `sluice tools search` computes the tool vectors before it answers, and caches them in the
    // data folder; `sluice serve` then ranks with the encoder from its first search. (Started
    // from `target/debug`, both find the model in `target/models` by themselves.)
    let warm = sluice_command()
        .args(["tools", "search", "--config"])
        .arg(config.path())
        .arg("--data-dir")
        .arg(&data_dir)
        .arg("a first search")
        .output()
        .expect("run sluice tools search");
    assert!(
        warm.status.success(),
        "{}",
        String::from_utf8_lossy(&warm.stderr)
    );
    let search = |query: &str| call("search_tools", json!({"query": query, "detail": "summary"}));
    let ops = json!([
        search("what time is it in Tokyo right now"),
        search("search the web for recent news about electric cars"),
        search("get_current_time"),
        search("qwertyuiop zxcvbnm"),
        call(
            "search_tools",
            json!({"query": "list merge requests", "limit": 3})
        ),
        call("list_files", json!({"path": "servers"})),
    ]);
    let output = run_python_client(&sluice_serve_with_data(config.path(), &data_dir), &ops).ok();
    let results = output["results"].as_array().expect("results").clone();
    let count = results.len();
    let time = search_text(&results[count - 6]);
    let first = time.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("mcp-server-time.getCurrentTime")
            || first.starts_with("google-calendar-mcp.getCurrentTime"),
        "{time}"
    );
    let web = search_text(&results[count - 5]);
    assert!(
        web.contains("(also "),
        "the same tool on two servers is one entry: {web}"
    );
    assert!(web.contains("braveWebSearch"), "{web}");
    let exact = search_text(&results[count - 4]);
    assert!(
        exact.starts_with("google-calendar-mcp.getCurrentTime")
            || exact.starts_with("mcp-server-time.getCurrentTime"),
        "{exact}"
    );
    let nonsense = search_text(&results[count - 3]);
    assert!(nonsense.contains("Closest servers: "), "{nonsense}");
    // A limit that leaves matches out says how many, and how to reach them.
    let cut = search_text(&results[count - 2]);
    assert!(
        cut.contains("more match as well: make the query more specific or pass `server`"),
        "{cut}"
    );
    let listing = search_text(&results[count - 1]);
    assert!(
        listing.contains("mcp-server-time/  # 2 tools: time"),
        "{listing}"
    );
    assert!(
        listing.contains("mcp-gitlab-all/  # 262 tools"),
        "{listing}"
    );
}

#[test]
fn the_starting_context_stays_small_at_any_catalog_size() {
    let folder = tempfile::tempdir().expect("temp dir");
    let tools_of = |count: usize, server: usize| -> Vec<Value> {
        (0..count)
            .map(|index| {
                json!({
                    "name": format!("tool_{server}_{index}"),
                    "description": format!("Does thing {index} of server {server} with a long enough description."),
                    "inputSchema": {"type": "object", "properties": {"id": {"type": "string"}}}
                })
            })
            .collect()
    };
    let mut tokens = Vec::new();
    for (servers, per_server) in [(1, 10), (20, 500)] {
        let mut config = McpConfig::new();
        for server in 0..servers {
            let file = folder.path().join(format!("s{servers}-{server}.json"));
            std::fs::write(
                &file,
                serde_json::to_vec(&tools_of(per_server, server)).expect("json"),
            )
            .expect("write");
            let command = fake_server(&[])
                .arg("--tools-file")
                .arg(file.to_string_lossy().into_owned());
            config = config.server(&format!("server{server}"), &command);
        }
        let config = config.write_temp();
        let ops = json!([{"op": "list_tools"}, call("list_files", json!({"path": "servers"}))]);
        let data_dir = tempfile::tempdir().expect("data dir");
        let serve = sluice_serve_with_data(config.path(), data_dir.path())
            .arg("--model")
            .arg("none");
        let output = run_python_client(&serve, &ops).ok();
        let listing = search_text(&output["results"][1]);
        assert_eq!(
            listing.matches(&format!("# {per_server} tools")).count(),
            servers,
            "{listing}"
        );
        let context = format!(
            "{}{}",
            output["instructions"].as_str().unwrap_or_default(),
            serde_json::to_string(&output["results"][0]).expect("json")
        );
        tokens.push(sluice_tokens::count(&context));
    }
    assert!(tokens.iter().all(|&count| count <= 1_000), "{tokens:?}");
    assert_eq!(
        tokens[0], tokens[1],
        "the context does not grow with the catalog"
    );
}

#[test]
fn without_a_model_search_says_so_once_and_ranks_lexically() {
    let folder = tempfile::tempdir().expect("temp dir");
    let config = recorded_catalog_config(folder.path());
    let output = sluice_command()
        .args(["tools", "search", "--limit", "3", "--config"])
        .arg(config.path())
        .args(["--model"])
        .arg(folder.path().join("no-such-model"))
        .arg("list kubernetes pods")
        .output()
        .expect("run sluice tools search");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(
        stderr.matches("search is lexical only").count(),
        1,
        "{stderr}"
    );
    assert!(stderr.contains("scripts/fetch-model"), "{stderr}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("mcp-server-kubernetes."), "{stdout}");
}
