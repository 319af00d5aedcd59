//! Detectors of numbers: cards, IBANs, SSNs, IP addresses, phone numbers.

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::ops::Range;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;

use phonenumber::country::Id as Region;
use regex::Regex;

use super::context::Label;
use super::{Runs, char_at, char_before, clear_after, clear_before};

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

/// Card numbers in `text`: runs of 12+ digits split at single spaces or dashes; inside a run,
/// every stretch of whole groups with a card-shaped grouping, a known issuer prefix for its length
/// and a valid Luhn check digit (the longest first). After a label that makes the number an
/// identifier (`tracking`, `EAN`, `order`) nothing is a card; numbers that only cards of rare
/// kinds share with common identifiers (12-digit Maestro, 15-digit UATP, 13 bare digits that are
/// a valid EAN-13 barcode) count only in a card field (`card`) or after a card label.
pub(crate) fn cards(
    pattern: &Regex,
    runs: &Runs,
    text: &str,
    card_field: bool,
) -> Vec<Range<usize>> {
    let mut ranges = Vec::new();
    for candidate in runs.matches(pattern, text, 12) {
        let run = candidate.range();
        if !clear_before(text, run.start) || !clear_after(text, run.end) {
            continue;
        }
        // The label before the run speaks for the number that starts the run.
        let (context, excluded) = match super::context::label_before(text, run.start) {
            Label::Identifier | Label::Version | Label::Phone | Label::NationalId => {
                (card_field, true)
            }
            Label::Card => (true, false),
            Label::None => (card_field, false),
        };
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
                .filter(|_| !(excluded && first == 0))
                .find(|&end| is_card(text, &groups[first..end], context));
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

fn is_card(text: &str, groups: &[(Range<usize>, Option<u8>)], context: bool) -> bool {
    let lengths: Vec<usize> = groups.iter().map(|(range, _)| range.len()).collect();
    let total: usize = lengths.iter().sum();
    if !(12..=19).contains(&total) {
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
        let fours = fours || (total == 12 && lengths == [4, 4, 4]);
        let amex_diners = lengths == [4, 6, 5] || lengths == [4, 6, 4];
        if !fours && !amex_diners {
            return false;
        }
    }
    let digits: Vec<u8> = groups
        .iter()
        .flat_map(|(range, _)| text[range.clone()].bytes().map(|byte| byte - b'0'))
        .collect();
    if !known_issuer(&digits) || !luhn(&digits) {
        return false;
    }
    // Kinds of cards rare enough that the identifiers of the same shape outnumber them.
    let rare = digits.len() == 12
        || (digits[0] == 1 && digits.len() == 15)
        || digits[0] == 0
        || (digits.len() == 13 && groups.len() == 1 && ean13(&digits));
    context || !rare
}

/// The EAN-13 (and ISBN-13) check digit: weights 1 and 3 alternating.
fn ean13(digits: &[u8]) -> bool {
    let sum: u32 = digits[..12]
        .iter()
        .enumerate()
        .map(|(index, digit)| u32::from(*digit) * if index % 2 == 0 { 1 } else { 3 })
        .sum();
    (10 - sum % 10) % 10 == u32::from(digits[12])
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
        // Maestro's 0604 (a few UK banks).
        Some(0) => prefix(4) == 604 && (12..=19).contains(&length),
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
            // JCB (3528-3589; the rest of 35 was JCB's before and still circulates).
            35 => (16..=19).contains(&length),
            _ => false,
        },
        Some(5) => match prefix(2) {
            // Mastercard.
            51..=55 => length == 16,
            // Maestro.
            50 | 56..=58 => (12..=19).contains(&length),
            _ => false,
        },
        // Discover, UnionPay, Maestro, RuPay and others of the 6-series.
        Some(6) => (12..=19).contains(&length),
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

/// SSNs written `ddd-dd-dddd` (or with spaces or dots) that are not in an invalid range, and
/// not the tail or head of a longer grouped number (`+49 536 22 1234`, a phone number with its
/// country code) or after a phone label.
pub(crate) fn ssns(pattern: &Regex, runs: &Runs, text: &str) -> Vec<Range<usize>> {
    runs.matches(pattern, text, 9)
        .filter(|candidate| {
            let (start, end) = (candidate.start(), candidate.end());
            let separator = candidate.as_str().as_bytes()[3];
            let grouped_before = char_before(text, start) == Some(char::from(separator))
                && char_before(text, start - 1).is_some_and(|c| c.is_ascii_digit());
            let grouped_after = char_at(text, end) == Some(char::from(separator))
                && char_at(text, end + 1).is_some_and(|c| c.is_ascii_digit());
            clear_before(text, start)
                && clear_after(text, end)
                && !grouped_before
                && !grouped_after
                && valid_ssn(candidate.as_str())
                && super::context::label_before(text, start) != Label::Phone
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
pub(crate) fn ipv4s(pattern: &Regex, runs: &Runs, text: &str, private: bool) -> Vec<Range<usize>> {
    runs.matches(pattern, text, 4)
        .filter(|candidate| {
            let range = candidate.range();
            clear_before(text, range.start)
                && (clear_after(text, range.end) || suffix_ok(&text[range.end..]))
                && char_before(text, range.start) != Some('.')
                && candidate
                    .as_str()
                    .parse::<Ipv4Addr>()
                    .is_ok_and(|address| private || !local_v4(address))
                && !marked_as_version(text, range.clone())
                && !super::context::version_nearby(text, range.clone())
                && super::context::label_before(text, range.start) != Label::Version
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
        if self.parsed_valid(region, text) {
            return true;
        }
        // `+3188-4588839`: the parser takes the digits up to the first separator for the country
        // code and gives up when they are too many; without the separators it splits them right.
        region.is_none()
            && glued_country_code(text)
            && self.parsed_valid(None, &compact_international(text))
    }

    fn parsed_valid(&self, region: Option<Region>, text: &str) -> bool {
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

/// `+` and a first group of four or more digits that a separator follows: a country code
/// glued to the area code (`+3188-4588839`, `+31870 801838`).
fn glued_country_code(text: &str) -> bool {
    let Some(rest) = text.strip_prefix('+') else {
        return false;
    };
    let first = rest.bytes().take_while(u8::is_ascii_digit).count();
    first >= 4 && rest[first..].starts_with([' ', '.', '-', '/'])
}

/// `+` and the digits of an international number, without separators.
fn compact_international(text: &str) -> String {
    let mut compact = String::with_capacity(text.len());
    compact.push('+');
    compact.extend(text.chars().filter(char::is_ascii_digit));
    compact
}

/// Whether a phone number ending at `end` stands on its own on the right, or is followed by its
/// extension.
fn phone_end(text: &str, end: usize) -> bool {
    clear_after(text, end) || extension_after(text, end) > 0
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

/// `+` (or `00`, the international call prefix of most countries) and a country code, then
/// groups of digits. When the whole candidate is not a valid number, trailing groups are
/// dropped one by one (`+1 212 555 0123 2026`). A `00` number must be grouped and must not
/// follow a label that makes it an identifier (`order 0049...`).
pub(crate) fn international_phones(
    pattern: &Regex,
    runs: &Runs,
    text: &str,
    taken: &[Range<usize>],
    memo: &PhoneMemo,
) -> Vec<Range<usize>> {
    let mut ranges = Vec::new();
    for candidate in runs.matches(pattern, text, 7) {
        let mut range = candidate.range();
        if !clear_before(text, range.start) {
            continue;
        }
        let zeros = candidate.as_str().starts_with("00");
        if zeros
            && matches!(
                super::context::label_before(text, range.start),
                Label::Identifier | Label::Version | Label::NationalId | Label::Card
            )
        {
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
            let valid = if zeros {
                phone_grouped(value) && memo.valid(None, &format!("+{}", &value[2..]))
            } else {
                memo.valid(None, value)
            };
            if digits <= 17 && phone_end(text, end) && valid {
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
    runs: &Runs,
    text: &str,
    taken: &[Range<usize>],
    memo: &PhoneMemo,
) -> Vec<Range<usize>> {
    runs.matches(pattern, text, 10)
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
                && phone_end(text, range.end)
                && char_before(text, range.start) != Some('+')
                && !matches!(
                    super::context::label_before(text, range.start),
                    Label::Identifier | Label::NationalId | Label::Card
                )
                && memo.valid(Some(Region::US), value)
        })
        .map(|candidate| candidate.range())
        .collect()
}

/// National numbers starting with the trunk prefix 0 (`020 7946 0958`, `030 901820`,
/// `04.15.39.15.00`), grouped the way phone numbers are written and valid in one of the
/// configured regions outside NANP or in any region whose numbers start with 0. A bare run of
/// digits (`0123456789`: a routing number, an ISBN, an order id as often as a phone number)
/// needs a phone label, which [`labelled_numbers`] looks for, or a phone field; a label that
/// makes it an identifier rules it out.
pub(crate) fn national_phones(
    pattern: &Regex,
    runs: &Runs,
    text: &str,
    regions: &[Region],
    trunk_zero: &[Region],
    taken: &[Range<usize>],
    memo: &PhoneMemo,
) -> Vec<Range<usize>> {
    runs.matches(pattern, text, 9)
        .filter(|candidate| {
            let range = candidate.range();
            let value = candidate.as_str();
            if overlaps(taken, &range)
                || !(9..=12).contains(&digit_count(value))
                || !clear_before(text, range.start)
                || !phone_end(text, range.end)
            {
                return false;
            }
            if matches!(
                super::context::label_before(text, range.start),
                Label::Identifier | Label::NationalId | Label::Card | Label::Version
            ) {
                return false;
            }
            // `078-05-1120`: grouped 3-2-4, the shape of an SSN, not of a phone number.
            let bytes = value.as_bytes();
            if value.len() == 11 && bytes[3] == bytes[6] && !bytes[3].is_ascii_digit() {
                return false;
            }
            let grouped = value.bytes().any(|byte| !byte.is_ascii_digit()) && phone_grouped(value);
            grouped
                && regions
                    .iter()
                    .chain(trunk_zero)
                    .any(|region| memo.valid(Some(*region), value))
        })
        .map(|candidate| candidate.range())
        .collect()
}

/// Where [`labelled_numbers`] looks for phone numbers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PhoneScope<'a> {
    /// Every region, configured ones first: for numbers after a phone label or a name.
    pub(crate) regions: &'a [Region],
    /// Configured regions outside NANP: for grouped numbers without a label.
    pub(crate) configured: &'a [Region],
    /// Person names found in the text, sorted.
    pub(crate) named: &'a [Range<usize>],
}

/// Numbers after a label that says what they are: a phone label (`Phone:`, `tel.`, `call`,
/// `mobile`, ...) makes any number valid in some region a phone number, bare digits included;
/// a national-identifier label (`SSN:`, `tax id`, `BSN`, `CPF`, ...) makes a number with a
/// valid check digit an identifier. Without a label, a number grouped the way phone numbers are
/// written and valid in one of the `configured` regions outside NANP (`912 345 678` with `ES`)
/// is a phone number too, unless a label makes it an identifier; so is a number right after a
/// person's name (`Jane Doe (030 901820)`). Trailing groups that spoil the number are dropped.
pub(crate) fn labelled_numbers(
    pattern: &Regex,
    runs: &Runs,
    text: &str,
    scope: &PhoneScope<'_>,
    taken: &[Range<usize>],
    memo: &PhoneMemo,
) -> Vec<(crate::PiiType, Range<usize>)> {
    let PhoneScope {
        regions,
        configured,
        named,
    } = *scope;
    let mut found = Vec::new();
    for candidate in runs.matches(pattern, text, 7) {
        let mut range = candidate.range();
        if overlaps(taken, &range) || !clear_before(text, range.start) {
            continue;
        }
        // A DNI's or NIE's letters: `42644933N`, `Z5115381W`.
        if char_before(text, range.start).is_some_and(|c| matches!(c, 'X' | 'Y' | 'Z'))
            && !char_before(text, range.start - 1).is_some_and(char::is_alphanumeric)
        {
            range.start -= 1;
        }
        let label = super::context::label_before(text, range.start);
        // `Jane Doe (030 901820)`: the parenthesis is not part of the number.
        let mut start = range.start;
        if label == Label::None
            && text[range.clone()].starts_with('(')
            && !text[range.clone()].contains(')')
        {
            start += 1;
        }
        let after_name = label == Label::None && after_name(text, named, start);
        if after_name {
            range.start = start;
        }
        let (kind, regions) = match label {
            Label::Phone => (crate::PiiType::Phone, regions),
            Label::NationalId => (crate::PiiType::Ssn, regions),
            Label::None if after_name => (crate::PiiType::Phone, regions),
            Label::None if !configured.is_empty() => (crate::PiiType::Phone, configured),
            _ => continue,
        };
        let unlabelled = label == Label::None;
        if kind == crate::PiiType::Ssn
            && char_at(text, range.end).is_some_and(|c| c.is_ascii_uppercase())
            && !char_at(text, range.end + 1).is_some_and(char::is_alphanumeric)
        {
            range.end += 1;
        }
        let mut end = range.end;
        for _ in 0..4 {
            let value = text[range.start..end].trim_end_matches(['(', ' ']);
            let after = range.start + value.len();
            let accepted = match kind {
                crate::PiiType::Phone => {
                    let shaped = if after_name {
                        shaped_after_name(value)
                    } else {
                        shaped_unlabelled(value)
                    };
                    phone_end(text, after)
                        && (!unlabelled || shaped)
                        && phone_in_regions(value, regions, memo)
                }
                _ => clear_after(text, after) && is_national_id(value),
            };
            if accepted {
                found.push((kind, range.start..range.start + value.len()));
                break;
            }
            let Some(cut) = value.rfind([' ', '.', '-', '(', '/']) else {
                break;
            };
            end = range.start + value[..cut].trim_end_matches([' ', '.', '-', '/']).len();
            if end <= range.start {
                break;
            }
        }
    }
    found
}

/// A number without a label written the way phone numbers are (`912 345 678`, `030-901-820`):
/// national (no `+` or `00`), nine digits or more in three groups or more, one kind of
/// separator.
fn shaped_unlabelled(value: &str) -> bool {
    !value.starts_with('+')
        && !value.starts_with("00")
        && digit_count(value) >= 9
        && separator_count(value) >= 2
        && phone_grouped(value)
}

/// A number right after a person's name: national, nine digits or more, grouped (the area code
/// may be set off by another separator, `49 2318-3105`), or ten or eleven bare digits.
fn shaped_after_name(value: &str) -> bool {
    let digits = digit_count(value);
    let grouped = match separator_count(value) {
        0 => (10..=11).contains(&digits) && !value.contains(['(', ')']),
        _ => {
            phone_grouped(value)
                || value
                    .split_once([' ', '.', '-', '/'])
                    .is_some_and(|(area, rest)| {
                        area.bytes()
                            .all(|byte| byte.is_ascii_digit() || byte == b'(' || byte == b')')
                            && separator_count(rest) >= 1
                            && phone_grouped(rest)
                    })
        }
    };
    !value.starts_with('+') && !value.starts_with("00") && digits >= 9 && grouped
}

fn separator_count(value: &str) -> usize {
    value
        .bytes()
        .filter(|byte| matches!(byte, b' ' | b'.' | b'-' | b'/'))
        .count()
}

/// Whether a person's name of `named` (sorted) ends right before byte `start`, a comma, colon,
/// dash, slash or opening parenthesis and spaces between (`Jane Doe, `, `Jane Doe (`).
fn after_name(text: &str, named: &[Range<usize>], start: usize) -> bool {
    let index = named.partition_point(|name| name.end <= start);
    index > 0 && {
        let gap = &text[named[index - 1].end..start];
        gap.len() <= 3
            && gap
                .chars()
                .all(|c| matches!(c, ' ' | ',' | ':' | '-' | '/' | '('))
    }
}

/// A whole phone-field value in any common format, bare digits and an extension included,
/// valid in one of `regions` (every region, configured ones first).
pub(crate) fn is_phone_value(value: &str, regions: &[Region], memo: &PhoneMemo) -> bool {
    // `(212)555-0123x492`: the number is what comes before the extension.
    let number = value
        .char_indices()
        .map(|(index, _)| index)
        .filter(|&index| index > 0)
        .find(|&index| {
            value[..index].ends_with(|c: char| c.is_ascii_digit())
                && extension_after(value, index) == value.len() - index
        })
        .map_or(value, |index| &value[..index]);
    let plausible = number
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '+' | '-' | '.' | '(' | ')' | '/'));
    plausible && phone_in_regions(number, regions, memo)
}

// ---------------------------------------------------------------------------------------------
// National identifiers with a check digit (found with a key or a label only, except the
// Italian codice fiscale, whose shape and check letter are distinctive enough on their own)

/// Whether `value` (a whole field value, or what follows a label) is a national identifier:
/// a US SSN (formatted or nine bare digits), a Dutch BSN (11-proof), a Polish PESEL, a Brazilian
/// CPF, a French NIR, a Spanish DNI or NIE, an Italian codice fiscale or a Chinese resident
/// identity number, each with its check digits right.
pub(crate) fn is_national_id(value: &str) -> bool {
    let value = value.trim();
    if is_ssn_value(value) {
        return true;
    }
    let compact: String = value
        .chars()
        .filter(|c| !matches!(c, ' ' | '.' | '-' | '/'))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if compact.len() < 9 || compact.len() > 18 || !compact.is_ascii() {
        return false;
    }
    let digits: Vec<u32> = compact.chars().filter_map(|c| c.to_digit(10)).collect();
    let all_digits = digits.len() == compact.len();
    // The same digit everywhere passes most checksums and is never issued.
    if all_digits && digits.iter().all(|digit| *digit == digits[0]) {
        return false;
    }
    match compact.len() {
        9 if all_digits => bsn(&digits),
        11 if all_digits => pesel(&digits) || cpf(&digits),
        15 => nir(&compact),
        9 => dni_or_nie(&compact),
        16 => codice_fiscale(&compact),
        18 => resident_id(&compact),
        _ => false,
    }
}

fn bsn(digits: &[u32]) -> bool {
    let sum: i64 = digits
        .iter()
        .enumerate()
        .map(|(index, digit)| {
            let weight = if index == 8 { -1 } else { 9 - index as i64 };
            weight * i64::from(*digit)
        })
        .sum();
    sum % 11 == 0 && sum != 0
}

fn pesel(digits: &[u32]) -> bool {
    const WEIGHTS: [u32; 10] = [1, 3, 7, 9, 1, 3, 7, 9, 1, 3];
    let sum: u32 = WEIGHTS.iter().zip(digits).map(|(w, d)| w * d).sum();
    let month = digits[2] * 10 + digits[3];
    (10 - sum % 10) % 10 == digits[10] && matches!(month % 20, 1..=12)
}

fn cpf(digits: &[u32]) -> bool {
    let check = |count: usize| {
        let sum: u32 = digits[..count]
            .iter()
            .enumerate()
            .map(|(index, digit)| digit * (count as u32 + 1 - index as u32))
            .sum();
        (sum * 10 % 11) % 10
    };
    check(9) == digits[9] && check(10) == digits[10]
}

fn nir(compact: &str) -> bool {
    // Corsica's departments 2A and 2B count as 19 and 18.
    let body = compact[..13].replace("2A", "19").replace("2B", "18");
    let (Ok(number), Ok(key)) = (body.parse::<u64>(), compact[13..].parse::<u64>()) else {
        return false;
    };
    matches!(compact.as_bytes()[0], b'1' | b'2') && 97 - number % 97 == key
}

fn dni_or_nie(compact: &str) -> bool {
    const LETTERS: &[u8; 23] = b"TRWAGMYFPDXBNJZSQVHLCKE";
    let bytes = compact.as_bytes();
    let lead = match bytes[0] {
        b'X' => "0",
        b'Y' => "1",
        b'Z' => "2",
        b'0'..=b'9' => "",
        _ => return false,
    };
    let start = usize::from(!lead.is_empty());
    let number = format!("{lead}{}", &compact[start..8]);
    match number.parse::<usize>() {
        Ok(number) => number.to_string().len() <= 8 && LETTERS[number % 23] == bytes[8],
        Err(_) => false,
    }
}

fn codice_fiscale(compact: &str) -> bool {
    const ODD: [u32; 26] = [
        1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24,
        23,
    ];
    let bytes = compact.as_bytes();
    // Letters where letters go (omocodia may turn digits into letters, never the reverse).
    let letters = [0, 1, 2, 3, 4, 5, 8, 11, 15];
    if letters
        .iter()
        .any(|index| !bytes[*index].is_ascii_uppercase())
        || !bytes.iter().all(u8::is_ascii_alphanumeric)
    {
        return false;
    }
    let value = |byte: u8| -> usize {
        if byte.is_ascii_digit() {
            usize::from(byte - b'0')
        } else {
            usize::from(byte - b'A')
        }
    };
    let sum: u32 = bytes[..15]
        .iter()
        .enumerate()
        .map(|(index, byte)| {
            if index % 2 == 0 {
                ODD[value(*byte)]
            } else {
                value(*byte) as u32
            }
        })
        .sum();
    bytes[15] == b'A' + (sum % 26) as u8
}

fn resident_id(compact: &str) -> bool {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &[u8; 11] = b"10X98765432";
    let bytes = compact.as_bytes();
    if !bytes[..17].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let sum: u32 = WEIGHTS
        .iter()
        .zip(&bytes[..17])
        .map(|(w, b)| w * u32::from(b - b'0'))
        .sum();
    CHECK[(sum % 11) as usize] == bytes[17]
}

/// Codici fiscali anywhere in `text`: sixteen characters of their shape whose check letter is
/// right.
pub(crate) fn codici_fiscali(pattern: &Regex, text: &str) -> Vec<Range<usize>> {
    pattern
        .find_iter(text)
        .filter(|candidate| {
            !char_before(text, candidate.start()).is_some_and(char::is_alphanumeric)
                && !char_at(text, candidate.end()).is_some_and(char::is_alphanumeric)
                && codice_fiscale(candidate.as_str())
        })
        .map(|candidate| candidate.range())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Numbers a label says what they are: `Phone: 912 345 678`, `SSN: 536221234`

/// Every region libphonenumber knows, configured ones first: what a number with a phone label
/// or in a phone field is tried against.
pub(crate) fn all_regions(configured: &[Region]) -> Vec<Region> {
    let mut regions: Vec<Region> = configured.to_vec();
    let mut known: Vec<Region> = phonenumber::metadata::DATABASE
        .iter()
        .filter_map(|metadata| metadata.id().parse::<Region>().ok())
        .filter(|region| !regions.contains(region))
        .collect();
    known.sort_by_key(|region| region.as_ref().to_owned());
    known.dedup();
    regions.extend(known);
    regions
}

/// Regions whose national numbers start with the trunk prefix 0 (`020 7946 0958`), from
/// libphonenumber's metadata.
pub(crate) fn trunk_zero_regions() -> Vec<Region> {
    let mut regions: Vec<Region> = phonenumber::metadata::DATABASE
        .iter()
        .filter(|metadata| metadata.national_prefix() == Some("0"))
        .filter_map(|metadata| metadata.id().parse::<Region>().ok())
        .collect();
    regions.sort_by_key(|region| region.as_ref().to_owned());
    regions.dedup();
    regions
}

/// An extension right after a phone number (`x492`, ` ext. 12`, ` extension 7`): its length.
pub(crate) fn extension_after(text: &str, end: usize) -> usize {
    let rest = &text[end..];
    let trimmed = rest.trim_start_matches(' ');
    let spaces = rest.len() - trimmed.len();
    if spaces > 1 {
        return 0;
    }
    let lower = trimmed
        .get(..trimmed.len().min(12))
        .unwrap_or_default()
        .to_ascii_lowercase();
    let marker = ["extension", "ext.", "ext", "x", "#"]
        .into_iter()
        .find(|marker| lower.starts_with(marker));
    let Some(marker) = marker else {
        return 0;
    };
    let after = &trimmed[marker.len()..];
    let gap = after.len() - after.trim_start_matches(' ').len();
    let digits = after[gap..].bytes().take_while(u8::is_ascii_digit).count();
    let total = spaces + marker.len() + gap + digits;
    if (1..=6).contains(&digits) && clear_after(text, end + total) {
        total
    } else {
        0
    }
}

/// Whether the digits of `value` are grouped the way phone numbers are written: at least two
/// separator (space, dash, dot, slash) or parentheses, one kind of separator outside the
/// parentheses.
pub(crate) fn phone_grouped(value: &str) -> bool {
    let after_parenthesis = match value.rsplit_once(')') {
        Some((_, rest)) => rest.trim_start_matches(' '),
        None => value,
    };
    let mut separators = after_parenthesis
        .bytes()
        .filter(|byte| matches!(byte, b' ' | b'.' | b'-' | b'/'));
    let first = separators.next();
    let consistent = match first {
        Some(first) => separators.clone().all(|other| other == first),
        None => true,
    };
    let count = after_parenthesis
        .bytes()
        .filter(|byte| matches!(byte, b' ' | b'.' | b'-' | b'/'))
        .count();
    consistent && (value.contains(')') || count >= 1)
}

/// A phone number whose whole text is `value`, written in any way: with `+` or `00` and a
/// country code, or national in one of `regions` (tried in order).
pub(crate) fn phone_in_regions(value: &str, regions: &[Region], memo: &PhoneMemo) -> bool {
    let digits = digit_count(value);
    if !(7..=15).contains(&digits) {
        return false;
    }
    if value.starts_with('+') {
        return memo.valid(None, value);
    }
    if let Some(rest) = value.strip_prefix("00")
        && rest.starts_with(|c: char| c.is_ascii_digit() && c != '0')
    {
        return memo.valid(None, &format!("+{rest}"));
    }
    regions
        .iter()
        .any(|region| memo.valid(Some(*region), value))
}
