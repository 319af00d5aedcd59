/*!
The tool policy: which tools of which servers agent code may see and call (`sluice.tools`).

```json
"sluice": { "tools": {
  "*": "ask",
  "everything.*": "readOnly",
  "filesystem.*": "denyDestructive",
  "filesystem.write_file": "allow",
  "github.delete_*": "deny"
} }
```

A key is a pattern: `*` (every tool of every server), `<server>.*` (every tool of a server: its
default), or `<server>.<glob>` where the glob may use `*` (any run of characters) and `?` (one
character). The server is the name in `mcpServers`; the tool is the name in the server's
`tools/list`. A value is one of:

- `allow`, `deny`, `ask`: the tool is callable; absent from the tree, search and calls; or each
  call needs a person's approval.
- `readOnly`: only tools annotated `readOnlyHint: true` are allowed; the others are denied.
- `denyDestructive`: tools annotated `destructiveHint: true` (and not `readOnlyHint: true`) are
  denied; the others are allowed. A tool without annotations is not taken as destructive.

The most specific pattern that matches decides: a pattern naming a server beats `*`; among a
server's patterns, the one with more literal characters wins (an exact name beats any glob, so
`"fs.*": "denyDestructive"` with `"fs.write_file": "allow"` allows that one destructive tool);
between two globs with as many literal characters, the stricter value wins
(`deny` > `ask` > `readOnly` > `denyDestructive` > `allow`). A tool no pattern matches is
allowed: without `sluice.tools`, everything is.

The crate is pure and has no dependencies but `thiserror`: the config parses into it, the
gateway asks it at every snapshot (to leave denied tools out) and at every call (a check takes
tens of nanoseconds, see `benches/decide.rs`).
*/
#![deny(missing_docs)]

use std::collections::HashMap;
use std::fmt;

/// What a pattern says, as written in the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RuleValue {
    /// `allow`.
    Allow,
    /// `deny`.
    Deny,
    /// `ask`.
    Ask,
    /// `readOnly`: allowed when annotated `readOnlyHint`, else denied.
    ReadOnly,
    /// `denyDestructive`: denied when annotated `destructiveHint`, else allowed.
    DenyDestructive,
}

impl RuleValue {
    /// Every value, in the config's spelling.
    pub const ALL: [RuleValue; 5] = [
        RuleValue::Allow,
        RuleValue::Deny,
        RuleValue::Ask,
        RuleValue::ReadOnly,
        RuleValue::DenyDestructive,
    ];

    /// The config's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleValue::Allow => "allow",
            RuleValue::Deny => "deny",
            RuleValue::Ask => "ask",
            RuleValue::ReadOnly => "readOnly",
            RuleValue::DenyDestructive => "denyDestructive",
        }
    }

    /// The value `word` names.
    pub fn parse(word: &str) -> Option<RuleValue> {
        RuleValue::ALL
            .into_iter()
            .find(|value| value.as_str() == word)
    }

    /// Higher is stricter: breaks ties between equally specific globs.
    fn strictness(self) -> u8 {
        match self {
            RuleValue::Deny => 4,
            RuleValue::Ask => 3,
            RuleValue::ReadOnly => 2,
            RuleValue::DenyDestructive => 1,
            RuleValue::Allow => 0,
        }
    }
}

impl fmt::Display for RuleValue {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// What happens to a tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Code may see and call it.
    Allow,
    /// It is left out of the tree and search; calls fail.
    Deny,
    /// Code sees it; each call needs a person's approval.
    Ask,
}

/// The annotations of a tool the policy reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ToolHints {
    /// `annotations.readOnlyHint` is `true`.
    pub read_only: bool,
    /// `annotations.destructiveHint` is `true`.
    pub destructive: bool,
}

/// Why a tool got its action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// No pattern matches: allowed.
    NoRule,
    /// A plain `allow`, `deny` or `ask` pattern.
    Rule,
    /// `readOnly`, and the tool is (allowed) or is not (denied) annotated `readOnlyHint`.
    ReadOnly,
    /// `denyDestructive`, and the tool is (denied) or is not (allowed) annotated
    /// `destructiveHint`.
    Destructive,
}

/// The policy's answer for one tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision<'policy> {
    /// What happens.
    pub action: Action,
    /// The pattern that decided, as written (`None`: no pattern matched).
    pub rule: Option<&'policy Rule>,
    /// Why.
    pub reason: Reason,
}

impl Decision<'_> {
    /// Why, in words for the agent and the audit log: `rule "fs.*": "readOnly" (the tool is not
    /// annotated readOnlyHint)`.
    pub fn describe(&self) -> String {
        let Some(rule) = self.rule else {
            return "no rule in sluice.tools matches".to_owned();
        };
        let because = match (self.reason, self.action) {
            (Reason::ReadOnly, Action::Deny) => " (the tool is not annotated readOnlyHint)",
            (Reason::ReadOnly, _) => " (the tool is annotated readOnlyHint)",
            (Reason::Destructive, Action::Deny) => " (the tool is annotated destructiveHint)",
            (Reason::Destructive, _) => " (the tool is not annotated destructiveHint)",
            _ => "",
        };
        format!(
            "rule \"{}\": \"{}\" in sluice.tools{because}",
            rule.pattern, rule.value
        )
    }
}

/// One pattern and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The key as written in the config.
    pub pattern: String,
    /// The value.
    pub value: RuleValue,
    /// The tool part, compiled (`None`: any tool).
    glob: Option<Glob>,
    /// Literal characters in the tool part (an exact name counts one more than its length, so
    /// that it beats every glob).
    literals: usize,
}

impl Rule {
    fn matches(&self, tool: &str) -> bool {
        self.glob.as_ref().is_none_or(|glob| glob.matches(tool))
    }
}

/// A glob over a tool name: `*` any run of characters, `?` one character.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Glob {
    /// No wildcard: the name itself.
    Exact(String),
    /// With wildcards.
    Pattern(Vec<char>),
}

impl Glob {
    fn new(text: &str) -> Glob {
        if text.contains(['*', '?']) {
            Glob::Pattern(text.chars().collect())
        } else {
            Glob::Exact(text.to_owned())
        }
    }

    fn matches(&self, text: &str) -> bool {
        match self {
            Glob::Exact(name) => name == text,
            Glob::Pattern(pattern) => wildcard_match(pattern, text),
        }
    }
}

/// Iterative wildcard matching with one backtrack point: linear in practice, never exponential.
fn wildcard_match(pattern: &[char], text: &str) -> bool {
    let (mut at_pattern, mut at_text) = (0, 0);
    // Where the last `*` was, and where in the text it started matching.
    let mut star: Option<(usize, usize)> = None;
    while let Some(character) = text[at_text..].chars().next() {
        match pattern.get(at_pattern) {
            Some('*') => {
                star = Some((at_pattern + 1, at_text));
                at_pattern += 1;
            }
            Some(&wanted) if wanted == '?' || wanted == character => {
                at_pattern += 1;
                at_text += character.len_utf8();
            }
            _ => {
                let Some((after_star, started)) = star else {
                    return false;
                };
                let Some(skipped) = text[started..].chars().next() else {
                    return false;
                };
                let next = started + skipped.len_utf8();
                star = Some((after_star, next));
                at_pattern = after_star;
                at_text = next;
            }
        }
    }
    pattern[at_pattern.min(pattern.len())..]
        .iter()
        .all(|&wanted| wanted == '*')
}

/// What is wrong with one entry of `sluice.tools`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The key is not a pattern.
    #[error(
        "\"{pattern}\" is not a tool pattern: write \"*\", \"<server>.*\" or \"<server>.<tool glob>\" (the server as named in mcpServers)"
    )]
    BadPattern {
        /// The key.
        pattern: String,
    },
    /// The key names no configured server.
    #[error(
        "\"{pattern}\" names no server in mcpServers (servers: {servers}); write \"<server>.<tool glob>\""
    )]
    UnknownServer {
        /// The key.
        pattern: String,
        /// The configured servers, for the message.
        servers: String,
    },
    /// The value is not one of the words.
    #[error(
        "\"{value}\" is not a tool policy; use \"allow\", \"deny\", \"ask\", \"readOnly\" or \"denyDestructive\""
    )]
    BadValue {
        /// The key.
        pattern: String,
        /// The value as written.
        value: String,
    },
}

impl PolicyError {
    /// The key the error is about.
    pub fn pattern(&self) -> &str {
        match self {
            PolicyError::BadPattern { pattern }
            | PolicyError::UnknownServer { pattern, .. }
            | PolicyError::BadValue { pattern, .. } => pattern,
        }
    }
}

/// The whole policy, compiled: rules by server, most specific first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolPolicy {
    by_server: HashMap<String, Vec<Rule>>,
    /// The `*` rule.
    everything: Option<Rule>,
}

impl ToolPolicy {
    /// The policy that allows every tool (no `sluice.tools`).
    pub fn allow_all() -> ToolPolicy {
        ToolPolicy::default()
    }

    /// Compile `(pattern, value)` entries. `servers` are the configured server names: a pattern's
    /// server is the longest of them followed by `.` (server names may contain dots).
    pub fn new<'entry>(
        entries: impl IntoIterator<Item = (&'entry str, &'entry str)>,
        servers: &[&str],
    ) -> Result<ToolPolicy, PolicyError> {
        let mut policy = ToolPolicy::default();
        for (pattern, word) in entries {
            let value = RuleValue::parse(word).ok_or_else(|| PolicyError::BadValue {
                pattern: pattern.to_owned(),
                value: word.to_owned(),
            })?;
            if pattern == "*" {
                policy.everything = Some(Rule {
                    pattern: pattern.to_owned(),
                    value,
                    glob: None,
                    literals: 0,
                });
                continue;
            }
            if pattern.is_empty() || pattern.chars().any(char::is_control) {
                return Err(PolicyError::BadPattern {
                    pattern: pattern.to_owned(),
                });
            }
            let server = servers
                .iter()
                .filter(|server| {
                    pattern
                        .strip_prefix(**server)
                        .is_some_and(|rest| rest.starts_with('.'))
                })
                .max_by_key(|server| server.len());
            let Some(server) = server else {
                if !pattern.contains('.') {
                    return Err(PolicyError::BadPattern {
                        pattern: pattern.to_owned(),
                    });
                }
                let mut names: Vec<&str> = servers.to_vec();
                names.sort_unstable();
                return Err(PolicyError::UnknownServer {
                    pattern: pattern.to_owned(),
                    servers: names.join(", "),
                });
            };
            let tool = &pattern[server.len() + 1..];
            if tool.is_empty() {
                return Err(PolicyError::BadPattern {
                    pattern: pattern.to_owned(),
                });
            }
            let (glob, literals) = if tool == "*" {
                (None, 0)
            } else {
                let glob = Glob::new(tool);
                let literals = match &glob {
                    Glob::Exact(name) => name.chars().count() + 1,
                    Glob::Pattern(pattern) => {
                        pattern.iter().filter(|c| !matches!(c, '*' | '?')).count()
                    }
                };
                (Some(glob), literals)
            };
            policy
                .by_server
                .entry((*server).to_owned())
                .or_default()
                .push(Rule {
                    pattern: pattern.to_owned(),
                    value,
                    glob,
                    literals,
                });
        }
        for rules in policy.by_server.values_mut() {
            rules.sort_by(|left, right| {
                right
                    .literals
                    .cmp(&left.literals)
                    .then(right.value.strictness().cmp(&left.value.strictness()))
                    .then(left.pattern.cmp(&right.pattern))
            });
        }
        Ok(policy)
    }

    /// Whether no pattern was given: every tool is allowed.
    pub fn is_empty(&self) -> bool {
        self.by_server.is_empty() && self.everything.is_none()
    }

    /// What happens to `server`'s tool `tool` with these annotations.
    pub fn decide(&self, server: &str, tool: &str, hints: ToolHints) -> Decision<'_> {
        let rule = self
            .by_server
            .get(server)
            .and_then(|rules| rules.iter().find(|rule| rule.matches(tool)))
            .or(self.everything.as_ref());
        let Some(rule) = rule else {
            return Decision {
                action: Action::Allow,
                rule: None,
                reason: Reason::NoRule,
            };
        };
        let (action, reason) = match rule.value {
            RuleValue::Allow => (Action::Allow, Reason::Rule),
            RuleValue::Deny => (Action::Deny, Reason::Rule),
            RuleValue::Ask => (Action::Ask, Reason::Rule),
            RuleValue::ReadOnly if hints.read_only => (Action::Allow, Reason::ReadOnly),
            RuleValue::ReadOnly => (Action::Deny, Reason::ReadOnly),
            RuleValue::DenyDestructive if hints.destructive && !hints.read_only => {
                (Action::Deny, Reason::Destructive)
            }
            RuleValue::DenyDestructive => (Action::Allow, Reason::Destructive),
        };
        Decision {
            action,
            rule: Some(rule),
            reason,
        }
    }
}

#[cfg(test)]
mod tests;
