//! Words for the lexical index: split at separators and case changes, lower-cased, stop words
//! dropped, English stems (Snowball), so `listFiles`, `list_files` and "lists the files" meet.

use std::sync::OnceLock;

use rust_stemmers::{Algorithm, Stemmer};

/// Words so common in tool descriptions and queries that they only add noise. A `match`, which
/// compiles to a switch on length and a few comparisons: it runs once per word of every indexed
/// text.
fn is_stop_word(word: &str) -> bool {
    matches!(
        word,
        "a" | "about"
            | "also"
            | "an"
            | "and"
            | "any"
            | "are"
            | "as"
            | "at"
            | "be"
            | "by"
            | "can"
            | "could"
            | "do"
            | "does"
            | "for"
            | "from"
            | "how"
            | "i"
            | "if"
            | "in"
            | "into"
            | "is"
            | "it"
            | "its"
            | "just"
            | "me"
            | "my"
            | "of"
            | "on"
            | "or"
            | "our"
            | "please"
            | "should"
            | "so"
            | "some"
            | "that"
            | "the"
            | "their"
            | "them"
            | "then"
            | "there"
            | "these"
            | "this"
            | "those"
            | "to"
            | "us"
            | "was"
            | "we"
            | "what"
            | "when"
            | "which"
            | "who"
            | "will"
            | "with"
            | "would"
            | "yet"
            | "you"
            | "your"
    )
}

fn stemmer() -> &'static Stemmer {
    static STEMMER: OnceLock<Stemmer> = OnceLock::new();
    STEMMER.get_or_init(|| Stemmer::create(Algorithm::English))
}

/// Split text into raw lower-case words: at every non-alphanumeric character, at a lower-case
/// letter or digit followed by an upper-case one (`listFiles`), and before the last capital of
/// a capital run followed by lower case (`HTTPServer` → `http`, `server`).
pub fn split_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    for_each_word(text, &mut String::new(), |word| words.push(word.to_owned()));
    words
}

/// [`split_words`] without allocating: each word is handed to `visit` from `buffer`.
fn for_each_word(text: &str, buffer: &mut String, mut visit: impl FnMut(&str)) {
    buffer.clear();
    let mut previous: Option<char> = None;
    let mut characters = text.chars().peekable();
    while let Some(character) = characters.next() {
        if !character.is_alphanumeric() {
            if !buffer.is_empty() {
                visit(buffer);
                buffer.clear();
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
                visit(buffer);
                buffer.clear();
            }
        }
        if character.is_ascii() {
            buffer.push(character.to_ascii_lowercase());
        } else {
            buffer.extend(character.to_lowercase());
        }
        previous = Some(character);
    }
    if !buffer.is_empty() {
        visit(buffer);
    }
}

/// The index terms of a text: split, stop words dropped, stemmed.
pub fn terms(text: &str) -> Vec<String> {
    let mut terms = Vec::new();
    for_each_term(text, |term| terms.push(term.to_owned()));
    terms
}

/// [`terms`] without allocating (but for words not seen before on this thread): each term is
/// handed to `visit`. This is what indexing runs over every field of every tool.
pub fn for_each_term(text: &str, mut visit: impl FnMut(&str)) {
    STEMS.with(|memory| {
        // Taken for the whole text; a `visit` that analyses text itself finds it taken and
        // stems without the memory.
        let Ok(mut memory) = memory.try_borrow_mut() else {
            for_each_word(text, &mut String::new(), |word| {
                if !is_stop_word(word) {
                    visit(&stemmer().stem(word));
                }
            });
            return;
        };
        let (stems, buffer) = &mut *memory;
        for_each_word(text, buffer, |word| {
            if is_stop_word(word) {
                return;
            }
            if let Some(stem) = stems.get(word) {
                visit(stem);
                return;
            }
            let stem = stemmer().stem(word);
            visit(&stem);
            if stems.len() < MAX_REMEMBERED_STEMS {
                stems.insert(word.to_owned(), stem.into_owned());
            }
        });
    });
}

/// Stems remembered per thread: tool descriptions reuse a few thousand words, and stemming is
/// the costliest step of indexing them.
const MAX_REMEMBERED_STEMS: usize = 100_000;

thread_local! {
    /// Word → stem, and the buffer words are split into.
    static STEMS: std::cell::RefCell<(rustc_hash::FxHashMap<String, String>, String)> =
        std::cell::RefCell::new(Default::default());
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
    fn stop_words_are_dropped() {
        assert!(is_stop_word("the") && is_stop_word("your") && is_stop_word("a"));
        assert!(!is_stop_word("file") && !is_stop_word("") && !is_stop_word("The"));
    }

    #[test]
    fn terms_inside_a_visit_are_still_stemmed() {
        let mut nested = Vec::new();
        for_each_term("listing files", |term| {
            nested.push((term.to_owned(), terms(term)))
        });
        assert_eq!(
            nested,
            [
                ("list".to_owned(), vec!["list".to_owned()]),
                ("file".to_owned(), vec!["file".to_owned()])
            ]
        );
    }

    #[test]
    fn squash_ignores_case_and_separators() {
        assert_eq!(squash("get_current-Time"), squash("getCurrentTime"));
    }
}
