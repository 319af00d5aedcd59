//! 7. Starting context.

use std::time::Instant;

use serde_json::json;

use crate::report::{BenchResult, Report, ms, num};

/// The starting context must stay below this many o200k tokens.
pub(crate) const CONTEXT_TARGET_TOKENS: usize = 1_000;

pub(crate) fn context(report: &mut Report) -> BenchResult<()> {
    let started = Instant::now();
    let (text, tokens) = sluice_server::starting_context(sluice_server::Capabilities::ALL);
    let first = started.elapsed();
    let (_, tokens_without_execute) =
        sluice_server::starting_context(sluice_server::Capabilities {
            execute: false,
            skills: false,
        });
    report.check(
        "context",
        "starting context (instructions + tools/list), o200k",
        format!("{tokens} tokens, {} bytes", text.len()),
        format!("< {CONTEXT_TARGET_TOKENS} tokens"),
        tokens < CONTEXT_TARGET_TOKENS,
    );
    report.row(
        "context",
        "  without execute_code",
        format!("{tokens_without_execute} tokens"),
    );
    report.row(
        "context",
        "  first count (builds the tokenizer)",
        format!("{} ms", num(ms(first))),
    );
    report.section_json(
        "context",
        json!({
            "tokens": tokens,
            "bytes": text.len(),
            "tokens_without_execute": tokens_without_execute,
            "target_tokens_below": CONTEXT_TARGET_TOKENS,
            "met": tokens < CONTEXT_TARGET_TOKENS,
            "first_count_ms": ms(first),
        }),
    );
    Ok(())
}
