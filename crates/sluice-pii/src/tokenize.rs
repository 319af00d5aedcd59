//! Tokenizing values on the way to the worker, untokenizing arguments on the way out.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

use regex::Regex;
use serde_json::{Map, Value};

use crate::PiiType;
use crate::detect::{Detector, DetectorConfig, DetectorError, FieldHint, KeyFacts, NameKey};
use crate::normalize::Normalized;
use crate::vault::{Origin, Sight, Supplied, ToolRef, Vault};

/// Largest string parsed as embedded JSON to find names by field.
const MAX_EMBEDDED_JSON: usize = 16 * 1024 * 1024;

/// Brackets of one string tried as the start of embedded JSON: a text of many brackets that are
/// not JSON (code, tokens) costs at most this many failed parses.
const MAX_EMBEDDED_ATTEMPTS: usize = 16;

/// Anything shaped like a token; only exact tokens of the vault resolve.
const TOKEN: &str = r"\[[A-Z]{2,5}_[1-9][0-9]{0,8}(?:_[a-z0-9]{1,8})?\]";

/// The detectors plus the token syntax: compiled once, shared by every execution.
#[derive(Debug)]
pub struct Tokenizer {
    detector: Detector,
    token: Regex,
}

/// A text with its values replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tokenized<'a> {
    /// The text; borrowed when nothing was found.
    pub text: Cow<'a, str>,
    /// Values replaced.
    pub count: usize,
}

/// One token replaced by its real value in a tool call: the audit record (never the value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    /// Type of the value.
    pub kind: PiiType,
    /// The token that was replaced.
    pub token: String,
    /// The origin whose flow the policy allowed.
    pub origin: Origin,
    /// Where the value went.
    pub destination: ToolRef,
}

/// A token whose flow the policy does not allow. Names the type, origins and destination, never
/// the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct FlowDenied {
    /// Type of the value.
    pub kind: PiiType,
    /// The token in the arguments.
    pub token: String,
    /// Where the value was seen.
    pub origins: Vec<Origin>,
    /// Where the call was going.
    pub destination: ToolRef,
}

impl fmt::Display for FlowDenied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let origins: Vec<String> = self.origins.iter().map(ToString::to_string).collect();
        write!(
            f,
            "privacy policy denies sending {} data from {} to {} (token {}); the call was not made. Only the user can allow this flow, with a rule in sluice.privacy.flows",
            self.kind,
            origins.join(" and "),
            self.destination,
            self.token
        )
    }
}

/// How a string is classified by the field that holds it.
#[derive(Debug, Clone, Copy, Default)]
struct Field {
    hint: FieldHint,
    name: Option<NameKey>,
}

impl Field {
    /// The field of a `child` held by a key with these `facts`, in an object that is `person`-like
    /// and itself held by `parent`.
    fn of(facts: &KeyFacts, person: bool, parent: Field, child: &Value) -> Field {
        // A generic `name` holding a string counts in a person-like object only; holding an
        // object, it makes the object's `first`/`last`/... parts names.
        let name = match facts.name {
            Some(NameKey::Generic) if !person && !child.is_object() => None,
            other => other,
        }
        .or_else(|| (parent.name.is_some() && facts.part).then_some(NameKey::Strong));
        Field {
            hint: facts.hint,
            name,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pass {
    /// Issue tokens for values found by field name, change nothing.
    Register,
    /// Replace values by tokens.
    Replace,
}

impl Tokenizer {
    /// Compile the detectors.
    pub fn new(config: &DetectorConfig) -> Result<Tokenizer, DetectorError> {
        Ok(Tokenizer {
            detector: Detector::new(config)?,
            token: Regex::new(TOKEN).map_err(|error| DetectorError::Pattern(error.to_string()))?,
        })
    }

    /// The detectors.
    pub fn detector(&self) -> &Detector {
        &self.detector
    }

    /// Replace every value found in `text` (detectors, plus values of the vault found by field
    /// name before) by its token, recording `origin`: a tool's value gets its server's token
    /// ([`Origin::Tool`]), the execution's own text a token of the code namespace
    /// ([`Origin::Unattributed`]; see the [`vault`](crate::Vault) module docs).
    pub fn tokenize_text<'a>(
        &self,
        vault: &mut Vault,
        text: &'a str,
        origin: &Origin,
    ) -> Tokenized<'a> {
        self.text_with(vault, text, &Sight::of(origin))
    }

    /// Replace every value in a JSON value by its token: in strings, object keys, and integers
    /// that are wholly a value (a card number as a JSON number becomes a string token); names
    /// and field-identified values by field. Returns the number of values replaced. `origin` as
    /// for [`tokenize_text`](Self::tokenize_text).
    pub fn tokenize_value(&self, vault: &mut Vault, value: &mut Value, origin: &Origin) -> usize {
        self.value_with(vault, value, &Sight::of(origin))
    }

    /// [`tokenize_value`](Self::tokenize_value) for the result of a call to `tool` whose
    /// arguments held `supplied` in clear: those values are left as the code sent them.
    pub fn tokenize_result(
        &self,
        vault: &mut Vault,
        value: &mut Value,
        tool: &ToolRef,
        supplied: &Supplied,
    ) -> usize {
        let origin = Origin::Tool(tool.clone());
        let sight = Sight::Result {
            origin: &origin,
            server: &tool.server,
            supplied: Some(supplied),
        };
        self.value_with(vault, value, &sight)
    }

    /// [`tokenize_result`](Self::tokenize_result) for a text (an error message).
    pub fn tokenize_result_text<'a>(
        &self,
        vault: &mut Vault,
        text: &'a str,
        tool: &ToolRef,
        supplied: &Supplied,
    ) -> Tokenized<'a> {
        let origin = Origin::Tool(tool.clone());
        let sight = Sight::Result {
            origin: &origin,
            server: &tool.server,
            supplied: Some(supplied),
        };
        self.text_with(vault, text, &sight)
    }

    /// A trusted server's result, which the code receives in clear: its values are registered
    /// in the code namespace exactly as a result's would be found (names and numbers by field
    /// included), so the scan of what reaches the model and the audit log find them in free
    /// text later. `value` itself is not changed. Returns how many values were found.
    pub fn register_trusted(&self, vault: &mut Vault, value: &Value, tool: &ToolRef) -> usize {
        let origin = Origin::Tool(tool.clone());
        let mut copy = value.clone();
        self.value_with(vault, &mut copy, &Sight::Trusted(&origin))
    }

    /// [`register_trusted`](Self::register_trusted) for a text.
    pub fn register_trusted_text(&self, vault: &mut Vault, text: &str, tool: &ToolRef) -> usize {
        let origin = Origin::Tool(tool.clone());
        self.text_with(vault, text, &Sight::Trusted(&origin)).count
    }

    /// The values the code put in clear text into a call's `arguments`, as the code sent them
    /// (before tokens are released: a released value is not one the code supplied): every
    /// detector finding, every value found by field, and every literal value of the vault in
    /// them.
    pub fn supplied(&self, vault: &Vault, arguments: &Value) -> Supplied {
        let mut supplied = Supplied::none();
        self.collect_supplied(vault, arguments, Field::default(), &mut supplied);
        supplied
    }

    fn collect_supplied(&self, vault: &Vault, value: &Value, field: Field, out: &mut Supplied) {
        match value {
            Value::String(text) => {
                let normalized = Normalized::new(text);
                let text = normalized.as_str();
                if let Some(kind) = self.field_kind(field, text) {
                    out.add(kind, text.trim(), true);
                }
                self.collect_supplied_text(vault, text, field.hint, out);
            }
            Value::Array(items) => {
                for item in items {
                    self.collect_supplied(vault, item, field, out);
                }
            }
            Value::Object(map) => {
                let facts: Vec<KeyFacts> =
                    map.keys().map(|key| self.detector.key_facts(key)).collect();
                let person = facts.iter().any(|facts| facts.person);
                for ((key, child), facts) in map.iter().zip(&facts) {
                    let child_field = Field::of(facts, person, field, child);
                    self.collect_supplied(vault, child, child_field, out);
                    let key = Normalized::new(key);
                    self.collect_supplied_text(vault, key.as_str(), FieldHint::None, out);
                }
            }
            Value::Number(number) => {
                let text = number.to_string();
                if let Some(kind) = self.detector.field_value(field.hint, &text) {
                    out.add(kind, &text, true);
                }
                self.collect_supplied_text(vault, &text, field.hint, out);
            }
            _ => {}
        }
    }

    fn collect_supplied_text(
        &self,
        vault: &Vault,
        text: &str,
        hint: FieldHint,
        out: &mut Supplied,
    ) {
        for finding in self.detector.find(text, hint) {
            out.add(finding.kind, &text[finding.range], true);
        }
        for (range, index) in vault.literal_matches(text, None) {
            out.add(vault.entry(index).kind(), &text[range], false);
        }
    }

    fn text_with<'a>(&self, vault: &mut Vault, text: &'a str, sight: &Sight<'_>) -> Tokenized<'a> {
        let normalized = Normalized::new(text);
        // JSON in the text (a record an error message quotes) is read by field, as a result is.
        if text.contains('"') && text.contains(['{', '[']) {
            self.register_embedded_json(vault, normalized.as_str(), sight);
        }
        match self.replace_normalized(vault, text, &normalized, FieldHint::None, sight) {
            Some((text, count)) => Tokenized {
                text: Cow::Owned(text),
                count,
            },
            None => Tokenized {
                text: Cow::Borrowed(text),
                count: 0,
            },
        }
    }

    fn value_with(&self, vault: &mut Vault, value: &mut Value, sight: &Sight<'_>) -> usize {
        self.walk(vault, value, sight, Field::default(), Pass::Register);
        self.walk(vault, value, sight, Field::default(), Pass::Replace)
    }

    /// Replace exact tokens of this vault in `value` by their real values, for a call to
    /// `destination`, if `allow(type, origin, destination)` says yes for one of the value's
    /// origins. Tokens in object keys are replaced too. Anything else that looks like a token is
    /// left as it is.
    ///
    /// All or nothing: on the first denied token this returns [`FlowDenied`] and `value` is left
    /// half-replaced (drop it; the call must not be made).
    pub fn untokenize_value(
        &self,
        vault: &Vault,
        value: &mut Value,
        destination: &ToolRef,
        allow: &mut dyn FnMut(PiiType, &Origin, &ToolRef) -> bool,
    ) -> Result<Vec<Release>, FlowDenied> {
        let mut releases = Vec::new();
        self.untokenize_walk(vault, value, destination, allow, &mut releases)?;
        Ok(releases)
    }

    /// [`untokenize_value`](Self::untokenize_value) for one string.
    pub fn untokenize_text<'a>(
        &self,
        vault: &Vault,
        text: &'a str,
        destination: &ToolRef,
        allow: &mut dyn FnMut(PiiType, &Origin, &ToolRef) -> bool,
    ) -> Result<(Cow<'a, str>, Vec<Release>), FlowDenied> {
        let mut releases = Vec::new();
        let text = match self.untokenize_str(vault, text, destination, allow, &mut releases)? {
            Some(replaced) => Cow::Owned(replaced),
            None => Cow::Borrowed(text),
        };
        Ok((text, releases))
    }

    fn walk(
        &self,
        vault: &mut Vault,
        value: &mut Value,
        sight: &Sight<'_>,
        field: Field,
        pass: Pass,
    ) -> usize {
        match value {
            Value::String(text) => {
                let (replacement, count) = {
                    let normalized = Normalized::new(text);
                    if let Some(kind) = self.field_kind(field, normalized.as_str()) {
                        let index = vault.issue(kind, normalized.as_str().trim(), sight, true);
                        match (pass, index) {
                            (Pass::Replace, Some(index)) => {
                                (Some(vault.entry(index).token().to_owned()), 1)
                            }
                            _ => (None, 0),
                        }
                    } else if pass == Pass::Register {
                        self.register_embedded_json(vault, normalized.as_str(), sight);
                        (None, 0)
                    } else {
                        match self.replace_normalized(vault, text, &normalized, field.hint, sight) {
                            Some((replaced, count)) => (Some(replaced), count),
                            None => (None, 0),
                        }
                    }
                };
                if let Some(replacement) = replacement {
                    *text = replacement;
                }
                count
            }
            Value::Array(items) => items
                .iter_mut()
                .map(|item| self.walk(vault, item, sight, field, pass))
                .sum(),
            Value::Object(map) => self.walk_object(vault, map, sight, field, pass),
            Value::Number(number) if pass == Pass::Replace => {
                let text = number.to_string();
                if text.len() < 7 || !text.bytes().all(|byte| byte.is_ascii_digit()) {
                    return 0;
                }
                let findings = self.detector.find(&text, field.hint);
                let whole = match findings.as_slice() {
                    [finding] if finding.range == (0..text.len()) => Some(finding.kind),
                    _ => self.detector.field_value(field.hint, &text),
                };
                match whole {
                    Some(kind) => match vault.issue(kind, &text, sight, false) {
                        Some(index) => {
                            *value = Value::String(vault.entry(index).token().to_owned());
                            1
                        }
                        None => 0,
                    },
                    None => 0,
                }
            }
            _ => 0,
        }
    }

    /// A string that is itself JSON (a `.json` file read as text, a JSON blob in a field), or
    /// that holds JSON after some words (an error message quoting the records it failed on,
    /// `failed to import [{"name": ...}]`): the names and field-identified values of each JSON
    /// object or array in it are registered, so the literal pass replaces them in the text,
    /// whose formatting stays as it was.
    fn register_embedded_json(&self, vault: &mut Vault, text: &str, sight: &Sight<'_>) {
        if text.len() > MAX_EMBEDDED_JSON || !text.contains('"') {
            return;
        }
        let mut from = 0;
        let mut attempts = 0;
        while attempts < MAX_EMBEDDED_ATTEMPTS {
            let Some(offset) = text[from..].find(['{', '[']) else {
                return;
            };
            let start = from + offset;
            attempts += 1;
            let mut values =
                serde_json::Deserializer::from_str(&text[start..]).into_iter::<Value>();
            match values.next() {
                Some(Ok(mut embedded)) if embedded.is_object() || embedded.is_array() => {
                    self.walk(
                        vault,
                        &mut embedded,
                        sight,
                        Field::default(),
                        Pass::Register,
                    );
                    from = start + values.byte_offset().max(1);
                }
                _ => from = start + 1,
            }
        }
    }

    fn walk_object(
        &self,
        vault: &mut Vault,
        map: &mut Map<String, Value>,
        sight: &Sight<'_>,
        field: Field,
        pass: Pass,
    ) -> usize {
        let facts: Vec<KeyFacts> = map.keys().map(|key| self.detector.key_facts(key)).collect();
        let person = facts.iter().any(|facts| facts.person);
        let mut count = 0;
        for (child, facts) in map.values_mut().zip(&facts) {
            let child_field = Field::of(facts, person, field, child);
            count += self.walk(vault, child, sight, child_field, pass);
        }
        if pass == Pass::Replace {
            count += self.tokenize_keys(vault, map, sight);
        }
        count
    }

    /// Object keys can be values too (a map keyed by email). Rebuilds the map only when one is.
    fn tokenize_keys(
        &self,
        vault: &mut Vault,
        map: &mut Map<String, Value>,
        sight: &Sight<'_>,
    ) -> usize {
        let mut renamed: Vec<(usize, String)> = Vec::new();
        let mut count = 0;
        for (index, key) in map.keys().enumerate() {
            if let Some((replaced, found)) = self.replace_in(vault, key, FieldHint::None, sight) {
                renamed.push((index, replaced));
                count += found;
            }
        }
        if renamed.is_empty() {
            return 0;
        }
        let entries = std::mem::take(map);
        let mut renamed = renamed.into_iter().peekable();
        for (index, (key, value)) in entries.into_iter().enumerate() {
            let key = match renamed.peek() {
                Some((at, _)) if *at == index => renamed.next().map(|(_, key)| key).unwrap_or(key),
                _ => key,
            };
            map.insert(key, value);
        }
        count
    }

    /// The type of a whole string that its field identifies: a name in a name field, a phone
    /// number in any format in a phone field, bare digits in an SSN field.
    fn field_kind(&self, field: Field, normalized: &str) -> Option<PiiType> {
        if let Some(key) = field.name
            && self.detector.is_name(key, normalized)
        {
            return Some(PiiType::Name);
        }
        self.detector.field_value(field.hint, normalized)
    }

    fn replace_in(
        &self,
        vault: &mut Vault,
        text: &str,
        hint: FieldHint,
        sight: &Sight<'_>,
    ) -> Option<(String, usize)> {
        let normalized = Normalized::new(text);
        self.replace_normalized(vault, text, &normalized, hint, sight)
    }

    /// Detector findings and literal vault values in the normalized text, replaced in the
    /// original. `None` when there is nothing to replace.
    fn replace_normalized(
        &self,
        vault: &mut Vault,
        original: &str,
        normalized: &Normalized<'_>,
        hint: FieldHint,
        sight: &Sight<'_>,
    ) -> Option<(String, usize)> {
        let text = normalized.as_str();
        enum Source {
            Found(PiiType),
            Known(usize),
        }
        let mut spans: Vec<(Range<usize>, Source)> = self
            .detector
            .find(text, hint)
            .into_iter()
            .map(|finding| (finding.range, Source::Found(finding.kind)))
            .collect();
        let literals = vault.literal_matches(text, Some(sight));
        if !literals.is_empty() {
            for (range, index) in literals {
                let overlaps = spans
                    .iter()
                    .any(|(span, _)| span.start < range.end && range.start < span.end);
                if !overlaps {
                    spans.push((range, Source::Known(index)));
                }
            }
            spans.sort_by_key(|(range, _)| range.start);
        }
        if spans.is_empty() {
            return None;
        }
        let mut output = String::with_capacity(original.len() + spans.len() * 8);
        let mut copied = 0;
        let mut count = 0;
        for (range, source) in spans {
            let original_range = normalized.original_range(range.clone());
            if original_range.start < copied {
                continue;
            }
            let index = match source {
                Source::Found(kind) => vault.issue(kind, &text[range], sight, false),
                Source::Known(index) => {
                    let entry = vault.entry(index);
                    let (kind, value) = (entry.kind(), entry.value().to_owned());
                    vault.issue(kind, &value, sight, true)
                }
            };
            // A value the code supplied stays as the code sent it.
            let Some(index) = index else {
                continue;
            };
            output.push_str(&original[copied..original_range.start]);
            output.push_str(vault.entry(index).token());
            copied = original_range.end;
            count += 1;
        }
        output.push_str(&original[copied..]);
        Some((output, count))
    }

    fn untokenize_walk(
        &self,
        vault: &Vault,
        value: &mut Value,
        destination: &ToolRef,
        allow: &mut dyn FnMut(PiiType, &Origin, &ToolRef) -> bool,
        releases: &mut Vec<Release>,
    ) -> Result<(), FlowDenied> {
        match value {
            Value::String(text) => {
                if let Some(replaced) =
                    self.untokenize_str(vault, text, destination, allow, releases)?
                {
                    *text = replaced;
                }
            }
            Value::Array(items) => {
                for item in items {
                    self.untokenize_walk(vault, item, destination, allow, releases)?;
                }
            }
            Value::Object(map) => {
                for child in map.values_mut() {
                    self.untokenize_walk(vault, child, destination, allow, releases)?;
                }
                let mut renamed = Vec::new();
                for (index, key) in map.keys().enumerate() {
                    if let Some(replaced) =
                        self.untokenize_str(vault, key, destination, allow, releases)?
                    {
                        renamed.push((index, replaced));
                    }
                }
                if !renamed.is_empty() {
                    let entries = std::mem::take(map);
                    let mut renamed = renamed.into_iter().peekable();
                    for (index, (key, child)) in entries.into_iter().enumerate() {
                        let key = match renamed.peek() {
                            Some((at, _)) if *at == index => {
                                renamed.next().map(|(_, key)| key).unwrap_or(key)
                            }
                            _ => key,
                        };
                        map.insert(key, child);
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn untokenize_str(
        &self,
        vault: &Vault,
        text: &str,
        destination: &ToolRef,
        allow: &mut dyn FnMut(PiiType, &Origin, &ToolRef) -> bool,
        releases: &mut Vec<Release>,
    ) -> Result<Option<String>, FlowDenied> {
        if vault.is_empty() || !text.contains('[') {
            return Ok(None);
        }
        let mut output = String::new();
        let mut copied = 0;
        for candidate in self.token.find_iter(text) {
            let Some(entry) = vault.resolve(candidate.as_str()) else {
                continue;
            };
            let Some(origin) = entry
                .origins()
                .iter()
                .find(|origin| allow(entry.kind(), origin, destination))
            else {
                return Err(FlowDenied {
                    kind: entry.kind(),
                    token: entry.token().to_owned(),
                    origins: entry.origins().to_vec(),
                    destination: destination.clone(),
                });
            };
            releases.push(Release {
                kind: entry.kind(),
                token: entry.token().to_owned(),
                origin: origin.clone(),
                destination: destination.clone(),
            });
            output.push_str(&text[copied..candidate.start()]);
            output.push_str(entry.value());
            copied = candidate.end();
        }
        if copied == 0 {
            return Ok(None);
        }
        output.push_str(&text[copied..]);
        Ok(Some(output))
    }
}

#[cfg(test)]
#[path = "tokenize_tests.rs"]
mod tests;
