//! A deterministic, labelled corpus for measuring the detectors: positives of every type in
//! realistic surroundings (prose, logs, CSV, JSON; some obfuscated with full-width characters,
//! zero-width characters or odd dashes) and hard negatives that look like them (Luhn-invalid and
//! unknown-issuer digit runs, order ids, dates, times, timestamps, version strings, hex hashes,
//! UUIDs, MAC addresses, invalid SSN ranges, IBANs with bad check digits, file and company names).
//!
//! The labels come from how each sample is built, never from the detectors. Used by this crate's
//! precision/recall test and its benchmark; pure and seeded, so the same seed gives the same
//! corpus.

use serde_json::{Value, json};

use crate::PiiType;

/// Label of the hard negatives that are four-part versions nothing marks as versions
/// (`Python 3.11.4.1`): the detector reports them as IP addresses on purpose.
pub const UNMARKED_VERSION: &str = "unmarked version";

/// One labelled sample.
#[derive(Debug, Clone)]
pub struct Sample {
    /// What to tokenize.
    pub input: Input,
    /// Every value that must be found, with its type, as the vault stores it (normalized).
    pub expected: Vec<(PiiType, String)>,
    /// What the sample exercises, for failure messages.
    pub label: &'static str,
}

/// A sample's input.
#[derive(Debug, Clone)]
pub enum Input {
    /// Plain text (a log line, a sentence, a CSV row).
    Text(String),
    /// A structured tool result.
    Json(Value),
}

/// A small deterministic generator (SplitMix64).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// A number in `low..=high`.
    pub fn range(&mut self, low: u64, high: u64) -> u64 {
        low + self.below(high - low + 1)
    }

    /// One of `items` (not empty).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// True with probability `percent`/100.
    pub fn percent(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn digits(&mut self, count: usize) -> String {
        (0..count)
            .map(|_| char::from(b'0' + self.below(10) as u8))
            .collect()
    }
}

const FIRST: &[&str] = &[
    "Ada",
    "Grace",
    "Alan",
    "Linus",
    "Margaret",
    "Dennis",
    "Barbara",
    "Ken",
    "Frances",
    "Edsger",
    "Radia",
    "Tim",
    "Katherine",
    "John",
    "Mary",
    "James",
    "Patricia",
    "Robert",
    "Jennifer",
    "Michael",
    "Linda",
    "William",
    "Elizabeth",
    "David",
    "Susan",
    "Chen",
    "Priya",
    "Mohammed",
    "Sofia",
    "Lukas",
    "Emma",
    "Noah",
    "Olivia",
    "Liam",
    "Amelia",
    "Mateo",
    "Yuki",
    "Aisha",
    "Omar",
    "Zoë",
    "José",
    "Björn",
    "Siobhan",
    "Nguyen",
    "Fatima",
];
const LAST: &[&str] = &[
    "Lovelace",
    "Hopper",
    "Turing",
    "Torvalds",
    "Hamilton",
    "Ritchie",
    "Liskov",
    "Thompson",
    "Allen",
    "Dijkstra",
    "Perlman",
    "Berners-Lee",
    "Johnson",
    "Smith",
    "Garcia",
    "Miller",
    "Davis",
    "Martinez",
    "Wilson",
    "Anderson",
    "Taylor",
    "Moore",
    "Jackson",
    "Müller",
    "Schmidt",
    "O'Brien",
    "Nakamura",
    "Patel",
    "Kowalski",
    "Rossi",
    "Dubois",
    "van der Berg",
    "Okafor",
    "Haddad",
    "Fernández",
    "Andersson",
    "Kim",
    "Singh",
    "MacDonald",
    "da Silva",
];
const DOMAINS: &[&str] = &[
    "example.com",
    "mail.example.org",
    "acme-corp.io",
    "university.ac.uk",
    "firma.de",
    "startup.co",
    "gmail.com",
    "outlook.com",
    "sub.domain.example.net",
    "consulting.fr",
];
const COMPANIES: &[&str] = &[
    "Acme Corp",
    "Globex Inc",
    "Initech LLC",
    "Umbrella Group",
    "Stark Industries",
    "Wayne Enterprises",
];
const US_AREAS: &[&str] = &[
    "212", "415", "312", "646", "617", "202", "305", "512", "720", "206", "404", "713", "303",
    "503", "612",
];

fn ascii_lower(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_ascii_alphabetic())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

fn full_width(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '!'..='~' => char::from_u32(c as u32 - 0x21 + 0xFF01).unwrap_or(c),
            ' ' => '\u{3000}',
            other => other,
        })
        .collect()
}

fn with_zero_width(text: &str, rng: &mut Rng) -> String {
    let hidden = [
        '\u{200B}', '\u{200C}', '\u{200D}', '\u{2060}', '\u{FEFF}', '\u{00AD}',
    ];
    let mut output = String::new();
    for (index, c) in text.chars().enumerate() {
        output.push(c);
        if index % 3 == 1 {
            output.push(*rng.pick(&hidden));
        }
    }
    output
}

/// A person's name.
pub fn name(rng: &mut Rng) -> String {
    format!("{} {}", rng.pick(FIRST), rng.pick(LAST))
}

/// An email address derived from a name.
pub fn email(rng: &mut Rng) -> String {
    let first = ascii_lower(rng.pick::<&str>(FIRST));
    let last = ascii_lower(rng.pick::<&str>(LAST));
    let local = match rng.below(5) {
        0 => format!("{first}.{last}"),
        1 => format!("{}{last}", &first[..1]),
        2 => format!("{first}_{last}{}", rng.below(100)),
        3 => format!("{first}+news"),
        _ => format!("{last}.{first}-{}", rng.below(10)),
    };
    format!("{local}@{}", rng.pick(DOMAINS))
}

/// A valid phone number, formatted as people write it, and whether it is international.
pub fn phone(rng: &mut Rng) -> String {
    let area = rng.pick(US_AREAS).to_owned();
    let exchange = rng.range(200, 999);
    let line = rng.range(0, 9999);
    match rng.below(10) {
        0 => format!("+1 {area} {exchange} {line:04}"),
        1 => format!("+1-{area}-{exchange}-{line:04}"),
        2 => format!("({area}) {exchange}-{line:04}"),
        3 => format!("{area}-{exchange}-{line:04}"),
        4 => format!("{area}.{exchange}.{line:04}"),
        5 => format!("+1{area}{exchange}{line:04}"),
        6 => format!("+44 20 7946 0{:03}", rng.below(1000)),
        7 => format!("+61 2 5550 {:04}", rng.below(10_000)),
        8 => format!("+49 30 {}", rng.range(2_000_000, 8_999_999)),
        _ => format!(
            "+33 1 {} {} {} {}",
            rng.range(40, 49),
            rng.range(10, 99),
            rng.range(10, 99),
            rng.range(10, 99)
        ),
    }
}

/// The Luhn check digit for `digits`.
fn luhn_digit(digits: &str) -> u8 {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(position, byte)| {
            let digit = u32::from(byte - b'0');
            if position % 2 == 0 {
                let doubled = digit * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                digit
            }
        })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

/// A Luhn-valid card number of a real network, as digits, and the grouping it is printed in.
fn card_digits(rng: &mut Rng) -> (String, &'static [usize]) {
    let (prefix, length, grouping): (String, usize, &'static [usize]) = match rng.below(7) {
        0 => ("4".to_owned(), 16, &[4, 4, 4, 4]),
        1 => (format!("5{}", rng.range(1, 5)), 16, &[4, 4, 4, 4]),
        2 => (format!("{}", rng.range(2221, 2720)), 16, &[4, 4, 4, 4]),
        3 => (format!("3{}", rng.pick(&[4, 7])), 15, &[4, 6, 5]),
        4 => ("6011".to_owned(), 16, &[4, 4, 4, 4]),
        5 => (format!("{}", rng.range(3528, 3589)), 16, &[4, 4, 4, 4]),
        _ => ("36".to_owned(), 14, &[4, 6, 4]),
    };
    let mut digits = prefix;
    let body = rng.digits(length - 1 - digits.len());
    digits.push_str(&body);
    let check = luhn_digit(&digits);
    digits.push(char::from(b'0' + check));
    (digits, grouping)
}

fn group(digits: &str, grouping: &[usize], separator: &str) -> String {
    let mut parts = Vec::new();
    let mut start = 0;
    for size in grouping {
        parts.push(&digits[start..start + size]);
        start += size;
    }
    parts.join(separator)
}

/// A valid card number, plain, spaced or dashed.
pub fn card(rng: &mut Rng) -> String {
    let (digits, grouping) = card_digits(rng);
    match rng.below(3) {
        0 => digits,
        1 => group(&digits, grouping, " "),
        _ => group(&digits, grouping, "-"),
    }
}

/// mod-97 of an IBAN rearranged for checking (country and check digits moved to the end).
fn mod97(text: &str) -> u32 {
    let mut remainder = 0u32;
    for c in text.chars() {
        let value = match c {
            '0'..='9' => c as u32 - '0' as u32,
            'A'..='Z' => c as u32 - 'A' as u32 + 10,
            _ => continue,
        };
        remainder = if value >= 10 {
            (remainder * 100 + value) % 97
        } else {
            (remainder * 10 + value) % 97
        };
    }
    remainder
}

fn iban_with_check(country: &str, bban: &str) -> String {
    let check = 98 - mod97(&format!("{bban}{country}00"));
    format!("{country}{check:02}{bban}")
}

fn letters(rng: &mut Rng, count: usize) -> String {
    (0..count)
        .map(|_| char::from(b'A' + rng.below(26) as u8))
        .collect()
}

fn iban_compact(rng: &mut Rng) -> String {
    match rng.below(6) {
        0 => {
            let bban = rng.digits(18);
            iban_with_check("DE", &bban)
        }
        1 => {
            let bban = format!("{}{}", letters(rng, 4), rng.digits(14));
            iban_with_check("GB", &bban)
        }
        2 => {
            let bban = format!("{}{}", letters(rng, 4), rng.digits(10));
            iban_with_check("NL", &bban)
        }
        3 => {
            let bban = rng.digits(17);
            iban_with_check("CH", &bban)
        }
        4 => {
            let bban = rng.digits(16);
            iban_with_check("AT", &bban)
        }
        _ => {
            let bban = format!("{}{}", letters(rng, 4), rng.digits(14));
            iban_with_check("IE", &bban)
        }
    }
}

/// A valid IBAN, compact or in groups of four.
pub fn iban(rng: &mut Rng) -> String {
    let compact = iban_compact(rng);
    if rng.percent(50) {
        compact
    } else {
        let chars: Vec<char> = compact.chars().collect();
        chars
            .chunks(4)
            .map(|chunk| chunk.iter().collect::<String>())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// A valid-range SSN, dashed or spaced.
pub fn ssn(rng: &mut Rng) -> String {
    let area = loop {
        let area = rng.range(1, 899);
        if area != 666 && area != 123 && area != 78 && area != 219 {
            break area;
        }
    };
    let group = rng.range(1, 99);
    let serial = rng.range(1, 9999);
    let separator = if rng.percent(85) { "-" } else { " " };
    format!("{area:03}{separator}{group:02}{separator}{serial:04}")
}

/// An IPv4 or IPv6 address.
pub fn ip(rng: &mut Rng) -> String {
    match rng.below(6) {
        // Public addresses (local ones are left readable by default).
        0 => format!("198.51.100.{}", rng.range(1, 254)),
        1 => format!(
            "81.{}.{}.{}",
            rng.below(256),
            rng.below(256),
            rng.range(1, 254)
        ),
        2 => format!(
            "{}.{}.{}.{}",
            // Public: not 127 (loopback), 169 or 172 (link-local and private ranges within).
            match rng.range(11, 223) {
                127 | 169 | 172 => 128,
                octet => octet,
            },
            rng.below(256),
            rng.below(256),
            rng.range(1, 254)
        ),
        3 => format!("2001:db8::{:x}", rng.range(1, 0xffff)),
        4 => format!(
            "2a02:810::{:x}:{:x}:{:x}:{:x}",
            rng.range(1, 0xffff),
            rng.below(0xffff),
            rng.below(0xffff),
            rng.range(1, 0xffff)
        ),
        _ => format!(
            "2001:0db8:85a3:{:04x}:0000:8a2e:0370:{:04x}",
            rng.below(0xffff),
            rng.below(0xffff)
        ),
    }
}

/// Text around a value, the way tool results carry it.
fn surround(rng: &mut Rng, kind: PiiType, value: &str) -> String {
    let label = match kind {
        PiiType::Email => "Email",
        PiiType::Phone => "Phone",
        PiiType::Card => "Card number",
        PiiType::Iban => "IBAN",
        PiiType::Ssn => "SSN",
        PiiType::Ip => "client IP",
        PiiType::Name => "Name",
    };
    match rng.below(8) {
        0 => format!("{label}: {value}"),
        1 => format!("Please contact us at {value} before Friday."),
        2 => format!("2026-03-14T09:12:44Z INFO request from {value} handled in 12 ms"),
        3 => format!(
            "\"{}\",\"{value}\",\"2026-01-15\",\"ORD-2026-000123\"",
            label
        ),
        4 => format!("<td>{value}</td>"),
        5 => format!("({value})"),
        6 => format!("{label}={value};"),
        _ => format!("Updated record 4471: {label} changed to {value}."),
    }
}

fn text(expected: Vec<(PiiType, String)>, text: String, label: &'static str) -> Sample {
    Sample {
        input: Input::Text(text),
        expected,
        label,
    }
}

/// Positives of a structured type in text, about a tenth of them obfuscated.
fn positives(rng: &mut Rng, kind: PiiType, count: usize) -> Vec<Sample> {
    (0..count)
        .map(|index| {
            let value = match kind {
                PiiType::Email => email(rng),
                PiiType::Phone => phone(rng),
                PiiType::Card => card(rng),
                PiiType::Iban => iban(rng),
                PiiType::Ssn => ssn(rng),
                PiiType::Ip => ip(rng),
                PiiType::Name => name(rng),
            };
            match index % 20 {
                // Full-width: NFKC turns it back into the value.
                0 if kind != PiiType::Name => {
                    let shown = full_width(&value);
                    let sentence = format!("Record: {shown} (verified)");
                    text(vec![(kind, value)], sentence, "full-width")
                }
                // Zero-width characters inside.
                1 if kind != PiiType::Name => {
                    let shown = with_zero_width(&value, rng);
                    text(
                        vec![(kind, value)],
                        format!("see {shown} now"),
                        "zero-width",
                    )
                }
                // Two values of the type in one line.
                2 => {
                    let second = match kind {
                        PiiType::Email => email(rng),
                        PiiType::Phone => phone(rng),
                        PiiType::Card => card(rng),
                        PiiType::Iban => iban(rng),
                        PiiType::Ssn => ssn(rng),
                        PiiType::Ip => ip(rng),
                        PiiType::Name => name(rng),
                    };
                    let line = format!("{value}, {second}");
                    let mut expected = vec![(kind, value)];
                    if !expected.iter().any(|(_, v)| *v == second) {
                        expected.push((kind, second));
                    }
                    text(expected, line, "two values")
                }
                // Formats that are harder to catch (some are not caught: see the report).
                3..=5 => {
                    let (shown, expected) = hard_format(rng, kind);
                    let mut expected = vec![(kind, expected)];
                    // The display name of an address header is a name.
                    if let Some(display) = shown
                        .strip_prefix('"')
                        .and_then(|rest| rest.split_once("\" <"))
                        .map(|(display, _)| display.to_owned())
                    {
                        expected.push((PiiType::Name, display));
                    }
                    text(expected, shown, "hard format")
                }
                _ => {
                    let sentence = surround(rng, kind, &value);
                    text(vec![(kind, value)], sentence, "in context")
                }
            }
        })
        .collect()
}

/// A value in a format or place that is harder to catch: `(text, value expected in the vault)`.
fn hard_format(rng: &mut Rng, kind: PiiType) -> (String, String) {
    match kind {
        PiiType::Email => {
            let address = email(rng);
            match rng.below(4) {
                0 => {
                    let upper = address.to_uppercase();
                    (format!("FROM: {upper}"), upper)
                }
                1 => {
                    let name = name(rng);
                    (format!("\"{name}\" <{address}>"), address)
                }
                2 => {
                    let (local, _) = address.split_once('@').unwrap_or_default();
                    let museum = format!("{local}@collections.example.museum");
                    (format!("{museum},{}", rng.below(100)), museum)
                }
                _ => (format!("reply-to:{address}"), address),
            }
        }
        PiiType::Phone => {
            let area = rng.pick(US_AREAS).to_owned();
            let (exchange, line) = (rng.range(200, 999), rng.range(0, 9999));
            match rng.below(9) {
                0 => {
                    let value = format!("+44 (0)20 7946 0{:03}", rng.below(1000));
                    (format!("UK office {value}"), value)
                }
                1 => {
                    let value = format!("+1-{area}-{exchange}-{line:04}");
                    (format!("tel:{value}"), value)
                }
                2 => {
                    let value = format!("({area}){exchange}-{line:04}");
                    (format!("cell {value}"), value)
                }
                3 => {
                    let value = format!("+1 ({area}) {exchange}-{line:04}");
                    (format!("{value} (mobile)"), value)
                }
                4 => {
                    let value = format!("{area} {exchange} {line:04}");
                    (format!("Phone {value}"), value)
                }
                // An extension is kept with its number.
                5 => {
                    let value = format!("{area}-{exchange}-{line:04} x{}", rng.range(10, 999));
                    (value.clone(), value)
                }
                6 => {
                    let value = format!("+1.{area}.{exchange}.{line:04}");
                    (format!("fax: {value}"), value)
                }
                // A UK national number, grouped: caught with every region's formats. Not caught:
                // bare digits in free text without a phone label (caught in a phone field).
                7 => {
                    let value = format!("020 7946 0{:03}", rng.below(1000));
                    (format!("ring {value}"), value)
                }
                _ => {
                    let value = format!("{area}{exchange}{line:04}");
                    (format!("callback {value}"), value)
                }
            }
        }
        PiiType::Card => {
            let (digits, grouping) = card_digits(rng);
            match rng.below(4) {
                0 => {
                    let mut long = format!("4{}", rng.digits(17));
                    long.push(char::from(b'0' + luhn_digit(&long)));
                    (format!("visa {long}"), long)
                }
                1 => {
                    let mut maestro = format!("6759{}", rng.digits(11));
                    maestro.push(char::from(b'0' + luhn_digit(&maestro)));
                    let value = group(&maestro, &[4, 4, 4, 4], " ");
                    (format!("maestro: {value}"), value)
                }
                2 => {
                    let value = group(&digits, grouping, ".");
                    (format!("card {value}"), value)
                }
                _ => {
                    let value = group(&digits, grouping, " ");
                    (format!("{{\"pan\":\"{value}\"}}"), value)
                }
            }
        }
        PiiType::Iban => {
            let value = match rng.below(7) {
                0 => iban(rng).to_lowercase(),
                1 => iban_with_check(
                    "FR",
                    &format!("{}{}{}", rng.digits(10), letters(rng, 2), rng.digits(11)),
                ),
                2 => iban_with_check(
                    "IT",
                    &format!("{}{}{}", letters(rng, 1), rng.digits(10), rng.digits(12)),
                ),
                3 => iban_with_check("ES", &rng.digits(20)),
                4 => iban_with_check("BE", &rng.digits(12)),
                5 => iban_with_check("PL", &rng.digits(24)),
                _ => iban_with_check("NO", &rng.digits(11)),
            };
            (format!("Bank account: {value}, BIC DEUTDEFF"), value)
        }
        PiiType::Ssn => {
            let value = ssn(rng);
            match rng.below(3) {
                0 => (format!("SSN#{value}"), value),
                1 => (format!("ssn={value}."), value),
                _ => (
                    format!("{{\"ssn\": \"{value}\", \"dob\": \"1970-01-01\"}}"),
                    value,
                ),
            }
        }
        PiiType::Ip => match rng.below(6) {
            0 => {
                let value = format!("81.{}.0.0", rng.below(256));
                (format!("route {value}/16 via gw"), value)
            }
            1 => {
                let value = format!("2001:db8::{:x}", rng.range(1, 0xffff));
                (format!("https://[{value}]:443/"), value)
            }
            2 => (
                "peer 2a02:810::1%eth0 up".to_owned(),
                "2a02:810::1".to_owned(),
            ),
            3 => {
                let value = format!("203.0.113.{}", rng.range(1, 254));
                (format!("listening on {value}:8080"), value)
            }
            4 => {
                let value = format!(
                    "::ffff:81.{}.{}.{}",
                    rng.below(256),
                    rng.below(256),
                    rng.range(1, 254)
                );
                (format!("mapped {value}"), value)
            }
            _ => {
                let value = format!("2001:DB8::{:X}", rng.range(1, 0xffff));
                (format!("IPv6 {value}"), value)
            }
        },
        PiiType::Name => {
            let value = name(rng);
            (format!("Name: {value}"), value)
        }
    }
}

/// Hard negatives: nothing in them is personal data.
fn negatives(rng: &mut Rng, count: usize) -> Vec<Sample> {
    (0..count)
        .map(|index| {
            let value = match index % 40 {
                // Luhn-invalid 16-digit numbers with a Visa prefix.
                0 => {
                    let (digits, _) = card_digits(rng);
                    let last = digits.as_bytes()[digits.len() - 1] - b'0';
                    format!("{}{}", &digits[..digits.len() - 1], (last + 1) % 10)
                }
                // Order and invoice ids.
                1 => format!("ORD-{}-{}", rng.range(2019, 2026), rng.digits(6)),
                2 => format!("INV-{}", rng.digits(9)),
                // Dates and times.
                3 => format!(
                    "{}-{:02}-{:02}",
                    rng.range(1990, 2030),
                    rng.range(1, 12),
                    rng.range(1, 28)
                ),
                4 => format!(
                    "{:02}/{:02}/{}",
                    rng.range(1, 12),
                    rng.range(1, 28),
                    rng.range(1990, 2030)
                ),
                5 => format!(
                    "{}-{:02}-{:02} {:02}:{:02}:{:02}",
                    rng.range(2020, 2026),
                    rng.range(1, 12),
                    rng.range(1, 28),
                    rng.below(24),
                    rng.below(60),
                    rng.below(60)
                ),
                // Unix timestamps in seconds and milliseconds.
                6 => format!("{}", rng.range(1_500_000_000, 1_800_000_000)),
                7 => format!("{}", rng.range(1_500_000_000_000, 1_800_000_000_000)),
                // Version strings, marked as versions.
                8 => format!(
                    "v{}.{}.{}.{}",
                    rng.below(20),
                    rng.below(20),
                    rng.below(50),
                    rng.below(500)
                ),
                9 => format!(
                    "version {}.{}.{}.{}",
                    rng.below(20),
                    rng.below(20),
                    rng.below(50),
                    rng.below(500)
                ),
                10 => format!("{}.{}.{}", rng.below(20), rng.below(50), rng.below(500)),
                11 => format!(
                    "{}.{}.{}.{}-beta",
                    rng.below(5),
                    rng.below(20),
                    rng.below(50),
                    rng.below(200)
                ),
                // Hex hashes and UUIDs.
                12 => (0..40)
                    .map(|_| char::from(b"0123456789abcdef"[rng.below(16) as usize]))
                    .collect(),
                13 => format!(
                    "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
                    rng.next_u64() as u32,
                    rng.below(0x10000),
                    rng.below(0x1000),
                    rng.below(0x1000),
                    rng.next_u64() & 0xFFFF_FFFF_FFFF
                ),
                // MAC addresses and times with colons.
                14 => format!(
                    "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
                    rng.below(256),
                    rng.below(256),
                    rng.below(256),
                    rng.below(256),
                    rng.below(256),
                    rng.below(256)
                ),
                15 => format!(
                    "[{:02}:{:02}:{:02}]",
                    rng.below(24),
                    rng.below(60),
                    rng.below(60)
                ),
                // SSNs in invalid ranges.
                16 => format!(
                    "{}-{:02}-{:04}",
                    rng.pick(&["000", "666", "900", "987"]),
                    rng.range(1, 99),
                    rng.range(1, 9999)
                ),
                17 => format!("{:03}-00-{:04}", rng.range(1, 899), rng.range(1, 9999)),
                18 => format!("{:03}-{:02}-0000", rng.range(1, 899), rng.range(1, 99)),
                19 => (*rng.pick(&["078-05-1120", "123-45-6789", "219-09-9999"])).to_owned(),
                // IBANs with a wrong check digit.
                20 => {
                    let valid = iban_compact(rng);
                    let check: u32 = valid[2..4].parse().unwrap_or(0);
                    format!("{}{:02}{}", &valid[..2], (check + 1) % 100, &valid[4..])
                }
                // Phone-like numbers that are not valid numbers.
                21 => format!("+1 555 {} {}", rng.range(200, 999), rng.digits(4)),
                22 => format!("(123) {}-{}", rng.range(200, 999), rng.digits(4)),
                // Invalid IPv4s and dotted numbers.
                23 => format!(
                    "{}.{}.{}.{}",
                    rng.range(256, 999),
                    rng.below(256),
                    rng.below(256),
                    rng.below(256)
                ),
                24 => format!(
                    "{}.{}.{}.{}.{}",
                    rng.below(256),
                    rng.below(256),
                    rng.below(256),
                    rng.below(256),
                    rng.below(256)
                ),
                // Code and handles.
                25 => (*rng.pick(&[
                    "std::net::IpAddr",
                    "icon@2x.png",
                    "@scope/pkg@1.2.3",
                    "user@localhost",
                    "@john_doe",
                    "Foo::bar::baz()",
                    "a@b",
                ]))
                .to_owned(),
                // Unknown-issuer digit runs and long ids.
                26 => format!("{}{}", rng.pick(&["1", "7", "8", "9"]), rng.digits(15)),
                27 => format!("tracking 1Z{}{}", letters(rng, 3), rng.digits(12)),
                // Money, quantities, ISBNs.
                28 => format!("${}.{:02}", rng.range(1, 99_999_999), rng.below(100)),
                29 => format!(
                    "ISBN 978-{}-{}-{}-{}",
                    rng.below(10),
                    rng.digits(2),
                    rng.digits(6),
                    rng.below(10)
                ),
                // Dotted numbers that are not addresses: OIDs, Windows builds, prices.
                30 => format!("OID 1.3.6.1.4.1.{}", rng.below(60_000)),
                31 => format!(
                    "Windows 10.0.{}.{}",
                    rng.range(10_000, 26_000),
                    rng.below(3000)
                ),
                32 => format!("{}.{:02} EUR", rng.range(1, 99_999), rng.below(100)),
                // Numbers with dashes: zip+4, part numbers, phone-shaped invalid numbers.
                33 => format!("ZIP {}-{}", rng.digits(5), rng.digits(4)),
                34 => format!("part {}-{}-{}", rng.digits(4), rng.digits(3), rng.digits(4)),
                35 => format!("(555) {}-{}", rng.range(200, 999), rng.digits(4)),
                // Coordinates and durations.
                36 => format!(
                    "{}.{}, -{}.{}",
                    rng.range(10, 60),
                    rng.digits(4),
                    rng.range(10, 120),
                    rng.digits(4)
                ),
                37 => format!(
                    "took {}:{:02}:{:02}.{}",
                    rng.below(100),
                    rng.below(60),
                    rng.below(60),
                    rng.digits(3)
                ),
                // A dotted quad that is a version but not marked as one: tokenized as an address
                // by design (see the crate docs); its sample label says so.
                38 => {
                    let version = format!(
                        "Python 3.{}.{}.{}",
                        rng.range(8, 13),
                        rng.below(10),
                        rng.below(5)
                    );
                    return text(Vec::new(), version, UNMARKED_VERSION);
                }
                _ => format!(
                    "sha256:{}",
                    (0..64)
                        .map(|_| char::from(b"0123456789abcdef"[rng.below(16) as usize]))
                        .collect::<String>()
                ),
            };
            let line = match rng.below(3) {
                0 => format!("Reference {value} was processed."),
                1 => format!("{{\"ref\": \"{value}\", \"status\": \"ok\"}}"),
                _ => value,
            };
            text(Vec::new(), line, "hard negative")
        })
        .collect()
}

/// Structured records with names, and objects whose `name` is not a person.
fn structured(rng: &mut Rng, count: usize) -> Vec<Sample> {
    (0..count)
        .map(|index| match index % 16 {
            0 => {
                let (name, email) = (name(rng), email(rng));
                Sample {
                    input: Input::Json(json!({"id": index, "name": name, "email": email, "company": rng.pick(COMPANIES)})),
                    expected: vec![(PiiType::Name, name), (PiiType::Email, email)],
                    label: "contact row",
                }
            }
            1 => {
                let (first, last) = (rng.pick(FIRST).to_string(), rng.pick(LAST).to_string());
                Sample {
                    input: Input::Json(json!({"firstName": first, "lastName": last, "status": "active"})),
                    expected: vec![(PiiType::Name, first), (PiiType::Name, last)],
                    label: "first/last",
                }
            }
            2 => {
                let (name, phone) = (name(rng), phone(rng));
                Sample {
                    input: Input::Json(json!({"Name": name, "Phone": phone, "Title": "VP Sales"})),
                    expected: vec![(PiiType::Name, name), (PiiType::Phone, phone)],
                    label: "CRM lead",
                }
            }
            3 => {
                let name = name(rng);
                Sample {
                    input: Input::Json(json!({"customer": {"full_name": name, "tier": "gold"}})),
                    expected: vec![(PiiType::Name, name)],
                    label: "full_name",
                }
            }
            4 => {
                let (first, last) = (rng.pick(FIRST).to_string(), rng.pick(LAST).to_string());
                Sample {
                    input: Input::Json(json!({"name": {"first": first, "last": last}, "id": index})),
                    expected: vec![(PiiType::Name, first), (PiiType::Name, last)],
                    label: "name object",
                }
            }
            // Objects whose name is not a person.
            5 => Sample {
                input: Input::Json(json!({"id": "doc-17", "name": rng.pick(&["Q4 Planning Notes", "Orders 2026", "Contacts", "report.pdf", "Sales Pipeline Review"]), "mimeType": "text/plain"})),
                expected: Vec::new(),
                label: "file name",
            },
            6 => Sample {
                input: Input::Json(json!({"name": rng.pick(COMPANIES), "email": "info@acme-corp.io", "type": "company"})),
                expected: vec![(PiiType::Email, "info@acme-corp.io".to_owned())],
                label: "company",
            },
            7 => Sample {
                input: Input::Json(json!({"tools": [{"name": "get_sum", "description": "Adds two numbers"}, {"name": "Deploy Service"}], "entity": {"name": "deploy", "entityType": "event"}})),
                expected: Vec::new(),
                label: "tool and entity names",
            },
            8 => {
                let author = name(rng);
                Sample {
                    input: Input::Json(json!({"title": "Fix the parser", "author": author, "assignee": "jdoe", "owner": "Platform Team"})),
                    expected: vec![(PiiType::Name, author)],
                    label: "role fields",
                }
            }
            9 => {
                let (name, ssn, phone) = (name(rng), ssn(rng).replace(['-', ' '], ""), format!("{}{}{:04}", rng.pick(US_AREAS), rng.range(200, 999), rng.below(10_000)));
                Sample {
                    input: Input::Json(json!({"patientName": name, "ssn": ssn, "mobile": phone, "version": "1.2.3.4"})),
                    expected: vec![(PiiType::Name, name), (PiiType::Ssn, ssn), (PiiType::Phone, phone)],
                    label: "bare values in named fields",
                }
            }
            10 => {
                let (name, email) = (name(rng), email(rng));
                Sample {
                    input: Input::Json(json!({"rows": [{"name": name, "email": email}], "summary": format!("{name} signed the contract")})),
                    expected: vec![(PiiType::Name, name), (PiiType::Email, email)],
                    label: "name repeated in text",
                }
            }
            11 => {
                let (card, ip) = (card_digits(rng).0, ip(rng));
                Sample {
                    input: Input::Json(json!({"payment": {"pan": card.parse::<u64>().unwrap_or(0), "client": {ip.clone(): "seen"}}})),
                    expected: vec![(PiiType::Card, card), (PiiType::Ip, ip)],
                    label: "number and key",
                }
            }
            // Not caught: names in free text without a title, salutation, label or a given and
            // family name of the gazetteer, lowercase names, one-word names under a generic
            // `name`.
            12 => {
                let name = name(rng);
                Sample {
                    input: Input::Json(json!({"note": format!("Call {name} about the renewal")})),
                    expected: vec![(PiiType::Name, name)],
                    label: "name in free text",
                }
            }
            13 => {
                let (name, email) = (name(rng).to_lowercase(), email(rng));
                Sample {
                    input: Input::Json(json!({"name": name, "email": email})),
                    expected: vec![(PiiType::Name, name), (PiiType::Email, email)],
                    label: "lowercase name",
                }
            }
            14 => {
                let (first, email) = (rng.pick(FIRST).to_string(), email(rng));
                Sample {
                    input: Input::Json(json!({"name": first, "email": email})),
                    expected: vec![(PiiType::Name, first), (PiiType::Email, email)],
                    label: "one-word name",
                }
            }
            _ => Sample {
                input: Input::Json(json!({"author": rng.pick(&["GitHub Actions", "dependabot[bot]", "Release Bot", "Build Server"]), "version": "2.0.1.7", "name": "Monthly Report"})),
                expected: Vec::new(),
                label: "bots and reports",
            },
        })
        .collect()
}

/// The whole corpus: `per_type` positives of each text type, as many hard negatives, and
/// `per_type` structured records.
pub fn corpus(seed: u64, per_type: usize) -> Vec<Sample> {
    let mut rng = Rng::new(seed);
    let mut samples = Vec::new();
    // Names come with the structured records below (by field, and in their free text).
    for kind in PiiType::ALL
        .into_iter()
        .filter(|kind| *kind != PiiType::Name)
    {
        samples.extend(positives(&mut rng, kind, per_type));
    }
    samples.extend(negatives(&mut rng, per_type));
    samples.extend(structured(&mut rng, per_type));
    samples
}

/// Precision and recall of one type over a corpus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Score {
    /// The type.
    pub kind: PiiType,
    /// Values found that were expected.
    pub true_positives: usize,
    /// Values found that were not expected.
    pub false_positives: usize,
    /// Values expected but not found.
    pub false_negatives: usize,
}

impl Score {
    /// Found and right, over found (1 when nothing was found).
    pub fn precision(&self) -> f64 {
        let found = self.true_positives + self.false_positives;
        if found == 0 {
            1.0
        } else {
            self.true_positives as f64 / found as f64
        }
    }

    /// Found and right, over expected (1 when nothing was expected).
    pub fn recall(&self) -> f64 {
        let expected = self.true_positives + self.false_negatives;
        if expected == 0 {
            1.0
        } else {
            self.true_positives as f64 / expected as f64
        }
    }
}

/// One wrong answer: a value found that was not expected, or expected and not found.
#[derive(Debug, Clone)]
pub struct Mistake {
    /// The sample's label.
    pub label: &'static str,
    /// The type.
    pub kind: PiiType,
    /// The value.
    pub value: String,
    /// True for a false positive, false for a false negative.
    pub false_positive: bool,
}

/// Run every sample through `tokenizer` (each with a fresh vault, as the gateway would) and
/// score what the vault ends up holding against the labels.
pub fn evaluate(tokenizer: &crate::Tokenizer, samples: &[Sample]) -> (Vec<Score>, Vec<Mistake>) {
    use crate::{Origin, ToolRef, Vault};
    let origin = Origin::Tool(ToolRef::new("corpus", "sample"));
    let mut scores: Vec<Score> = PiiType::ALL
        .iter()
        .map(|kind| Score {
            kind: *kind,
            true_positives: 0,
            false_positives: 0,
            false_negatives: 0,
        })
        .collect();
    let mut mistakes = Vec::new();
    for sample in samples {
        let mut vault = Vault::new();
        match &sample.input {
            Input::Text(text) => {
                tokenizer.tokenize_text(&mut vault, text, &origin);
            }
            Input::Json(value) => {
                let mut value = value.clone();
                tokenizer.tokenize_value(&mut vault, &mut value, &origin);
            }
        }
        let found: Vec<(PiiType, &str)> = vault
            .entries()
            .iter()
            .map(|entry| (entry.kind(), entry.value()))
            .collect();
        for (kind, value) in &found {
            let score = &mut scores[kind.index()];
            if sample
                .expected
                .iter()
                .any(|(expected_kind, expected)| expected_kind == kind && expected == value)
            {
                score.true_positives += 1;
            } else {
                score.false_positives += 1;
                mistakes.push(Mistake {
                    label: sample.label,
                    kind: *kind,
                    value: (*value).to_owned(),
                    false_positive: true,
                });
            }
        }
        for (kind, value) in &sample.expected {
            if !found
                .iter()
                .any(|(found_kind, found)| found_kind == kind && found == value)
            {
                scores[kind.index()].false_negatives += 1;
                mistakes.push(Mistake {
                    label: sample.label,
                    kind: *kind,
                    value: value.clone(),
                    false_positive: false,
                });
            }
        }
    }
    (scores, mistakes)
}
