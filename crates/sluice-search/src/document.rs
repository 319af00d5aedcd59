//! What the index knows of one searchable item (a tool or a saved skill): every text that
//! describes it, by field, and the one text its vector is computed from.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use sluice_catalog::CatalogTool;

/// Parameters read from a schema at most: enough to describe any real tool, bounded for the
/// hostile one.
const MAX_PARAMETERS: usize = 64;
/// Characters of a description that go into the vector's text: the opening sentences carry
/// the purpose; the rest is mostly usage notes. (On the labelled queries 300 and 600 characters
/// rank alike, and 300 embeds twice as fast.)
const EMBEDDING_DESCRIPTION_CHARS: usize = 300;

/// What an item is, and how to find it again.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ItemKey {
    /// A tool of a server, by the server's config key and the tool's MCP name.
    Tool {
        /// The server.
        server: String,
        /// The tool's MCP name.
        name: String,
    },
    /// A saved skill, by name.
    Skill {
        /// The skill's name.
        name: String,
    },
}

impl ItemKey {
    /// The server's name for a tool, `None` for a skill.
    pub fn server(&self) -> Option<&str> {
        match self {
            ItemKey::Tool { server, .. } => Some(server),
            ItemKey::Skill { .. } => None,
        }
    }

    /// The tool's MCP name or the skill's name.
    pub fn name(&self) -> &str {
        match self {
            ItemKey::Tool { name, .. } | ItemKey::Skill { name } => name,
        }
    }
}

/// One searchable item.
#[derive(Debug, Clone)]
pub struct Document {
    /// What it is.
    pub key: ItemKey,
    /// The segment it belongs to: the server's name, or [`SKILLS_GROUP`] for skills.
    pub group: String,
    /// The tool's MCP name or the skill's name.
    pub name: String,
    /// The name in code (a tool's identifier; the skill's name).
    pub identifier: String,
    /// A human title, when there is one.
    pub title: Option<String>,
    /// The description (may be empty).
    pub description: String,
    /// Each parameter's name and description (top-level properties of the input schema).
    pub parameters: Vec<(String, String)>,
    /// Field names of the output schema.
    pub outputs: Vec<String>,
    /// Words for the tool's annotations (`read only`, `destructive`, ...).
    pub hints: Vec<&'static str>,
}

/// What the index keeps of an item once its segment is built: its key, and a skill's
/// description (a tool's is in the catalog). The texts that ranked it live on only in the
/// segment's postings and vectors, so an index does not hold a second copy of the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// What it is.
    pub key: ItemKey,
    /// A skill's description; `None` for a tool.
    pub skill_description: Option<String>,
}

impl Item {
    pub(crate) fn of(document: Document) -> Item {
        let skill_description = match document.key {
            ItemKey::Skill { .. } => Some(document.description),
            ItemKey::Tool { .. } => None,
        };
        Item {
            key: document.key,
            skill_description,
        }
    }

    /// The segment it belongs to: the server's name, or [`SKILLS_GROUP`] for skills.
    pub fn group(&self) -> &str {
        self.key.server().unwrap_or(SKILLS_GROUP)
    }

    /// The tool's MCP name or the skill's name.
    pub fn name(&self) -> &str {
        self.key.name()
    }

    /// The server's name for a tool, `None` for a skill.
    pub fn server(&self) -> Option<&str> {
        self.key.server()
    }
}

/// The group skills are indexed under (no server can be named this: server names never start
/// with a space).
pub const SKILLS_GROUP: &str = " skills";

impl Document {
    /// The document of a catalog tool.
    pub fn from_tool(tool: &CatalogTool) -> Document {
        Document {
            key: ItemKey::Tool {
                server: tool.server.clone(),
                name: tool.name.clone(),
            },
            group: tool.server.clone(),
            name: tool.name.clone(),
            identifier: tool.identifier.clone(),
            title: tool.title.clone(),
            description: tool.description.clone().unwrap_or_default(),
            parameters: parameters(&tool.input_schema.to_map()),
            outputs: tool
                .output_schema
                .as_ref()
                .map(|schema| {
                    parameters(&schema.to_map())
                        .into_iter()
                        .map(|(name, _)| name)
                        .collect()
                })
                .unwrap_or_default(),
            hints: hints(tool.annotations.as_ref()),
        }
    }

    /// The document of a saved skill.
    pub fn skill(name: &str, description: &str) -> Document {
        Document {
            key: ItemKey::Skill {
                name: name.to_owned(),
            },
            group: SKILLS_GROUP.to_owned(),
            name: name.to_owned(),
            identifier: name.to_owned(),
            title: None,
            description: description.to_owned(),
            parameters: Vec::new(),
            outputs: Vec::new(),
            hints: Vec::new(),
        }
    }

    /// The server's name for a tool, `None` for a skill.
    pub fn server(&self) -> Option<&str> {
        self.key.server()
    }

    /// The text the item's vector is computed from: name and server in words, title, the
    /// opening of the description and the parameter names.
    pub fn embedding_text(&self) -> String {
        let mut text = crate::text::split_words(&self.name).join(" ");
        if let Some(server) = self.server() {
            text.push_str(" (");
            text.push_str(&crate::text::split_words(server).join(" "));
            text.push(')');
        }
        text.push_str(": ");
        if let Some(title) = &self.title {
            text.push_str(title);
            text.push_str(". ");
        }
        let description: String = self
            .description
            .chars()
            .take(EMBEDDING_DESCRIPTION_CHARS)
            .collect();
        text.push_str(description.trim());
        if !self.parameters.is_empty() {
            text.push_str(" Parameters: ");
            let names: Vec<String> = self
                .parameters
                .iter()
                .map(|(name, _)| crate::text::split_words(name).join(" "))
                .collect();
            text.push_str(&names.join(", "));
            text.push('.');
        }
        text
    }

    /// A hash of everything indexed about the item: equal hashes, equal index entries.
    pub(crate) fn content_hash(&self, hasher: &mut Sha256) {
        let mut field = |text: &str| {
            hasher.update((text.len() as u64).to_le_bytes());
            hasher.update(text.as_bytes());
        };
        field(&self.group);
        field(&self.name);
        field(&self.identifier);
        field(self.title.as_deref().unwrap_or(""));
        field(&self.description);
        for (name, description) in &self.parameters {
            field(name);
            field(description);
        }
        for output in &self.outputs {
            field(output);
        }
        for hint in &self.hints {
            field(hint);
        }
    }
}

/// A catalog's tools as documents, grouped by server (the segments of a [`crate::SearchIndex`]).
pub fn catalog_documents(
    catalog: &sluice_catalog::Catalog,
) -> std::collections::BTreeMap<String, Vec<Document>> {
    catalog
        .server_names()
        .map(|server| (server.to_owned(), server_documents(catalog, server)))
        .collect()
}

/// The documents of one server's tools (none for an unknown server).
pub fn server_documents(catalog: &sluice_catalog::Catalog, server: &str) -> Vec<Document> {
    catalog
        .server_tools(server)
        .unwrap_or_default()
        .iter()
        .map(Document::from_tool)
        .collect()
}

/// The SHA-256 of a text: the key of its vector in the cache.
pub fn text_key(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

fn parameters(schema: &Map<String, Value>) -> Vec<(String, String)> {
    let Some(Value::Object(properties)) = schema.get("properties") else {
        return Vec::new();
    };
    properties
        .iter()
        .take(MAX_PARAMETERS)
        .map(|(name, property)| {
            let description = property
                .get("description")
                .or_else(|| property.get("title"))
                .and_then(Value::as_str)
                .unwrap_or("");
            (name.clone(), description.to_owned())
        })
        .collect()
}

fn hints(annotations: Option<&Value>) -> Vec<&'static str> {
    let flag = |name: &str| {
        annotations
            .and_then(|annotations| annotations.get(name))
            .and_then(Value::as_bool)
    };
    let mut hints = Vec::new();
    if flag("readOnlyHint") == Some(true) {
        hints.push("read only");
    }
    if flag("destructiveHint") == Some(true) && flag("readOnlyHint") != Some(true) {
        hints.push("destructive");
    }
    hints
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use sluice_catalog::{Catalog, ServerTools};

    fn time_tool() -> CatalogTool {
        let catalog = Catalog::build(vec![ServerTools::from_values(
            "mcp-server-time",
            vec![json!({
                "name": "get_current_time",
                "description": "Get current time in a specific timezone",
                "inputSchema": {"type": "object", "properties": {
                    "timezone": {"type": "string", "description": "IANA timezone name"}}},
                "annotations": {"readOnlyHint": true}
            })],
        )]);
        catalog.tools().next().unwrap().clone()
    }

    #[test]
    fn a_tool_document_has_every_field() {
        let document = Document::from_tool(&time_tool());
        assert_eq!(document.identifier, "getCurrentTime");
        assert_eq!(
            document.parameters,
            [("timezone".to_owned(), "IANA timezone name".to_owned())]
        );
        assert_eq!(document.hints, ["read only"]);
        assert_eq!(
            document.embedding_text(),
            "get current time (mcp server time): Get current time in a specific timezone \
             Parameters: timezone."
        );
    }

    #[test]
    fn the_content_hash_changes_with_any_field() {
        let hash = |document: &Document| {
            let mut hasher = Sha256::new();
            document.content_hash(&mut hasher);
            hasher.finalize()
        };
        let document = Document::from_tool(&time_tool());
        let mut changed = document.clone();
        changed.parameters[0].1.push('!');
        assert_ne!(hash(&document), hash(&changed));
        assert_eq!(hash(&document), hash(&document.clone()));
    }
}
