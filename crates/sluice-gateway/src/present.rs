//! What the agent reads: search results and file listings, as compact text (and as JSON for the
//! CLI's `--json`). One place formats them so the MCP tools and the CLI say the same thing.

use serde::Serialize;
use sluice_catalog::Detail;

use crate::Snapshot;
use crate::skills::SkillEntry;

/// Default and largest number of search hits.
pub const DEFAULT_SEARCH_LIMIT: usize = 10;
/// Largest number of hits one search returns.
pub const MAX_SEARCH_LIMIT: usize = 100;

/// A search as the agent or the CLI asks for it.
#[derive(Debug, Clone)]
pub struct SearchRequest {
    /// Free text; empty lists tools.
    pub query: String,
    /// How much to show per hit.
    pub detail: Detail,
    /// Only this server's tools.
    pub server: Option<String>,
    /// At most this many hits (capped at [`MAX_SEARCH_LIMIT`]).
    pub limit: usize,
}

/// One search hit.
#[derive(Debug, Clone, Serialize)]
pub struct SearchEntry {
    /// Server config key.
    pub server: String,
    /// Original MCP name.
    pub name: String,
    /// Function name in code.
    pub identifier: String,
    /// File in the generated tree.
    pub path: String,
    /// One-line description (detail `summary` and `full`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// Typed signature (detail `full`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

/// An unavailable server, as search results and listings mention it.
#[derive(Debug, Clone, Serialize)]
pub struct Unavailable {
    /// Server config key.
    pub server: String,
    /// Why, and whether it is being retried.
    pub reason: String,
}

/// The answer to a search.
#[derive(Debug, Clone, Serialize)]
pub struct SearchResponse {
    /// Ranked hits.
    pub tools: Vec<SearchEntry>,
    /// Saved skills that match (see [`Gateway::search`](crate::Gateway::search)).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skills: Vec<SkillEntry>,
    /// Servers whose tools are missing from the catalog right now.
    pub unavailable: Vec<Unavailable>,
}

/// Why a search could not run.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// The server filter names no configured server.
    #[error("no server named \"{server}\"; servers: {known}")]
    UnknownServer {
        /// What was asked.
        server: String,
        /// What exists.
        known: String,
    },
}

impl Snapshot {
    /// Rank tools for a request.
    pub fn search(
        &self,
        request: &SearchRequest,
        encoder: Option<&sluice_embed::Encoder>,
    ) -> Result<SearchResponse, SearchError> {
        if let Some(server) = &request.server
            && !self.statuses.iter().any(|status| &status.name == server)
        {
            let known: Vec<&str> = self
                .statuses
                .iter()
                .map(|status| status.name.as_str())
                .collect();
            return Err(SearchError::UnknownServer {
                server: server.clone(),
                known: known.join(", "),
            });
        }
        let query = sluice_search::Query {
            text: request.query.clone(),
            group: request.server.clone(),
            limit: request.limit.clamp(1, MAX_SEARCH_LIMIT),
            ..sluice_search::Query::default()
        };
        let ranking = self.search.search(&query, encoder);
        let tools = ranking
            .hits
            .iter()
            .filter_map(|hit| match &hit.document.key {
                sluice_search::ItemKey::Tool { server, name } => self.catalog.tool(server, name),
                sluice_search::ItemKey::Skill { .. } => None,
            })
            .map(|tool| SearchEntry {
                server: tool.server.clone(),
                name: tool.name.clone(),
                identifier: tool.identifier.clone(),
                path: format!("servers/{}/{}.ts", tool.server, tool.identifier),
                summary: (request.detail != Detail::Name).then(|| tool.summary()),
                signature: (request.detail == Detail::Full)
                    .then(|| sluice_codegen::tool_signature(tool)),
            })
            .collect();
        let unavailable = self
            .unavailable()
            .filter(|status| {
                request
                    .server
                    .as_ref()
                    .is_none_or(|server| server == &status.name)
            })
            .map(|status| Unavailable {
                server: status.name.clone(),
                reason: status.state.describe(),
            })
            .collect();
        Ok(SearchResponse {
            tools,
            skills: Vec::new(),
            unavailable,
        })
    }
}

impl SearchResponse {
    /// Compact text for the model's context.
    pub fn to_text(&self, request: &SearchRequest) -> String {
        let mut text = String::new();
        if self.tools.is_empty() && self.skills.is_empty() {
            text.push_str(&format!(
                "No tools match \"{}\". Try other words, or list_files(\"servers\") to browse.\n",
                request.query
            ));
        }
        for entry in &self.tools {
            match request.detail {
                Detail::Name => text.push_str(&format!("{}.{}\n", entry.server, entry.identifier)),
                Detail::Summary => text.push_str(&format!(
                    "{}.{}: {}\n",
                    entry.server,
                    entry.identifier,
                    entry.summary.as_deref().unwrap_or("")
                )),
                Detail::Full => {
                    text.push_str(&format!("// {}\n", entry.path));
                    text.push_str(entry.signature.as_deref().unwrap_or(""));
                    if !text.ends_with('\n') {
                        text.push('\n');
                    }
                    text.push('\n');
                }
            }
        }
        if request.detail != Detail::Full && !self.tools.is_empty() {
            text.push_str("Import: import * as x from \"./servers/<server>\"; then await x.<function>({...}).\n");
        }
        for skill in &self.skills {
            if skill.description.is_empty() {
                text.push_str(&format!("skill {}\n", skill.name));
            } else {
                text.push_str(&format!("skill {}: {}\n", skill.name, skill.description));
            }
        }
        if !self.skills.is_empty() {
            text.push_str(
                "Skills: read_file(\"skills/<name>/SKILL.md\"), then import { ... } from \"./skills/<name>\".\n",
            );
        }
        append_unavailable(&mut text, &self.unavailable);
        text
    }
}

fn append_unavailable(text: &mut String, unavailable: &[Unavailable]) {
    for server in unavailable {
        text.push_str(&format!(
            "Unavailable server {}: {}\n",
            server.server, server.reason
        ));
    }
}

/// A folder's entries.
#[derive(Debug, Clone, Serialize)]
pub struct FileListing {
    /// The folder, normalized.
    pub path: String,
    /// Files, then sub-folders with a trailing `/`.
    pub entries: Vec<String>,
    /// Servers that are configured but missing from `servers/`.
    pub unavailable: Vec<Unavailable>,
}

impl FileListing {
    /// One entry per line, then a line per unavailable server.
    pub fn to_text(&self) -> String {
        let mut text = self.entries.join("\n");
        text.push('\n');
        append_unavailable(&mut text, &self.unavailable);
        text
    }
}

/// Why a file or folder could not be shown.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// Nothing at that path.
    #[error("no file or folder \"{path}\"; call list_files on a parent folder to see what exists")]
    NotFound {
        /// The path asked for.
        path: String,
    },
    /// The path is a folder, not a file.
    #[error("\"{path}\" is a folder; call list_files(\"{path}\") to see its files")]
    IsFolder {
        /// The path asked for.
        path: String,
    },
    /// The path leads out of its folder (`..`, or a symlink, which are never followed).
    #[error(
        "\"{path}\" leads outside its folder (through `..` or a symlink); use a path inside it"
    )]
    Outside {
        /// The path asked for.
        path: String,
    },
    /// The file exists but could not be read.
    #[error("could not read \"{path}\": {reason}")]
    Unreadable {
        /// The path asked for.
        path: String,
        /// Why.
        reason: String,
    },
}

impl Snapshot {
    /// List a folder of the tree (`""` is the root).
    pub fn list_files(&self, path: &str) -> Result<FileListing, FileError> {
        let normalized = normalize(path);
        let entries = self
            .tree
            .list(&normalized)
            .ok_or_else(|| FileError::NotFound {
                path: path.to_owned(),
            })?;
        let unavailable = if normalized.is_empty() || normalized == "servers" {
            self.unavailable()
                .map(|status| Unavailable {
                    server: status.name.clone(),
                    reason: status.state.describe(),
                })
                .collect()
        } else {
            Vec::new()
        };
        Ok(FileListing {
            path: normalized,
            entries,
            unavailable,
        })
    }

    /// The text of one file of the tree.
    pub fn read_file(&self, path: &str) -> Result<&str, FileError> {
        let normalized = normalize(path);
        if let Some(text) = self.tree.get(&normalized) {
            return Ok(text);
        }
        // `servers/x/getSum` and `servers/x` are what code imports; accept them for reading too.
        for candidate in [format!("{normalized}.ts"), format!("{normalized}/index.ts")] {
            if let Some(text) = self.tree.get(&candidate) {
                return Ok(text);
            }
        }
        if self.tree.list(&normalized).is_some() {
            return Err(FileError::IsFolder { path: normalized });
        }
        Err(FileError::NotFound {
            path: path.to_owned(),
        })
    }
}

/// `./servers/x/` and `/servers/x` both become `servers/x`; `.` becomes the root.
pub(crate) fn normalize(path: &str) -> String {
    let trimmed = path.trim();
    let trimmed = trimmed.strip_prefix("./").unwrap_or(trimmed);
    let trimmed = trimmed.trim_matches('/');
    if trimmed == "." {
        String::new()
    } else {
        trimmed.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::BTreeMap;

    fn snapshot() -> Snapshot {
        let mut tools = BTreeMap::new();
        tools.insert(
            "everything".to_owned(),
            vec![
                json!({"name": "get-sum", "description": "Adds two numbers. Returns the sum.", "inputSchema": {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}}, "required": ["a", "b"]}}),
                json!({"name": "echo", "description": "Echoes back the input.", "inputSchema": {"type": "object"}}),
            ],
        );
        Snapshot::build(1, tools, Vec::new())
    }

    fn request(query: &str, detail: Detail) -> SearchRequest {
        SearchRequest {
            query: query.to_owned(),
            detail,
            server: None,
            limit: 5,
        }
    }

    #[test]
    fn search_text_by_detail() {
        let snapshot = snapshot();
        let name = request("sum numbers", Detail::Name);
        let response = snapshot.search(&name, None).unwrap();
        assert_eq!(
            response.to_text(&name).lines().next(),
            Some("everything.getSum")
        );
        let summary = request("sum", Detail::Summary);
        let text = snapshot.search(&summary, None).unwrap().to_text(&summary);
        assert!(
            text.starts_with("everything.getSum: Adds two numbers.\n"),
            "{text}"
        );
        let full = request("sum", Detail::Full);
        let text = snapshot.search(&full, None).unwrap().to_text(&full);
        assert!(text.contains("// servers/everything/getSum.ts"), "{text}");
        assert!(text.contains("getSum("), "{text}");
    }

    #[test]
    fn search_unknown_server_and_no_hits() {
        let snapshot = snapshot();
        let mut request = request("zzz", Detail::Summary);
        assert!(
            snapshot
                .search(&request, None)
                .unwrap()
                .to_text(&request)
                .starts_with("No tools match")
        );
        request.server = Some("nope".to_owned());
        assert!(
            snapshot
                .search(&request, None)
                .unwrap_err()
                .to_string()
                .contains("no server named \"nope\"")
        );
    }

    #[test]
    fn files_read_and_list() {
        let snapshot = snapshot();
        let root = snapshot.list_files(".").unwrap();
        assert!(
            root.entries.contains(&"servers/".to_owned()),
            "{:?}",
            root.entries
        );
        let server = snapshot.list_files("./servers/everything/").unwrap();
        assert!(
            server.entries.contains(&"getSum.ts".to_owned()),
            "{:?}",
            server.entries
        );
        assert!(
            snapshot
                .read_file("servers/everything/getSum.ts")
                .unwrap()
                .contains("\"get-sum\"")
        );
        assert!(snapshot.read_file("./servers/everything/getSum").is_ok());
        assert!(
            snapshot
                .read_file("servers/everything")
                .unwrap()
                .contains("getSum")
        );
        assert!(matches!(
            snapshot.read_file("servers"),
            Err(FileError::IsFolder { .. })
        ));
        assert!(matches!(
            snapshot.read_file("nope.ts"),
            Err(FileError::NotFound { .. })
        ));
        assert!(snapshot.list_files("nope").is_err());
    }
}
