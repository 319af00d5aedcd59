//! Detectors of numbers: cards, IBANs, SSNs, IP addresses, phone numbers.

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::ops::Range;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;

use phonenumber::country::Id as Region;
use regex::Regex;

use super::{char_at, char_before, clear_after, clear_before};

/// Whether a region is in the North American Numbering Plan (calling code 1). A fixed list, so
/// building a detector does not load libphonenumber's metadata (that happens on first use, or in
/// [`Detector::warm_up`](super::Detector::warm_up)).
pub(crate) fn is_nanp(region: Region) -> bool {
    matches!(
        region.as_ref(),
        "US" | "CA"
            | "AG"
            | "AI"
            | "AS"
            | "BB"
            | "BM"
            | "BS"
            | "DM"
            | "DO"
            | "GD"
            | "GU"
            | "JM"
            | "KN"
            | "KY"
            | "LC"
            | "MP"
            | "MS"
            | "PR"
            | "SX"
            | "TC"
            | "TT"
            | "VC"
            | "VG"
            | "VI"
    )
}

// ---------------------------------------------------------------------------------------------
// Payment cards

/// Card numbers in `text`: runs of 13+ digits split at single spaces or dashes; inside a run,
/// every stretch of whole groups with a card-shaped grouping, a known issuer prefix for its length
/// and a valid Luhn check digit (the longest first).
pub(crate) fn cards(pattern: &Regex, text: &str) -> Vec<Range<usize>> {
    let mut ranges = Vec::new();
    for candidate in pattern.find_iter(text) {
        let run = candidate.range();
        if !clear_before(text, run.start) || !clear_after(text, run.end) {
            continue;
        }
        // Groups of digits and the separator before each (None for the first).
        let mut groups: Vec<(Range<usize>, Option<u8>)> = Vec::new();
        let mut start = run.start;
        let mut separator = None;
        let bytes = text.as_bytes();
        for index in run.clone() {
            if !bytes[index].is_ascii_digit() {
                groups.push((start..index, separator));
                separator = Some(bytes[index]);
                start = index + 1;
            }
        }
        groups.push((start..run.end, separator));
        let mut first = 0;
        while first < groups.len() {
            let accepted = (first + 1..=groups.len())
                .rev()
                .find(|&end| is_card(text, &groups[first..end]));
            match accepted {
                Some(end) => {
                    ranges.push(groups[first].0.start..groups[end - 1].0.end);
                    first = end;
                }
                None => first += 1,
            }
        }
    }
    ranges
}

fn is_card(text: &str, groups: &[(Range<usize>, Option<u8>)]) -> bool {
    let lengths: Vec<usize> = groups.iter().map(|(range, _)| range.len()).collect();
    let total: usize = lengths.iter().sum();
    if !(13..=19).contains(&total) {
        return false;
    }
    if groups.len() > 1 {
        // One kind of separator, and a grouping printed on cards.
        let separator = groups[1].1;
        if groups[1..].iter().any(|(_, other)| *other != separator) {
            return false;
        }
        let (last, head) = lengths.split_last().unwrap_or((&0, &[]));
        let fours = head.iter().all(|length| *length == 4) && (1..=4).contains(last);
        let amex_diners = lengths == [4, 6, 5] || lengths == [4, 6, 4];
        if !fours && !amex_diners {
            return false;
        }
    }
    let digits: Vec<u8> = groups
        .iter()
        .flat_map(|(range, _)| text[range.clone()].bytes().map(|byte| byte - b'0'))
        .collect();
    known_issuer(&digits) && luhn(&digits)
}

/// Whether the prefix belongs to a card network that issues numbers of this length.
fn known_issuer(digits: &[u8]) -> bool {
    let prefix = |count: usize| {
        digits
            .iter()
            .take(count)
            .fold(0u32, |value, digit| value * 10 + u32::from(*digit))
    };
    let length = digits.len();
    match digits.first() {
        // UATP (AirPlus and other airline cards).
        Some(1) => length == 15,
        // Visa.
        Some(4) => matches!(length, 13 | 16 | 19),
        // Mastercard 2-series.
        Some(2) => (2221..=2720).contains(&prefix(4)) && length == 16,
        Some(3) => match prefix(2) {
            // American Express.
            34 | 37 => length == 15,
            // Diners Club.
            30 => (300..=305).contains(&prefix(3)) && (14..=19).contains(&length),
            36 | 38 | 39 => (14..=19).contains(&length),
            // JCB.
            35 => (3528..=3589).contains(&prefix(4)) && (16..=19).contains(&length),
            _ => false,
        },
        Some(5) => match prefix(2) {
            // Mastercard.
            51..=55 => length == 16,
            // Maestro.
            50 | 56..=58 => (13..=19).contains(&length),
            _ => false,
        },
        // Discover, UnionPay, Maestro, RuPay and others of the 6-series.
        Some(6) => (13..=19).contains(&length),
        _ => false,
    }
}

/// The Luhn (mod 10) check.
pub(crate) fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(position, digit)| {
            let digit = u32::from(*digit);
            if position % 2 == 1 {
                let doubled = digit * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                digit
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

// ---------------------------------------------------------------------------------------------
// IBANs

/// IBANs in `text`: the longest prefix of each candidate that `iban_validate` accepts (country
/// format, length and mod-97, compared in uppercase), ending at a word boundary.
pub(crate) fn ibans(pattern: &Regex, text: &str) -> Vec<Range<usize>> {
    let mut ranges = Vec::new();
    for candidate in pattern.find_iter(text) {
        let range = candidate.range();
        if char_before(text, range.start).is_some_and(|c| c.is_alphanumeric()) {
            continue;
        }
        // Each kept character with the end of its byte.
        let kept: Vec<(u8, usize)> = candidate
            .as_str()
            .bytes()
            .enumerate()
            .filter(|(_, byte)| *byte != b' ')
            .map(|(offset, byte)| (byte, range.start + offset + 1))
            .collect();
        for length in (15..=kept.len().min(34)).rev() {
            let end = kept[length - 1].1;
            if char_at(text, end).is_some_and(|c| c.is_alphanumeric()) {
                continue;
            }
            let compact: String = kept[..length]
                .iter()
                .map(|(byte, _)| byte.to_ascii_uppercase() as char)
                .collect();
            if compact.parse::<iban::Iban>().is_ok() {
                ranges.push(range.start..end);
                break;
            }
        }
    }
    ranges
}

// ---------------------------------------------------------------------------------------------
// US Social Security Numbers

/// SSNs written `ddd-dd-dddd` (or with spaces or dots) that are not in an invalid range.
pub(crate) fn ssns(pattern: &Regex, text: &str) -> Vec<Range<usize>> {
    pattern
        .find_iter(text)
        .filter(|candidate| {
            clear_before(text, candidate.start())
                && clear_after(text, candidate.end())
                && valid_ssn(candidate.as_str())
        })
        .map(|candidate| candidate.range())
        .collect()
}

/// A whole field value that is an SSN: formatted, or nine bare digits.
pub(crate) fn is_ssn_value(value: &str) -> bool {
    let bare = value.len() == 9 && value.bytes().all(|byte| byte.is_ascii_digit());
    let formatted = value.len() == 11 && {
        let bytes = value.as_bytes();
        let separator = bytes[3];
        matches!(separator, b'-' | b' ' | b'.')
            && bytes[6] == separator
            && value
                .bytes()
                .enumerate()
                .all(|(index, byte)| index == 3 || index == 6 || byte.is_ascii_digit())
    };
    (bare || formatted) && valid_ssn(value)
}

/// The SSA's rules: area not 000, 666 or 900-999; group not 00; serial not 0000; plus numbers
/// known to be invalid (all one digit, 078-05-1120 from a wallet ad, 219-09-9999 from a pamphlet,
/// 123-45-6789 the example everyone uses).
pub(crate) fn valid_ssn(text: &str) -> bool {
    let digits: Vec<u8> = text
        .bytes()
        .filter(u8::is_ascii_digit)
        .map(|byte| byte - b'0')
        .collect();
    if digits.len() != 9 {
        return false;
    }
    let number = |range: Range<usize>| {
        digits[range]
            .iter()
            .fold(0u32, |value, digit| value * 10 + u32::from(*digit))
    };
    let (area, group, serial) = (number(0..3), number(3..5), number(5..9));
    if area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0 {
        return false;
    }
    if digits.iter().all(|digit| *digit == digits[0]) {
        return false;
    }
    !matches!(
        (area, group, serial),
        (78, 5, 1120) | (219, 9, 9999) | (123, 45, 6789)
    )
}

// ---------------------------------------------------------------------------------------------
// IP addresses

/// Whether an IPv4 address identifies no one outside its own network: loopback, private,
/// link-local, unspecified or broadcast.
fn local_v4(address: Ipv4Addr) -> bool {
    address.is_loopback()
        || address.is_private()
        || address.is_link_local()
        || address.is_unspecified()
        || address.is_broadcast()
}

/// [`local_v4`] for IPv6: loopback, unspecified, unique-local `fc00::/7`, link-local
/// `fe80::/10`, and IPv4-mapped or -compatible forms of local IPv4 addresses.
fn local_v6(address: Ipv6Addr) -> bool {
    let first = address.segments()[0];
    address.is_loopback()
        || address.is_unspecified()
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || address.to_ipv4().is_some_and(local_v4)
}

/// Dotted quads that parse as IPv4 and are not marked as versions; local addresses only when
/// `private` says so.
pub(crate) fn ipv4s(pattern: &Regex, text: &str, private: bool) -> Vec<Range<usize>> {
    pattern
        .find_iter(text)
        .filter(|candidate| {
            let range = candidate.range();
            clear_before(text, range.start)
                && (clear_after(text, range.end) || suffix_ok(&text[range.end..]))
                && char_before(text, range.start) != Some('.')
                && candidate
                    .as_str()
                    .parse::<Ipv4Addr>()
                    .is_ok_and(|address| private || !local_v4(address))
                && !marked_as_version(text, range)
        })
        .map(|candidate| candidate.range())
        .collect()
}

/// `/24` (a CIDR prefix length) or `:8080` (a port) after an address.
fn suffix_ok(after: &str) -> bool {
    let (digits, most) = if let Some(digits) = after.strip_prefix('/') {
        (digits, 3)
    } else if let Some(digits) = after.strip_prefix(':') {
        (digits, 5)
    } else {
        return false;
    };
    let length = digits.bytes().take_while(u8::is_ascii_digit).count();
    (1..=most).contains(&length)
        && !digits[length..].starts_with(|c: char| c.is_alphanumeric() || c == '.' || c == ':')
}

/// `version 1.2.3.4`, `ver. 1.2.3.4`, `release: 1.2.3.4`, `1.2.3.4-beta`, `1.2.3.4+build`.
fn marked_as_version(text: &str, range: Range<usize>) -> bool {
    let after = &text[range.end..];
    let mut rest = after.chars();
    let suffix = match (rest.next(), rest.next()) {
        (Some('-'), Some(next)) => next.is_alphabetic(),
        (Some('+'), Some(next)) => next.is_alphanumeric(),
        _ => false,
    };
    if suffix {
        return true;
    }
    let mut start = range.start.saturating_sub(24);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    let before = text[start..range.start]
        .trim_end_matches([' ', ':', '=', '"', '\'', '\t'])
        .to_lowercase();
    let word = before
        .rsplit(|c: char| !(c.is_alphanumeric() || c == '.'))
        .next()
        .unwrap_or_default();
    matches!(
        word,
        "version" | "ver" | "ver." | "v" | "v." | "release" | "rev" | "rev." | "build"
    )
}

/// Runs of hex digits and colons that parse as IPv6 and have at least two non-empty groups.
pub(crate) fn ipv6s(pattern: &Regex, text: &str, private: bool) -> Vec<Range<usize>> {
    let mut ranges = Vec::new();
    for candidate in pattern.find_iter(text) {
        let mut range = candidate.range();
        // Dots around the run belong to the sentence, a lone colon at the end too.
        while text[range.clone()].starts_with('.') {
            range.start += 1;
        }
        while text[range.clone()].ends_with('.') {
            range.end -= 1;
        }
        let value = &text[range.clone()];
        if value.ends_with(':') && !value.ends_with("::") {
            range.end -= 1;
        }
        let value = &text[range.clone()];
        let clear_left = !char_before(text, range.start)
            .is_some_and(|c| c.is_alphanumeric() || matches!(c, '_' | ':' | '.'));
        let clear_right =
            !char_at(text, range.end).is_some_and(|c| c.is_alphanumeric() || c == '_');
        let groups = value.split(':').filter(|group| !group.is_empty()).count();
        if clear_left
            && clear_right
            && (groups >= 2 || value.contains('.'))
            && value
                .parse::<Ipv6Addr>()
                .is_ok_and(|address| private || !local_v6(address))
        {
            ranges.push(range);
        }
    }
    ranges
}

// ---------------------------------------------------------------------------------------------
// Phone numbers

/// Answers of libphonenumber already given: parsing costs 5-20 µs (its regex cache hashes long
/// patterns), and the same numbers come back in result after result. Cleared when full.
#[derive(Debug, Default)]
pub(crate) struct PhoneMemo {
    answers: Mutex<HashMap<(Option<Region>, String), bool>>,
}

const PHONE_MEMO_ENTRIES: usize = 16_384;

impl PhoneMemo {
    /// Parse with libphonenumber and say whether the number is valid. The parser is third-party
    /// code; a panic in it means "not a phone number", never a crashed gateway.
    pub(crate) fn valid(&self, region: Option<Region>, text: &str) -> bool {
        if text.len() > 40 {
            return false;
        }
        let key = (region, text.to_owned());
        if let Some(answer) = self
            .answers
            .lock()
            .ok()
            .and_then(|memo| memo.get(&key).copied())
        {
            return answer;
        }
        let answer = catch_unwind(AssertUnwindSafe(|| {
            phonenumber::parse(region, text).is_ok_and(|number| phonenumber::is_valid(&number))
        }))
        .unwrap_or(false);
        if let Ok(mut memo) = self.answers.lock() {
            if memo.len() >= PHONE_MEMO_ENTRIES {
                memo.clear();
            }
            memo.insert(key, answer);
        }
        answer
    }
}

/// Whether `range` overlaps one of `taken` (sorted by start, not overlapping).
pub(crate) fn overlaps(taken: &[Range<usize>], range: &Range<usize>) -> bool {
    let index = taken.partition_point(|other| other.end <= range.start);
    taken
        .get(index)
        .is_some_and(|other| other.start < range.end)
}

fn digit_count(text: &str) -> usize {
    text.bytes().filter(u8::is_ascii_digit).count()
}

/// `+` and a country code, then groups of digits. When the whole candidate is not a valid
/// number, trailing groups are dropped one by one (`+1 212 555 0123 2026`).
pub(crate) fn international_phones(
    pattern: &Regex,
    text: &str,
    taken: &[Range<usize>],
    memo: &PhoneMemo,
) -> Vec<Range<usize>> {
    let mut ranges = Vec::new();
    for candidate in pattern.find_iter(text) {
        let mut range = candidate.range();
        if !clear_before(text, range.start) {
            continue;
        }
        // A value found already inside the candidate (a card number right after the phone
        // number: the groups run on) ends it there; one at its start rules it out.
        if let Some(first) = taken
            .iter()
            .filter(|span| span.start < range.end && range.start < span.end)
            .map(|span| span.start)
            .min()
        {
            if first <= range.start {
                continue;
            }
            range.end = text[..first].trim_end_matches([' ', '.', '-', '(']).len();
            if range.end <= range.start {
                continue;
            }
        }
        let mut end = range.end;
        for _ in 0..4 {
            let value = &text[range.start..end];
            let digits = digit_count(value);
            if digits < 7 {
                break;
            }
            if digits <= 17 && clear_after(text, end) && memo.valid(None, value) {
                ranges.push(range.start..end);
                break;
            }
            // Drop the last group and the separators before it.
            let Some(cut) = value.rfind([' ', '.', '-', '(']) else {
                break;
            };
            end = range.start + value[..cut].trim_end_matches([' ', '.', '-']).len();
        }
    }
    ranges
}

/// North American numbers written the national way: `(212) 555-0123`, `212-555-0123`,
/// `212.555.0123`, `212 555 0123`, optionally after `1-`. One kind of separator (after the
/// parenthesis anything goes), so `2026-01-15 10` does not pass.
pub(crate) fn nanp_phones(
    pattern: &Regex,
    text: &str,
    taken: &[Range<usize>],
    memo: &PhoneMemo,
) -> Vec<Range<usize>> {
    pattern
        .find_iter(text)
        .filter(|candidate| {
            let range = candidate.range();
            if overlaps(taken, &range) {
                return false;
            }
            let value = candidate.as_str();
            let after_parenthesis = match value.rsplit_once(')') {
                Some((_, rest)) => rest.trim_start_matches(' '),
                None => value,
            };
            let mut separators = after_parenthesis
                .bytes()
                .filter(|byte| matches!(byte, b' ' | b'.' | b'-'));
            let consistent = match separators.next() {
                Some(first) => separators.all(|other| other == first),
                None => true,
            };
            consistent
                && clear_before(text, range.start)
                && clear_after(text, range.end)
                && char_before(text, range.start) != Some('+')
                && memo.valid(Some(Region::US), value)
        })
        .map(|candidate| candidate.range())
        .collect()
}

/// National numbers starting with the trunk prefix 0 (`020 7946 0958`, `030 901820`), valid in
/// one of the configured regions outside NANP.
pub(crate) fn national_phones(
    pattern: &Regex,
    text: &str,
    regions: &[Region],
    taken: &[Range<usize>],
    memo: &PhoneMemo,
) -> Vec<Range<usize>> {
    pattern
        .find_iter(text)
        .filter(|candidate| {
            let range = candidate.range();
            let value = candidate.as_str();
            !overlaps(taken, &range)
                && (9..=12).contains(&digit_count(value))
                && clear_before(text, range.start)
                && clear_after(text, range.end)
                && regions
                    .iter()
                    .any(|region| memo.valid(Some(*region), value))
        })
        .map(|candidate| candidate.range())
        .collect()
}

/// A whole phone-field value in any common format, bare digits included.
pub(crate) fn is_phone_value(value: &str, regions: &[Region], memo: &PhoneMemo) -> bool {
    let plausible = value
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '+' | '-' | '.' | '(' | ')'));
    if !plausible || !(7..=15).contains(&digit_count(value)) {
        return false;
    }
    if value.starts_with('+') {
        return memo.valid(None, value);
    }
    regions
        .iter()
        .any(|region| memo.valid(Some(*region), value))
}
