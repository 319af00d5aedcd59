//! Which flows of personal data from one tool to another are allowed.

use std::fmt;

use crate::vault::{Origin, ToolRef};
use crate::{PiiType, TypeSet};

/// One end of a flow rule: `"*"`, `"server"` (any of its tools) or `"server.tool"`.
///
/// Matching compares the whole text with `server` and with `server.tool`, so server and tool
/// names that contain dots need no escaping.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoint(String);

impl Endpoint {
    /// An endpoint from its configured text.
    pub fn new(pattern: impl Into<String>) -> Endpoint {
        Endpoint(pattern.into())
    }

    /// Any server and tool.
    pub fn any() -> Endpoint {
        Endpoint("*".to_owned())
    }

    /// Whether it matches this tool.
    pub fn matches(&self, tool: &ToolRef) -> bool {
        let pattern = self.0.as_str();
        if pattern == "*" || pattern == tool.server {
            return true;
        }
        pattern
            .strip_prefix(tool.server.as_str())
            .and_then(|rest| rest.strip_prefix('.'))
            .is_some_and(|rest| rest == tool.tool)
    }

    /// Whether it matches an origin; [`Origin::Unattributed`] matches only `"*"`.
    pub fn matches_origin(&self, origin: &Origin) -> bool {
        match origin {
            Origin::Tool(tool) => self.matches(tool),
            Origin::Unattributed => self.0 == "*",
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `{types?, from, to, allow}`: when a value of one of `types` (every type when `None`) seen at
/// `from` is about to be sent to `to`, allow or deny it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowRule {
    /// The types it applies to; `None` for every type.
    pub types: Option<TypeSet>,
    /// Where the value was seen.
    pub from: Endpoint,
    /// Where it is going.
    pub to: Endpoint,
    /// Allow (true) or deny (false).
    pub allow: bool,
}

impl FlowRule {
    fn matches(&self, kind: PiiType, origin: &Origin, destination: &ToolRef) -> bool {
        self.types.is_none_or(|types| types.contains(kind))
            && self.from.matches_origin(origin)
            && self.to.matches(destination)
    }
}

/// Ordered flow rules; the first that matches decides, else the default: a value may go back to
/// the server it came from (any of its tools) and nowhere else.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    rules: Vec<FlowRule>,
}

impl Policy {
    /// A policy with these rules, in order, before the default.
    pub fn new(rules: Vec<FlowRule>) -> Policy {
        Policy { rules }
    }

    /// The rules.
    pub fn rules(&self) -> &[FlowRule] {
        &self.rules
    }

    /// Whether a value of `kind` seen at `origin` may be sent to `destination`.
    pub fn allows(&self, kind: PiiType, origin: &Origin, destination: &ToolRef) -> bool {
        if let Some(rule) = self
            .rules
            .iter()
            .find(|rule| rule.matches(kind, origin, destination))
        {
            return rule.allow;
        }
        matches!(origin, Origin::Tool(source) if source.server == destination.server)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tool(server: &str, tool: &str) -> ToolRef {
        ToolRef::new(server, tool)
    }

    fn from(server: &str, name: &str) -> Origin {
        Origin::Tool(tool(server, name))
    }

    #[test]
    fn default_is_back_to_the_same_server_only() {
        let policy = Policy::default();
        let crm = from("crm", "query");
        assert!(policy.allows(PiiType::Email, &crm, &tool("crm", "updateRecord")));
        assert!(!policy.allows(PiiType::Email, &crm, &tool("chat", "sendMessage")));
        assert!(!policy.allows(PiiType::Email, &Origin::Unattributed, &tool("crm", "query")));
    }

    #[test]
    fn first_matching_rule_decides() {
        let policy = Policy::new(vec![
            FlowRule {
                types: Some([PiiType::Phone].into_iter().collect()),
                from: Endpoint::new("documents"),
                to: Endpoint::new("crm.createRecord"),
                allow: false,
            },
            FlowRule {
                types: None,
                from: Endpoint::new("documents.getSheet"),
                to: Endpoint::new("crm"),
                allow: true,
            },
            FlowRule {
                types: None,
                from: Endpoint::new("crm"),
                to: Endpoint::new("crm.deleteRecord"),
                allow: false,
            },
        ]);
        let sheet = from("documents", "getSheet");
        let create = tool("crm", "createRecord");
        assert!(policy.allows(PiiType::Email, &sheet, &create));
        assert!(!policy.allows(PiiType::Phone, &sheet, &create));
        assert!(!policy.allows(PiiType::Email, &from("documents", "getDocument"), &create));
        assert!(!policy.allows(
            PiiType::Email,
            &from("crm", "query"),
            &tool("crm", "deleteRecord")
        ));
        assert!(policy.allows(
            PiiType::Email,
            &from("crm", "query"),
            &tool("crm", "updateRecord")
        ));
    }

    #[test]
    fn endpoints_with_dots_and_wildcards() {
        let endpoint = Endpoint::new("my.server.get.thing");
        assert!(endpoint.matches(&tool("my.server", "get.thing")));
        assert!(!endpoint.matches(&tool("my.server", "get")));
        assert!(Endpoint::new("my.server").matches(&tool("my.server", "x")));
        assert!(!Endpoint::new("my").matches(&tool("my.server", "x")));
        assert!(Endpoint::any().matches_origin(&Origin::Unattributed));
        assert!(!Endpoint::new("crm").matches_origin(&Origin::Unattributed));
    }
}
