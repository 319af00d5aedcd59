//! `execute_code` through `sluice serve`, driven by the Python MCP SDK, against the real npm servers
//! (everything, filesystem, memory): the scripts of the reference design and every failure the
//! agent can cause.

use serde_json::json;
use sluice_test_support::{
    McpConfig, everything_server, filesystem_server, memory_server, run_python_client,
};

use super::common::{
    error_type, execute, execute_with_timeout, run_ops, sluice_serve_with_data, structured, text,
    write_config,
};

#[test]
fn reference_scripts_against_real_servers() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let log: String = (0..2_000)
        .map(|line| {
            let level = if line % 97 == 0 { "ERROR" } else { "INFO" };
            format!("{line:05} {level} request handled in {} ms\n", line % 13)
        })
        .collect();
    let log_path = scratch.path().join("server.log");
    std::fs::write(&log_path, &log).expect("write log");
    let config = McpConfig::new()
        .server("everything", &everything_server())
        .server("filesystem", &filesystem_server([scratch.path()]))
        .server(
            "memory",
            &memory_server(scratch.path().join("memory.jsonl")),
        );
    let config = write_config(
        config,
        json!({"execution": {"outputBytes": 4096, "memoryMb": 64}}),
    );
    let log_path = log_path.display().to_string();

    let large_result = format!(
        r#"import * as fs from "./servers/filesystem";
const file = await fs.readTextFile({{ path: {log_path:?} }});
const errors = file.content.split("\n").filter((line) => line.includes("ERROR"));
console.log(`${{errors.length}} errors`);
for (const line of errors.slice(0, 5)) console.log(line);"#
    );
    let polling = r#"import * as memory from "./servers/memory";
let polls = 0;
while (true) {
  polls++;
  const graph = await memory.readGraph({});
  if (graph.entities.length > 0) break;
  if (polls === 3) await memory.createEntities({ entities: [{ name: "deploy", entityType: "event", observations: ["done"] }] });
  await new Promise((resolve) => setTimeout(resolve, 20));
}
console.log(`ready after ${polls} polls`);"#;
    let try_catch = r#"import * as fs from "./servers/filesystem";
import { ToolError } from "./runtime";
try {
  await fs.readTextFile({ path: "/definitely/not/here.txt" });
} catch (error) {
  console.log(error instanceof ToolError, (error as ToolError).kind, (error as ToolError).server, (error as ToolError).tool);
}
console.log("continued");"#;
    let fan_out = r#"import * as everything from "./servers/everything";
import * as memory from "./servers/memory";
const started = Date.now();
const [sums, graph] = await Promise.all([
  Promise.all(Array.from({ length: 20 }, (_, n) => everything.getSum({ a: n, b: 1 }))),
  memory.readGraph({}),
]);
console.log(sums.length, sums[19], Array.isArray(graph.entities));
export default { calls: sums.length + 1 };"#;
    let single_file = r#"import { echo } from "./servers/everything/echo";
console.log(await echo({ message: "single file" }));"#;
    let syntax_error = "const a = 1;\nconst b = 2;\nconst c = a +* b;\n";
    let infinite_loop = "while (true) {}";
    let memory_bomb = "const chunks = []; while (true) chunks.push(new Array(1_000_000).fill(42));";
    let output_flood =
        r#"for (let i = 0; i < 10_000; i++) console.log(`line ${i} of a flood of output`);"#;
    let wrong_arguments = r#"import * as everything from "./servers/everything";
await everything.getSum({ a: "one", b: 2 } as any);"#;

    let results = run_ops(
        config.path(),
        json!([
            execute(&large_result),
            execute(polling),
            execute(try_catch),
            execute(fan_out),
            execute(single_file),
            execute(syntax_error),
            execute_with_timeout(infinite_loop, 700),
            execute("console.log('alive after the loop')"),
            execute(memory_bomb),
            execute(output_flood),
            execute(wrong_arguments),
        ]),
    );

    // 1. A 2,000-line file read and filtered in code: only 6 lines reach the model.
    let output = text(&results[0]);
    let lines: Vec<&str> = output.lines().collect();
    assert_eq!(lines.len(), 6, "{output}");
    assert_eq!(lines[0], "21 errors");
    assert_eq!(lines[1], "00000 ERROR request handled in 0 ms");
    let tokens = structured(&results[0])["stats"]["result_tokens"]
        .as_u64()
        .unwrap();
    assert!(tokens < 150, "{tokens} tokens");
    assert!(log.len() > 50_000);

    // 2. Polling with setTimeout until a condition holds.
    assert_eq!(text(&results[1]), "ready after 4 polls\n");

    // 3. A failing tool is a catchable ToolError; the script goes on.
    assert_eq!(
        text(&results[2]),
        "true tool filesystem read_text_file\ncontinued\n"
    );
    assert_eq!(results[2]["isError"], false);

    // 4. Promise.all across servers.
    assert_eq!(
        text(&results[3]),
        "20 The sum of 19 and 1 is 20. true\n[result] {\"calls\":21}\n"
    );
    assert_eq!(structured(&results[3])["stats"]["tool_calls"], 21);
    assert_eq!(structured(&results[3])["result"], json!({"calls": 21}));

    // 5. Importing a single tool file.
    assert_eq!(text(&results[4]), "Echo: single file\n");

    // 6. A syntax error with line and column in the agent's code.
    assert_eq!(error_type(&results[5]), "SyntaxError");
    assert_eq!(structured(&results[5])["error"]["line"], 3);
    assert!(
        structured(&results[5])["error"]["column"]
            .as_u64()
            .is_some()
    );
    assert_eq!(results[5]["isError"], true);

    // 7. An infinite loop is stopped, and the gateway serves the next execution.
    assert_eq!(error_type(&results[6]), "Timeout");
    assert!(
        text(&results[6]).contains("700 ms"),
        "{}",
        text(&results[6])
    );
    assert_eq!(text(&results[7]), "alive after the loop\n");

    // 8. A memory bomb hits the heap limit.
    assert_eq!(
        error_type(&results[8]),
        "OutOfMemory",
        "{}",
        text(&results[8])
    );

    // 9. An output flood is cut to the budget, with a notice.
    let flood = text(&results[9]);
    assert!(flood.len() < 4_500, "{} bytes", flood.len());
    assert!(flood.contains("[output truncated: "), "{flood}");
    assert!(
        structured(&results[9])["stats"]["output_truncated_bytes"]
            .as_u64()
            .unwrap()
            > 100_000
    );

    // 10. Wrong arguments: the error names the field and what was expected.
    assert_eq!(error_type(&results[10]), "ToolError");
    let message = structured(&results[10])["error"]["message"]
        .as_str()
        .unwrap();
    assert!(
        message.contains("field `a`: \"one\" is not of type \"number\""),
        "{message}"
    );
}

/// A tool that sends text and an image (the everything server's tiny PNG) resolves with its typed
/// content blocks; the image's base64 is saved to the workspace as bytes and read back
/// unchanged, with the default privacy settings on.
#[test]
fn an_image_result_comes_as_content_blocks_and_saves_as_bytes() {
    let config = write_config(
        McpConfig::new().server("everything", &everything_server()),
        json!({}),
    );
    let data = tempfile::tempdir().expect("data dir");
    let code = r#"
import * as everything from "./servers/everything";
import { isContent, type ImageContent } from "./runtime";
import * as fs from "fs/promises";
const content = await everything.getTinyImage({});
if (!isContent(content)) throw new Error("not content blocks");
const image = content.find((block): block is ImageContent => block.type === "image")!;
await fs.writeFile("./workspace/logo.png", image.data, "base64");
const back = await fs.readFile("./workspace/logo.png", { encoding: "base64" });
const text = await fs.readFile("./workspace/logo.png", "utf8");
let invalid = "";
try { await fs.writeFile("./workspace/bad.png", "not base64!", "base64"); } catch (e) { invalid = String(e); }
console.log(content.map((block) => block.type).join(","), image.mimeType);
export default { same: back === image.data, size: (await fs.stat("./workspace/logo.png")).size,
                 png: text.slice(1, 4), invalid };
"#;
    let output = run_python_client(
        &sluice_serve_with_data(config.path(), data.path()),
        &json!([execute(code)]),
    )
    .ok();
    let result = &output["results"][0];
    assert_eq!(result["isError"], false, "{result}");
    assert_eq!(
        text(result).lines().next(),
        Some("text,image,text image/png")
    );
    let value = &structured(result)["result"];
    assert_eq!(value["same"], true, "{value}");
    assert_eq!(value["png"], "PNG", "{value}");
    assert!(
        value["invalid"]
            .as_str()
            .unwrap_or_default()
            .contains("not valid base64"),
        "{value}"
    );
    let saved = std::fs::read(data.path().join("workspace/logo.png")).expect("saved image");
    assert_eq!(value["size"], saved.len());
    assert!(saved.starts_with(b"\x89PNG\r\n\x1a\n"));
}
