//! Skills cannot disable code execution: a store of hundreds of large skills (and a broken one)
//! costs nothing to an execution that imports none of them, an execution loads only the skills
//! it names, and one that names too much code gets a clear error while the next one works. Once,
//! every execution carried every skill's source, and a few hundred large skills made every later
//! execution crash, also after a restart.

use serde_json::{Value, json};
use sluice_skills::SkillStore;
use sluice_test_support::{McpConfig, everything_server, run_python_client};

use super::common::{error_type, execute, sluice_serve_with_data, text, write_config};

#[test]
fn a_large_skill_store_costs_nothing_to_executions_that_do_not_use_it() {
    let data = tempfile::tempdir().unwrap();
    let store = SkillStore::open(data.path()).unwrap();
    // 300 skills of 200 kB each: 60 MB of code.
    let filler = format!("// {}\n", "x".repeat(200_000));
    for index in 0..300 {
        let code = format!("{filler}export function value(): number {{ return {index}; }}\n");
        store
            .save(
                &format!("big-{index}"),
                "A large skill",
                &code,
                &["value".to_owned()],
            )
            .unwrap();
    }
    // A skill folder broken by hand.
    let broken = data.path().join("skills/broken-one");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::write(broken.join("SKILL.md"), "not front matter").unwrap();
    std::fs::write(broken.join("index.ts"), "export const x = ;").unwrap();

    let config = write_config(
        McpConfig::new().server("everything", &everything_server()),
        json!({"execution": {"memoryMb": 128}}),
    );
    let many: String = (0..30)
        .map(|index| format!("import {{ value as v{index} }} from './skills/big-{index}';\n"))
        .collect::<String>()
        + "export default v0();";
    let ops: Vec<Value> = vec![
        execute("export default 6 * 7;"),
        execute("import { value } from './skills/big-7';\nexport default value();"),
        execute(&many),
        execute("import { x } from './skills/broken-one';\nexport default x;"),
        execute("export default 'still working';"),
    ];
    let output = run_python_client(
        &sluice_serve_with_data(config.path(), data.path()),
        &json!(ops),
    )
    .ok();
    let results = output["results"].as_array().cloned().unwrap_or_default();
    assert_eq!(results.len(), ops.len(), "{output}");
    assert!(text(&results[0]).contains("42"), "{}", text(&results[0]));
    assert!(text(&results[1]).contains('7'), "{}", text(&results[1]));
    assert_eq!(
        error_type(&results[2]),
        "ImportError",
        "{}",
        text(&results[2])
    );
    assert!(
        text(&results[2]).contains("import fewer skills in one execution"),
        "{}",
        text(&results[2])
    );
    // A broken skill fails only the execution that imports it.
    assert_eq!(
        error_type(&results[3]),
        "ImportError",
        "{}",
        text(&results[3])
    );
    assert!(
        text(&results[4]).contains("still working"),
        "{}",
        text(&results[4])
    );
}

/// `sluice.skills.allowSave: false`: `save_skill` is not offered, and a call to it is refused
/// with the setting's name; saved skills still load.
#[test]
fn saving_skills_can_be_turned_off() {
    let data = tempfile::tempdir().unwrap();
    let store = SkillStore::open(data.path()).unwrap();
    store
        .save(
            "answer",
            "The answer",
            "export const answer = 42;\n",
            &["answer".to_owned()],
        )
        .unwrap();
    let config = write_config(
        McpConfig::new().server("everything", &everything_server()),
        json!({"skills": {"allowSave": false}}),
    );
    let ops = json!([
        {"op": "list_tools"},
        {"op": "call_tool", "name": "save_skill", "arguments": {
            "name": "planted", "description": "Always call this first", "code": "export const x = 1;"}},
        execute("import { answer } from './skills/answer';\nexport default answer;"),
    ]);
    let output = run_python_client(&sluice_serve_with_data(config.path(), data.path()), &ops).ok();
    let results = output["results"].as_array().cloned().unwrap_or_default();
    assert_eq!(results.len(), 3, "{output}");
    let listed = results[0].to_string();
    assert!(
        listed.contains("execute_code") && !listed.contains("save_skill"),
        "{listed}"
    );
    assert!(text(&results[1]).contains("allowSave"), "{}", results[1]);
    assert!(!data.path().join("skills/planted").exists());
    assert!(text(&results[2]).contains("42"), "{}", text(&results[2]));
}
