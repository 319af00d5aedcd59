//! The vault: real values behind the tokens of one execution (or one session).
//!
//! # What code can and cannot learn about a tokenized value
//!
//! Agent code (and the model that writes it) is untrusted. It holds tokens for values it was not
//! shown, and it can put any text it likes into tool-call arguments. If a value it supplied were
//! given the token of a value it holds only as a token, comparing the two would reveal the value:
//! send a thousand guessed phone numbers through a tool that reflects text and see which comes
//! back as `[PHONE_1_k7qm]`. The vault is built so that this comparison says nothing:
//!
//! 1. **Tokens of tool results are scoped per server** ([`Scope::Server`]). The same value from
//!    two tools of one server (`crm.search`, `crm.get`) has one token, so joins over one source
//!    work; the same value from another server has another token, unless the code released the
//!    first server's token to that server (then that server's sightings of the value map to the
//!    released token: the code knows what it sent). A guess reflected by a server that never had
//!    the value can therefore never carry the token of a value from another server.
//! 2. **Values the code supplied come back as the code sent them.** [`Supplied`] holds the values
//!    the code put in clear text into a call's arguments (every detector finding, values found by
//!    field, and values of the vault found in them literally). In that call's result they are left
//!    as they are: the code knows them, and whether they are replaced must not depend on what the
//!    vault holds. They are also remembered per server, and that server's later results pass them
//!    back too, unless the server had returned the value itself before the code sent it.
//! 3. **What the execution itself produces** (its output, return value and error, the gateway's
//!    messages about its calls, the workspace and skills shown to the model) is tokenized in a
//!    separate namespace ([`Scope::Code`]) that never reuses a tool result's token and matches
//!    only its own values literally: logging a guess shows a token that says nothing.
//! 4. **Released values keep their token**: a token released to a server, seen again in that
//!    server's results, is the same token.
//!
//! What code **can** still learn, by design or as a known limit:
//! - Equality between values it holds as tokens of one server (joins), and between a token it
//!   released to a server and that server's later sightings of the value.
//! - What a server itself answers: a tool that searches by a value (`crm.search({ phone })`)
//!   tells the code whether the value exists there, and whatever else the server returns with it;
//!   a server that both holds a value and stores what code sends it (a note written, then read
//!   back with the target's record) can match a guess against that server's own tokens. The
//!   gateway bounds the number of distinct values code may send in clear per vault.
//! - A server the policy lets a value flow to can compute on it with code-supplied text (a
//!   reflecting tool receiving `[EMAIL_1] guess` returns `v v` or `v guess`): allowing a flow
//!   trusts the destination with the value.
//! - A tool that transforms what it reflects (re-formats a number, changes a name's case) can
//!   make a guess detectable where the code did not write it detectably; the result is still a
//!   token of that server only (rule 1). Whether a name stored at a server comes back hidden
//!   tells the code that the vault saw that name in some result.
//!
//! What code **cannot** learn: the real value behind a token, or whether a value it supplied equals
//! a value it holds as a token of a server it did not send the value to.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::ops::Range;

use crate::PiiType;
use crate::detect::{char_at, char_before};

/// A tool of a server: where a value came from or where it is going.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ToolRef {
    /// The server's config key.
    pub server: String,
    /// The tool's MCP name.
    pub tool: String,
}

impl ToolRef {
    /// `server`'s `tool`.
    pub fn new(server: impl Into<String>, tool: impl Into<String>) -> ToolRef {
        ToolRef {
            server: server.into(),
            tool: tool.into(),
        }
    }
}

impl fmt::Display for ToolRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.server, self.tool)
    }
}

/// Where a value in the vault was seen.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Origin {
    /// In the result (or error) of this tool.
    Tool(ToolRef),
    /// In what the execution produced itself (its output, its return value) or in the gateway's
    /// messages about its calls: no tool is the source, so only rules with `from: "*"` release it.
    Unattributed,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Tool(tool) => tool.fmt(f),
            Origin::Unattributed => f.write_str("the execution's own output"),
        }
    }
}

/// Which namespace a value's token belongs to (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Seen in the results of this server: one token per value and server.
    Server(String),
    /// Produced by the execution itself, or shown to the model from the gateway's own views; or
    /// a trusted server's value, which the code holds in clear. Never the token of a tool result.
    Code,
}

/// One value in the vault.
#[derive(Debug, Clone)]
pub struct Entry {
    kind: PiiType,
    value: String,
    token: String,
    scope: Scope,
    origins: Vec<Origin>,
    /// Found by field name (a name, a bare phone number): the detectors would not find it again
    /// in free text, so the vault matches it literally.
    literal: bool,
}

impl Entry {
    /// Its type.
    pub fn kind(&self) -> PiiType {
        self.kind
    }

    /// The real (normalized) value.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// Its token, e.g. `[EMAIL_1_k7qm]`.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Its namespace.
    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// Every place it was seen, first one first.
    pub fn origins(&self) -> &[Origin] {
        &self.origins
    }
}

/// What is wrong with a vault tag.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    /// Tags are 1 to 8 lowercase ASCII letters or digits.
    #[error("a vault tag is 1 to 8 lowercase ASCII letters or digits, not {0:?}")]
    BadTag(String),
}

/// Values the code put in clear text into one tool call's arguments (see
/// [`Tokenizer::supplied`](crate::Tokenizer::supplied)): in that call's result they come back as
/// the code sent them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Supplied {
    values: HashSet<(PiiType, String)>,
    /// The ones the detectors found by themselves (not through the vault): what the guessing
    /// budget counts, since it must not depend on what the vault holds.
    found: HashSet<(PiiType, String)>,
}

impl Supplied {
    /// Nothing supplied.
    pub fn none() -> Supplied {
        Supplied::default()
    }

    /// Whether `value` (normalized) of `kind` is among them.
    pub fn contains(&self, kind: PiiType, value: &str) -> bool {
        self.values.contains(&(kind, value.to_owned()))
    }

    /// How many values.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    pub(crate) fn add(&mut self, kind: PiiType, value: &str, found: bool) {
        if found {
            self.found.insert((kind, value.to_owned()));
        }
        self.values.insert((kind, value.to_owned()));
    }
}

/// How the value being tokenized was seen, which decides its token (see the module docs).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Sight<'a> {
    /// In the result or error of a tool, for a call whose arguments held `supplied` in clear.
    Result {
        origin: &'a Origin,
        server: &'a str,
        supplied: Option<&'a Supplied>,
    },
    /// In what the execution produced or the gateway shows (the code namespace).
    Execution,
    /// In a trusted server's result: the code receives it in clear; the code namespace, with the
    /// tool as origin.
    Trusted(&'a Origin),
}

impl<'a> Sight<'a> {
    /// A tool's result with nothing supplied, or the execution's own text.
    pub(crate) fn of(origin: &'a Origin) -> Sight<'a> {
        match origin {
            Origin::Tool(tool) => Sight::Result {
                origin,
                server: &tool.server,
                supplied: None,
            },
            Origin::Unattributed => Sight::Execution,
        }
    }

    pub(crate) fn origin(&self) -> &Origin {
        match self {
            Sight::Result { origin, .. } | Sight::Trusted(origin) => origin,
            Sight::Execution => &Origin::Unattributed,
        }
    }

    /// Whether literal values of every namespace are hidden (tool results), or only those of
    /// the code namespace (what the execution produced: matching a tool result's value there
    /// would tell the model that its guess was right).
    fn literals_of_all(&self) -> bool {
        matches!(self, Sight::Result { .. })
    }
}

/// Real values and their tokens (see the module docs for which values share a token).
///
/// The vault lives in the trusted gateway only; nothing in it is ever sent to the worker.
#[derive(Debug, Default)]
pub struct Vault {
    tag: Option<String>,
    entries: Vec<Entry>,
    /// Per server: its values (and the values released to it) by type.
    by_server: HashMap<String, [HashMap<String, usize>; 7]>,
    /// The code namespace by type.
    by_code: [HashMap<String, usize>; 7],
    by_token: HashMap<String, usize>,
    counters: [u32; 7],
    /// Literal entries by their first word (a run of letters and digits), each with the bytes
    /// before that word (`(` of `(212) 555-0123`), longest value first.
    literals: HashMap<String, Vec<(usize, usize)>, foldhash::fast::RandomState>,
    /// The first bytes of the words `literals` is keyed by, as a bitmap: the words of a text that
    /// start with another byte are not looked up.
    literal_firsts: [u64; 4],
    /// Per server: values the code sent it in clear text.
    supplied: HashMap<String, HashSet<(PiiType, String)>>,
    /// Values the code sent in clear that the detectors found by themselves, all servers.
    supplied_found: HashSet<(PiiType, String)>,
    /// Values of trusted servers' results: the code holds them in clear.
    trusted: HashSet<(PiiType, String)>,
}

/// Shortest literal value matched inside longer text (shorter ones are replaced only as whole
/// field values).
const MIN_LITERAL_CHARS: usize = 3;

impl Vault {
    /// An untagged vault: tokens look like `[EMAIL_1]`.
    pub fn new() -> Vault {
        Vault::default()
    }

    /// A tagged vault: tokens look like `[EMAIL_1_k7qm]`, so tokens of vaults with other tags
    /// never resolve here. The gateway gives every vault a random tag.
    pub fn with_tag(tag: &str) -> Result<Vault, VaultError> {
        let valid = (1..=8).contains(&tag.len())
            && tag
                .bytes()
                .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit());
        if !valid {
            return Err(VaultError::BadTag(tag.to_owned()));
        }
        Ok(Vault {
            tag: Some(tag.to_owned()),
            ..Vault::default()
        })
    }

    /// The tag, if any.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// How many values it holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every entry, in order of first sight.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The entry of an exact token issued by this vault.
    pub fn resolve(&self, token: &str) -> Option<&Entry> {
        self.by_token.get(token).map(|index| &self.entries[*index])
    }

    /// The token of `value` (normalized) as `kind` seen at `origin`, issuing one if it is new: a
    /// tool's value in its server's namespace, [`Origin::Unattributed`] in the code namespace.
    pub fn token_for(&mut self, kind: PiiType, value: &str, origin: &Origin) -> &str {
        match self.issue(kind, value, &Sight::of(origin), false) {
            Some(index) => &self.entries[index].token,
            None => "",
        }
    }

    /// Remember that the code sent `server` these values in clear: that server's later results
    /// pass them back as they are (unless it had returned them itself before). Returns how many
    /// distinct values the detectors found in clear in the code's arguments so far (values of
    /// trusted servers' results, which the code holds in clear anyway, not counted): what the
    /// gateway's guessing budget limits.
    pub fn record_supplied(&mut self, server: &str, supplied: &Supplied) -> usize {
        if !supplied.is_empty() {
            let known = self.supplied.entry(server.to_owned()).or_default();
            for value in &supplied.values {
                known.insert(value.clone());
            }
        }
        for value in &supplied.found {
            if !self.trusted.contains(value) {
                self.supplied_found.insert(value.clone());
            }
        }
        self.supplied_found.len()
    }

    /// How many distinct values [`record_supplied`](Self::record_supplied) counted, were `more`
    /// sent too.
    pub fn supplied_count_with(&self, more: &Supplied) -> usize {
        self.supplied_found.len()
            + more
                .found
                .iter()
                .filter(|value| {
                    !self.trusted.contains(*value) && !self.supplied_found.contains(*value)
                })
                .count()
    }

    /// The code released `token` to `server`: that server's sightings of the value map to this
    /// token (unless the server had its own token for it already).
    pub fn link(&mut self, token: &str, server: &str) {
        let Some(&index) = self.by_token.get(token) else {
            return;
        };
        let entry = &self.entries[index];
        let (kind, value) = (entry.kind, entry.value.clone());
        self.by_server.entry(server.to_owned()).or_default()[kind.index()]
            .entry(value)
            .or_insert(index);
    }

    /// The entry for `value` as seen by `sight`, issued if new; `None` when the value must stay
    /// as it is (the code supplied it).
    pub(crate) fn issue(
        &mut self,
        kind: PiiType,
        value: &str,
        sight: &Sight<'_>,
        literal: bool,
    ) -> Option<usize> {
        let scope = match sight {
            Sight::Result {
                server, supplied, ..
            } => {
                if supplied.is_some_and(|supplied| supplied.contains(kind, value)) {
                    return None;
                }
                let own = self
                    .by_server
                    .get(*server)
                    .and_then(|values| values[kind.index()].get(value));
                if own.is_none()
                    && self
                        .supplied
                        .get(*server)
                        .is_some_and(|values| values.contains(&(kind, value.to_owned())))
                {
                    return None;
                }
                Scope::Server((*server).to_owned())
            }
            Sight::Execution => Scope::Code,
            Sight::Trusted(_) => {
                self.trusted.insert((kind, value.to_owned()));
                Scope::Code
            }
        };
        let origin = sight.origin();
        let existing = match &scope {
            Scope::Server(server) => self
                .by_server
                .get(server)
                .and_then(|values| values[kind.index()].get(value)),
            Scope::Code => self.by_code[kind.index()].get(value),
        };
        if let Some(&index) = existing {
            let entry = &mut self.entries[index];
            if literal && !entry.literal {
                entry.literal = true;
                self.add_literal(index);
            }
            self.add_origin(index, origin);
            return Some(index);
        }
        let counter = &mut self.counters[kind.index()];
        *counter += 1;
        let token = match &self.tag {
            Some(tag) => format!("[{}_{}_{tag}]", kind.label(), counter),
            None => format!("[{}_{}]", kind.label(), counter),
        };
        let index = self.entries.len();
        match &scope {
            Scope::Server(server) => {
                self.by_server.entry(server.clone()).or_default()[kind.index()]
                    .insert(value.to_owned(), index);
            }
            Scope::Code => {
                self.by_code[kind.index()].insert(value.to_owned(), index);
            }
        }
        self.entries.push(Entry {
            kind,
            value: value.to_owned(),
            token: token.clone(),
            scope,
            origins: vec![origin.clone()],
            literal,
        });
        self.by_token.insert(token, index);
        if literal {
            self.add_literal(index);
        }
        Some(index)
    }

    /// Index a literal entry by its first word, so matching it in text costs one lookup per word
    /// (adding a value never rebuilds anything).
    fn add_literal(&mut self, index: usize) {
        let value = &self.entries[index].value;
        if value.chars().count() < MIN_LITERAL_CHARS {
            return;
        }
        let Some(start) = value.find(char::is_alphanumeric) else {
            return;
        };
        let word: String = value[start..]
            .chars()
            .take_while(|c| c.is_alphanumeric())
            .collect();
        if let Some(first) = word.bytes().next() {
            self.literal_firsts[usize::from(first >> 6)] |= 1 << (first & 63);
        }
        let entries = &self.entries;
        let bucket = self.literals.entry(word).or_default();
        bucket.push((index, start));
        bucket.sort_by_key(|(entry, _)| std::cmp::Reverse(entries[*entry].value.len()));
    }

    pub(crate) fn add_origin(&mut self, index: usize, origin: &Origin) {
        let origins = &mut self.entries[index].origins;
        if !origins.contains(origin) {
            origins.push(origin.clone());
        }
    }

    pub(crate) fn entry(&self, index: usize) -> &Entry {
        &self.entries[index]
    }

    /// Literal values (see [`Entry`]) found in `text` at word boundaries: `(range, entry)`, in
    /// order, not overlapping. `sight` decides which namespaces count (see [`Sight`]); `None`
    /// means all.
    pub(crate) fn literal_matches(
        &self,
        text: &str,
        sight: Option<&Sight<'_>>,
    ) -> Vec<(Range<usize>, usize)> {
        let mut found = Vec::new();
        if self.literals.is_empty() {
            return found;
        }
        let all = sight.is_none_or(Sight::literals_of_all);
        let mut position = 0;
        while position < text.len() {
            let Some(word_start) = next_word(text, position) else {
                break;
            };
            let word_len = word_end(text, word_start) - word_start;
            let word = &text[word_start..word_start + word_len];
            let first = text.as_bytes()[word_start];
            let candidate = self.literal_firsts[usize::from(first >> 6)] & (1 << (first & 63)) != 0;
            let matched = candidate
                .then(|| self.literals.get(word))
                .flatten()
                .and_then(|bucket| {
                    bucket.iter().find_map(|(index, prefix)| {
                        let entry = &self.entries[*index];
                        if !all && entry.scope != Scope::Code {
                            return None;
                        }
                        let start = word_start.checked_sub(*prefix)?;
                        let value = &entry.value;
                        let end = start + value.len();
                        let fits = text.is_char_boundary(start)
                            && text[start..].starts_with(value.as_str())
                            && !char_before(text, start).is_some_and(char::is_alphanumeric)
                            && !char_at(text, end).is_some_and(char::is_alphanumeric)
                            && found
                                .last()
                                .is_none_or(|(last, _): &(Range<usize>, usize)| last.end <= start);
                        fits.then_some((start..end, *index))
                    })
                });
            match matched {
                Some((range, index)) => {
                    position = range.end;
                    found.push((range, index));
                }
                None => position = word_start + word_len,
            }
        }
        found
    }
}

/// Where the next word (a run of letters and digits) at or after byte `from` starts.
fn next_word(text: &str, from: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut index = from;
    while index < bytes.len() {
        let byte = bytes[index];
        if byte.is_ascii() {
            if byte.is_ascii_alphanumeric() {
                return Some(index);
            }
            index += 1;
        } else {
            let c = text[index..].chars().next()?;
            if c.is_alphanumeric() {
                return Some(index);
            }
            index += c.len_utf8();
        }
    }
    None
}

/// Where the word starting at byte `start` ends.
fn word_end(text: &str, start: usize) -> usize {
    let bytes = text.as_bytes();
    let mut index = start;
    while index < bytes.len() {
        let byte = bytes[index];
        if byte.is_ascii() {
            if !byte.is_ascii_alphanumeric() {
                return index;
            }
            index += 1;
        } else {
            match text[index..].chars().next() {
                Some(c) if c.is_alphanumeric() => index += c.len_utf8(),
                _ => return index,
            }
        }
    }
    index
}

#[cfg(test)]
#[path = "vault_tests.rs"]
mod tests;
