//! Query expansion with a small thesaurus ([`synonyms.txt`](synonyms.txt)): the words people use
//! for what tool authors call something else (`ADO` for Azure DevOps, `outage` for incident,
//! `sign off` for approve). Matching is on whole lower-case words of the query, longest phrase
//! first; what a phrase also means is searched at a lower weight than what was typed.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::text::split_words;

const SOURCE: &str = include_str!("synonyms.txt");

/// Phrase (lower-case words) → its meanings, as text.
#[derive(Debug, Default)]
pub(crate) struct Thesaurus {
    entries: HashMap<Vec<String>, Vec<String>>,
    longest: usize,
}

impl Thesaurus {
    /// The built-in thesaurus.
    pub fn builtin() -> &'static Thesaurus {
        static BUILTIN: OnceLock<Thesaurus> = OnceLock::new();
        BUILTIN.get_or_init(|| Thesaurus::parse(SOURCE))
    }

    fn parse(source: &str) -> Thesaurus {
        let mut thesaurus = Thesaurus::default();
        for line in source.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((phrase, meanings)) = line.split_once('=') else {
                continue;
            };
            let phrase = split_words(phrase);
            if phrase.is_empty() {
                continue;
            }
            let meanings: Vec<String> = meanings
                .split(',')
                .map(|meaning| meaning.trim().to_owned())
                .filter(|meaning| !meaning.is_empty() && split_words(meaning) != phrase)
                .collect();
            thesaurus.longest = thesaurus.longest.max(phrase.len());
            thesaurus
                .entries
                .entry(phrase)
                .or_default()
                .extend(meanings);
        }
        thesaurus
    }

    /// What the phrases of `text` also mean, each once, in the order found.
    pub fn meanings(&self, text: &str) -> Vec<&str> {
        let words = split_words(text);
        let mut found: Vec<&str> = Vec::new();
        let mut start = 0;
        while start < words.len() {
            let mut matched = 1;
            for length in (1..=self.longest.min(words.len() - start)).rev() {
                if let Some(meanings) = self.entries.get(&words[start..start + length]) {
                    for meaning in meanings {
                        if !found.contains(&meaning.as_str()) {
                            found.push(meaning);
                        }
                    }
                    matched = length;
                    break;
                }
            }
            start += matched;
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_longest_phrase_and_lists_each_meaning_once() {
        let thesaurus = Thesaurus::parse(
            "# comment\nmr = merge request, pull request\nsign off = approve\nsign = signature\nbad line\n",
        );
        assert_eq!(
            thesaurus.meanings("Sign off on MR 12, then sign the MR"),
            ["approve", "merge request", "pull request", "signature"]
        );
        assert!(thesaurus.meanings("nothing here").is_empty());
    }

    #[test]
    fn the_builtin_thesaurus_parses_and_has_no_self_references() {
        let thesaurus = Thesaurus::builtin();
        assert!(thesaurus.entries.len() > 200);
        for (phrase, meanings) in &thesaurus.entries {
            for meaning in meanings {
                assert_ne!(&split_words(meaning), phrase);
            }
        }
        assert_eq!(
            thesaurus.meanings("ADO ticket"),
            ["azure devops", "issue", "work item"]
        );
    }
}
