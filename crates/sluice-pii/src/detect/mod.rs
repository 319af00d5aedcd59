//! The detectors: a linear-time regex finds candidates, code checks their edges (the `regex` crate
//! has no look-around) and validates them.

mod context;
mod names;
mod numbers;

use foldhash::{HashMap, HashSet};
use std::ops::Range;
use std::sync::{Mutex, OnceLock};

use phonenumber::country::Id as Region;
use regex::Regex;

use crate::{PiiType, TypeSet};

pub use names::NameKey;

/// What the detectors look for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetectorConfig {
    /// Types to detect.
    pub types: TypeSet,
    /// Regions (ISO 3166 alpha-2, e.g. `US`, `GB`) whose *national* phone formats are recognised
    /// without context, bare digits included. Every region's numbers are recognised whatever this
    /// says when the context makes them phone numbers: written with `+` or `00` and a country
    /// code, grouped the way phone numbers are written and starting with the trunk 0, after a
    /// phone label, or in a phone field (where configured regions are tried first). Default
    /// `["US"]`.
    pub phone_regions: Vec<String>,
    /// Field names whose string values are person names, added to the built-in ones. Compared
    /// ignoring case, `_`, `-` and spaces.
    pub name_fields: Vec<String>,
    /// Whether addresses that identify no one outside their own network are tokenized too:
    /// loopback, private (`10.0.0.0/8`, `172.16.0.0/12`, `192.168.0.0/16`), link-local
    /// (`169.254.0.0/16`, `fe80::/10`), unique-local (`fc00::/7`), unspecified, and IPv4-mapped
    /// forms of these. Default false: they stay readable for debugging.
    pub private_ips: bool,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        DetectorConfig {
            types: TypeSet::all(),
            phone_regions: vec!["US".to_owned()],
            name_fields: Vec::new(),
            private_ips: false,
        }
    }
}

/// Why a [`Detector`] could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DetectorError {
    /// A phone region that libphonenumber does not know.
    #[error("unknown phone region \"{0}\": use an ISO 3166 alpha-2 code such as \"US\" or \"GB\"")]
    UnknownRegion(String),
    /// A built-in pattern did not compile (a bug).
    #[error("a built-in pattern did not compile: {0}")]
    Pattern(String),
}

/// Whether libphonenumber knows this region code (`US`, `GB`, ...).
pub fn is_phone_region(code: &str) -> bool {
    code.parse::<Region>().is_ok()
}

/// What the name of the field holding a string says about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FieldHint {
    /// Nothing in particular.
    #[default]
    None,
    /// A version field: dotted quads in it are versions, not IP addresses.
    Version,
    /// A phone field: the whole value is tried as a phone number, in any format.
    Phone,
    /// A national-identifier field (`ssn`, `tax_id`, `national_id`, `bsn`, `cpf`, ...): nine bare
    /// digits count as an SSN, and other national identifiers with a valid check digit too.
    Ssn,
    /// A payment-card field: shorter card numbers (12-digit Maestro) count too.
    Card,
    /// An identifier field (`order_id`, `tracking`, `isbn`, `routing_number`, `ean`): digits in
    /// it are not phone or card numbers.
    Identifier,
    /// A field that names a place, an organisation or a thing (`street`, `city`, `company`,
    /// `product`, `title`): person names are not looked for in its free text.
    Place,
}

impl FieldHint {
    /// The hint of a JSON object key.
    pub fn for_key(key: &str) -> FieldHint {
        let key = normalize_key(key);
        let hints = key_hints();
        // In priority order: a `phone_version` is a version, a `card_id` a card.
        for (pattern, hint) in hints {
            // `tel` at the end, but not `hotel`, `intel`, `motel`.
            let not_phone = *hint == FieldHint::Phone
                && ["hotel", "intel", "motel"]
                    .iter()
                    .any(|word| key.ends_with(word))
                && !key.contains("phone");
            if pattern.is_match(&key) && !not_phone {
                return *hint;
            }
        }
        FieldHint::None
    }
}

/// The key patterns of each hint (keys normalized: lowercase letters and digits), compiled once:
/// one linear-time search per hint rather than dozens of substring searches per key.
fn key_hints() -> &'static [(Regex, FieldHint)] {
    static HINTS: OnceLock<Vec<(Regex, FieldHint)>> = OnceLock::new();
    HINTS.get_or_init(|| {
        [
            (
                "version|runtime|useragent|requirement|firmware|release",
                FieldHint::Version,
            ),
            (
                "phone|mobile|fax|msisdn|telefon|telephone|^(?:cell|cellular|handy)$|^tel[0-9]*$|tel$",
                FieldHint::Phone,
            ),
            (
                "^ssn|ssn$|socialsecurity|taxid|taxpayerid|taxnumber|nationalid|personalid|citizenid|nationalinsurance|codicefiscale|fiscalcode|^(?:tin|itin|bsn|pesel|cpf|nif|nie|dni|nir|insee|nino|idnumber|steuerid|personnummer)$",
                FieldHint::Ssn,
            ),
            ("card|^(?:pan|cc|ccnumber|ccno)$", FieldHint::Card),
            (
                "tracking|order|invoice|isbn|ean|gtin|upc|barcode|routing|sku|serial|^aba$|ref$|id$",
                FieldHint::Identifier,
            ),
            (
                "street|address|city|company|organi|employer|business|brand|product|department|location|venue|building|country|district|filename|^(?:town|org|team|region|state|file|path|url|title|subject|place|road|avenue)$",
                FieldHint::Place,
            ),
        ]
        .into_iter()
        .filter_map(|(pattern, hint)| Regex::new(pattern).ok().map(|regex| (regex, hint)))
        .collect()
    })
}

/// A key compared the way field names are: lowercase, letters and digits only
/// (`first_name`, `firstName`, `First-Name` are all `firstname`).
pub(crate) fn normalize_key(key: &str) -> String {
    key.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// What one object key says about the value it holds, as the tokenizer reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KeyFacts {
    /// [`FieldHint::for_key`].
    pub(crate) hint: FieldHint,
    /// [`Detector::name_key`].
    pub(crate) name: Option<NameKey>,
    /// [`Detector::is_name_part`].
    pub(crate) part: bool,
    /// Whether the key makes its object describe a person ([`Detector::is_person_object`]).
    pub(crate) person: bool,
}

/// [`KeyFacts`] of keys already seen: results repeat the same keys in every record. Cleared
/// when full.
#[derive(Debug, Default)]
struct KeyMemo {
    facts: Mutex<HashMap<String, KeyFacts>>,
}

const KEY_MEMO_ENTRIES: usize = 4_096;

/// One detected value: its type and its byte range in the normalized text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// What it is.
    pub kind: PiiType,
    /// Where, in the normalized text.
    pub range: Range<usize>,
}

/// The detectors, compiled once and shared (they hold no state).
#[derive(Debug)]
pub struct Detector {
    types: TypeSet,
    email: Regex,
    ipv4: Regex,
    ipv6: Regex,
    card: Regex,
    iban: Regex,
    ssn: Regex,
    phone_international: Regex,
    phone_nanp: Regex,
    phone_national: Regex,
    /// Whether national NANP formats (`(212) 555-0123`) are recognised.
    nanp: bool,
    /// Configured regions outside NANP, for national formats starting with 0.
    national_regions: Vec<Region>,
    /// Every configured region, for values of phone fields.
    regions: Vec<Region>,
    strong_name_fields: HashSet<String>,
    private_ips: bool,
    labelled_number: Regex,
    codice_fiscale: Regex,
    /// Configured regions first, then every other region (loaded with the phone metadata on
    /// first use).
    every_region: OnceLock<Vec<Region>>,
    /// Regions whose national numbers start with 0.
    trunk_zero: OnceLock<Vec<Region>>,
    phone_memo: numbers::PhoneMemo,
    key_memo: KeyMemo,
}

fn compile(pattern: &str) -> Result<Regex, DetectorError> {
    Regex::new(pattern).map_err(|error| DetectorError::Pattern(error.to_string()))
}

/// Letters, digits and the separators that may sit inside an email's local part or domain.
const EMAIL: &str = r"[\p{L}\p{N}_%+\-]+(?:\.[\p{L}\p{N}_%+\-]+)*@(?:[\p{L}\p{N}](?:[\p{L}\p{N}\-]*[\p{L}\p{N}])?\.)+\p{L}{2,}";
const IPV4: &str = r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}";
/// A run of hex digits, dots and at least two colons.
const IPV6: &str = r"[0-9A-Fa-f.]*:[0-9A-Fa-f.]*:[0-9A-Fa-f.:]*";
/// A run of 13 or more digits, single spaces, dots or dashes between them.
const CARD: &str = r"[0-9](?:[ .\-]?[0-9]){11,}";
const IBAN: &str = r"[A-Za-z]{2}[0-9]{2}(?: ?[A-Za-z0-9]){11,30}";
const SSN: &str =
    r"[0-9]{3}-[0-9]{2}-[0-9]{4}|[0-9]{3} [0-9]{2} [0-9]{4}|[0-9]{3}\.[0-9]{2}\.[0-9]{4}";
const PHONE_INTERNATIONAL: &str = r"(?:\+|00)[1-9](?:[ .\-]?(?:\([0-9]{1,5}\)|[0-9]{1,5})){1,8}";
const PHONE_NANP: &str = r"(?:1[ .\-])?(?:\([0-9]{3}\) ?|[0-9]{3}[ .\-])[0-9]{3}[ .\-][0-9]{4}";
const PHONE_NATIONAL: &str = r"\(?0[0-9]{1,4}\)?(?:[ \-.]?[0-9]{2,4}){2,4}";
/// A number that a label may say is a phone number or a national identifier.
const LABELLED_NUMBER: &str = r"[+(]?[0-9][0-9 .\-/()]{5,24}[0-9]";
/// The shape of an Italian codice fiscale (digits may be letters, omocodia).
const CODICE_FISCALE: &str =
    r"[A-Z]{6}[0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]";

/// Where numbers can be in a text: its maximal runs of digits and of the characters written
/// between the digits of a number (space, `.`, `-`, `/`, parentheses, `+`), with their digit
/// counts. The patterns of cards, SSNs, IPv4 addresses and phone numbers match nothing else, so
/// they search these runs (those with digits enough) rather than the whole text: prose is
/// skipped at the cost of one pass over its bytes.
pub(crate) struct Runs {
    runs: Vec<(Range<usize>, usize)>,
}

/// The fewest digits of any value that [`Runs`] serves (an IPv4 address).
const RUN_DIGITS: usize = 4;

impl Runs {
    fn of(text: &str) -> Runs {
        let mut runs = Vec::new();
        let mut start = None;
        let mut digits = 0;
        for (index, byte) in text.bytes().enumerate() {
            if matches!(
                byte,
                b'0'..=b'9' | b' ' | b'.' | b'-' | b'/' | b'(' | b')' | b'+'
            ) {
                if start.is_none() {
                    start = Some(index);
                    digits = 0;
                }
                if byte.is_ascii_digit() {
                    digits += 1;
                }
            } else if let Some(from) = start.take()
                && digits >= RUN_DIGITS
            {
                runs.push((from..index, digits));
            }
        }
        if let Some(from) = start
            && digits >= RUN_DIGITS
        {
            runs.push((from..text.len(), digits));
        }
        Runs { runs }
    }

    /// The matches of `pattern` (whose matches are made of run characters only) in the runs of
    /// `text` with at least `digits` digits: the same as `pattern.find_iter(text)` returns with
    /// that many digits around.
    pub(crate) fn matches<'t>(
        &'t self,
        pattern: &'t Regex,
        text: &'t str,
        digits: usize,
    ) -> impl Iterator<Item = regex::Match<'t>> + 't {
        self.runs
            .iter()
            .filter(move |(_, count)| *count >= digits)
            .flat_map(move |(run, _)| {
                let haystack = &text[..run.end];
                let mut at = run.start;
                std::iter::from_fn(move || {
                    if at >= haystack.len() {
                        return None;
                    }
                    let found = pattern.find_at(haystack, at)?;
                    at = found.end().max(at + 1);
                    Some(found)
                })
            })
    }
}

/// Which detectors are worth running on a text, from one pass over its bytes.
struct Shape {
    digits: usize,
    at: bool,
    dot: bool,
    colons: usize,
    plus: bool,
    zero: bool,
    /// A letter that is not lowercase ASCII: a capital, or any non-ASCII letter (names).
    upper: bool,
    /// Six capitals in a row (the start of a codice fiscale).
    capitals: bool,
}

impl Shape {
    fn of(text: &str) -> Shape {
        let mut shape = Shape {
            digits: 0,
            at: false,
            dot: false,
            colons: 0,
            plus: false,
            zero: false,
            upper: false,
            capitals: false,
        };
        let mut run = 0;
        for byte in text.bytes() {
            if byte.is_ascii_uppercase() {
                run += 1;
                shape.capitals |= run >= 6;
            } else {
                run = 0;
            }
            match byte {
                b'0' => {
                    shape.digits += 1;
                    shape.zero = true;
                }
                b'1'..=b'9' => shape.digits += 1,
                b'A'..=b'Z' | 0x80..=0xff => shape.upper = true,
                b'@' => shape.at = true,
                b'.' => shape.dot = true,
                b':' => shape.colons += 1,
                b'+' => shape.plus = true,
                _ => {}
            }
        }
        shape
    }
}

impl Detector {
    /// Compile the detectors.
    pub fn new(config: &DetectorConfig) -> Result<Detector, DetectorError> {
        let mut regions = Vec::new();
        for code in &config.phone_regions {
            let region = code
                .trim()
                .to_ascii_uppercase()
                .parse::<Region>()
                .map_err(|_| DetectorError::UnknownRegion(code.clone()))?;
            if !regions.contains(&region) {
                regions.push(region);
            }
        }
        let nanp = regions.iter().any(|region| numbers::is_nanp(*region));
        let national_regions = regions
            .iter()
            .copied()
            .filter(|region| !numbers::is_nanp(*region))
            .collect();
        let mut strong_name_fields: HashSet<String> = names::STRONG_FIELDS
            .iter()
            .map(|field| (*field).to_owned())
            .collect();
        strong_name_fields.extend(
            config
                .name_fields
                .iter()
                .map(|field| normalize_key(field))
                .filter(|field| !field.is_empty()),
        );
        Ok(Detector {
            types: config.types,
            email: compile(EMAIL)?,
            ipv4: compile(IPV4)?,
            ipv6: compile(IPV6)?,
            card: compile(CARD)?,
            iban: compile(IBAN)?,
            ssn: compile(SSN)?,
            phone_international: compile(PHONE_INTERNATIONAL)?,
            phone_nanp: compile(PHONE_NANP)?,
            phone_national: compile(PHONE_NATIONAL)?,
            nanp,
            national_regions,
            regions,
            strong_name_fields,
            private_ips: config.private_ips,
            labelled_number: compile(LABELLED_NUMBER)?,
            codice_fiscale: compile(CODICE_FISCALE)?,
            every_region: OnceLock::new(),
            trunk_zero: OnceLock::new(),
            phone_memo: numbers::PhoneMemo::default(),
            key_memo: KeyMemo::default(),
        })
    }

    /// The types this detector looks for.
    pub fn types(&self) -> TypeSet {
        self.types
    }

    /// Load libphonenumber's metadata now (about 0.1 s) rather than on the first phone number.
    pub fn warm_up(&self) {
        let _ = phonenumber::parse(None, "+1 212 555 0123");
        self.every_region();
        self.trunk_zero();
    }

    fn every_region(&self) -> &[Region] {
        self.every_region
            .get_or_init(|| numbers::all_regions(&self.regions))
    }

    fn trunk_zero(&self) -> &[Region] {
        self.trunk_zero.get_or_init(numbers::trunk_zero_regions)
    }

    /// Every value in `text` (already normalized, see [`crate::Normalized`]), in order, not
    /// overlapping. `hint` comes from the name of the field holding the text.
    pub fn find(&self, text: &str, hint: FieldHint) -> Vec<Finding> {
        let shape = Shape::of(text);
        let names = self.types.contains(PiiType::Name) && shape.upper && hint != FieldHint::Place;
        if shape.digits == 0 && !shape.at && shape.colons < 2 && !names {
            return Vec::new();
        }
        // Candidates in priority order: where two overlap, the earlier type wins.
        let mut found: Vec<(u8, Finding)> = Vec::new();
        let mut push = |priority: u8, kind: PiiType, range: Range<usize>| {
            found.push((priority, Finding { kind, range }));
        };
        let wants = |kind: PiiType| self.types.contains(kind);
        let runs = if shape.digits >= RUN_DIGITS {
            Runs::of(text)
        } else {
            Runs { runs: Vec::new() }
        };
        if wants(PiiType::Email) && shape.at {
            for range in self.emails(text) {
                push(0, PiiType::Email, range);
            }
        }
        if wants(PiiType::Iban) && shape.digits >= 2 {
            for range in numbers::ibans(&self.iban, text) {
                push(1, PiiType::Iban, range);
            }
        }
        if wants(PiiType::Card) && shape.digits >= 12 && hint != FieldHint::Identifier {
            for range in numbers::cards(&self.card, &runs, text, hint == FieldHint::Card) {
                push(2, PiiType::Card, range);
            }
        }
        if wants(PiiType::Ssn) && shape.digits >= 9 {
            for range in numbers::ssns(&self.ssn, &runs, text) {
                push(3, PiiType::Ssn, range);
            }
        }
        if wants(PiiType::Ssn) && shape.capitals && text.len() >= 16 {
            for range in numbers::codici_fiscali(&self.codice_fiscale, text) {
                push(3, PiiType::Ssn, range);
            }
        }
        if wants(PiiType::Ip) && shape.colons >= 2 {
            for range in numbers::ipv6s(&self.ipv6, text, self.private_ips) {
                push(4, PiiType::Ip, range);
            }
        }
        if wants(PiiType::Ip) && shape.dot && shape.digits >= 4 && hint != FieldHint::Version {
            for range in numbers::ipv4s(&self.ipv4, &runs, text, self.private_ips) {
                push(5, PiiType::Ip, range);
            }
        }
        // Names come before phone numbers: a number right after a person's name (`Jane Doe
        // (030 901820)`, `Emergency contact: Jane Doe, 912 345 678`) is read as a phone number.
        // Name words hold no digits, so phone numbers found later never overlap them.
        let named: Vec<Range<usize>> = if names {
            let taken: Vec<Range<usize>> = resolve_overlaps(found.clone())
                .into_iter()
                .map(|finding| finding.range)
                .collect();
            names::names_in_text(text, &taken)
        } else {
            Vec::new()
        };
        let phones = wants(PiiType::Phone) && shape.digits >= 7 && hint != FieldHint::Identifier;
        if phones || (wants(PiiType::Ssn) && shape.digits >= 8) {
            // Phone numbers come last and cost the most to validate: candidates inside a value
            // already found are not validated at all.
            let taken_by = |found: &[(u8, Finding)]| {
                resolve_overlaps(found.to_vec())
                    .into_iter()
                    .map(|finding| finding.range)
                    .collect::<Vec<_>>()
            };
            let memo = &self.phone_memo;
            let phone = |found: &mut Vec<(u8, Finding)>, priority: u8, range: Range<usize>| {
                let extension = numbers::extension_after(text, range.end);
                found.push((
                    priority,
                    Finding {
                        kind: PiiType::Phone,
                        range: range.start..range.end + extension,
                    },
                ));
            };
            if phones && (shape.plus || text.contains("00")) {
                let taken = taken_by(&found);
                for range in numbers::international_phones(
                    &self.phone_international,
                    &runs,
                    text,
                    &taken,
                    memo,
                ) {
                    phone(&mut found, 6, range);
                }
            }
            let taken = taken_by(&found);
            for (kind, range) in numbers::labelled_numbers(
                &self.labelled_number,
                &runs,
                text,
                &numbers::PhoneScope {
                    regions: if phones { self.every_region() } else { &[] },
                    configured: if phones { &self.national_regions } else { &[] },
                    named: if phones { &named } else { &[] },
                },
                &taken,
                memo,
            ) {
                if wants(kind) {
                    match kind {
                        PiiType::Phone => phone(&mut found, 7, range),
                        _ => found.push((7, Finding { kind, range })),
                    }
                }
            }
            if phones && self.nanp {
                let taken = taken_by(&found);
                for range in numbers::nanp_phones(&self.phone_nanp, &runs, text, &taken, memo) {
                    phone(&mut found, 8, range);
                }
            }
            if phones && shape.zero {
                let taken = taken_by(&found);
                for range in numbers::national_phones(
                    &self.phone_national,
                    &runs,
                    text,
                    &self.national_regions,
                    self.trunk_zero(),
                    &taken,
                    memo,
                ) {
                    phone(&mut found, 9, range);
                }
            }
        }
        for range in named {
            found.push((
                10,
                Finding {
                    kind: PiiType::Name,
                    range,
                },
            ));
        }
        resolve_overlaps(found)
    }

    /// The type of a whole field value that only its field name identifies: a phone number in any
    /// format (bare digits and an extension too) in a phone field, a national identifier (nine
    /// bare digits, or another country's number with a valid check digit) in an SSN field.
    pub fn field_value(&self, hint: FieldHint, value: &str) -> Option<PiiType> {
        match hint {
            FieldHint::Phone if self.types.contains(PiiType::Phone) => {
                numbers::is_phone_value(value.trim(), self.every_region(), &self.phone_memo)
                    .then_some(PiiType::Phone)
            }
            FieldHint::Ssn if self.types.contains(PiiType::Ssn) => {
                numbers::is_national_id(value.trim()).then_some(PiiType::Ssn)
            }
            _ => None,
        }
    }

    /// What a key says about its value and its object, memoized.
    pub(crate) fn key_facts(&self, key: &str) -> KeyFacts {
        if let Some(facts) = self
            .key_memo
            .facts
            .lock()
            .ok()
            .and_then(|memo| memo.get(key).copied())
        {
            return facts;
        }
        let facts = KeyFacts {
            hint: FieldHint::for_key(key),
            name: self.name_key(key),
            part: self.is_name_part(key),
            person: names::is_person_object([key]),
        };
        if let Ok(mut memo) = self.key_memo.facts.lock() {
            if memo.len() >= KEY_MEMO_ENTRIES {
                memo.clear();
            }
            memo.insert(key.to_owned(), facts);
        }
        facts
    }

    /// Whether a key names a person-name field, and how strongly.
    pub fn name_key(&self, key: &str) -> Option<NameKey> {
        if !self.types.contains(PiiType::Name) {
            return None;
        }
        let key = normalize_key(key);
        if self.strong_name_fields.contains(&key) || names::is_strong_role_key(&key) {
            Some(NameKey::Strong)
        } else if names::is_role_key(&key) {
            Some(NameKey::Role)
        } else if key == "name" {
            Some(NameKey::Generic)
        } else {
            None
        }
    }

    /// Whether a string held by a name field is name-shaped (see [`NameKey`]). For a
    /// [`NameKey::Generic`] key the caller also checks that the object is person-like.
    pub fn is_name(&self, key: NameKey, value: &str) -> bool {
        names::is_name_value(value, key)
    }

    /// Whether an object with these keys describes a person (has an email, phone, address,
    /// company, first or last name... field).
    pub fn is_person_object<'a>(&self, keys: impl IntoIterator<Item = &'a str>) -> bool {
        names::is_person_object(keys)
    }

    /// Whether `key`, inside an object held by a name field, is a part of the name (`first`,
    /// `last`, `given`, `family`, `middle`, `full`).
    pub fn is_name_part(&self, key: &str) -> bool {
        self.types.contains(PiiType::Name) && names::is_name_part(key)
    }

    fn emails(&self, text: &str) -> Vec<Range<usize>> {
        let mut ranges = Vec::new();
        for candidate in self.email.find_iter(text) {
            let range = candidate.range();
            if let Some(next) = text[range.end..].chars().next()
                && (next.is_alphanumeric() || matches!(next, '_' | '-' | '@'))
            {
                continue;
            }
            // `git@github.com:org/repo.git` and `ssh://git@host/repo`: a user at a host, in a
            // remote's address, not a mailbox.
            let after = &text[range.end..];
            if after.starts_with(':')
                && after[1..].starts_with(|c: char| c.is_alphanumeric() || matches!(c, '/' | '~'))
                || after.starts_with('/')
                || text[..range.start].ends_with("://")
            {
                continue;
            }
            let address = candidate.as_str();
            let tld = address.rsplit('.').next().unwrap_or_default();
            if tld.chars().count() > 63 {
                continue;
            }
            let (local, domain) = address.split_once('@').unwrap_or_default();
            if local.len() > 64 || domain.len() > 253 {
                continue;
            }
            if IMAGE_EXTENSIONS
                .iter()
                .any(|extension| tld.eq_ignore_ascii_case(extension))
            {
                continue;
            }
            ranges.push(range);
        }
        ranges
    }
}

/// Suffixes of retina image names (`icon@2x.png`), not top-level domains.
const IMAGE_EXTENSIONS: [&str; 11] = [
    "png", "jpg", "jpeg", "gif", "svg", "webp", "bmp", "ico", "tif", "tiff", "avif",
];

/// Sort by position; where two overlap, keep the one of higher priority (lower number).
fn resolve_overlaps(mut found: Vec<(u8, Finding)>) -> Vec<Finding> {
    found.sort_by_key(|(priority, finding)| (finding.range.start, *priority));
    let mut kept: Vec<(u8, Finding)> = Vec::with_capacity(found.len());
    for (priority, finding) in found {
        match kept.last_mut() {
            Some((last_priority, last)) if finding.range.start < last.range.end => {
                if priority < *last_priority {
                    *last_priority = priority;
                    *last = finding;
                }
            }
            _ => kept.push((priority, finding)),
        }
    }
    // A replacement can extend over the next kept one; drop any overlap left.
    let mut result: Vec<Finding> = Vec::with_capacity(kept.len());
    for (_, finding) in kept {
        if result
            .last()
            .is_some_and(|last| finding.range.start < last.range.end)
        {
            continue;
        }
        result.push(finding);
    }
    result
}

/// The character before byte `index`.
pub(crate) fn char_before(text: &str, index: usize) -> Option<char> {
    text[..index].chars().next_back()
}

/// The character at byte `index`.
pub(crate) fn char_at(text: &str, index: usize) -> Option<char> {
    text[index..].chars().next()
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Whether a number starting at `start` stands on its own on the left: not glued to a word, and
/// not the tail of a longer number (`2026-01-15`, `1.2.3`). Commas separate (CSV), they do not
/// join.
pub(crate) fn clear_before(text: &str, start: usize) -> bool {
    match char_before(text, start) {
        None => true,
        Some(c) if is_word(c) => false,
        // Hyphenated to a word or number: `ORD-234-56-7890`, `2026-01-15`.
        Some('-') => !char_before(text, start - 1).is_some_and(char::is_alphanumeric),
        Some(c) if matches!(c, '.' | '/' | ':' | '+') => {
            !char_before(text, start - c.len_utf8()).is_some_and(|c| c.is_ascii_digit())
        }
        Some(_) => true,
    }
}

/// Whether a number ending at `end` stands on its own on the right.
pub(crate) fn clear_after(text: &str, end: usize) -> bool {
    match char_at(text, end) {
        None => true,
        Some(c) if is_word(c) => false,
        Some('-') => !char_at(text, end + 1).is_some_and(char::is_alphanumeric),
        Some(c) if matches!(c, '.' | '/' | ':') => {
            !char_at(text, end + c.len_utf8()).is_some_and(|c| c.is_ascii_digit())
        }
        Some(_) => true,
    }
}

#[cfg(test)]
mod tests;
