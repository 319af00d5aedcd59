/*!
Token counting with OpenAI's `o200k_base` encoding, the yardstick for everything Sluice claims
about context size.

The encoder's ranks are embedded in the binary (no download). Building it takes a few hundred
milliseconds, so it is built once per process, on first use, and shared.

```
assert_eq!(sluice_tokens::count("hello world"), 2);
```
*/
#![deny(missing_docs)]

use std::sync::OnceLock;

use tiktoken_rs::CoreBPE;

fn encoder() -> Option<&'static CoreBPE> {
    static ENCODER: OnceLock<Option<CoreBPE>> = OnceLock::new();
    ENCODER
        .get_or_init(|| tiktoken_rs::o200k_base().ok())
        .as_ref()
}

/// Tokens of `text` in o200k_base. Special-token text is counted as ordinary text.
///
/// Falls back to a conservative estimate (one token per 3 bytes) if the embedded encoder
/// cannot be built, which does not happen with a correct build; the estimate keeps budgets
/// working rather than failing an execution over a statistic.
pub fn count(text: &str) -> usize {
    match encoder() {
        Some(encoder) => encoder.encode_ordinary(text).len(),
        None => text.len().div_ceil(3),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_known_strings() {
        assert_eq!(count(""), 0);
        assert_eq!(count("hello world"), 2);
        // A JSON object costs more tokens than its words alone.
        assert!(count(r#"{"name": "search_tools", "description": "Find tools"}"#) > 5);
    }
}
