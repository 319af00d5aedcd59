//! BERT's tokenizer: basic splitting (lower-case, accents stripped, punctuation and CJK
//! characters apart) followed by WordPiece (greedy longest match against `vocab.txt`).
//!
//! Written here rather than taken from the `tokenizers` crate: the algorithm is short and fixed
//! by the model family, and that crate brings a regex engine in C and a large dependency tree
//! for the one path this needs. The behaviour follows the reference `BertTokenizer` with
//! `do_lower_case`, `tokenize_chinese_chars` and accent stripping on.

use std::collections::HashMap;

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Words longer than this (in characters) become `[UNK]`, as in the reference tokenizer.
const MAX_WORD_CHARS: usize = 100;

/// A loaded vocabulary and the ids of the special tokens.
#[derive(Debug)]
pub struct WordPiece {
    ids: HashMap<String, u32>,
    unknown: u32,
    /// `[CLS]`: opens every sequence.
    pub cls: u32,
    /// `[SEP]`: closes every sequence.
    pub sep: u32,
}

/// A vocabulary that lacks a token BERT needs.
#[derive(Debug, thiserror::Error)]
#[error("the vocabulary has no `{0}` token; is this a BERT WordPiece vocab.txt?")]
pub struct MissingToken(pub &'static str);

impl WordPiece {
    /// Read `vocab.txt`: one token per line, the line number is the id.
    pub fn from_vocab(text: &str) -> Result<WordPiece, MissingToken> {
        let ids: HashMap<String, u32> = text
            .lines()
            .enumerate()
            .map(|(index, token)| (token.trim_end_matches('\r').to_owned(), index as u32))
            .collect();
        let id = |token: &'static str| ids.get(token).copied().ok_or(MissingToken(token));
        Ok(WordPiece {
            unknown: id("[UNK]")?,
            cls: id("[CLS]")?,
            sep: id("[SEP]")?,
            ids,
        })
    }

    /// The number of tokens in the vocabulary.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True for an empty vocabulary (never, once loaded).
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// `[CLS] tokens… [SEP]`, at most `max_tokens` ids in all (the text is cut, not the markers).
    pub fn encode(&self, text: &str, max_tokens: usize) -> Vec<u32> {
        let room = max_tokens.saturating_sub(2);
        let mut ids = vec![self.cls];
        'words: for word in basic_words(text) {
            for id in self.pieces(&word) {
                if ids.len() > room {
                    break 'words;
                }
                ids.push(id);
            }
        }
        ids.push(self.sep);
        ids
    }

    /// Greedy longest-match WordPiece of one basic word.
    fn pieces(&self, word: &str) -> Vec<u32> {
        if word.chars().count() > MAX_WORD_CHARS {
            return vec![self.unknown];
        }
        let mut pieces = Vec::new();
        let mut start = 0;
        let mut candidate = String::with_capacity(word.len() + 2);
        while start < word.len() {
            let mut end = word.len();
            let mut found = None;
            while end > start {
                candidate.clear();
                if start > 0 {
                    candidate.push_str("##");
                }
                candidate.push_str(&word[start..end]);
                if let Some(&id) = self.ids.get(candidate.as_str()) {
                    found = Some(id);
                    break;
                }
                end = previous_boundary(word, end);
            }
            match found {
                Some(id) => {
                    pieces.push(id);
                    start = end;
                }
                None => return vec![self.unknown],
            }
        }
        pieces
    }
}

fn previous_boundary(word: &str, end: usize) -> usize {
    word[..end]
        .char_indices()
        .next_back()
        .map_or(0, |(index, _)| index)
}

/// Lower-cased, accent-free words, with punctuation and CJK characters as words of their own.
fn basic_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let flush = |current: &mut String, words: &mut Vec<String>| {
        if !current.is_empty() {
            words.push(std::mem::take(current));
        }
    };
    for character in text.nfd() {
        if character == '\0' || character == '\u{fffd}' || is_control(character) {
            continue;
        }
        if is_combining_mark(character) {
            continue;
        }
        if character.is_whitespace() {
            flush(&mut current, &mut words);
        } else if is_punctuation(character) || is_cjk(character) {
            flush(&mut current, &mut words);
            words.push(character.to_string());
        } else {
            current.extend(character.to_lowercase());
        }
    }
    flush(&mut current, &mut words);
    words
}

fn is_control(character: char) -> bool {
    character.is_control() && !matches!(character, '\t' | '\n' | '\r')
}

/// ASCII symbols count as punctuation (as in BERT), plus Unicode punctuation.
fn is_punctuation(character: char) -> bool {
    character.is_ascii_punctuation()
        || (!character.is_ascii()
            && !character.is_alphanumeric()
            && !character.is_whitespace()
            && !is_combining_mark(character))
}

fn is_cjk(character: char) -> bool {
    matches!(character as u32,
        0x4E00..=0x9FFF | 0x3400..=0x4DBF | 0x20000..=0x2A6DF | 0x2A700..=0x2B73F
        | 0x2B740..=0x2B81F | 0x2B820..=0x2CEAF | 0xF900..=0xFAFF | 0x2F800..=0x2FA1F)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocabulary() -> WordPiece {
        let tokens = [
            "[PAD]", "[UNK]", "[CLS]", "[SEP]", "get", "current", "time", "##s", "un", "##aff",
            "##able", "cafe", "?", "-", "os", "##aka", "日",
        ];
        WordPiece::from_vocab(&tokens.join("\n")).unwrap()
    }

    #[test]
    fn basic_split_lowercases_strips_accents_and_separates_punctuation() {
        assert_eq!(
            basic_words("Café? get_current-TIME 日本"),
            ["cafe", "?", "get", "_", "current", "-", "time", "日", "本"]
        );
    }

    #[test]
    fn wordpiece_takes_the_longest_match_and_marks_continuations() {
        let vocabulary = vocabulary();
        assert_eq!(
            vocabulary.encode("unaffable times", 64),
            [2, 8, 9, 10, 6, 7, 3]
        );
        assert_eq!(vocabulary.encode("Osaka", 64), [2, 14, 15, 3]);
    }

    #[test]
    fn unknown_words_and_the_length_cap() {
        let vocabulary = vocabulary();
        assert_eq!(vocabulary.encode("zzz get", 64), [2, 1, 4, 3]);
        assert_eq!(vocabulary.encode("get get get get", 4), [2, 4, 4, 3]);
        assert_eq!(vocabulary.encode(&"a".repeat(101), 8), [2, 1, 3]);
    }

    #[test]
    fn a_vocabulary_without_markers_is_refused() {
        let error = WordPiece::from_vocab("hello\nworld").unwrap_err();
        assert!(error.to_string().contains("[UNK]"));
    }
}
