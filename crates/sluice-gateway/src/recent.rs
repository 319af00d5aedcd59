//! The output of the last executions, kept in memory for the page of `sluice serve --metrics`
//! (the audit log records no output). Only with `GatewayOptions::metrics`; the output is the
//! one the agent got (personal data already tokenized), cut to [`MAX_OUTPUT_BYTES`].

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

/// Executions whose output is kept.
pub(crate) const KEPT: usize = 500;
/// Bytes of one output kept at most.
pub(crate) const MAX_OUTPUT_BYTES: usize = 8 * 1024;

/// The outputs of the last [`KEPT`] executions, by execution id.
#[derive(Default)]
pub(crate) struct RecentOutputs {
    outputs: Mutex<VecDeque<(String, String)>>,
}

impl RecentOutputs {
    pub(crate) fn keep(&self, execution_id: &str, output: &str) {
        let mut cut = output.len().min(MAX_OUTPUT_BYTES);
        while !output.is_char_boundary(cut) {
            cut -= 1;
        }
        let mut kept = output[..cut].to_owned();
        if cut < output.len() {
            kept.push_str("\n[… cut]");
        }
        let mut outputs = self.outputs.lock().unwrap_or_else(PoisonError::into_inner);
        if outputs.len() == KEPT {
            outputs.pop_front();
        }
        outputs.push_back((execution_id.to_owned(), kept));
    }

    pub(crate) fn get(&self, execution_id: &str) -> Option<String> {
        let outputs = self.outputs.lock().unwrap_or_else(PoisonError::into_inner);
        outputs
            .iter()
            .rev()
            .find(|(id, _)| id == execution_id)
            .map(|(_, output)| output.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_outputs_cut() {
        let recent = RecentOutputs::default();
        for index in 0..KEPT + 3 {
            recent.keep(&format!("e{index}"), &format!("out {index}"));
        }
        assert_eq!(recent.get("e0"), None);
        assert_eq!(recent.get("e3").as_deref(), Some("out 3"));
        assert_eq!(
            recent.get(&format!("e{}", KEPT + 2)).as_deref(),
            Some("out 502")
        );
        recent.keep("long", &"é".repeat(MAX_OUTPUT_BYTES));
        let long = recent.get("long").unwrap_or_default();
        assert!(long.len() <= MAX_OUTPUT_BYTES + 16 && long.ends_with("[… cut]"));
    }
}
