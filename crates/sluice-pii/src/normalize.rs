//! Normalization before matching: NFKC, default-ignorable characters removed, dashes folded, with
//! a map back to the original text so matches can be replaced where they were.

use std::borrow::Cow;
use std::ops::Range;

use unicode_normalization::char::canonical_combining_class;
use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfkc_quick};

/// Text as the detectors see it, with the way back to the original.
///
/// NFKC is applied to each *segment*: one character and the combining marks after it. That is
/// full NFKC except for the rare compositions across two starters (Hangul jamo sequences), none of
/// which can occur inside the values this crate looks for.
#[derive(Debug, Clone)]
pub struct Normalized<'a> {
    text: Cow<'a, str>,
    /// Empty when the text is unchanged (then offsets are the same both ways).
    segments: Vec<Segment>,
}

#[derive(Debug, Clone, Copy)]
struct Segment {
    /// Start of the segment's output in the normalized text.
    normalized: usize,
    /// Its source in the original text.
    original: usize,
    original_end: usize,
}

/// Characters removed before matching: the default-ignorable code points that render as nothing
/// (zero-width space and joiners, word joiner, soft hyphen, bidi controls, variation selectors,
/// invisible operators, tags, Hangul fillers, Mongolian free variation selectors).
fn is_ignorable(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}'
        | '\u{FFA0}' | '\u{FFF0}'..='\u{FFF8}' | '\u{1BCA0}'..='\u{1BCA3}'
        | '\u{1D173}'..='\u{1D17A}' | '\u{E0000}'..='\u{E0FFF}')
}

/// Dashes and minus signs that people (and obfuscators) use in numbers, folded to `-`.
fn fold_dash(c: char) -> char {
    match c {
        '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{FE58}' | '\u{FE63}' | '\u{FF0D}' => '-',
        other => other,
    }
}

fn needs_work(text: &str) -> bool {
    if text.is_ascii() {
        return false;
    }
    // Only characters outside ASCII can be ignorable or dashes to fold: skip to them.
    let mut rest = text;
    while let Some(at) = rest.bytes().position(|byte| !byte.is_ascii()) {
        let Some(c) = rest[at..].chars().next() else {
            break;
        };
        if is_ignorable(c) || fold_dash(c) != c {
            return true;
        }
        rest = &rest[at + c.len_utf8()..];
    }
    is_nfkc_quick(text.chars()) != IsNormalized::Yes
}

impl<'a> Normalized<'a> {
    /// Normalize `original`. ASCII text (and text already in NFKC with nothing to remove) is
    /// borrowed as is.
    pub fn new(original: &'a str) -> Normalized<'a> {
        if !needs_work(original) {
            return Normalized {
                text: Cow::Borrowed(original),
                segments: Vec::new(),
            };
        }
        let mut text = String::with_capacity(original.len());
        let mut segments = Vec::new();
        let mut chars = original.char_indices().peekable();
        // One character and the combining marks after it; reused from segment to segment.
        let mut group: Vec<char> = Vec::new();
        while let Some((start, first)) = chars.next() {
            if is_ignorable(first) {
                continue;
            }
            let mut end = start + first.len_utf8();
            group.clear();
            group.push(first);
            while let Some(&(index, next)) = chars.peek() {
                // ASCII is never ignorable nor a combining mark: it starts the next segment.
                if next.is_ascii() {
                    break;
                }
                if is_ignorable(next) {
                    chars.next();
                    end = index + next.len_utf8();
                    continue;
                }
                if canonical_combining_class(next) == 0 {
                    break;
                }
                group.push(next);
                end = index + next.len_utf8();
                chars.next();
            }
            let before = text.len();
            match group.as_slice() {
                // ASCII is its own NFKC form.
                [only] if only.is_ascii() => text.push(*only),
                _ => text.extend(
                    group
                        .iter()
                        .copied()
                        .nfkc()
                        .filter(|c| !is_ignorable(*c))
                        .map(fold_dash),
                ),
            }
            if text.len() > before {
                segments.push(Segment {
                    normalized: before,
                    original: start,
                    original_end: end,
                });
            }
        }
        Normalized {
            text: Cow::Owned(text),
            segments,
        }
    }

    /// The normalized text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether normalization changed nothing.
    pub fn is_identity(&self) -> bool {
        matches!(self.text, Cow::Borrowed(_))
    }

    /// The range of the original text that a non-empty range of the normalized text came from.
    /// It covers whole segments, so hidden characters inside a match are part of it.
    pub fn original_range(&self, range: Range<usize>) -> Range<usize> {
        if self.is_identity() || range.is_empty() {
            return range;
        }
        let find = |offset: usize| {
            self.segments
                .partition_point(|segment| segment.normalized <= offset)
                .saturating_sub(1)
        };
        let (first, last) = (find(range.start), find(range.end - 1));
        match (self.segments.get(first), self.segments.get(last)) {
            (Some(first), Some(last)) => first.original..last.original_end,
            _ => range,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_is_borrowed() {
        let normalized = Normalized::new("plain text 123");
        assert!(normalized.is_identity());
        assert_eq!(normalized.original_range(2..5), 2..5);
    }

    #[test]
    fn full_width_and_zero_width_are_normalized() {
        let original = "mail: ｊｏ\u{200B}ｈｎ＠ｅｘａｍｐｌｅ．ｃｏｍ!";
        let normalized = Normalized::new(original);
        assert_eq!(normalized.as_str(), "mail: john@example.com!");
        let start = normalized.as_str().find('j').unwrap();
        let end = start + "john@example.com".len();
        let range = normalized.original_range(start..end);
        assert_eq!(&original[range], "ｊｏ\u{200B}ｈｎ＠ｅｘａｍｐｌｅ．ｃｏｍ");
    }

    #[test]
    fn dashes_fold_and_combining_marks_compose() {
        let normalized = Normalized::new("555\u{2013}0123 cafe\u{0301}");
        assert_eq!(normalized.as_str(), "555-0123 café");
        let normalized = Normalized::new("\u{FEFF}\u{200D}");
        assert_eq!(normalized.as_str(), "");
    }

    #[test]
    fn already_normalized_unicode_is_borrowed() {
        let normalized = Normalized::new("Zoë Müller, 東京");
        assert!(normalized.is_identity(), "{}", normalized.as_str());
    }

    #[test]
    fn ascii_beside_marks_and_hidden_characters_maps_back() {
        let original = "ab\u{200B}c e\u{0301}\u{0323} ｘ";
        let normalized = Normalized::new(original);
        assert_eq!(normalized.as_str(), "abc \u{1EB9}\u{0301} x");
        // The hidden character is part of the segment of the letter before it.
        assert_eq!(&original[normalized.original_range(1..2)], "b\u{200B}");
        let accented = normalized.as_str().find('\u{1EB9}').unwrap();
        let range = normalized.original_range(accented..accented + "\u{1EB9}\u{0301}".len());
        assert_eq!(&original[range], "e\u{0301}\u{0323}");
    }
}
