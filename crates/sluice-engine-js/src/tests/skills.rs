//! Skills as modules, `Check`, and `fs/promises` as the engine sees it.

use serde_json::json;
use sluice_worker_protocol::Language;

use super::{FakeHost, Step, error, result, run, run_steps};
use crate::{FileStat, WorkspaceError, WorkspaceReply, WorkspaceRequest, check};
use sluice_worker_protocol::ErrorKind;

const CSV_SKILL: &str = "import { getSum } from '../../servers/math';\nimport { quote } from '../quote';\nexport async function saveSheetAsCsv(rows: string[][]): Promise<string> {\n  const total: any = await getSum({ rows: rows.length });\n  return rows.map((row) => row.map(quote).join(',')).join('\\n') + '\\n# ' + total.tool;\n}\nexport default 'csv';\n";
const QUOTE_SKILL: &str =
    "export function quote(cell: string): string {\n  return JSON.stringify(cell);\n}\n";
const ROOT_STYLE_SKILL: &str = "import { add } from './servers/math';\nimport { quote } from './skills/quote';\nexport const viaRoot = async () => quote(((await add({})) as any).tool);\n";

fn skills() -> Vec<(&'static str, &'static str)> {
    vec![
        ("save-sheet-as-csv", CSV_SKILL),
        ("quote", QUOTE_SKILL),
        ("root-style", ROOT_STYLE_SKILL),
        ("broken", "export function broken( {\n"),
        (
            "thrower",
            "\n\nexport function boom(): never {\n  throw new Error('from the skill');\n}\n",
        ),
    ]
}

#[test]
fn a_skill_imports_tools_and_other_skills() {
    let results = run_steps(vec![
        Step::fresh(
            "import { saveSheetAsCsv } from './skills/save-sheet-as-csv';\nimport label from './skills/save-sheet-as-csv/index.ts';\nexport default [await saveSheetAsCsv([['a', 'b'], ['c', 'd']]), label];",
        )
        .with_skills(&skills()),
        Step::fresh(
            "import { viaRoot } from './skills/root-style';\nconst dynamic = await import('./skills/quote');\nexport default [await viaRoot(), dynamic.quote('x')];",
        )
        .with_skills(&skills()),
    ]);
    assert_eq!(
        result(&results[0].0),
        &json!(["\"a\",\"b\"\n\"c\",\"d\"\n# get-sum", "csv"])
    );
    assert_eq!(
        results[0].1.tool_calls()[0].1,
        "get-sum",
        "the skill's tool call went out"
    );
    assert_eq!(result(&results[1].0), &json!(["\"add\"", "\"x\""]));
}

#[test]
fn unknown_and_broken_skills_are_import_errors() {
    let results = run_steps(vec![
        Step::fresh("import { x } from './skills/save-sheet-as-cvs';\nx();").with_skills(&skills()),
        Step::fresh("import { nope } from './skills/quote';\nnope();").with_skills(&skills()),
        Step::fresh("import { broken } from './skills/broken';\nbroken();").with_skills(&skills()),
        Step::fresh("import { x } from './skills/x';\nx();").with_skills(&[]),
        Step::fresh("const m = await import('./skills/missing');").with_skills(&skills()),
        Step::fresh("import { total } from './skills/py-sum';\ntotal([1]);")
            .with_skills(&skills())
            .with_python_skill("py-sum", "def total(xs):\n    return sum(xs)\n"),
    ]);
    let unknown = error(&results[0].0);
    assert_eq!(unknown.kind, ErrorKind::ImportError);
    assert_eq!(unknown.line, Some(1));
    for expected in [
        "no skill 'save-sheet-as-cvs'",
        "Did you mean 'save-sheet-as-csv'?",
        "Skills loaded for this code: broken, quote, root-style, save-sheet-as-csv, thrower.",
    ] {
        assert!(unknown.message.contains(expected), "{}", unknown.message);
    }
    let missing_export = error(&results[1].0);
    assert_eq!(missing_export.kind, ErrorKind::ImportError);
    assert!(
        missing_export
            .message
            .contains("Skill 'quote' has no export 'nope'. It exports: quote."),
        "{}",
        missing_export.message
    );
    let broken = error(&results[2].0);
    assert_eq!(broken.kind, ErrorKind::ImportError);
    assert!(
        broken.message.contains("Skill 'broken' does not compile"),
        "{}",
        broken.message
    );
    assert!(
        error(&results[3].0)
            .message
            .contains("No skill this code names is saved"),
        "{}",
        error(&results[3].0).message
    );
    let dynamic = error(&results[4].0);
    assert_eq!(dynamic.kind, ErrorKind::ImportError, "{dynamic:?}");
    assert!(
        dynamic.message.contains("no skill 'missing'"),
        "{}",
        dynamic.message
    );
    let python = error(&results[5].0);
    assert_eq!(python.kind, ErrorKind::ImportError, "{python:?}");
    assert!(
        python
            .message
            .contains("the skill 'py-sum' was saved in Python")
            && python.message.contains("from skills.py_sum import"),
        "{}",
        python.message
    );
}

#[test]
fn errors_inside_a_skill_point_at_the_skill_source() {
    let results = run_steps(vec![
        Step::fresh("import { boom } from './skills/thrower';\n\nboom();").with_skills(&skills()),
    ]);
    let failure = error(&results[0].0);
    assert_eq!(failure.kind, ErrorKind::RuntimeError);
    assert!(
        failure.message.contains("skills/thrower/index.ts:4:"),
        "{}",
        failure.message
    );
    assert!(!failure.message.contains('@'), "{}", failure.message);
    assert_eq!(failure.line, Some(3), "{failure:?}");
}

#[test]
fn a_changed_skill_is_a_new_module_within_a_session() {
    let results = run_steps(vec![
        Step::session("import { value } from './skills/v';\nexport default value;")
            .with_skills(&[("v", "export const value = 1;")]),
        Step::session("import { value } from './skills/v';\nexport default value;")
            .with_skills(&[("v", "export const value = 2;")]),
    ]);
    assert_eq!(result(&results[0].0), &json!(1));
    assert_eq!(result(&results[1].0), &json!(2));
}

#[test]
fn check_lists_exports_and_reports_errors() {
    let report = check(
        "import { add } from './servers/math';\ntype T = number;\nexport const a: T = 1;\nexport function b() { return add({}); }\nexport default class {}\nexport { a as c };\n",
        Language::Typescript,
    );
    assert_eq!(report.error, None);
    assert_eq!(report.exports, ["a", "b", "c", "default"]);

    let report = check("export const a = ;\n", Language::Typescript);
    let failure = report.error.unwrap();
    assert_eq!(failure.kind, ErrorKind::SyntaxError);
    assert_eq!((failure.line, failure.column), (Some(1), Some(18)));
    assert!(report.exports.is_empty());

    let long = format!("export const r = /{}/;\n", "a".repeat(5000));
    let report = check(&long, Language::Javascript);
    let failure = report.error.unwrap();
    assert_eq!(failure.kind, ErrorKind::SyntaxError);
    assert!(failure.message.contains("4096"), "{}", failure.message);
}

#[test]
fn fs_without_a_workspace_rejects_every_call_clearly() {
    let (finished, _) = run(
        "import * as fs from 'fs/promises';\nimport { readFile } from 'node:fs/promises';\ntry { await readFile('./workspace/a.txt', 'utf8'); } catch (e: any) { console.log(e.code); }\nlet caught: any;\ntry { await fs.writeFile('./workspace/a.txt', 'x'); } catch (e) { caught = e; }\nexport default [caught instanceof Error, caught.code, caught.syscall, caught.path, caught.message];",
        FakeHost::echo(),
    );
    let value = result(&finished);
    assert_eq!(value[0], json!(true));
    assert_eq!(value[1], json!("ENOSYS"));
    assert_eq!(value[2], json!("open"));
    assert_eq!(value[3], json!("./workspace/a.txt"));
    assert!(
        value[4].as_str().unwrap().contains("no workspace folder"),
        "{value}"
    );
}

#[test]
fn fs_calls_reach_the_host_and_settle_with_its_replies() {
    let host = FakeHost::echo().with_files(|request| match request {
        WorkspaceRequest::ReadFile {
            path, max_bytes, ..
        } => {
            assert_eq!(*max_bytes, 64 * 1024 * 1024);
            Ok(WorkspaceReply::Bytes(
                format!("text of {path}").into_bytes(),
            ))
        }
        WorkspaceRequest::WriteFile {
            data,
            append,
            quota_bytes,
            ..
        } => {
            assert_eq!((data.as_slice(), *quota_bytes), (b"hello".as_slice(), 0));
            if *append {
                Err(WorkspaceError::new(
                    request,
                    "EDQUOT",
                    "quota exceeded",
                    "Remove files",
                ))
            } else {
                Ok(WorkspaceReply::Done)
            }
        }
        WorkspaceRequest::ReadDir { .. } => Ok(WorkspaceReply::Names(vec!["a".into(), "b".into()])),
        WorkspaceRequest::Stat { .. } => Ok(WorkspaceReply::Stat(FileStat {
            size: 5,
            modified_ms: 1000.0,
            is_file: true,
            is_directory: false,
        })),
        WorkspaceRequest::Remove {
            recursive, force, ..
        } => {
            assert!(*recursive && *force);
            Ok(WorkspaceReply::Done)
        }
        WorkspaceRequest::MakeDir { recursive, .. } => {
            assert!(*recursive);
            Ok(WorkspaceReply::Done)
        }
    });
    let (finished, _) = run(
        r#"
        import fs, { stat } from "fs/promises";
        const text = await fs.readFile("./workspace/a.txt", { encoding: "utf8" });
        const written = await fs.writeFile("workspace/a.txt", "hello");
        let quota = "";
        try { await fs.appendFile("workspace/a.txt", "hello"); } catch (e: any) { quota = e.code; }
        const info = await stat("./workspace/a.txt");
        await fs.rm("./workspace/d", { recursive: true, force: true });
        await fs.mkdir("./workspace/d/e", { recursive: true });
        let typeError = "";
        try { await fs.writeFile("./workspace/a.txt", { a: 1 } as any); } catch (e: any) { typeError = e.code; }
        let encoding = "";
        try { await fs.readFile("./workspace/a.txt", "latin1"); } catch (e: any) { encoding = e.code; }
        export default [text, written, quota, await fs.readdir("./workspace"), info.size, info.isFile(), info.isDirectory(), info.mtimeMs, typeError, encoding];
        "#,
        host,
    );
    assert_eq!(
        result(&finished),
        &json!([
            "text of ./workspace/a.txt",
            null,
            "EDQUOT",
            ["a", "b"],
            5,
            true,
            false,
            1000,
            "ERR_INVALID_ARG_TYPE",
            "ERR_INVALID_ARG_VALUE"
        ])
    );
}
