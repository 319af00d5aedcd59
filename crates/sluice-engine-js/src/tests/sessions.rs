//! Sessions: a runtime kept across executions, and the rule that publishes top-level
//! declarations on `globalThis`.

use serde_json::json;
use sluice_worker_protocol::{ExecutionLimits, LogLevel};

use super::{Step, error, limits, result, run_steps};
use sluice_worker_protocol::ErrorKind;

#[test]
fn variables_and_functions_survive_into_the_next_execution() {
    let results = run_steps(vec![
        Step::session(
            "const base: number = 40;\nlet counter = 0;\nfunction add(n: number): number { counter += 1; return base + n; }\nclass Box { constructor(public value: number) {} }\nexport default add(1);",
        ),
        Step::session(
            "export default [add(2), counter, new Box(3).value, typeof base, typeof Box];\nif (counter > 0) { var nested = 'n'; }\nfor (var index = 0; index < 2; index++) {}",
        ),
        Step::session("export default [nested, index];"),
        Step::fresh("export default [typeof add, typeof counter, typeof base];"),
    ]);
    assert_eq!(result(&results[0].0), &json!(41));
    assert_eq!(
        result(&results[1].0),
        &json!([42, 2, 3, "number", "function"])
    );
    // `var`s nested in top-level blocks and loop heads are module-scoped: published too.
    assert_eq!(result(&results[2].0), &json!(["n", 2]));
    // An execution without keep_state runs in a fresh runtime and ends the session.
    assert_eq!(
        result(&results[3].0),
        &json!(["undefined", "undefined", "undefined"])
    );
}

#[test]
fn published_bindings_are_live_and_const_stays_const() {
    let results = run_steps(vec![
        Step::session(
            "let count = 1;\nexport function bump() { count += 1; return count; }\nconst fixed = 'x';",
        ),
        Step::session("bump(); count = count + 10; export default [count, bump()];"),
        Step::session(
            "let failed = false;\ntry { (globalThis as any).fixed = 'y'; } catch { failed = true; }\nexport default [fixed, failed];",
        ),
        // A later declaration of the same name replaces the published one; functions of the
        // earlier execution keep their own binding.
        Step::session("let count = 100; export default [count, bump()];"),
        Step::session("export default count;"),
    ]);
    assert_eq!(result(&results[1].0), &json!([12, 13]));
    assert_eq!(result(&results[2].0), &json!(["x", true]));
    assert_eq!(result(&results[3].0), &json!([100, 14]));
    assert_eq!(result(&results[4].0), &json!(100));
}

#[test]
fn an_execution_that_throws_publishes_what_it_reached() {
    let results = run_steps(vec![
        Step::session(
            "const before = 1;\nfunction hoisted() { return 'h'; }\nthrow new Error('midway');\nconst after = 2;",
        ),
        Step::session("export default [before, hoisted(), typeof (globalThis as any).after];"),
    ]);
    let first = error(&results[0].0);
    assert_eq!(first.kind, ErrorKind::RuntimeError);
    assert_eq!(first.line, Some(3), "{first:?}");
    assert!(
        !first.message.contains("discarded"),
        "a RuntimeError keeps the session: {}",
        first.message
    );
    assert_eq!(result(&results[1].0), &json!([1, "h", "undefined"]));
}

#[test]
fn functions_of_earlier_executions_log_and_call_tools_in_the_current_one() {
    let results = run_steps(vec![
        Step::session(
            "import { add } from './servers/math';\nasync function work(label: string) { console.log('working', label); const sum: any = await add({ label }); return sum.tool; }",
        ),
        Step::session("export default await work('second');"),
    ]);
    assert_eq!(result(&results[1].0), &json!("add"));
    let (_, host) = &results[1];
    assert_eq!(
        host.logs(),
        vec![(LogLevel::Log, "working second".to_owned())]
    );
    assert_eq!(host.tool_calls().len(), 1);
    assert!(results[0].1.logs().is_empty());
}

#[test]
fn positions_in_a_session_point_at_the_right_execution() {
    let results = run_steps(vec![
        Step::session(
            "type T = string;\n\nexport function fail(): never {\n  throw new Error('old');\n}",
        ),
        Step::session("\n\nconst x = 1;\nthrow new Error('new ' + x);"),
        Step::session("fail();"),
    ]);
    let second = error(&results[1].0);
    assert_eq!(
        (second.line, second.column.is_some()),
        (Some(4), true),
        "{second:?}"
    );
    let third = error(&results[2].0);
    // The frame of the current execution gives the position; the earlier execution's frame is
    // mapped with its own map.
    assert_eq!(third.line, Some(1), "{third:?}");
    assert!(third.message.contains("main-1.ts:4:"), "{}", third.message);
}

#[test]
fn a_timeout_discards_the_session_and_says_so() {
    let short = ExecutionLimits {
        timeout_ms: 200,
        ..limits()
    };
    let results = run_steps(vec![
        Step::session("const kept = 'yes';"),
        Step::session("while (true) {}").with_limits(short),
        Step::session("export default typeof (globalThis as any).kept;"),
    ]);
    let timeout = error(&results[1].0);
    assert_eq!(timeout.kind, ErrorKind::Timeout);
    assert!(
        timeout
            .message
            .contains("session's JavaScript state was discarded"),
        "{}",
        timeout.message
    );
    assert_eq!(result(&results[2].0), &json!("undefined"));
}

#[test]
fn out_of_memory_discards_the_session() {
    let small = ExecutionLimits {
        memory_bytes: 32 * 1024 * 1024,
        ..limits()
    };
    let results = run_steps(vec![
        Step::session("var kept = 1;").with_limits(small.clone()),
        Step::session(
            "const a: string[] = []; while (true) a.push('x'.repeat(1 << 20) + a.length);",
        )
        .with_limits(small.clone()),
        Step::session("export default typeof (globalThis as any).kept;").with_limits(small),
    ]);
    let oom = error(&results[1].0);
    assert_eq!(oom.kind, ErrorKind::OutOfMemory);
    assert!(oom.message.contains("discarded"), "{}", oom.message);
    assert_eq!(result(&results[2].0), &json!("undefined"));
}

#[test]
fn a_syntax_error_keeps_the_session() {
    let results = run_steps(vec![
        Step::session("var kept = 1;"),
        Step::session("const = ;"),
        Step::session("export default kept;"),
    ]);
    assert_eq!(error(&results[1].0).kind, ErrorKind::SyntaxError);
    assert_eq!(result(&results[2].0), &json!(1));
}

#[test]
fn a_syntax_error_before_any_session_state_does_not_claim_state_was_lost() {
    let results = run_steps(vec![Step::session("const = ;")]);
    let first = error(&results[0].0);
    assert_eq!(first.kind, ErrorKind::SyntaxError);
    assert!(!first.message.contains("discarded"), "{}", first.message);
}

#[test]
fn prototype_changes_persist_only_within_a_session() {
    let results = run_steps(vec![
        Step::session("(Object.prototype as any).polluted = 'yes';"),
        Step::session("export default ({} as any).polluted;"),
        Step::fresh("export default typeof ({} as any).polluted;"),
    ]);
    assert_eq!(result(&results[1].0), &json!("yes"));
    assert_eq!(result(&results[2].0), &json!("undefined"));
}
