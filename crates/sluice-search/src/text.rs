//! Words for the lexical index: split at separators and case changes, lower-cased, stop words
//! dropped, English stems (Snowball), so `listFiles`, `list_files` and "lists the files" meet.

use std::sync::OnceLock;

use rust_stemmers::{Algorithm, Stemmer};

/// Words so common in tool descriptions and queries that they only add noise.
const STOP_WORDS: &[&str] = &[
    "a", "about", "also", "an", "and", "any", "are", "as", "at", "be", "by", "can", "could", "do",
    "does", "for", "from", "how", "i", "if", "in", "into", "is", "it", "its", "just", "me", "my",
    "of", "on", "or", "our", "please", "should", "so", "some", "that", "the", "their", "them",
    "then", "there", "these", "this", "those", "to", "us", "was", "we", "what", "when", "which",
    "who", "will", "with", "would", "yet", "you", "your",
];

fn stemmer() -> &'static Stemmer {
    static STEMMER: OnceLock<Stemmer> = OnceLock::new();
    STEMMER.get_or_init(|| Stemmer::create(Algorithm::English))
}

/// Split text into raw lower-case words: at every non-alphanumeric character, at a lower-case
/// letter or digit followed by an upper-case one (`listFiles`), and before the last capital of
/// a capital run followed by lower case (`HTTPServer` → `http`, `server`).
pub fn split_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut previous: Option<char> = None;
    let mut characters = text.chars().peekable();
    while let Some(character) = characters.next() {
        if !character.is_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            previous = None;
            continue;
        }
        if character.is_uppercase()
            && let Some(before) = previous
        {
            let next_is_lower = characters.peek().is_some_and(|next| next.is_lowercase());
            if before.is_lowercase()
                || before.is_ascii_digit()
                || (before.is_uppercase() && next_is_lower)
            {
                words.push(std::mem::take(&mut current));
            }
        }
        if character.is_ascii() {
            current.push(character.to_ascii_lowercase());
        } else {
            current.extend(character.to_lowercase());
        }
        previous = Some(character);
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// The index terms of a text: split, stop words dropped, stemmed.
pub fn terms(text: &str) -> Vec<String> {
    STEMS.with_borrow_mut(|stems| {
        split_words(text)
            .into_iter()
            .filter(|word| !STOP_WORDS.contains(&word.as_str()))
            .map(|word| {
                if let Some(stem) = stems.get(&word) {
                    return stem.clone();
                }
                let stem = stemmer().stem(&word).into_owned();
                if stems.len() < MAX_REMEMBERED_STEMS {
                    stems.insert(word, stem.clone());
                }
                stem
            })
            .collect()
    })
}

/// Stems remembered per thread: tool descriptions reuse a few thousand words, and stemming is
/// the costliest step of indexing them.
const MAX_REMEMBERED_STEMS: usize = 100_000;

thread_local! {
    static STEMS: std::cell::RefCell<rustc_hash::FxHashMap<String, String>> =
        std::cell::RefCell::new(rustc_hash::FxHashMap::default());
}

/// A string reduced to its letters and digits, lower-cased: how exact names are compared
/// (`get_current_time`, `getCurrentTime` and `get-current-time` are one name).
pub fn squash(text: &str) -> String {
    text.chars()
        .filter(|character| character.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_separators_and_case() {
        assert_eq!(
            split_words("listFiles read_text-file HTTPServer v2Beta"),
            [
                "list", "files", "read", "text", "file", "http", "server", "v2", "beta"
            ]
        );
    }

    #[test]
    fn terms_drop_stop_words_and_stem() {
        assert_eq!(
            terms("Lists the files in a directory"),
            ["list", "file", "directori"]
        );
        assert_eq!(terms("deploying deployments"), ["deploy", "deploy"]);
    }

    #[test]
    fn squash_ignores_case_and_separators() {
        assert_eq!(squash("get_current-Time"), squash("getCurrentTime"));
    }
}
