/*!
The catalog of downstream tools: what every connected server offers, under the names agent code uses.

This crate is pure: it does no IO, spawns nothing and reads no clock. The gateway feeds it the
`tools/list` answers it received (as JSON values, so this crate does not depend on any MCP SDK) and
gets back a [`Catalog`] with, for every tool:

- the server it belongs to (the config key) and its original MCP name, which is what goes back over
  the wire;
- a code identifier in lowerCamelCase that is a valid TypeScript identifier, never a reserved word,
  and unique inside its server ([`identifier`]);
- its title, description, input and output schemas and annotations, with broken input schemas
  repaired ([`schema`]) and a warning recorded for each repair.

[`Detail`] says how much a search hit shows; ranking lives in `sluice-search`.

```
use sluice_catalog::{Catalog, ServerTools};
use serde_json::json;

let catalog = Catalog::build(vec![ServerTools::from_values(
    "server-everything",
    vec![json!({"name": "get-sum", "inputSchema": {"type": "object"}})],
)]);
let tool = catalog.tool("server-everything", "get-sum").unwrap();
assert_eq!(tool.identifier, "getSum");
```
*/
#![deny(missing_docs)]

pub mod identifier;
mod json;
pub mod schema;
pub mod search;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use serde_json::{Map, Value};

pub use identifier::{assign_identifiers, to_identifier};
pub use json::JsonObject;
pub use search::Detail;

/// One tool of one server, as agent code sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CatalogTool {
    /// The server's config key (also its folder in the generated tree).
    pub server: String,
    /// The tool's original MCP name: what `tools/call` sends.
    pub name: String,
    /// The lowerCamelCase identifier used for the file and the function.
    pub identifier: String,
    /// Human-readable title, from `title` or `annotations.title`.
    pub title: Option<String>,
    /// The tool's description, as the server sent it.
    pub description: Option<String>,
    /// The input schema after repair; always an object schema.
    pub input_schema: JsonObject,
    /// The output schema, when the server declared one.
    pub output_schema: Option<JsonObject>,
    /// The tool's annotations (hints), passed through untouched.
    pub annotations: Option<Value>,
    /// What was repaired or dropped while reading this tool's definition.
    pub warnings: Vec<String>,
    /// Properties the schema marks required but gives a `default`: not required of the code
    /// (dropped from `input_schema.required`), and filled in with the default when a call leaves
    /// them out, so the server gets what its schema asks for.
    pub defaults: Map<String, Value>,
}

impl CatalogTool {
    /// The definition as `tools/list` shows it to a client (name, title, description, schemas,
    /// annotations), from what the catalog kept: the repaired input schema, and a title taken
    /// from the annotations shown in both places.
    pub fn definition(&self) -> Value {
        let mut object = Map::new();
        object.insert("name".to_owned(), Value::String(self.name.clone()));
        let mut text = |key: &str, value: &Option<String>| {
            if let Some(value) = value {
                object.insert(key.to_owned(), Value::String(value.clone()));
            }
        };
        text("title", &self.title);
        text("description", &self.description);
        object.insert("inputSchema".to_owned(), self.input_schema.to_value());
        if let Some(schema) = &self.output_schema {
            object.insert("outputSchema".to_owned(), schema.to_value());
        }
        if let Some(annotations) = &self.annotations {
            object.insert("annotations".to_owned(), annotations.clone());
        }
        Value::Object(object)
    }

    /// The first sentence or line of the description, for one-line summaries.
    pub fn summary(&self) -> String {
        let text = self
            .description
            .as_deref()
            .or(self.title.as_deref())
            .unwrap_or("");
        one_line_summary(text)
    }
}

/// Cut a description down to its first line or sentence, at most 160 characters.
pub fn one_line_summary(text: &str) -> String {
    const MAX_CHARS: usize = 160;
    let first_line = text.trim().lines().next().unwrap_or("").trim();
    let sentence_end = first_line
        .char_indices()
        .find(|&(index, character)| {
            character == '.'
                && first_line[index + 1..].starts_with(|next: char| next.is_whitespace())
        })
        .map(|(index, _)| index + 1);
    let sentence = match sentence_end {
        Some(end) => &first_line[..end],
        None => first_line,
    };
    if sentence.chars().count() <= MAX_CHARS {
        return sentence.to_owned();
    }
    let mut cut: String = sentence.chars().take(MAX_CHARS - 1).collect();
    cut.push('…');
    cut
}

/// The raw `tools/list` answer of one server, before it becomes part of a catalog.
#[derive(Debug, Clone, Default)]
pub struct ServerTools {
    /// The server's config key.
    pub server: String,
    /// Each tool definition as the server sent it (a JSON object per tool).
    pub tools: Vec<Value>,
}

impl ServerTools {
    /// Wrap one server's tool definitions.
    pub fn from_values(server: impl Into<String>, tools: Vec<Value>) -> Self {
        Self {
            server: server.into(),
            tools,
        }
    }
}

/// Every tool of every connected server.
///
/// Invariant: inside one server, identifiers are unique and tools are ordered by identifier;
/// servers are ordered by name. The order does not depend on the order the servers answered in,
/// so the generated tree and search results are deterministic.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    servers: BTreeMap<String, Arc<ServerCatalog>>,
}

/// One server's part of a catalog: shared between catalogs, so that a catalog rebuilt because
/// another server changed reuses this one as it is ([`Catalog::from_parts`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServerCatalog {
    /// The tools, ordered by identifier, identifiers unique.
    tools: Vec<CatalogTool>,
    /// Positions in `tools`, ordered by the tools' MCP names: a call names its tool, and a
    /// lookup by name is on every call's path.
    by_name: Vec<usize>,
    /// Definitions that could not be used at all (no name), with the reason.
    rejected: Vec<RejectedTool>,
}

impl ServerCatalog {
    /// Read one server's `tools/list` answer.
    ///
    /// A definition without a usable `name` is rejected (and reported by
    /// [`ServerCatalog::rejected`]); a broken schema is repaired and the repair recorded in the
    /// tool's warnings. Duplicate names keep the first definition.
    pub fn parse(server: &str, tools: impl IntoIterator<Item = Value>) -> ServerCatalog {
        let mut part = ServerCatalog::default();
        for value in tools {
            match parse_tool(server, value) {
                Ok(tool) => {
                    if part.tools.iter().any(|existing| existing.name == tool.name) {
                        part.rejected.push(RejectedTool {
                            server: server.to_owned(),
                            reason: format!("duplicate tool name `{}` ignored", tool.name),
                        });
                    } else {
                        part.tools.push(tool);
                    }
                }
                Err(reason) => part.rejected.push(RejectedTool {
                    server: server.to_owned(),
                    reason,
                }),
            }
        }
        let names: Vec<&str> = part.tools.iter().map(|tool| tool.name.as_str()).collect();
        let identifiers = assign_identifiers(&names);
        for (tool, identifier) in part.tools.iter_mut().zip(identifiers) {
            tool.identifier = identifier;
        }
        part.tools
            .sort_by(|left, right| left.identifier.cmp(&right.identifier));
        ServerCatalog::of(part.tools, part.rejected)
    }

    /// A part of these tools (ordered by identifier, identifiers unique), with its name index.
    fn of(mut tools: Vec<CatalogTool>, rejected: Vec<RejectedTool>) -> ServerCatalog {
        // Held for the server's life: no room to grow.
        tools.shrink_to_fit();
        let mut by_name: Vec<usize> = (0..tools.len()).collect();
        by_name.sort_by(|&left, &right| tools[left].name.cmp(&tools[right].name));
        ServerCatalog {
            tools,
            by_name,
            rejected,
        }
    }

    /// The tool with this MCP name.
    pub fn tool(&self, name: &str) -> Option<&CatalogTool> {
        let found = self
            .by_name
            .binary_search_by(|&position| self.tools[position].name.as_str().cmp(name))
            .ok()?;
        self.tools.get(self.by_name[found])
    }

    /// The tools, ordered by identifier.
    pub fn tools(&self) -> &[CatalogTool] {
        &self.tools
    }

    /// Definitions that were dropped.
    pub fn rejected(&self) -> &[RejectedTool] {
        &self.rejected
    }

    /// This part with only the tools `keep` accepts (identifiers unchanged): what a tool policy
    /// leaves of it.
    pub fn filtered(&self, mut keep: impl FnMut(&CatalogTool) -> bool) -> ServerCatalog {
        let tools = self
            .tools
            .iter()
            .filter(|tool| keep(tool))
            .cloned()
            .collect();
        ServerCatalog::of(tools, self.rejected.clone())
    }
}

/// A tool definition that was dropped, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RejectedTool {
    /// The server that sent it.
    pub server: String,
    /// Why it could not be used.
    pub reason: String,
}

impl Catalog {
    /// Build a catalog from the `tools/list` answers of each server (see
    /// [`ServerCatalog::parse`]).
    pub fn build(servers: Vec<ServerTools>) -> Self {
        Catalog::from_parts(servers.into_iter().map(|ServerTools { server, tools }| {
            let part = Arc::new(ServerCatalog::parse(&server, tools));
            (server, part)
        }))
    }

    /// A catalog of servers' parts, some perhaps taken from an earlier catalog
    /// ([`Catalog::part`]).
    pub fn from_parts(parts: impl IntoIterator<Item = (String, Arc<ServerCatalog>)>) -> Self {
        Catalog {
            servers: parts.into_iter().collect(),
        }
    }

    /// One server's part, to share with a catalog built later.
    pub fn part(&self, server: &str) -> Option<&Arc<ServerCatalog>> {
        self.servers.get(server)
    }

    /// Server names, in order.
    pub fn server_names(&self) -> impl Iterator<Item = &str> {
        self.servers.keys().map(String::as_str)
    }

    /// The tools of one server, ordered by identifier; `None` for an unknown server.
    pub fn server_tools(&self, server: &str) -> Option<&[CatalogTool]> {
        self.servers.get(server).map(|part| part.tools.as_slice())
    }

    /// Every tool, servers in order, tools in order.
    pub fn tools(&self) -> impl Iterator<Item = &CatalogTool> {
        self.servers.values().flat_map(|part| part.tools.iter())
    }

    /// How many tools the catalog holds.
    pub fn len(&self) -> usize {
        self.servers.values().map(|part| part.tools.len()).sum()
    }

    /// True when no server offers any tool.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Look a tool up by server and original MCP name.
    pub fn tool(&self, server: &str, name: &str) -> Option<&CatalogTool> {
        self.servers.get(server)?.tool(name)
    }

    /// Look a tool up by server and code identifier.
    pub fn tool_by_identifier(&self, server: &str, identifier: &str) -> Option<&CatalogTool> {
        self.server_tools(server)?
            .iter()
            .find(|tool| tool.identifier == identifier)
    }

    /// Definitions that were dropped while building, servers in order.
    pub fn rejected(&self) -> impl Iterator<Item = &RejectedTool> {
        self.servers.values().flat_map(|part| part.rejected.iter())
    }
}

fn parse_tool(server: &str, value: Value) -> Result<CatalogTool, String> {
    let Value::Object(mut object) = value else {
        return Err("tool definition is not a JSON object".to_owned());
    };
    let name = match object.remove("name") {
        Some(Value::String(name)) if !name.trim().is_empty() => name,
        Some(Value::String(_)) => return Err("tool definition has an empty `name`".to_owned()),
        Some(_) => return Err("tool definition has a non-string `name`".to_owned()),
        None => return Err("tool definition has no `name`".to_owned()),
    };
    let string_field = |object: &mut Map<String, Value>, key: &str| match object.remove(key) {
        Some(Value::String(text)) if !text.trim().is_empty() => Some(text),
        _ => None,
    };
    let description = string_field(&mut object, "description");
    let annotations = object.remove("annotations").filter(Value::is_object);
    let title = string_field(&mut object, "title").or_else(|| {
        annotations
            .as_ref()
            .and_then(|annotations| annotations.get("title"))
            .and_then(Value::as_str)
            .filter(|title| !title.trim().is_empty())
            .map(str::to_owned)
    });
    let mut warnings = Vec::new();
    let mut input_schema = schema::repair_input_schema(object.remove("inputSchema"), &mut warnings);
    let defaults = schema::take_required_defaults(&mut input_schema);
    let output_schema = match object.remove("outputSchema") {
        Some(Value::Object(schema)) => Some(JsonObject::new(schema)),
        Some(Value::Null) | None => None,
        Some(_) => {
            warnings.push("`outputSchema` is not an object; ignored".to_owned());
            None
        }
    };
    Ok(CatalogTool {
        server: server.to_owned(),
        name,
        identifier: String::new(),
        title,
        description,
        input_schema: JsonObject::new(input_schema),
        output_schema,
        annotations,
        warnings,
        defaults,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_every_tool_by_its_name_whatever_the_identifier_order() {
        // Names sort differently from identifiers (`Zeta` < `alpha` as bytes, `get_b` is
        // `getB`, `a-z` is `aZ`).
        let names = ["get_b", "Zeta", "alpha", "a-z", "beta"];
        let tools = names
            .iter()
            .map(|name| json!({"name": name, "inputSchema": {"type": "object"}}))
            .collect();
        let catalog = Catalog::build(vec![ServerTools::from_values("s", tools)]);
        for name in names {
            assert_eq!(
                catalog.tool("s", name).map(|tool| tool.name.as_str()),
                Some(name)
            );
        }
        assert!(catalog.tool("s", "gamma").is_none());
        assert!(catalog.tool("other", "alpha").is_none());
        let part = catalog
            .part("s")
            .unwrap()
            .filtered(|tool| tool.name != "alpha");
        assert!(part.tool("alpha").is_none());
        assert_eq!(
            part.tool("Zeta").map(|tool| tool.name.as_str()),
            Some("Zeta")
        );
    }

    #[test]
    fn builds_sorted_catalog_with_identifiers() {
        let catalog = Catalog::build(vec![
            ServerTools::from_values(
                "b-server",
                vec![json!({"name": "zeta", "inputSchema": {"type": "object"}})],
            ),
            ServerTools::from_values(
                "a-server",
                vec![
                    json!({"name": "get-sum", "inputSchema": {"type": "object"}}),
                    json!({"name": "echo", "description": "Echo it. More text.", "inputSchema": {"type": "object"}}),
                    json!({"description": "nameless"}),
                    json!({"name": "echo", "inputSchema": {"type": "object"}}),
                ],
            ),
        ]);
        let names: Vec<_> = catalog.server_names().collect();
        assert_eq!(names, ["a-server", "b-server"]);
        let identifiers: Vec<_> = catalog
            .server_tools("a-server")
            .unwrap()
            .iter()
            .map(|t| t.identifier.as_str())
            .collect();
        assert_eq!(identifiers, ["echo", "getSum"]);
        assert_eq!(catalog.rejected().count(), 2);
        assert_eq!(
            catalog.tool("a-server", "echo").unwrap().summary(),
            "Echo it."
        );
        assert_eq!(catalog.len(), 3);
    }

    #[test]
    fn a_catalog_rebuilt_from_parts_shares_the_unchanged_servers() {
        let tool = |name: &str| json!({"name": name, "inputSchema": {"type": "object"}});
        let first = Catalog::build(vec![
            ServerTools::from_values("a", vec![tool("one"), tool("two")]),
            ServerTools::from_values("b", vec![tool("three")]),
        ]);
        let changed = Arc::new(ServerCatalog::parse("b", vec![tool("four"), json!({})]));
        let second = Catalog::from_parts([
            ("a".to_owned(), Arc::clone(first.part("a").unwrap())),
            ("b".to_owned(), changed),
        ]);
        assert!(Arc::ptr_eq(
            first.part("a").unwrap(),
            second.part("a").unwrap()
        ));
        assert_eq!(second.len(), 3);
        assert!(second.tool("b", "four").is_some());
        assert!(second.tool("b", "three").is_none());
        assert_eq!(second.rejected().count(), 1);
        assert_eq!(second.part("b").unwrap().tools().len(), 1);
    }

    #[test]
    fn summary_is_bounded() {
        let long = "word ".repeat(100);
        assert!(one_line_summary(&long).chars().count() <= 160);
        assert_eq!(one_line_summary("v1.2 is out\nsecond line"), "v1.2 is out");
    }

    #[test]
    fn title_falls_back_to_annotations() {
        let catalog = Catalog::build(vec![ServerTools::from_values(
            "s",
            vec![json!({"name": "t", "annotations": {"title": "Nice"}, "inputSchema": {}})],
        )]);
        assert_eq!(
            catalog.tool("s", "t").unwrap().title.as_deref(),
            Some("Nice")
        );
    }
}
