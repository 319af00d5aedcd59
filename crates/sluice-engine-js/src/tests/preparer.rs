//! The preparer: runtimes made ahead on a thread of their own, used once each, freed there; and
//! an engine that never waits long for a preparer that gets no CPU.

use std::time::{Duration, Instant};

use serde_json::json;
use sluice_worker_protocol::Language;

use super::{FakeHost, job, limits, result, tools};
use crate::{Engine, PreparerHooks, thread_stack_bytes};

fn nothing() {}

/// Hooks that do nothing: the preparer runs at normal priority.
const PLAIN: PreparerHooks = PreparerHooks {
    setup: nothing,
    release_memory: nothing,
};

/// Run `body` with an engine that has a preparer, on a thread with an execution's stack.
fn with_engine<T: Send + 'static>(
    hooks: PreparerHooks,
    body: impl FnOnce(&mut Engine) -> T + Send + 'static,
) -> T {
    std::thread::Builder::new()
        .stack_size(thread_stack_bytes(&limits()))
        .spawn(move || body(&mut Engine::with_preparer(hooks, || {})))
        .unwrap()
        .join()
        .unwrap()
}

/// What one execution finds of earlier ones, then what it leaves behind for later ones.
const SNOOP: &str = "const found = [typeof (globalThis as any).leftOver, typeof (Object.prototype as any).polluted, [].push.name, typeof (globalThis as any).timerRan];\n(globalThis as any).leftOver = 1;\n(Object.prototype as any).polluted = 1;\nArray.prototype.push = function patched() { return 0; };\nsetTimeout(() => { (globalThis as any).timerRan = true; }, 0);\nexport default found;";

#[test]
fn every_fresh_execution_runs_in_a_runtime_made_ahead_and_finds_nothing_of_the_last() {
    let (results, used) = with_engine(PLAIN, |engine| {
        let tools = tools();
        let mut results = Vec::new();
        for _ in 0..6 {
            engine.prepare(&limits());
            assert!(engine.wait_for_spare(Duration::from_secs(10)));
            let execution = job(SNOOP, Language::Typescript, &limits(), &tools);
            results.push(engine.execute(&execution, &mut FakeHost::echo()));
            engine.tidy();
        }
        (results, engine.runtimes_made_ahead())
    });
    for finished in &results {
        assert_eq!(
            result(finished),
            &json!(["undefined", "undefined", "push", "undefined"])
        );
    }
    assert_eq!(used, 6);
}

#[test]
fn a_session_keeps_a_runtime_made_ahead() {
    let results = with_engine(PLAIN, |engine| {
        let tools = tools();
        engine.prepare(&limits());
        assert!(engine.wait_for_spare(Duration::from_secs(10)));
        [
            "let kept = 41;\nexport default kept;",
            "export default kept + 1;",
        ]
        .into_iter()
        .map(|code| {
            let execution = crate::ExecuteJob {
                keep_state: true,
                ..job(code, Language::Typescript, &limits(), &tools)
            };
            engine.execute(&execution, &mut FakeHost::echo())
        })
        .collect::<Vec<_>>()
    });
    assert_eq!(result(&results[0]), &json!(41));
    assert_eq!(result(&results[1]), &json!(42));
}

/// A preparer that gets no CPU for two seconds, as under a machine full of other work.
fn stalled() {
    std::thread::sleep(Duration::from_secs(2));
}

#[test]
fn a_preparer_without_cpu_holds_no_execution_up_and_hoards_no_runtimes() {
    let hooks = PreparerHooks {
        setup: stalled,
        release_memory: nothing,
    };
    let (elapsed, results, unfreed, used) = with_engine(hooks, |engine| {
        let tools = tools();
        let started = Instant::now();
        let mut results = Vec::new();
        for _ in 0..5 {
            engine.prepare(&limits());
            let execution = job(SNOOP, Language::Typescript, &limits(), &tools);
            results.push(engine.execute(&execution, &mut FakeHost::echo()));
            engine.tidy();
        }
        (
            started.elapsed(),
            results,
            engine.runtimes_waiting_to_be_freed(),
            engine.runtimes_made_ahead(),
        )
    });
    // Five executions, each in a runtime made on the spot: far less than the stall.
    assert!(elapsed < Duration::from_millis(1500), "{elapsed:?}");
    for finished in &results {
        assert_eq!(
            result(finished),
            &json!(["undefined", "undefined", "push", "undefined"])
        );
    }
    assert_eq!(used, 0);
    assert!(unfreed <= 2, "{unfreed} runtimes wait to be freed");
}

#[test]
fn an_engine_without_a_preparer_makes_its_own() {
    let used = std::thread::Builder::new()
        .stack_size(thread_stack_bytes(&limits()))
        .spawn(|| {
            let mut engine = Engine::new();
            engine.prepare(&limits());
            assert!(engine.wait_for_spare(Duration::ZERO));
            let execution = job(
                "export default 1;",
                Language::Typescript,
                &limits(),
                &tools(),
            );
            let finished = engine.execute(&execution, &mut FakeHost::echo());
            assert_eq!(result(&finished), &json!(1));
            engine.runtimes_made_ahead()
        })
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(used, 0);
}

#[test]
fn the_stack_limit_holds_in_a_runtime_made_on_another_thread() {
    let finished = with_engine(PLAIN, |engine| {
        engine.prepare(&limits());
        assert!(engine.wait_for_spare(Duration::from_secs(10)));
        let code = "function down(n: number): number { return down(n + 1) + 1; }\ndown(0);";
        let finished = engine.execute(
            &job(code, Language::Typescript, &limits(), &tools()),
            &mut FakeHost::echo(),
        );
        assert_eq!(engine.runtimes_made_ahead(), 1);
        finished
    });
    let failure = super::error(&finished);
    assert!(
        failure.message.contains("RangeError") && failure.message.contains("stack is limited"),
        "{}",
        failure.message
    );
}

/// A preparer that starts late, as one in the idle class on a busy machine does.
fn late() {
    std::thread::sleep(Duration::from_millis(200));
}

#[test]
fn an_engine_dropped_before_its_runtime_is_made_does_not_wait_for_it() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let announced = Arc::new(AtomicUsize::new(0));
    let counter = announced.clone();
    std::thread::Builder::new()
        .stack_size(thread_stack_bytes(&limits()))
        .spawn(move || {
            let hooks = PreparerHooks {
                setup: late,
                release_memory: nothing,
            };
            let mut engine = Engine::with_preparer(hooks, move || {
                counter.fetch_add(1, Ordering::SeqCst);
            });
            assert_eq!(engine.prepare(&limits()), crate::NextRuntime::Ordered);
            drop(engine);
        })
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(announced.load(Ordering::SeqCst), 0);
}

#[test]
fn the_preparer_thread_ends_when_idle_and_starts_again_for_the_next_order() {
    let (before, idle, again, results) = with_engine(PLAIN, |engine| {
        let tools = tools();
        let before = engine.preparer_thread_runs();
        let mut results = Vec::new();
        engine.prepare(&limits());
        assert!(engine.wait_for_spare(Duration::from_secs(10)));
        let execution = job(SNOOP, Language::Typescript, &limits(), &tools);
        results.push(engine.execute(&execution, &mut FakeHost::echo()));
        engine.tidy();
        std::thread::sleep(crate::preparer::IDLE_RELEASE_AFTER * 4);
        let idle = engine.preparer_thread_runs();
        engine.prepare(&limits());
        let again = engine.preparer_thread_runs();
        assert!(engine.wait_for_spare(Duration::from_secs(10)));
        results.push(engine.execute(&execution, &mut FakeHost::echo()));
        assert_eq!(engine.runtimes_made_ahead(), 2);
        (before, idle, again, results)
    });
    assert!(!before, "no thread before the first order");
    assert!(!idle, "the thread ended when idle");
    assert!(again, "a new thread took the next order");
    for finished in &results {
        assert_eq!(
            result(finished),
            &json!(["undefined", "undefined", "push", "undefined"])
        );
    }
}
