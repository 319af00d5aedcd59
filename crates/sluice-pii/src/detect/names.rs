//! Names, found by the field that holds them: there is no name detector for free text (that needs
//! a language model), only for structured results, plus the vault's exact matching of names it
//! has already seen.

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
];

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

/// Whether a string looks like a person's name: 1 to 5 words (2 or more for a generic `name`),
/// each capitalised (particles aside), made of letters, apostrophes, hyphens and dots.
pub(crate) fn is_name_value(value: &str, key: NameKey) -> bool {
    let value = value.trim();
    if value.is_empty() || value.len() > 80 {
        return false;
    }
    let words: Vec<&str> = value.split_whitespace().collect();
    let minimum = match key {
        NameKey::Strong => 1,
        NameKey::Role | NameKey::Generic => 2,
    };
    if words.len() < minimum || words.len() > 5 {
        return false;
    }
    if key != NameKey::Strong {
        let last = words
            .last()
            .map(|word| word.to_lowercase())
            .unwrap_or_default();
        if COMPANY_WORDS.contains(&last.as_str()) {
            return false;
        }
    }
    let mut capitalised = 0;
    for word in &words {
        if PARTICLES.contains(&word.to_lowercase().as_str()) {
            continue;
        }
        let mut chars = word.chars();
        if !chars.next().is_some_and(char::is_uppercase) {
            return false;
        }
        if !chars.all(|c| c.is_alphabetic() || matches!(c, '\'' | '\u{2019}' | '-' | '.')) {
            return false;
        }
        capitalised += 1;
    }
    capitalised >= minimum.min(2)
}
