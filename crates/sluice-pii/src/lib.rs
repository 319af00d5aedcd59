/*!
Personal data in tool results: find it, swap it for typed tokens, and let the real values back out
only where a flow policy allows.

This crate is **pure**: no IO of any kind (no files, environment, network, clock or randomness).
Everything it needs comes in as arguments, so it is easy to test and fuzz. The gateway owns the
state ([`Vault`]) and decides when to call it.

```text
tool result ──tokenize──> value with [EMAIL_1_k7qm] ──> worker (agent code, model)
                 │ Vault: token -> (type, real value, origins)
tool call   <─untokenize── arguments with [EMAIL_1_k7qm]   (only if Policy allows type/origin/destination)
```

# Detection

[`Detector`] looks for emails, phone numbers, payment cards, IBANs, national identifiers (US SSNs
and, by key or label, other countries' numbers with a check digit), IPv4/IPv6 addresses and
names. Every detector is a linear-time `regex` candidate followed by a validator in code (the
`regex` crate has no look-around, so edge checks are code too). Many read the **context**: the
name of the field holding the string ([`FieldHint`]), or the label just before the value on the
same line (`Phone:`, `SSN`, `card`, or words that make it an identifier: `order`, `tracking`,
`ISBN`, `routing`, `EAN`, `zip`; or a version: `version`, `Python`, `==`).

| type | candidate | validation |
|---|---|---|
| `email` | `local@domain.tld` (Unicode letters allowed) | TLD of letters, not an image extension (`icon@2x.png`), not glued to more word characters, not a remote's user at a host (`git@github.com:org/repo.git`, `ssh://git@host/...`) |
| `phone` | `+` or `00` and digits in groups; NANP `(212) 555-0123`, `212-555-0123` (when a NANP region is in `phoneRegions`, as by default); national numbers starting with the trunk `0`, grouped (`020 7946 0958`, `04.15.39.15.00`) for **every** region whose numbers start with 0, bare too for configured regions; **any** number after a phone label (`Tel:`, `mobile`, `call`, `Telefon`, ...) or in a field named like `phone`/`mobile`/`tel`/`fax`, for every region (configured ones first); an extension (`x492`, `ext. 12`) is kept with its number | the `phonenumber` crate (libphonenumber metadata) says *valid* for the region tried; a number after a label that makes it an identifier (`order`, `routing`, `ISBN`, `tracking`, `zip`) or shaped `ddd-dd-dddd` is not a phone number; answers are memoized (a parse costs 5-20 µs) |
| `card` | runs of 12+ digits with single spaces, dots or dashes | a card-shaped grouping (4-4-4-4, 4-6-5, ...), one kind of separator, a known issuer prefix for the length, **Luhn**; not after an identifier label; kinds that share their shape with common identifiers (12-digit Maestro, 15-digit UATP, 13 bare digits that are a valid EAN-13) only in a card field or after a card label |
| `iban` | two letters, two digits, 11-30 alphanumerics (single spaces allowed; any case) | `iban_validate` (country format and **mod-97**); the longest valid prefix wins |
| `ssn` | `ddd-dd-dddd` (or spaces, dots); anywhere, an Italian codice fiscale; after a label (`SSN:`, `tax id`, `national id`, `BSN`, `PESEL`, `CPF`, `NIF`, ...) or in a field named like `ssn`, `tax_id`, `national_id`, `bsn`, `cpf`...: nine bare digits, or a Dutch BSN, Polish PESEL, Brazilian CPF, French NIR, Spanish DNI/NIE, Chinese resident id | area not 000, 666 or 9xx; group not 00; serial not 0000; not all one digit; not a known published number (078-05-1120, 219-09-9999, 123-45-6789); not part of a longer grouped number (`+49 536 22 1234`) or after a phone label; the other countries' numbers by their **check digits** |
| `ip` | dotted quad (a `/24` or `:8080` may follow); a run of hex digits, dots and colons | `std::net` parsing; IPv6 needs two non-empty groups or an embedded IPv4 (so `::` is not reported); loopback, private, link-local and unique-local addresses only when [`DetectorConfig::private_ips`] is set |
| `name` | in JSON, the string value of a name field, compared ignoring case, `_`, `-`: person fields (`fullName`, `first_name`, `lastName`, `surname`, ... plus configured ones), role fields (`author`, `owner`, `assignee`, `cardholder`, `emergency_contact`, `guardian`, ...; `<role>_name` and `<verb>ed_by` too: `cardholder_name`, `signed_by`), and `name`/`Name`; in text, runs of capitalised words (or words of a script without case) after a title (`Mr.`, `Dr.`, `Frau`), a salutation (`Dear`), a closing line (`Best regards,`) or a name label (`Name:`, `Signed by:`), or a given name followed by a family name | name-shaped: 1-5 capitalised words (particles like `van der` allowed) or words of a script without case, no digits, "Last, First" as its two parts; role fields and `name` need two words (or a CJK name starting with a known family name) and not a company, team or bot word (`Acme Corp`, `Platform Team`, `Release Bot`, `Hnos Pintor S.L.L.`); `name` counts only in a person-like object (one with an email, phone, tel, fax, address, company, first/last name... field); in text, salutations, signatures and labels need a word of the gazetteer (or two words after a label), and a run that a place or company word precedes or follows (`rue Henriette Bruneau`, `Smith Street`, `Kramer KG`) is not a person; not in fields that name places or things (`street`, `city`, `company`, `title`) |

The name gazetteer (`data/names`: given and family names) is derived from the name lists of
Faker (MIT; its licence is next to the data). Every name (and every value found only by its
field) that the vault holds is then matched literally, at word boundaries, in all later text of
the vault's execution: a name seen in a `name` field is hidden in `"Meeting with Ada Lovelace"`
too. A string that is itself JSON (a `.json` file read as text), or that holds JSON after some
words (an error message quoting the records it failed on), is parsed to find its names and
field-identified values by field; they are replaced in the text, whose formatting stays.

Hard negatives the detectors reject on purpose: Luhn-invalid or unknown-issuer digit runs (order
ids, millisecond timestamps), barcodes and tracking numbers after their label, dates and times,
hex hashes and UUIDs, MAC addresses, Rust paths (`std::net`). **Dotted versions:** `1.2.3.4` is a
valid IPv4 address and is tokenized as one, unless it is marked as a version: preceded by
`v`/`V`, the word `version`/`ver`/`release`/`build`, a software name (`Python`, `Chrome/`,
`node`), a package pin (`pkg==`, `pkg@`), followed by a pre-release or build suffix (`-beta`,
`+build`), or the value of a field whose name contains `version`, `runtime` or `userAgent`.
Privacy wins over readability when nothing says it is a version.

# Measured

`cargo run -p sluice-pii --example privacy_eval --release` prints recall (values in fields and in
free text) and precision per type on the corpus in `eval/`, generated with Faker in ten locales
by `eval/generate.py` (with its hard negatives: git remotes, versions, EAN-13, tracking, routing
and order numbers, ISBNs, timestamps, UUIDs, hashes, prices, coordinates, companies, streets...),
for the default settings and widened ones (the ten regions in `phoneRegions`, `privateIps`), on a
development split and a held-out split (a quarter of the templates and keys appear only there,
and nothing was tuned on it). `eval/README.md` has the figures.

# Normalization

Text is normalized before matching: NFKC, default-ignorable characters (zero-width spaces and
joiners, soft hyphen, bidi controls, variation selectors, tags) removed, and Unicode dashes folded
to `-`. So full-width digits (`４１１１…`), `＠`, and `jo\u{200B}hn@example.com` are caught.

Matches are found on the normalized text and **replaced in the original**: the normalizer keeps a
map from normalized bytes to original bytes, so text around a match is left exactly as the server
sent it (an obfuscated value is replaced whole, its hidden characters included). The vault stores
the **normalized** value (`john@example.com`), which is what a destination receives.

# Tokens and the vault

A [`Vault`] maps each value to a typed token: `[EMAIL_1]`, `[PHONE_3]`, `[CARD_1]`, `[IBAN_1]`,
`[SSN_1]`, `[IP_1]`, `[NAME_1]`, numbered per type in order of first sight. The same value (same
type, same normalized text) seen in results of the same server gets the same token within a
vault; another server's sighting gets its own token (unless the code released the first token to
it); values the code supplied in a call's arguments come back as it sent them; what the
execution produces is tokenized in a namespace of its own ([`Scope`]). The [`Vault`]'s module
docs say what code can and cannot learn about a tokenized value. A vault made with
[`Vault::with_tag`] adds its tag: `[EMAIL_1_k7qm]`. The gateway always tags its vaults with a
random tag, so a token copied from another execution (or another session, later) is just text in
this one: it never resolves, neither to its old value nor to an unrelated value that happens to
have the same number here.

Each entry remembers its type and its [`Origin`]s: the `(server, tool)` pairs whose results
contained it, or [`Origin::Unattributed`] when it was first seen in what the execution itself
produced (its output, or the gateway's messages about its calls). [`Tokenizer::supplied`] finds
the values the code put in clear into a call's arguments; [`Tokenizer::tokenize_result`] leaves
them as they are in the call's result; [`Tokenizer::register_trusted`] registers a trusted
server's values (which the code receives in clear) so the execution's own text is scanned for
them the way a result would be.

[`Tokenizer::tokenize_value`] walks a JSON value: every string, in structured content and text
alike, **and every object key** (a map keyed by email is common); names are found by field. It
then also replaces any string equal to, or containing at word boundaries, a name or field-detected
value the vault already holds, so a name seen in a `name` field is also hidden in free text
(`"Meeting with Ada Lovelace"`) of tool results; the execution's own text matches only values of
its own namespace.

[`Tokenizer::untokenize_value`] replaces tokens in arguments by their real values. Only an
**exact** token issued by *this* vault resolves; forged tokens, fragments (`[EMAIL_1`, `EMAIL_1]`),
encodings (base64, case changes, full-width brackets) and tokens of other vaults stay literal text.
Each token resolves only if the policy callback allows the flow (type, origin, destination);
otherwise the whole call fails with [`FlowDenied`], which names the type, the origins and the
destination, never the value. It is all-or-nothing: one denied token and nothing is released.

# Policy

[`Policy`] holds ordered [`FlowRule`]s `{types?, from, to, allow}` where `from` and `to` are
`"server"`, `"server.tool"` or `"*"`. The first rule that matches decides. When none matches, the
**default** applies: a value may flow back to the server it came from (any of its tools), and
nowhere else. A value with several origins may flow where any one of them may. A value of
[`Origin::Unattributed`] matches only rules with `from: "*"`.
*/
#![deny(missing_docs)]

pub mod corpus;
mod detect;
mod normalize;
mod policy;
mod tokenize;
mod vault;

pub use detect::{
    Detector, DetectorConfig, DetectorError, FieldHint, Finding, NameKey, is_phone_region,
};
pub use normalize::Normalized;
pub use policy::{Endpoint, FlowRule, Policy};
pub use tokenize::{FlowDenied, Release, Tokenized, Tokenizer};
pub use vault::{Entry, Origin, Scope, Supplied, ToolRef, Vault, VaultError};

use std::fmt;

/// A kind of personal data. In configuration it is written in lowercase (`"email"`, `"ip"`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Deserialize, serde::Serialize,
)]
#[serde(rename_all = "lowercase")]
pub enum PiiType {
    /// An email address.
    Email,
    /// A phone number.
    Phone,
    /// A payment card number.
    Card,
    /// An International Bank Account Number.
    Iban,
    /// A national identification number: a US Social Security Number, or (by key or label)
    /// another country's number with a check digit.
    Ssn,
    /// An IPv4 or IPv6 address.
    Ip,
    /// A person's name (by field name in structured data; in free text, by gazetteer and
    /// context).
    Name,
}

impl PiiType {
    /// Every type, in token-label order.
    pub const ALL: [PiiType; 7] = [
        PiiType::Email,
        PiiType::Phone,
        PiiType::Card,
        PiiType::Iban,
        PiiType::Ssn,
        PiiType::Ip,
        PiiType::Name,
    ];

    /// The lowercase name used in configuration and messages: `email`, `phone`, `card`, `iban`,
    /// `ssn`, `ip`, `name`.
    pub fn name(self) -> &'static str {
        match self {
            PiiType::Email => "email",
            PiiType::Phone => "phone",
            PiiType::Card => "card",
            PiiType::Iban => "iban",
            PiiType::Ssn => "ssn",
            PiiType::Ip => "ip",
            PiiType::Name => "name",
        }
    }

    /// The label inside tokens: `EMAIL`, `PHONE`, `CARD`, `IBAN`, `SSN`, `IP`, `NAME`.
    pub fn label(self) -> &'static str {
        match self {
            PiiType::Email => "EMAIL",
            PiiType::Phone => "PHONE",
            PiiType::Card => "CARD",
            PiiType::Iban => "IBAN",
            PiiType::Ssn => "SSN",
            PiiType::Ip => "IP",
            PiiType::Name => "NAME",
        }
    }

    /// The type with this [`name`](Self::name).
    pub fn from_name(name: &str) -> Option<PiiType> {
        PiiType::ALL.into_iter().find(|kind| kind.name() == name)
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for PiiType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of [`PiiType`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TypeSet(u8);

impl TypeSet {
    /// Every type.
    pub const fn all() -> TypeSet {
        TypeSet(0b111_1111)
    }

    /// No type.
    pub const fn none() -> TypeSet {
        TypeSet(0)
    }

    /// Whether `kind` is in the set.
    pub fn contains(self, kind: PiiType) -> bool {
        self.0 & (1 << kind.index()) != 0
    }

    /// The set with `kind` added.
    #[must_use]
    pub fn with(self, kind: PiiType) -> TypeSet {
        TypeSet(self.0 | (1 << kind.index()))
    }

    /// The set with `kind` removed.
    #[must_use]
    pub fn without(self, kind: PiiType) -> TypeSet {
        TypeSet(self.0 & !(1 << kind.index()))
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl FromIterator<PiiType> for TypeSet {
    fn from_iter<I: IntoIterator<Item = PiiType>>(iter: I) -> Self {
        iter.into_iter().fold(TypeSet::none(), TypeSet::with)
    }
}
