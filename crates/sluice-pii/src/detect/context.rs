//! What the words before a number say it is: a label such as `Phone:`, `SSN`, `IBAN`, or a word
//! that makes it an identifier (`order`, `tracking`, `ISBN`, `routing`). Only the same line is
//! read, at most a few words back, skipping connecting words (`Phone number is 020 ...`).

use foldhash::HashMap;
use std::sync::OnceLock;

/// What a label before a value says it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Label {
    /// Nothing known.
    None,
    /// A phone number (`phone`, `tel`, `mobile`, `fax`, `call`, ...).
    Phone,
    /// A national identifier (`SSN`, `tax id`, `national id`, `BSN`, `PESEL`, `CPF`, ...).
    NationalId,
    /// A payment card (`card`, `PAN`, `cc`, `Visa`).
    Card,
    /// Something that is not personal data although it may look like it: an order, invoice,
    /// tracking, routing or account reference, a barcode, a book number, a timestamp.
    Identifier,
    /// A software version (`version`, `build`, `Python`, `==`).
    Version,
}

/// Words that connect a label to its value: skipped when looking back for the label.
const CONNECTORS: &[&str] = &[
    "no", "nr", "num", "number", "is", "on", "at", "from", "to", "me", "us", "the", "my", "our",
    "his", "her", "their", "your", "via", "of", "a", "an", "for", "office", "and", "or", "n",
    "nummer", "numero", "número", "de", "du", "la", "le", "der", "die", "des",
];

const PHONE_WORDS: &[&str] = &[
    "phone",
    "phones",
    "telephone",
    "tel",
    "tele",
    "mobile",
    "mobil",
    "mob",
    "cell",
    "cellphone",
    "fax",
    "call",
    "called",
    "calling",
    "ph",
    "phoneno",
    "whatsapp",
    "sms",
    "reach",
    "dial",
    "telefon",
    "telefono",
    "teléfono",
    "téléphone",
    "tél",
    "telefone",
    "celular",
    "handy",
    "gsm",
    "portable",
    "cellulare",
    "telefoon",
    "komórka",
    "contactnumber",
    "電話",
    "携帯",
];

const NATIONAL_ID_WORDS: &[&str] = &[
    "ssn",
    "ssns",
    "security",
    "tin",
    "itin",
    "taxid",
    "taxpayer",
    "national",
    "nationalid",
    "identifier",
    "bsn",
    "burgerservicenummer",
    "sofinummer",
    "pesel",
    "cpf",
    "nif",
    "nie",
    "dni",
    "nir",
    "insee",
    "fiscale",
    "fiscal",
    "nino",
    "insurance",
    "steuerid",
    "aadhaar",
    "citizen",
    "personal",
    "personnummer",
    "socialsecurity",
    "personalid",
    "idnumber",
    "idno",
    "citizenid",
];

const CARD_WORDS: &[&str] = &[
    "card",
    "cards",
    "cardnumber",
    "pan",
    "cc",
    "visa",
    "mastercard",
    "mc",
    "amex",
    "maestro",
    "credit",
    "debit",
    "jcb",
    "discover",
    "diners",
    "payment",
];

const IDENTIFIER_WORDS: &[&str] = &[
    "order",
    "orders",
    "ord",
    "invoice",
    "inv",
    "ref",
    "reference",
    "tracking",
    "track",
    "trackingnumber",
    "shipment",
    "parcel",
    "awb",
    "routing",
    "aba",
    "rtn",
    "isbn",
    "isbn10",
    "isbn13",
    "issn",
    "ean",
    "ean13",
    "gtin",
    "upc",
    "barcode",
    "sku",
    "asin",
    "imei",
    "iccid",
    "id",
    "serial",
    "part",
    "ticket",
    "case",
    "booking",
    "confirmation",
    "transaction",
    "txn",
    "po",
    "batch",
    "lot",
    "item",
    "policy",
    "claim",
    "member",
    "timestamp",
    "ts",
    "epoch",
    "created",
    "updated",
    "modified",
    "expires",
    "account",
    "acct",
    "customerid",
    "uid",
    "pid",
    "port",
    "build",
    "zip",
    "zipcode",
    "postcode",
    "postal",
    "plz",
    "cep",
];

/// Names of software that a version number follows (`Python 3.11.4.1`).
const VERSION_WORDS: &[&str] = &[
    "version",
    "ver",
    "v",
    "release",
    "rev",
    "build",
    "runtime",
    "firmware",
    "fw",
    "kernel",
    "sdk",
    "python",
    "node",
    "nodejs",
    "java",
    "jdk",
    "jre",
    "ruby",
    "php",
    "perl",
    "golang",
    "go",
    "rust",
    "rustc",
    "dotnet",
    "net",
    "gcc",
    "clang",
    "chrome",
    "chromium",
    "firefox",
    "safari",
    "edge",
    "windows",
    "macos",
    "ios",
    "android",
    "ubuntu",
    "debian",
    "linux",
    "postgres",
    "postgresql",
    "mysql",
    "redis",
    "nginx",
    "openssl",
    "docker",
    "kubernetes",
    "terraform",
    "npm",
    "pip",
    "requirement",
    "requirements",
    "package",
    "dependency",
    "upgrade",
    "upgraded",
    "installed",
];

/// What a word before a value says: a label, or a word connecting a label to its value.
#[derive(Debug, Clone, Copy, Default)]
struct Meaning {
    label: Option<Label>,
    connector: bool,
}

/// Every label and connecting word with what it says, in one map (looked up for each word
/// before a number).
fn meanings() -> &'static HashMap<&'static str, Meaning> {
    static MEANINGS: OnceLock<HashMap<&'static str, Meaning>> = OnceLock::new();
    MEANINGS.get_or_init(|| {
        let mut meanings: HashMap<&'static str, Meaning> = HashMap::default();
        // Later lists do not override earlier ones: `build` is a version word first.
        for (words, label) in [
            (PHONE_WORDS, Label::Phone),
            (NATIONAL_ID_WORDS, Label::NationalId),
            (CARD_WORDS, Label::Card),
            (VERSION_WORDS, Label::Version),
            (IDENTIFIER_WORDS, Label::Identifier),
        ] {
            for word in words {
                let meaning = meanings.entry(*word).or_default();
                meaning.label = meaning.label.or(Some(label));
            }
        }
        for word in CONNECTORS {
            meanings.entry(*word).or_default().connector = true;
        }
        meanings
    })
}

/// What the words of `parts`, joined and in lowercase, say (`["Tax", "ID"]` is `taxid`), if
/// anything. Short ASCII words are lowercased on the stack: this runs for every number.
fn classify(parts: &[&str]) -> Meaning {
    let mut buffer = [0u8; 64];
    let length: usize = parts.iter().map(|part| part.len()).sum();
    if length <= buffer.len() && parts.iter().all(|part| part.is_ascii()) {
        let mut at = 0;
        for part in parts {
            buffer[at..at + part.len()].copy_from_slice(part.as_bytes());
            at += part.len();
        }
        let joined = &mut buffer[..length];
        joined.make_ascii_lowercase();
        return std::str::from_utf8(joined)
            .ok()
            .and_then(|word| meanings().get(word).copied())
            .unwrap_or_default();
    }
    let joined: String = parts.iter().map(|part| part.to_lowercase()).collect();
    meanings().get(joined.as_str()).copied().unwrap_or_default()
}

/// Words that call a number near them a version wherever they stand in the phrase
/// (`upgraded the agent from 1.2.3.4`, `1.2.3.4 release notes`, `build 10.0.19041.1`).
const NEAR_VERSION_WORDS: &[&str] = &[
    "version",
    "versions",
    "ver",
    "release",
    "released",
    "releases",
    "build",
    "builds",
    "firmware",
    "upgrade",
    "upgraded",
    "downgrade",
    "downgraded",
    "patch",
    "hotfix",
    "changelog",
];

fn is_near_version_word(word: &str) -> bool {
    NEAR_VERSION_WORDS
        .iter()
        .any(|known| known.eq_ignore_ascii_case(word))
}

/// Whether a version word ([`NEAR_VERSION_WORDS`]) stands among the five words before `range`
/// or the three after it, on the same line and within 48 bytes: a dotted quad there is a
/// version, not an address.
pub(crate) fn version_nearby(text: &str, range: std::ops::Range<usize>) -> bool {
    if words_before(text, range.start)
        .take(5)
        .any(is_near_version_word)
    {
        return true;
    }
    let mut end = (range.end + 48).min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let window = &text[range.end..end];
    let line = window.split('\n').next().unwrap_or_default();
    line.split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .take(3)
        .any(is_near_version_word)
}

/// The words before byte `start` on the same line, nearest first, as written; at most 48 bytes
/// back. A word is a run of letters or digits (`_` and `-` split words, so
/// `tracking_number` and `e-mail` are two).
fn words_before(text: &str, start: usize) -> impl Iterator<Item = &str> {
    let mut from = start.saturating_sub(48);
    while !text.is_char_boundary(from) {
        from += 1;
    }
    let window = &text[from..start];
    let window = match window.rfind('\n') {
        Some(newline) => &window[newline + 1..],
        None => window,
    };
    window
        .rsplit(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
}

/// What the label before a value at `start` says it is: the first word before it that is not a
/// connecting word decides (a number in between ends the search).
pub(crate) fn label_before(text: &str, start: usize) -> Label {
    // `pkg==1.2.3.4`, `pkg@1.2.3.4`, `Chrome/120.0.1.2`: a version.
    let before = text[..start].trim_end_matches([' ', '"', '\'']);
    if before.ends_with("==")
        || before.ends_with(">=")
        || before.ends_with("<=")
        || before.ends_with("~=")
        || (before.ends_with('@') || before.ends_with('/'))
            && before[..before.len() - 1]
                .chars()
                .next_back()
                .is_some_and(char::is_alphabetic)
    {
        return Label::Version;
    }
    let mut words = [""; 5];
    let mut count = 0;
    for word in words_before(text, start).take(words.len()) {
        words[count] = word;
        count += 1;
    }
    let words = &words[..count];
    for (index, word) in words.iter().enumerate() {
        if word.bytes().any(|byte| byte.is_ascii_digit())
            && !["isbn10", "isbn13", "ean13"]
                .iter()
                .any(|known| known.eq_ignore_ascii_case(word))
        {
            return Label::None;
        }
        // Two words read as one: `tax id`, `contact number`, `card number`, `social security`.
        if let Some(earlier) = words.get(index + 1)
            && let Some(label) = classify(&[earlier, word]).label
        {
            return label;
        }
        let meaning = classify(&[word]);
        if let Some(label) = meaning.label {
            return label;
        }
        if !meaning.connector {
            return Label::None;
        }
    }
    Label::None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(text: &str) -> Label {
        label_before(text, text.len())
    }

    #[test]
    fn labels_before_a_value() {
        assert_eq!(label("Phone: "), Label::Phone);
        assert_eq!(label("Phone number is "), Label::Phone);
        assert_eq!(label("reach me at "), Label::Phone);
        assert_eq!(label("SSN#"), Label::NationalId);
        assert_eq!(label("Tax ID: "), Label::NationalId);
        assert_eq!(label("social security number "), Label::NationalId);
        assert_eq!(label("Card number: "), Label::Card);
        assert_eq!(label("tracking_number="), Label::Identifier);
        assert_eq!(label("ISBN "), Label::Identifier);
        assert_eq!(label("order no. "), Label::Identifier);
        assert_eq!(label("Python "), Label::Version);
        assert_eq!(label("requests=="), Label::Version);
        assert_eq!(label("Chrome/"), Label::Version);
        assert_eq!(label("Please write "), Label::None);
        assert_eq!(label("Phone 12 and "), Label::None);
        assert_eq!(label("Phone:\nsee "), Label::None);
    }
}
