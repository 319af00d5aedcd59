//! Names: by the field that holds them in structured results, and in free text where a name
//! gazetteer (given and family names derived from Faker's lists, `data/names`) and the context
//! make a name likely: a title (`Mr.`, `Dr.`, `Frau`), a salutation (`Dear`), a signature line
//! after a closing (`Best regards,`), a label (`Name:`, `Signed by:`), or a given name followed by
//! a family name. Plus the vault's exact matching of names it has already seen.

use foldhash::HashSet;
use std::ops::Range;
use std::sync::OnceLock;

use super::normalize_key;

/// How surely a key holds a person's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKey {
    /// Only a person's name goes there (`fullName`, `first_name`, configured fields): any
    /// name-shaped value counts.
    Strong,
    /// A role a person plays (`author`, `owner`, `assignee`, `sender`, `speaker`, ...): often a
    /// name, but also a user id or a team. Counts for two or more capitalised words that do not
    /// end like a company or team (`Platform Team`).
    Role,
    /// `name`: anything has a name. It counts only in a person-like object (one with an email,
    /// phone, address, company or first/last name field), for two or more capitalised words that
    /// do not end like a company (`Acme Corp`).
    Generic,
}

/// Built-in role fields, normalized.
pub(crate) const ROLE_FIELDS: &[&str] = &[
    "author",
    "owner",
    "assignee",
    "reporter",
    "sender",
    "recipient",
    "speaker",
    "attendee",
    "organizer",
    "organiser",
    "manager",
    "contact",
    "customer",
    "patient",
    "employee",
    "creator",
    "reviewer",
    "approver",
    "signee",
    "signatory",
    "beneficiary",
    "accountholder",
    "cardholder",
    "holder",
    "guardian",
    "spouse",
    "partner",
    "parent",
    "nextofkin",
    "emergencycontact",
    "contactperson",
    "payee",
    "payer",
    "signer",
    "witness",
    "physician",
    "doctor",
    "nurse",
    "insured",
    "policyholder",
    "requester",
    "requestor",
    "submitter",
    "applicant",
    "tenant",
    "landlord",
    "driver",
    "passenger",
    "traveler",
    "traveller",
    "guest",
    "student",
    "teacher",
    "buyer",
    "seller",
    "person",
    "signedby",
    "createdby",
    "updatedby",
    "modifiedby",
    "approvedby",
    "requestedby",
    "reviewedby",
    "submittedby",
    "assignedto",
    "preparedby",
    "authoredby",
    "ownedby",
    "completedby",
    "verifiedby",
    "issuedby",
    "receivedby",
    "performedby",
    "orderedby",
    "attn",
    "attention",
];

/// Whether a normalized key names a role a person plays: a built-in role, `<role>name`
/// (`cardholderName`, `owner_name`), or `<verb>by` (`signed_by`, `closedBy`).
pub(crate) fn is_role_key(key: &str) -> bool {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    let roles = set_of(ROLE_FIELDS, &SET);
    if roles.contains(key) {
        return true;
    }
    if let Some(role) = key
        .strip_suffix("fullname")
        .or_else(|| key.strip_suffix("name"))
        && !role.is_empty()
        && roles.contains(role)
    {
        return true;
    }
    key.len() > 4
        && key.ends_with("edby")
        && key[..key.len() - 2].chars().all(|c| c.is_ascii_lowercase())
}

/// Whether a normalized key holding a role is itself a name field (`cardholderName`,
/// `emergency_contact_name`): any name-shaped value counts there.
pub(crate) fn is_strong_role_key(key: &str) -> bool {
    key.strip_suffix("name")
        .is_some_and(|role| !role.is_empty() && ROLE_FIELDS.contains(&role))
}

/// Built-in person-name fields, normalized (lowercase, letters and digits only).
pub(crate) const STRONG_FIELDS: &[&str] = &[
    "fullname",
    "firstname",
    "lastname",
    "givenname",
    "familyname",
    "surname",
    "forename",
    "middlename",
    "maidenname",
    "displayname",
    "legalname",
    "preferredname",
    "personname",
    "contactname",
    "customername",
    "clientname",
    "patientname",
    "employeename",
];

/// Keys inside an object held by a name field (`"name": {"first": ..., "last": ...}`).
const NAME_PARTS: &[&str] = &["first", "last", "given", "family", "middle", "full"];

/// Whether `key`, inside an object that a name field holds, is a part of the name.
pub(crate) fn is_name_part(key: &str) -> bool {
    NAME_PARTS.contains(&normalize_key(key).as_str())
}

/// Whether an object with these keys describes a person.
pub(crate) fn is_person_object<'a>(keys: impl IntoIterator<Item = &'a str>) -> bool {
    keys.into_iter().any(|key| {
        let key = normalize_key(key);
        key.contains("email")
            || key.contains("phone")
            || key.contains("mobile")
            || key.contains("birth")
            || key.contains("fax")
            || matches!(
                key.as_str(),
                "tel" | "cell" | "telephone" | "msisdn" | "dob" | "salutation"
            )
            || matches!(
                key.as_str(),
                "mail"
                    | "address"
                    | "streetaddress"
                    | "homeaddress"
                    | "postaladdress"
                    | "dob"
                    | "ssn"
                    | "company"
                    | "companyname"
                    | "employer"
                    | "organization"
                    | "organisation"
                    | "jobtitle"
                    | "gender"
                    | "firstname"
                    | "lastname"
                    | "surname"
                    | "givenname"
                    | "familyname"
            )
    })
}

/// Lowercase particles of names (`Ludwig van Beethoven`, `Oscar de la Renta`).
const PARTICLES: &[&str] = &[
    "van", "von", "der", "den", "de", "del", "della", "di", "da", "du", "la", "le", "bin", "binti",
    "al", "el", "dos", "das", "y", "ter", "ten", "op", "zu", "af",
];

/// Last words that make a `name` a company, team or machine, not a person.
const COMPANY_WORDS: &[&str] = &[
    "inc",
    "inc.",
    "corp",
    "corp.",
    "co",
    "co.",
    "llc",
    "ltd",
    "ltd.",
    "gmbh",
    "ag",
    "sa",
    "plc",
    "company",
    "group",
    "holdings",
    "technologies",
    "systems",
    "solutions",
    "partners",
    "labs",
    "bank",
    "university",
    "foundation",
    "team",
    "project",
    "industries",
    "enterprises",
    "consulting",
    "services",
    "media",
    "capital",
    "ventures",
    "studio",
    "studios",
    "networks",
    "software",
    "digital",
    "associates",
    "agency",
    "llp",
    "pty",
    "bv",
    "nv",
    "srl",
    "spa",
    "oy",
    "ab",
    "kk",
    "bot",
    "robot",
    "server",
    "service",
    "actions",
    "admin",
    "support",
    "desk",
    "pipeline",
    "system",
];

/// Whether a word starts with a letter of a script without case (Han, kana, Hangul, Arabic,
/// Hebrew, Thai, Devanagari...) and is made of letters only.
fn uncased_word(word: &str) -> bool {
    let mut chars = word.chars();
    chars
        .next()
        .is_some_and(|c| c.is_alphabetic() && !c.is_uppercase() && !c.is_lowercase())
        && chars.all(|c| c.is_alphabetic() && !c.is_uppercase() && !c.is_lowercase())
}

/// A word written like a name: capitalised (then letters, apostrophes, hyphens, dots), or of a
/// script without case.
fn name_word(word: &str) -> bool {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) if first.is_uppercase() => {
            let rest = chars.as_str();
            rest.chars()
                .all(|c| c.is_alphabetic() || matches!(c, '\'' | '\u{2019}' | '-' | '.'))
                // `ACME`, `USA`: capitals only are acronyms, not names.
                && !(rest.chars().count() >= 2 && rest.chars().all(char::is_uppercase))
        }
        Some(_) => uncased_word(word),
        None => false,
    }
}

/// Whether a string looks like a person's name: 1 to 5 words (2 or more for a generic `name`),
/// each capitalised (particles aside) or of a script without case, made of letters,
/// apostrophes, hyphens and dots. "Last, First" counts as its two parts. A single word of a
/// script without case (`王秀英`) counts where two words are needed if it starts with a family
/// name of the gazetteer.
pub(crate) fn is_name_value(value: &str, key: NameKey) -> bool {
    let value = value.trim();
    if value.is_empty() || value.len() > 80 {
        return false;
    }
    if let Some((last, first)) = value.split_once(", ") {
        return !first.contains(',')
            && is_name_value(last, NameKey::Strong)
            && is_name_value(first, NameKey::Strong)
            && (key == NameKey::Strong || !is_company(first));
    }
    let words: Vec<&str> = value.split_whitespace().collect();
    let minimum = match key {
        NameKey::Strong => 1,
        NameKey::Role | NameKey::Generic => 2,
    };
    if words.len() == 1 && minimum == 2 && uncased_word(words[0]) {
        let count = words[0].chars().count();
        return (2..=5).contains(&count) && starts_with_family_name(words[0]);
    }
    if words.len() < minimum || words.len() > 5 {
        return false;
    }
    if key != NameKey::Strong && is_company(value) {
        return false;
    }
    let mut capitalised = 0;
    for word in &words {
        if PARTICLES.contains(&word.to_lowercase().as_str()) {
            continue;
        }
        if !name_word(word) {
            return false;
        }
        capitalised += 1;
    }
    capitalised >= minimum.min(2)
}

/// A word compared with the company and place lists: lowercase, without dots (`S.L.L.` is
/// `sll`).
fn plain(word: &str) -> String {
    word.chars()
        .filter(|c| *c != '.')
        .flat_map(char::to_lowercase)
        .collect()
}

/// Legal forms and words that end company names, besides [`COMPANY_WORDS`].
const LEGAL_FORMS: &[&str] = &[
    "sl",
    "sll",
    "sarl",
    "sas",
    "sasu",
    "sca",
    "snc",
    "kg",
    "ohg",
    "ug",
    "gbr",
    "ev",
    "kgaa",
    "spj",
    "sp",
    "spzoo",
    "sk",
    "ska",
    "ltda",
    "eireli",
    "cia",
    "fils",
    "topco",
    "holding",
    "bros",
    "brothers",
    "sons",
    "limited",
    "incorporated",
    "corporation",
    "gmbh&co",
    "ik",
    "vof",
    "cv",
    "sapa",
    "ss",
    "sccl",
    "coop",
];

/// Words that begin company names (`Stichting Smit`, `Hnos Pintor`, `Grupo Lasa`).
const COMPANY_OPENERS: &[&str] = &[
    "stichting",
    "stowarzyszenie",
    "fundacja",
    "fundación",
    "fundação",
    "fondazione",
    "stiftung",
    "hnos",
    "hermanos",
    "grupo",
    "groupe",
    "gruppo",
    "comercializadora",
    "industrias",
    "laboratorios",
    "construcciones",
    "inversiones",
    "transportes",
    "distribuciones",
    "banco",
    "banca",
    "cooperativa",
    "agencia",
    "instituto",
    "institut",
    "verein",
    "société",
    "societe",
    "compagnie",
    "wydawnictwo",
    "przedsiębiorstwo",
    "spółdzielnia",
    "firma",
    "studio",
    "royal",
    "maison",
    "atelier",
    "café",
    "hotel",
    "restaurant",
    "bäckerei",
    "autohaus",
    "immobilien",
];

/// Words that begin or precede place names made of person names (`rue Henriette Bruneau`,
/// `Lago Pedro Jesus`, `Martin Luther King Street`).
const PLACE_WORDS: &[&str] = &[
    "rue",
    "chemin",
    "avenue",
    "boulevard",
    "bd",
    "allée",
    "impasse",
    "place",
    "quai",
    "calle",
    "c",
    "avenida",
    "av",
    "avda",
    "paseo",
    "pasaje",
    "plaza",
    "camino",
    "carrer",
    "urbanización",
    "via",
    "viale",
    "piazza",
    "strada",
    "vicolo",
    "corso",
    "largo",
    "rua",
    "praça",
    "travessa",
    "estrada",
    "vereda",
    "alameda",
    "rodovia",
    "lago",
    "vale",
    "campo",
    "sítio",
    "ulica",
    "ul",
    "aleja",
    "al",
    "plac",
    "osiedle",
    "straße",
    "strasse",
    "weg",
    "platz",
    "laan",
    "straat",
    "plein",
    "street",
    "st",
    "road",
    "rd",
    "lane",
    "ln",
    "drive",
    "dr",
    "court",
    "ct",
    "square",
    "park",
    "lake",
    "mount",
    "mt",
    "port",
    "fort",
    "saint",
    "san",
    "santa",
    "são",
    "colonia",
    "barrio",
    "villa",
    "estación",
    "parque",
    "puerto",
    "río",
    "rio",
    "ilha",
    "morro",
    "jardim",
    "ponte",
    "monte",
    "porto",
    "bairro",
    "ruela",
];

/// Words after a person's name that make it a place or a company (`Smith Street`).
const PLACE_SUFFIXES: &[&str] = &[
    "street",
    "st",
    "road",
    "rd",
    "avenue",
    "ave",
    "lane",
    "ln",
    "drive",
    "boulevard",
    "blvd",
    "way",
    "ways",
    "court",
    "ct",
    "square",
    "park",
    "place",
    "crossing",
    "mall",
    "plaza",
    "hill",
    "hills",
    "bridge",
    "station",
    "airport",
    "school",
    "university",
    "college",
    "hospital",
    "center",
    "centre",
    "building",
    "hall",
    "library",
    "museum",
    "church",
    "stadium",
    "straße",
    "strasse",
    "weg",
    "platz",
    "laan",
    "straat",
    "gracht",
    "pass",
    "trail",
    "parkway",
    "pike",
    "circle",
    "terrace",
    "heights",
    "view",
    "gardens",
    "estate",
    "valley",
    "island",
    "bay",
    "port",
    "falls",
    "springs",
    "fort",
    "village",
    "town",
    "city",
    "county",
    "mountain",
    "river",
    "lake",
    "et",
    "and",
    "und",
    "&",
    "en",
    "y",
    "e",
];

fn is_company(value: &str) -> bool {
    let words: Vec<String> = value.split_whitespace().map(plain).collect();
    let (Some(first), Some(last)) = (words.first(), words.last()) else {
        return false;
    };
    COMPANY_WORDS.contains(&last.as_str())
        || LEGAL_FORMS.contains(&last.as_str())
        || COMPANY_OPENERS.contains(&first.as_str())
        || words
            .iter()
            .any(|word| matches!(word.as_str(), "and" | "&" | "und" | "et" | "en"))
}

// ---------------------------------------------------------------------------------------------
// The gazetteer and names in free text

// The lists are byte-sorted text, one name per line, searched where they lie in the binary:
// no table is built and nothing is allocated (hash sets of them held 1.7 MB of heap for the
// gateway's life). A lookup reads about 16 lines.
const GIVEN_NAMES: &str = include_str!("../../data/names/first.txt");
const FAMILY_NAMES: &str = include_str!("../../data/names/last.txt");

/// Whether `word` is a whole line of `sorted` (lines sorted by their bytes, `\n`-separated).
fn sorted_lines_contain(sorted: &str, word: &str) -> bool {
    let bytes = sorted.as_bytes();
    let word = word.as_bytes();
    // `low` is always the start of a line; `high` is the end of the range still to search.
    let (mut low, mut high) = (0, bytes.len());
    while low < high {
        let middle = low + (high - low) / 2;
        let start = bytes[low..middle]
            .iter()
            .rposition(|&byte| byte == b'\n')
            .map_or(low, |at| low + at + 1);
        let end = bytes[start..high]
            .iter()
            .position(|&byte| byte == b'\n')
            .map_or(high, |at| start + at);
        match bytes[start..end].cmp(word) {
            std::cmp::Ordering::Equal => return true,
            std::cmp::Ordering::Less => low = (end + 1).min(high),
            std::cmp::Ordering::Greater => high = start,
        }
    }
    false
}

fn is_given(word: &str) -> bool {
    sorted_lines_contain(GIVEN_NAMES, word)
}

fn is_family(word: &str) -> bool {
    sorted_lines_contain(FAMILY_NAMES, word)
}

fn is_known(word: &str) -> bool {
    is_given(word) || is_family(word)
}

/// `王秀英`: the first one or two characters are a family name of the gazetteer.
fn starts_with_family_name(word: &str) -> bool {
    let mut ends = word.char_indices().map(|(index, c)| index + c.len_utf8());
    [ends.next(), ends.next()]
        .into_iter()
        .flatten()
        .any(|end| end < word.len() && is_family(&word[..end]))
}

/// Titles before a name (compared in lowercase, without the dot).
const TITLES: &[&str] = &[
    "mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "dame", "madam", "herr", "frau", "m",
    "mme", "mlle", "monsieur", "madame", "sr", "sra", "srta", "señor", "señora", "don", "doña",
    "sig", "sigra", "dott", "dottssa", "dhr", "mevr", "pan", "pani", "sen", "rep", "gov",
];

/// Words that open a letter to someone.
const SALUTATIONS: &[&str] = &[
    "dear", "hi", "hello", "hey", "liebe", "lieber", "geehrte", "geehrter", "cher", "chère",
    "querido", "querida", "estimado", "estimada", "caro", "cara", "gentile", "beste", "geachte",
    "drogi", "droga", "szanowny", "szanowna", "prezado", "prezada", "olá", "hola", "bonjour",
    "hallo", "ciao",
];

/// Words of a closing line that a signature follows (`Best regards,`).
const CLOSINGS: &[&str] = &[
    "regards",
    "thanks",
    "thank",
    "best",
    "cheers",
    "sincerely",
    "yours",
    "cordially",
    "respectfully",
    "cordialement",
    "salutations",
    "grüße",
    "grüßen",
    "gruß",
    "gruss",
    "saludos",
    "atentamente",
    "saluti",
    "cordiali",
    "distinti",
    "groet",
    "groeten",
    "pozdrawiam",
    "pozdrowienia",
    "atenciosamente",
    "abraços",
    "abraço",
    "signed",
];

/// A word of the text with its byte range: a run of letters and digits, with apostrophes and
/// hyphens inside (`O'Brien`, `Jean-Luc`) but not at its end.
struct Word<'a> {
    text: &'a str,
    range: Range<usize>,
}

/// An apostrophe or a hyphen: part of a word once the word has begun.
fn joins(c: char) -> bool {
    matches!(c, '\'' | '\u{2019}' | '-')
}

/// Whether a word begins at byte `index`: a letter or digit that no word before runs into.
fn word_starts_at(text: &str, index: usize) -> bool {
    text[index..].starts_with(char::is_alphanumeric)
        && !text[..index]
            .trim_end_matches(joins)
            .ends_with(char::is_alphanumeric)
}

/// The word that begins at byte `start` (see [`word_starts_at`]).
fn word_at(text: &str, start: usize) -> Word<'_> {
    let rest = &text[start..];
    let run = rest
        .find(|c: char| !(c.is_alphanumeric() || joins(c)))
        .unwrap_or(rest.len());
    let word = rest[..run].trim_end_matches(joins);
    Word {
        text: word,
        range: start..start + word.len(),
    }
}

/// The last word that ends before byte `start`, itself the start of a word.
fn word_before(text: &str, start: usize) -> Option<Word<'_>> {
    let before = &text[..start];
    let (last, c) = before
        .char_indices()
        .rev()
        .find(|(_, c)| c.is_alphanumeric())?;
    let end = last + c.len_utf8();
    let run_start = before[..last]
        .char_indices()
        .rev()
        .find(|(_, c)| !(c.is_alphanumeric() || joins(*c)))
        .map_or(0, |(index, c)| index + c.len_utf8());
    let first = run_start + before[run_start..end].find(char::is_alphanumeric)?;
    Some(Word {
        text: &text[first..end],
        range: first..end,
    })
}

/// The word right after byte `end` when exactly `gap` lies between.
fn word_after<'a>(text: &'a str, end: usize, gap: &str) -> Option<Word<'a>> {
    let start = end + gap.len();
    (text[end..].starts_with(gap) && text[start..].starts_with(char::is_alphanumeric))
        .then(|| word_at(text, start))
}

/// `f` of the lowercase form of `word`, without allocating for short ASCII words.
fn with_lower<R>(word: &str, f: impl FnOnce(&str) -> R) -> R {
    let mut buffer = [0u8; 32];
    if word.len() <= buffer.len() && word.is_ascii() {
        let buffer = &mut buffer[..word.len()];
        buffer.copy_from_slice(word.as_bytes());
        buffer.make_ascii_lowercase();
        if let Ok(lower) = std::str::from_utf8(buffer) {
            return f(lower);
        }
    }
    f(&word.to_lowercase())
}

/// The name that begins with `first`: name words (particles inside) separated by one space, at
/// most `most` words.
fn name_run<'a>(text: &'a str, first: Word<'a>, most: usize) -> Vec<Word<'a>> {
    let mut run: Vec<Word<'a>> = Vec::with_capacity(most + 1);
    // Words up to the last name word (particles after it are not part of the name).
    let mut kept = 0;
    let mut next = Some(first);
    while let Some(word) = next
        && run.len() < most + 1
    {
        let (name, particle) = with_lower(word.text, |lower| {
            (
                name_word(word.text) && !is_stop_word(lower),
                PARTICLES.contains(&lower),
            )
        });
        if name {
            run.push(word);
            kept = run.len();
        } else if !run.is_empty() && particle {
            run.push(word);
        } else {
            break;
        }
        next = run
            .last()
            .and_then(|last| word_after(text, last.range.end, " "));
    }
    run.truncate(kept.min(most));
    run
}

/// Capitalised words that begin sentences and headings rather than names.
const STOP_WORDS: &[&str] = &[
    "the",
    "a",
    "an",
    "and",
    "or",
    "of",
    "for",
    "to",
    "in",
    "on",
    "at",
    "by",
    "with",
    "from",
    "please",
    "meeting",
    "team",
    "customer",
    "contact",
    "name",
    "phone",
    "email",
    "call",
    "re",
    "fw",
    "fwd",
    "subject",
    "date",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "inc",
    "ltd",
    "llc",
    "gmbh",
    "street",
    "road",
    "avenue",
    "city",
    // Whom a letter opens to or a signature closes for when it is no one in particular.
    "hiring",
    "manager",
    "sir",
    "all",
    "everyone",
    "colleagues",
    "support",
    "service",
    "department",
    "office",
];

/// Lowercase words that stop a name (see [`STOP_WORDS`]), in one set.
fn stop_words() -> &'static HashSet<&'static str> {
    static WORDS: OnceLock<HashSet<&'static str>> = OnceLock::new();
    WORDS.get_or_init(|| {
        [
            PLACE_WORDS,
            COMPANY_OPENERS,
            TITLES,
            SALUTATIONS,
            CLOSINGS,
            STOP_WORDS,
        ]
        .into_iter()
        .flatten()
        .copied()
        .collect()
    })
}

fn is_stop_word(lower: &str) -> bool {
    stop_words().contains(lower)
}

fn set_of(
    words: &'static [&'static str],
    cell: &'static OnceLock<HashSet<&'static str>>,
) -> &'static HashSet<&'static str> {
    cell.get_or_init(|| words.iter().copied().collect())
}

/// `fn name(lower: &str) -> bool` for each `name => WORDS`: whether a lowercase word is one of
/// `WORDS`, looked up in a set built on first use.
macro_rules! word_sets {
    ($($name:ident => $words:ident),* $(,)?) => {$(
        fn $name(lower: &str) -> bool {
            static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
            set_of($words, &SET).contains(lower)
        }
    )*};
}

word_sets! {
    is_title => TITLES,
    is_salutation => SALUTATIONS,
    is_closing => CLOSINGS,
    is_place_word => PLACE_WORDS,
    is_company_opener => COMPANY_OPENERS,
}

/// `test` of the lowercase form of a short word (longer ones are never context words).
fn short_lower(word: &str, test: impl FnOnce(&str) -> bool) -> bool {
    word.len() <= 24 && with_lower(word, test)
}

/// Whether the line before byte `start` is a closing (`Best regards,`, `Thanks,`).
fn after_closing(text: &str, start: usize) -> bool {
    let before = &text[..start];
    let Some(line_start) = before.rfind('\n') else {
        return false;
    };
    if !before[line_start + 1..].trim().is_empty() {
        return false;
    }
    let previous = before[..line_start].trim_end();
    let line = previous.rsplit('\n').next().unwrap_or_default().trim();
    (line.ends_with(',') || line.ends_with('!') || line.ends_with('.') || line.starts_with("--"))
        && line.split_whitespace().nth(5).is_none()
        && line
            .split(|c: char| !c.is_alphabetic())
            .any(|word| is_closing(&word.to_lowercase()))
        || line == "--"
}

/// What a label before a name says (`Name:`, `Signed by:`, `Contact person:`): the words of the
/// line before the colon, read as a key.
fn labelled(text: &str, start: usize) -> bool {
    let before = text[..start].trim_end_matches([' ', '"', '\'']);
    let Some(before) = before.strip_suffix([':', '=']) else {
        return false;
    };
    let line = before.rsplit('\n').next().unwrap_or_default();
    let words: Vec<&str> = line
        .rsplit(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .take(3)
        .collect();
    (1..=words.len()).any(|count| {
        let key: String = words[..count]
            .iter()
            .rev()
            .copied()
            .collect::<Vec<_>>()
            .join("");
        let key = normalize_key(&key);
        key == "name"
            || key == "signed"
            || STRONG_FIELDS.contains(&key.as_str())
            || is_role_key(&key)
    })
}

/// Names in free text: see the module docs. `taken` holds ranges already found (sorted). Only
/// words that begin with a capital or a letter of a script without case are looked at.
pub(crate) fn names_in_text(text: &str, taken: &[Range<usize>]) -> Vec<Range<usize>> {
    let mut found = Vec::new();
    let bytes = text.as_bytes();
    let mut index = 0;
    while index < bytes.len() {
        let byte = bytes[index];
        if byte.is_ascii() && !byte.is_ascii_uppercase() || !text.is_char_boundary(index) {
            index += 1;
            continue;
        }
        if !word_starts_at(text, index) {
            index += char_len(text, index);
            continue;
        }
        let word = word_at(text, index);
        index = word.range.end.max(index + 1);
        if !name_word(word.text) || super::numbers::overlaps(taken, &word.range) {
            continue;
        }
        // The cheap signs first: most capitalised words have none and cost no more. The gap
        // is what lies between the word before and this one.
        let before = &text[..word.range.start];
        let gap = &before[before
            .trim_end_matches(|c: char| !c.is_alphanumeric())
            .len()..];
        let near = (gap.len() <= 2 && !gap.contains('\n') && gap.len() < before.len())
            .then(|| word_before(text, word.range.start))
            .flatten();
        let title = near
            .as_ref()
            .is_some_and(|before| matches!(gap, " " | ". ") && short_lower(before.text, is_title));
        let salutation = near
            .as_ref()
            .is_some_and(|before| gap.trim().is_empty() && short_lower(before.text, is_salutation));
        let start = word.range.start;
        let label = text[..start]
            .trim_end_matches([' ', '"', '\''])
            .ends_with([':', '='])
            && labelled(text, start);
        let line_start = text[..start]
            .trim_end_matches(|c: char| c.is_whitespace() && c != '\n')
            .ends_with('\n');
        let closing = line_start && after_closing(text, start);
        let given = is_given(word.text) || uncased_word(word.text) && is_family(word.text);
        if !(title || salutation || label || closing || given) {
            continue;
        }
        let run = name_run(text, word, 4);
        let (Some(first), Some(last)) = (run.first(), run.last()) else {
            continue;
        };
        let known = run.iter().any(|word| is_known(word.text));
        let signature = closing
            && text[last.range.end..]
                .split('\n')
                .next()
                .is_some_and(|rest| rest.trim().is_empty());
        // A given name followed by a family name, both in the gazetteer (in East Asian order,
        // a family name followed by a given name).
        let pair = run.len() >= 2
            && (is_given(first.text) && run[1..].iter().any(|word| is_family(word.text))
                || uncased_word(first.text) && is_family(first.text) && is_given(run[1].text));
        // `rue Henriette Bruneau`, `Smith Street`, `Hartung Kruschwitz KG`: places and companies.
        let next = word_after(text, last.range.end, " ")
            .or_else(|| word_after(text, last.range.end, " & "));
        let previous = match near {
            Some(near) => Some(near),
            None => word_before(text, start),
        };
        let place_or_company = previous.as_ref().is_some_and(|before| {
            short_lower(before.text, |lower| {
                is_place_word(&plain(lower)) || is_company_opener(lower)
            })
        }) || next.is_some_and(|next| {
            let next = plain(next.text);
            PLACE_SUFFIXES.contains(&next.as_str())
                || COMPANY_WORDS.contains(&next.as_str())
                || LEGAL_FORMS.contains(&next.as_str())
        }) || text[last.range.end..].starts_with(" &");
        let accept = if place_or_company {
            false
        } else if title {
            true
        } else if salutation || signature || label {
            // Two words or more of no company are a name even when the gazetteer lacks them.
            known || run.len() >= 2 && !is_company(&text[first.range.start..last.range.end])
        } else {
            pair
        };
        if accept {
            found.push(first.range.start..last.range.end);
            index = last.range.end;
        }
    }
    found
}

/// The length in bytes of the character at `index`.
fn char_len(text: &str, index: usize) -> usize {
    text[index..].chars().next().map_or(1, char::len_utf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str) -> Vec<&str> {
        names_in_text(text, &[])
            .into_iter()
            .map(|range| &text[range])
            .collect()
    }

    #[test]
    fn words_start_end_and_precede_as_whole_runs() {
        let text = "x-Ray met O'Brien--  3Com's Jean-Luc-";
        assert!(!word_starts_at(text, 2), "R is inside x-Ray");
        assert!(word_starts_at(text, 10));
        assert_eq!(word_at(text, 10).text, "O'Brien");
        assert_eq!(word_at(text, 28).text, "Jean-Luc");
        let before = word_before(text, 28).map(|word| word.text);
        assert_eq!(before, Some("3Com's"));
        assert_eq!(word_before(text, 0).map(|word| word.text), None);
        assert_eq!(word_after(text, 5, " ").map(|word| word.text), Some("met"));
        assert!(word_after(text, 5, " & ").is_none());
        with_lower("ÉCOLE", |lower| assert_eq!(lower, "école"));
        with_lower("Dear", |lower| assert_eq!(lower, "dear"));
    }

    #[test]
    fn names_in_text_by_their_context() {
        assert_eq!(names("Please ask Mrs. Jane Doe today."), ["Jane Doe"]);
        assert_eq!(names("Dear Maria,\nthe report is late."), ["Maria"]);
        assert_eq!(names("Best regards,\nJohn Smith\n"), ["John Smith"]);
        assert_eq!(names("Signed by: Anna Kowalska"), ["Anna Kowalska"]);
        // Two capitalised words the gazetteer lacks, after a salutation or as a signature.
        assert_eq!(names("Dear Haydee Dotson,\nthanks."), ["Haydee Dotson"]);
        assert_eq!(names("Thanks,\nGraig Lovelace\n"), ["Graig Lovelace"]);
        assert_eq!(names("Dear Hiring Manager,"), Vec::<&str>::new());
        assert_eq!(names("Best regards,\nAcme Support\n"), Vec::<&str>::new());
        assert_eq!(names("Kind regards,\nAcme Holdings\n"), Vec::<&str>::new());
        assert_eq!(
            names("Yesterday Michael Johnson called."),
            ["Michael Johnson"]
        );
        // Places and companies made of names, sentence starts and lowercase words are not.
        assert_eq!(
            names("We met on rue Henriette Bruneau."),
            Vec::<&str>::new()
        );
        assert_eq!(
            names("Michael Johnson Street is closed."),
            Vec::<&str>::new()
        );
        assert_eq!(
            names("The Deployment finished. Order shipped."),
            Vec::<&str>::new()
        );
        assert_eq!(names("michael johnson called"), Vec::<&str>::new());
        // A name word glued to another word is not a word of its own.
        assert_eq!(names("see x-Michael Johnson"), Vec::<&str>::new());
    }
}

#[cfg(test)]
mod gazetteer_tests {
    use super::*;

    #[test]
    fn the_name_lists_are_byte_sorted_without_duplicates_or_blank_lines() {
        for list in [GIVEN_NAMES, FAMILY_NAMES] {
            assert!(!list.contains('\r'));
            let lines: Vec<&str> = list.lines().collect();
            assert!(lines.len() > 20_000);
            assert!(lines.iter().all(|line| !line.is_empty()));
            assert!(
                lines
                    .windows(2)
                    .all(|pair| pair[0].as_bytes() < pair[1].as_bytes())
            );
        }
    }

    #[test]
    fn every_listed_name_is_found_and_nothing_else() {
        for list in [GIVEN_NAMES, FAMILY_NAMES] {
            let listed: HashSet<&str> = list.lines().collect();
            for line in list.lines() {
                assert!(sorted_lines_contain(list, line), "{line} not found");
                // A prefix or an extension of a listed name is found only when it is listed too.
                let mut cut = line.chars();
                cut.next_back();
                for other in [cut.as_str(), &format!("{line}~"), &format!("~{line}")] {
                    assert_eq!(
                        sorted_lines_contain(list, other),
                        listed.contains(other),
                        "{other}"
                    );
                }
            }
        }
    }

    #[test]
    fn lookups_at_the_edges_of_small_lists() {
        let list = "Anna\nBo\nZoe";
        for (word, found) in [
            ("Anna", true),
            ("Bo", true),
            ("Zoe", true),
            ("", false),
            ("A", false),
            ("Ann", false),
            ("Annabel", false),
            ("Zz", false),
            ("\n", false),
        ] {
            assert_eq!(sorted_lines_contain(list, word), found, "{word:?}");
        }
        assert!(!sorted_lines_contain("", "Anna"));
        assert!(sorted_lines_contain("Anna\n", "Anna"));
    }
}
