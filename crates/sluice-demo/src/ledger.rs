//! The token ledger: what enters the model's context, counted with o200k, turn by turn.
//!
//! The context starts with what the model reads before its first turn (tool definitions, for code
//! mode Sluice's instructions, the user's task). Each model turn re-reads the whole context: the
//! turn is billed that many input tokens, then the model's tool call joins the context, then the
//! tool's result. The last turn writes the final answer. Peak context is the largest context a
//! turn read; billed input tokens add up every turn's context.

use serde::Serialize;
use serde_json::Value;

/// Totals of one run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// The largest context the model read at one turn.
    pub peak_tokens: u64,
    /// Input tokens over all turns: each turn re-reads the whole context.
    pub billed_tokens: u64,
    /// Tokens the model wrote: its tool calls (name and arguments) and its final answer.
    pub written_tokens: u64,
    /// Model turns: one per tool call plus the final answer.
    pub turns: u64,
}

/// A running ledger.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    context: u64,
    totals: Totals,
    /// The largest single item that entered the context: (label, tokens).
    largest: Option<(String, u64)>,
}

impl Ledger {
    /// Text the model reads before its first turn (definitions, instructions, the task).
    pub(crate) fn preamble(&mut self, label: &str, text: &str) -> u64 {
        let tokens = sluice_tokens::count(text) as u64;
        self.add(label, tokens);
        tokens
    }

    /// A model turn that ends in a tool call: the turn reads the context, then the call (name and
    /// arguments, as the model writes them) joins it.
    pub(crate) fn call(&mut self, name: &str, arguments: &Value) -> u64 {
        self.turn();
        let tokens =
            (sluice_tokens::count(name) + sluice_tokens::count(&arguments.to_string())) as u64;
        self.totals.written_tokens += tokens;
        self.add(name, tokens);
        tokens
    }

    /// A tool result as the model reads it.
    pub(crate) fn result(&mut self, label: &str, text: &str) -> u64 {
        let tokens = sluice_tokens::count(text) as u64;
        self.add(label, tokens);
        tokens
    }

    /// The final turn: the model reads the context and writes its answer.
    pub(crate) fn answer(&mut self, text: &str) {
        self.turn();
        self.totals.written_tokens += sluice_tokens::count(text) as u64;
    }

    /// The totals so far.
    pub(crate) fn totals(&self) -> Totals {
        self.totals
    }

    /// The largest item that entered the context, for the report's explanations.
    pub(crate) fn largest(&self) -> Option<&(String, u64)> {
        self.largest.as_ref()
    }

    fn turn(&mut self) {
        self.totals.turns += 1;
        self.totals.billed_tokens += self.context;
        self.totals.peak_tokens = self.totals.peak_tokens.max(self.context);
    }

    fn add(&mut self, label: &str, tokens: u64) {
        self.context += tokens;
        tracing::debug!(item = label, tokens, context = self.context, "ledger");
        if self.largest.as_ref().is_none_or(|(_, most)| tokens > *most) {
            self.largest = Some((label.to_owned(), tokens));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn billed_adds_each_turn_and_peak_is_the_last() {
        let mut ledger = Ledger::default();
        let base = ledger.preamble("task", "hello world");
        assert_eq!(base, 2);
        let call = ledger.call("getSheet", &json!({"sheetId": "s"}));
        let result = ledger.result("getSheet result", "one two three");
        ledger.answer("done");
        let totals = ledger.totals();
        assert_eq!(totals.turns, 2);
        assert_eq!(totals.billed_tokens, base + (base + call + result));
        assert_eq!(totals.peak_tokens, base + call + result);
        assert_eq!(totals.written_tokens, call + 1);
        assert_eq!(
            ledger.largest().map(|(label, _)| label.as_str()),
            Some("getSheet")
        );
    }
}
