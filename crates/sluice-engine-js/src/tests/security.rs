//! The security cases of docs/security.md that the engine itself answers:
//! resource exhaustion (16-21) and engine bugs (27-31). The numbers are the cases'.

use std::time::{Duration, Instant};

use serde_json::json;
use sluice_worker_protocol::ExecutionLimits;

use super::{FakeHost, Step, error, limits, result, run, run_steps, run_with};
use crate::MAX_REGEX_SOURCE_CHARS;
use sluice_worker_protocol::ErrorKind;

fn short() -> ExecutionLimits {
    ExecutionLimits {
        timeout_ms: 300,
        ..limits()
    }
}

/// Run `code` and assert it ended with one of `kinds` within `within`.
fn ends_with(code: &str, limits: ExecutionLimits, kinds: &[&str], within: Duration) {
    let started = Instant::now();
    let (finished, _) = run_with(code, limits, FakeHost::echo());
    let error = error(&finished);
    assert!(kinds.contains(&error.kind.as_str()), "{code}: {error:?}");
    assert!(
        started.elapsed() < within,
        "{code}: took {:?}",
        started.elapsed()
    );
}

/// Cases 16 and 19: CPU loops and promise-job loops end in `Timeout`, also when the interrupt
/// is caught by `try` or `.catch`.
#[test]
fn loops_and_job_loops_time_out() {
    for code in [
        "while (true) {}",
        "(async () => { for (;;) await null; })(); await new Promise(() => {});",
        "const spin = async () => { for (;;) await null; }; spin(); spin(); export default await new Promise(() => {});",
        "async function stuck() { for (;;) { try { await (async () => { while (true) {} })(); } catch {} } }\nstuck().catch(() => {});\nawait new Promise(() => {});",
        "function again(): void { Promise.resolve().then(again).catch(again); } again(); await new Promise(() => {});",
        "for (;;) { try { while (true) {} } catch {} finally { continue; } }",
    ] {
        ends_with(code, short(), &["Timeout"], Duration::from_secs(5));
    }
}

/// Case 17: C builtins over huge lengths. QuickJS-ng polls the interrupt handler in `indexOf`;
/// `repeat` hits the heap limit; `join` over a sparse array does not poll, so the engine stops it
/// as soon as it returns (the worker's and the gateway's watchdogs stop the 1e9 case, see the
/// worker tests). Each ends with one of the limit errors, never a hang.
#[test]
fn builtins_over_huge_lengths_end_with_a_limit() {
    ends_with(
        "Array.prototype.indexOf.call({ length: 2 ** 32 - 1 }, 1);",
        short(),
        &["Timeout"],
        Duration::from_secs(5),
    );
    ends_with(
        "export default 'x'.repeat(2 ** 29).length;",
        short(),
        &["OutOfMemory", "RuntimeError"],
        Duration::from_secs(5),
    );
    ends_with(
        "export default (new Array(2e7) + '').length;",
        ExecutionLimits {
            memory_bytes: 16 * 1024 * 1024,
            ..short()
        },
        &["Timeout", "OutOfMemory", "RuntimeError"],
        Duration::from_secs(30),
    );
}

/// Case 18: catastrophic backtracking is interrupted (the matcher polls the interrupt handler);
/// the regex compiler does not poll, so patterns are capped wherever they come from a string.
#[test]
fn redos_is_interrupted_and_long_patterns_are_refused() {
    ends_with(
        "export default /^(a+)+$/.test('a'.repeat(30) + '!');",
        short(),
        &["Timeout"],
        Duration::from_secs(5),
    );
    let literal = format!(
        "const ok = 1;\nconst r = /{}/;\n",
        "a".repeat(MAX_REGEX_SOURCE_CHARS + 1)
    );
    let (finished, _) = run_with(&literal, limits(), FakeHost::echo());
    let failure = error(&finished);
    assert_eq!(failure.kind, ErrorKind::SyntaxError);
    assert_eq!((failure.line, failure.column), (Some(2), Some(11)));
    assert!(
        failure.message.contains("at most 4096"),
        "{}",
        failure.message
    );

    let (finished, _) = run(
        r#"
        const long = "a".repeat(5000);
        const refused: string[] = [];
        const attempt = (name: string, operation: () => unknown) => {
          try { operation(); } catch (e: any) { refused.push(`${name}:${e.name}`); }
        };
        attempt("new", () => new RegExp(long));
        attempt("call", () => RegExp(long));
        attempt("match", () => "x".match(long));
        attempt("matchAll", () => [..."x".matchAll(long as any)]);
        attempt("search", () => "x".search(long));
        attempt("object", () => new RegExp({ [Symbol.match]: true, source: long, flags: "" } as any));
        const fake = { constructor: undefined, flags: "", source: long, [Symbol.match]: true, exec: () => null, lastIndex: 0 };
        attempt("split", () => (RegExp.prototype as any)[Symbol.split].call(fake, "x"));
        attempt("splitAll", () => (RegExp.prototype as any)[Symbol.matchAll].call(fake, "x"));
        const literal = `/${long}/`;
        attempt("eval", () => eval(literal));
        attempt("function", () => Function(`return ${literal}`));
        attempt("newFunction", () => new Function("a", `return ${literal}`));
        attempt("async", () => (async () => {}).constructor(`return ${literal}`));
        attempt("generator", () => (function* () {}).constructor(`yield ${literal}`));
        attempt("viaPrototype", () => (() => {}).constructor.call(null, `return ${literal}`));
        class Mine extends RegExp {}
        const allowed = [
          new RegExp("a".repeat(4096)).source.length,
          "aXbXc".split(new RegExp("x", "i")).length,
          [..."a1b2".matchAll(/\d/g)].length,
          "abc".match("b")?.index,
          "abc".search("c"),
          new Mine("z") instanceof RegExp,
          /x/.constructor === RegExp,
          RegExp(/q/g).flags,
          typeof (RegExp.prototype as any).compile,
          "a-b".replace(/-/g, "+"),
          eval("1 + 1"),
          Function("a", "b", "return a + b")(1, 2),
          (function () {}).constructor === Function,
          new Function("return /x+/.test('xx')")(),
          Object.getPrototypeOf(async function () {}).constructor.name,
          typeof (async () => {}).constructor("return 1")().then,
        ];
        export default { refused, allowed };
        "#,
        FakeHost::echo(),
    );
    assert_eq!(
        result(&finished),
        &json!({
            "refused": [
                "new:SyntaxError", "call:SyntaxError", "match:SyntaxError",
                "matchAll:SyntaxError", "search:SyntaxError", "object:SyntaxError",
                "split:TypeError", "splitAll:TypeError", "eval:SyntaxError",
                "function:SyntaxError", "newFunction:SyntaxError", "async:SyntaxError",
                "generator:SyntaxError", "viaPrototype:SyntaxError"
            ],
            "allowed": [
                4096, 3, 2, 1, 2, true, true, "g", "undefined", "a+b", 2, 3, true, true,
                "AsyncFunction", "function"
            ]
        })
    );
}

/// Case 20: a heap bomb is an `OutOfMemory`, with nothing of the engine left broken: the next
/// execution on the same thread runs normally.
#[test]
fn heap_bomb_runs_out_of_memory_and_the_next_execution_runs() {
    let small = ExecutionLimits {
        memory_bytes: 16 * 1024 * 1024,
        ..limits()
    };
    let results = run_steps(vec![
        Step::fresh(
            "const keep: unknown[] = []; for (;;) keep.push(new Array(1 << 16).fill({ a: 1 }));",
        )
        .with_limits(small.clone()),
        Step::fresh("const m = new Map(); for (let i = 0; ; i++) m.set(i, 'v' + i);")
            .with_limits(small.clone()),
        Step::fresh("export default 1 + 1;").with_limits(small),
    ]);
    assert_eq!(error(&results[0].0).kind, ErrorKind::OutOfMemory);
    assert_eq!(error(&results[1].0).kind, ErrorKind::OutOfMemory);
    assert_eq!(result(&results[2].0), &json!(2));
}

/// Case 21: deep recursion and deeply nested `JSON.parse` are `RangeError`s from the stack limit,
/// reported as a `RuntimeError` that names the limit.
#[test]
fn deep_recursion_and_nested_json_hit_the_stack_limit() {
    for code in [
        "function down(n: number): number { return down(n + 1) + 1; }\ndown(0);",
        "JSON.parse('['.repeat(1_000_000));",
        "JSON.parse('{\"a\":'.repeat(500_000) + '1' + '}'.repeat(500_000));",
        "const deep: any = {}; let cursor = deep; for (let i = 0; i < 2e5; i++) { cursor = cursor.next = {}; }\nJSON.stringify(deep);",
    ] {
        let (finished, _) = run(code, FakeHost::echo());
        let failure = error(&finished);
        assert_eq!(failure.kind, ErrorKind::RuntimeError, "{code}: {failure:?}");
        assert!(
            failure.message.contains("RangeError") && failure.message.contains("stack is limited"),
            "{code}: {}",
            failure.message
        );
    }
}

/// Case 27: no shared memory, no atomics, no resizable or transferable buffers; plain buffers and
/// typed arrays work as before.
#[test]
fn shared_memory_and_resizable_buffers_are_gone() {
    let (finished, _) = run(
        r#"
        let resizable = "";
        try { new ArrayBuffer(8, { maxByteLength: 16 }); } catch (e: any) { resizable = e.name; }
        let called = "";
        try { (ArrayBuffer as any)(8); } catch (e: any) { called = e.name; }
        const buffer = new ArrayBuffer(8);
        const view = new Uint8Array(buffer);
        view[0] = 7;
        class Sub extends ArrayBuffer {}
        export default [
          typeof SharedArrayBuffer, typeof Atomics, resizable, called,
          typeof (buffer as any).resize, typeof (buffer as any).transfer,
          typeof (buffer as any).transferToFixedLength, (buffer as any).resizable,
          buffer instanceof ArrayBuffer, view.buffer.constructor === ArrayBuffer,
          ArrayBuffer.isView(view), new Uint8Array(buffer.slice(0, 1))[0], new Sub(4).byteLength,
          Object.getPrototypeOf(buffer) === ArrayBuffer.prototype, ArrayBuffer.name,
        ];
        "#,
        FakeHost::echo(),
    );
    assert_eq!(
        result(&finished),
        &json!([
            "undefined",
            "undefined",
            "TypeError",
            "TypeError",
            "undefined",
            "undefined",
            "undefined",
            false,
            true,
            true,
            true,
            7,
            4,
            true,
            "ArrayBuffer"
        ])
    );
}

/// Case 28: there is no `std` or `os` module (QuickJS's libc modules are not linked), neither
/// as a static import, a dynamic import, nor as globals.
#[test]
fn no_std_or_os_modules() {
    for code in [
        "import * as std from 'std';\nstd.exit(0);",
        "import * as os from 'os';\nos.exec(['ls']);",
        "import { evalScript } from 'qjs:std';\nevalScript('1');",
        "import install from 'sluice-prelude';\nexport default install({});",
    ] {
        let (finished, _) = run(code, FakeHost::echo());
        assert_eq!(error(&finished).kind, ErrorKind::ImportError, "{code}");
    }
    // Nor is the engine's own prelude module (loaded from bytecode into every runtime) one
    // that code can import and run again.
    for specifier in ["std", "os", "qjs:os", "sluice-prelude", "./sluice-prelude"] {
        let code = format!("await import('{specifier}');");
        let (finished, _) = run(&code, FakeHost::echo());
        assert_eq!(error(&finished).kind, ErrorKind::ImportError, "{specifier}");
    }
    let (finished, _) = run(
        "const g = globalThis as any;\nexport default [typeof g.std, typeof g.os, typeof g.scriptArgs, typeof g.print, typeof g.bjson, typeof g.require];",
        FakeHost::echo(),
    );
    assert_eq!(result(&finished), &json!(vec!["undefined"; 6]));
}

/// Case 29: `Function("return this")()` and indirect `eval` reach the sandbox's global, which
/// holds the standard built-ins plus only the globals the prelude installs.
#[test]
fn function_and_eval_reach_only_the_sandbox_global() {
    let (finished, _) = run(
        r#"
        const viaFunction = Function("return this")();
        const viaEval = (0, eval)("this");
        const standard = new Set([
          "Object", "Function", "Array", "Number", "parseFloat", "parseInt", "Infinity", "NaN",
          "undefined", "Boolean", "String", "Symbol", "Date", "Promise", "RegExp", "Error",
          "AggregateError", "EvalError", "RangeError", "ReferenceError", "SyntaxError",
          "TypeError", "URIError", "globalThis", "JSON", "Math", "Intl", "ArrayBuffer", "Atomics",
          "Uint8Array", "Int8Array", "Uint16Array", "Int16Array", "Uint32Array", "Int32Array",
          "Float16Array", "Float32Array", "Float64Array", "Uint8ClampedArray", "BigUint64Array",
          "BigInt64Array", "DataView", "Map", "BigInt", "Set", "WeakMap", "WeakSet", "Proxy",
          "Reflect", "WeakRef", "FinalizationRegistry", "decodeURI", "decodeURIComponent",
          "encodeURI", "encodeURIComponent", "escape", "unescape", "isFinite", "isNaN", "eval",
          "Iterator", "SuppressedError", "InternalError", "DisposableStack", "AsyncDisposableStack", "queueMicrotask",
          "structuredClone", "performance", "navigator", "atob", "btoa", "DOMException",
        ]);
        const extra = Object.getOwnPropertyNames(viaFunction).filter((name) => !standard.has(name)).sort();
        export default [viaFunction === globalThis, viaEval === globalThis, extra];
        "#,
        FakeHost::echo(),
    );
    assert_eq!(
        result(&finished),
        &json!([
            true,
            true,
            [
                "__sluiceHost",
                "clearInterval",
                "clearTimeout",
                "console",
                "setInterval",
                "setTimeout"
            ]
        ])
    );
}

/// Case 30: each execution without `keep_state` gets a fresh runtime: prototype pollution and
/// replaced built-ins do not reach the next one.
#[test]
fn pollution_does_not_persist_between_executions() {
    let results = run_steps(vec![
        Step::fresh(
            "(Object.prototype as any).polluted = 1; (Array.prototype as any).map = () => 'hijacked'; (globalThis as any).JSON = null;",
        ),
        Step::fresh(
            "export default [({} as any).polluted ?? 'clean', [1].map((n) => n + 1), typeof JSON.stringify];",
        ),
    ]);
    assert_eq!(result(&results[1].0), &json!(["clean", [2], "function"]));
}

/// Case 31: errors the agent sees carry no host paths, no Rust frames and no engine internals;
/// stack traces name only the sandbox's modules.
#[test]
fn errors_leak_no_host_paths() {
    let host_markers = [
        env!("CARGO_MANIFEST_DIR"),
        ".rs:",
        "/home/",
        "/root/",
        "/tmp/",
        "rquickjs",
        "sluice-prelude",
    ];
    let results = run_steps(vec![
        Step::fresh("export default new Error('probe').stack;"),
        Step::fresh("null.x;"),
        Step::fresh("import { nope } from './servers/none';"),
        Step::fresh("await import('../../../etc/passwd');"),
        Step::fresh("import * as fs from 'fs/promises';\nawait fs.readFile('/etc/passwd');"),
        Step::fresh("console.log(undefined as any);\n(undefined as any)();"),
        Step::fresh("function f(): number { return f() + 1; }\nf();"),
    ]);
    let stack = result(&results[0].0).as_str().unwrap().to_owned();
    assert!(stack.contains("main.ts:1:"), "{stack}");
    for (index, (finished, host)) in results.iter().enumerate() {
        let mut texts = host.log_texts();
        if let Some(failure) = finished.error() {
            texts.push(failure.message.clone());
        }
        if index == 0 {
            texts.push(stack.clone());
        }
        for text in texts {
            for marker in host_markers {
                assert!(!text.contains(marker), "{marker} in {text}");
            }
        }
    }
}
