//! Words for the lexical index: split at separators and case changes, lower-cased, stop words
//! dropped, English stems (Snowball), so `listFiles`, `list_files` and "lists the files" meet.

use std::sync::OnceLock;

use rust_stemmers::{Algorithm, Stemmer};

/// Words so common in tool descriptions and queries that they only add noise.
const STOP_WORDS: &[&str] = &[
    "a", "about", "also", "an", "and", "any", "are", "as", "at", "be", "by", "can", "could",
    "do", "does", "for", "from", "how", "i", "if", "in", "into", "is", "it", "its", "just", "me",
    "my", "of", "on", "or", "our", "please", "should", "so", "some", "that", "the", "their",
    "them", "then", "there", "these", "this", "those", "to", "us", "was", "we", "what", "when",
    "which", "who", "will", "with", "would", "yet", "you", "your",
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
    let characters: Vec<char> = text.chars().collect();
    for (index, &character) in characters.iter().enumerate() {
        if !character.is_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            continue;
        }
        if character.is_uppercase() && !current.is_empty() {
            let previous = characters[index - 1];
            let next_is_lower = characters
                .get(index + 1)
                .is_some_and(|next| next.is_lowercase());
            if previous.is_lowercase()
                || previous.is_ascii_digit()
                || (previous.is_uppercase() && next_is_lower)
            {
                words.push(std::mem::take(&mut current));
            }
        }
        current.extend(character.to_lowercase());
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// The index terms of a text: split, stop words dropped, stemmed.
pub fn terms(text: &str) -> Vec<String> {
    split_words(text)
        .into_iter()
        .filter(|word| !STOP_WORDS.contains(&word.as_str()))
        .map(|word| stemmer().stem(&word).into_owned())
        .collect()
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
            ["list", "files", "read", "text", "file", "http", "server", "v2", "beta"]
        );
    }

    #[test]
    fn terms_drop_stop_words_and_stem() {
        assert_eq!(terms("Lists the files in a directory"), ["list", "file", "directori"]);
        assert_eq!(terms("deploying deployments"), ["deploy", "deploy"]);
    }

    #[test]
    fn squash_ignores_case_and_separators() {
        assert_eq!(squash("get_current-Time"), squash("getCurrentTime"));
    }
}
