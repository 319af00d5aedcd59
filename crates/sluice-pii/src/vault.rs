//! The vault: real values behind the tokens of one execution (or, later, one session).

use std::collections::HashMap;
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

/// One value in the vault.
#[derive(Debug, Clone)]
pub struct Entry {
    kind: PiiType,
    value: String,
    token: String,
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

/// Real values and their tokens. Same value (type and normalized text), same token.
///
/// The vault lives in the trusted gateway only; nothing in it is ever sent to the worker.
#[derive(Debug, Default)]
pub struct Vault {
    tag: Option<String>,
    entries: Vec<Entry>,
    by_value: [HashMap<String, usize>; 7],
    by_token: HashMap<String, usize>,
    counters: [u32; 7],
    /// Literal entries by their first word (a run of letters and digits), each with the bytes
    /// before that word (`(` of `(212) 555-0123`), longest value first.
    literals: HashMap<String, Vec<(usize, usize)>>,
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

    /// The token of `value` (normalized) as `kind`, issuing one if it is new, and remember that it
    /// was seen at `origin`.
    pub fn token_for(&mut self, kind: PiiType, value: &str, origin: &Origin) -> &str {
        let index = self.issue(kind, value, origin, false);
        &self.entries[index].token
    }

    pub(crate) fn issue(
        &mut self,
        kind: PiiType,
        value: &str,
        origin: &Origin,
        literal: bool,
    ) -> usize {
        if let Some(&index) = self.by_value[kind.index()].get(value) {
            let entry = &mut self.entries[index];
            if literal && !entry.literal {
                entry.literal = true;
                self.add_literal(index);
            }
            self.add_origin(index, origin);
            return index;
        }
        let counter = &mut self.counters[kind.index()];
        *counter += 1;
        let token = match &self.tag {
            Some(tag) => format!("[{}_{}_{tag}]", kind.label(), counter),
            None => format!("[{}_{}]", kind.label(), counter),
        };
        let index = self.entries.len();
        self.entries.push(Entry {
            kind,
            value: value.to_owned(),
            token: token.clone(),
            origins: vec![origin.clone()],
            literal,
        });
        self.by_value[kind.index()].insert(value.to_owned(), index);
        self.by_token.insert(token, index);
        if literal {
            self.add_literal(index);
        }
        index
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
    /// order, not overlapping.
    pub(crate) fn literal_matches(&self, text: &str) -> Vec<(Range<usize>, usize)> {
        let mut found = Vec::new();
        if self.literals.is_empty() {
            return found;
        }
        let mut position = 0;
        while position < text.len() {
            let rest = &text[position..];
            let Some(offset) = rest.find(char::is_alphanumeric) else {
                break;
            };
            let word_start = position + offset;
            let word_len = text[word_start..]
                .find(|c: char| !c.is_alphanumeric())
                .unwrap_or(text.len() - word_start);
            let word = &text[word_start..word_start + word_len];
            let matched = self.literals.get(word).and_then(|bucket| {
                bucket.iter().find_map(|(index, prefix)| {
                    let start = word_start.checked_sub(*prefix)?;
                    let value = &self.entries[*index].value;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn origin() -> Origin {
        Origin::Tool(ToolRef::new("crm", "query"))
    }

    #[test]
    fn same_value_same_token_numbered_per_type() {
        let mut vault = Vault::new();
        assert_eq!(
            vault.token_for(PiiType::Email, "a@x.com", &origin()),
            "[EMAIL_1]"
        );
        assert_eq!(
            vault.token_for(PiiType::Email, "b@x.com", &origin()),
            "[EMAIL_2]"
        );
        assert_eq!(
            vault.token_for(PiiType::Phone, "+1 212 555 0123", &origin()),
            "[PHONE_1]"
        );
        assert_eq!(
            vault.token_for(PiiType::Email, "a@x.com", &origin()),
            "[EMAIL_1]"
        );
        let other = Origin::Tool(ToolRef::new("documents", "getSheet"));
        vault.token_for(PiiType::Email, "a@x.com", &other);
        let entry = vault.resolve("[EMAIL_1]").unwrap();
        assert_eq!(entry.value(), "a@x.com");
        assert_eq!(entry.origins(), [origin(), other]);
        assert_eq!(vault.len(), 3);
    }

    #[test]
    fn tags_are_checked_and_used() {
        let mut vault = Vault::with_tag("k7qm").unwrap();
        assert_eq!(
            vault.token_for(PiiType::Ip, "10.0.0.1", &origin()),
            "[IP_1_k7qm]"
        );
        assert!(vault.resolve("[IP_1]").is_none());
        assert!(Vault::with_tag("K7").is_err());
        assert!(Vault::with_tag("").is_err());
        assert!(Vault::with_tag("abcdefghi").is_err());
    }

    #[test]
    fn literals_match_at_word_boundaries() {
        let mut vault = Vault::new();
        vault.issue(PiiType::Name, "Ada Lovelace", &origin(), true);
        vault.issue(PiiType::Name, "Al", &origin(), true);
        let text = "Met Ada Lovelace and Al; not Ada Lovelaces.";
        let found = vault.literal_matches(text);
        assert_eq!(found.len(), 1);
        assert_eq!(&text[found[0].0.clone()], "Ada Lovelace");
    }
}
