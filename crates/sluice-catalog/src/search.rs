//! Tool search: a small, honest BM25 over each tool's name, title, description and server.
//!
//! Text is split into words at separators and camelCase boundaries, lower-cased, and a trailing
//! plural `s` is dropped, so `listFiles`, `list_files` and "lists files" all meet. Fields carry
//! weights (name 3, title 2, server 1.5, description 1). A query word also matches, at half
//! weight, any tool word it is a prefix of (`calc` finds `calculate`). An empty query lists tools
//! in catalog order. Ties keep catalog order, so results are deterministic.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::{Catalog, CatalogTool};

/// How much to say about each hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Detail {
    /// `server/identifier` only.
    Name,
    /// Name plus a one-line description.
    #[default]
    Summary,
    /// The full typed signature, with documentation.
    Full,
}

impl std::str::FromStr for Detail {
    type Err = UnknownDetail;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "name" => Ok(Detail::Name),
            "summary" => Ok(Detail::Summary),
            "full" => Ok(Detail::Full),
            other => Err(UnknownDetail(other.to_owned())),
        }
    }
}

/// A detail level that is not `name`, `summary` or `full`.
#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown detail level `{0}`: use `name`, `summary` or `full`")]
pub struct UnknownDetail(pub String);

/// A search request.
#[derive(Debug, Clone)]
pub struct SearchQuery {
    /// Free text; may be empty to list tools.
    pub text: String,
    /// Only tools of this server, when set.
    pub server: Option<String>,
    /// At most this many hits.
    pub limit: usize,
}

/// One ranked tool.
#[derive(Debug, Clone)]
pub struct SearchHit<'catalog> {
    /// The tool.
    pub tool: &'catalog CatalogTool,
    /// Its BM25 score; 0 for an empty query.
    pub score: f64,
}

const NAME_WEIGHT: f64 = 3.0;
const TITLE_WEIGHT: f64 = 2.0;
const SERVER_WEIGHT: f64 = 1.5;
const DESCRIPTION_WEIGHT: f64 = 1.0;
const PREFIX_FACTOR: f64 = 0.5;
const K1: f64 = 1.2;
const B: f64 = 0.75;

/// Split text into normalized search words.
pub fn words(text: &str) -> Vec<String> {
    let mut result = Vec::new();
    let mut current = String::new();
    let mut previous_lower = false;
    for character in text.chars() {
        if character.is_alphanumeric() {
            if character.is_uppercase() && previous_lower && !current.is_empty() {
                result.push(normalize_word(&current));
                current.clear();
            }
            previous_lower = character.is_lowercase() || character.is_ascii_digit();
            current.extend(character.to_lowercase());
        } else {
            if !current.is_empty() {
                result.push(normalize_word(&current));
                current.clear();
            }
            previous_lower = false;
        }
    }
    if !current.is_empty() {
        result.push(normalize_word(&current));
    }
    result
}

fn normalize_word(word: &str) -> String {
    if word.len() > 3 && word.ends_with('s') && !word.ends_with("ss") {
        word[..word.len() - 1].to_owned()
    } else {
        word.to_owned()
    }
}

/// A tool's words with their field weights summed, and its weighted length.
fn weighted_terms(tool: &CatalogTool) -> (HashMap<String, f64>, f64) {
    let mut terms: HashMap<String, f64> = HashMap::new();
    let mut length = 0.0;
    let mut add = |text: &str, weight: f64| {
        for word in words(text) {
            *terms.entry(word).or_insert(0.0) += weight;
            length += weight;
        }
    };
    add(&tool.name, NAME_WEIGHT);
    add(&tool.server, SERVER_WEIGHT);
    if let Some(title) = &tool.title {
        add(title, TITLE_WEIGHT);
    }
    if let Some(description) = &tool.description {
        add(description, DESCRIPTION_WEIGHT);
    }
    (terms, length)
}

/// Rank the catalog's tools for a query.
pub fn search<'catalog>(
    catalog: &'catalog Catalog,
    query: &SearchQuery,
) -> Vec<SearchHit<'catalog>> {
    let candidates: Vec<&CatalogTool> = catalog
        .tools()
        .filter(|tool| {
            query
                .server
                .as_deref()
                .is_none_or(|server| tool.server == server)
        })
        .collect();
    let query_words = words(&query.text);
    if query_words.is_empty() {
        return candidates
            .into_iter()
            .take(query.limit)
            .map(|tool| SearchHit { tool, score: 0.0 })
            .collect();
    }
    let documents: Vec<(HashMap<String, f64>, f64)> =
        candidates.iter().map(|tool| weighted_terms(tool)).collect();
    let document_count = documents.len() as f64;
    let average_length =
        documents.iter().map(|(_, length)| length).sum::<f64>() / document_count.max(1.0);
    let mut hits: Vec<SearchHit<'catalog>> = Vec::new();
    for (tool, (terms, length)) in candidates.iter().zip(&documents) {
        let mut score = 0.0;
        for query_word in &query_words {
            let exact = terms.get(query_word).copied().unwrap_or(0.0);
            let prefix: f64 = if query_word.len() >= 3 {
                terms
                    .iter()
                    .filter(|(word, _)| {
                        word.len() > query_word.len() && word.starts_with(query_word.as_str())
                    })
                    .map(|(_, weight)| weight * PREFIX_FACTOR)
                    .sum()
            } else {
                0.0
            };
            let frequency = exact + prefix;
            if frequency == 0.0 {
                continue;
            }
            let containing = documents
                .iter()
                .filter(|(terms, _)| {
                    terms.keys().any(|word| {
                        word == query_word
                            || (query_word.len() >= 3 && word.starts_with(query_word.as_str()))
                    })
                })
                .count() as f64;
            let inverse_frequency =
                ((document_count - containing + 0.5) / (containing + 0.5) + 1.0).ln();
            let normalization = K1 * (1.0 - B + B * length / average_length.max(f64::EPSILON));
            score += inverse_frequency * frequency * (K1 + 1.0) / (frequency + normalization);
        }
        if score > 0.0 {
            hits.push(SearchHit { tool, score });
        }
    }
    // Stable sort: equal scores keep catalog order.
    hits.sort_by(|left, right| right.score.total_cmp(&left.score));
    hits.truncate(query.limit);
    hits
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ServerTools;
    use serde_json::json;

    fn catalog() -> Catalog {
        Catalog::build(vec![
            ServerTools::from_values(
                "filesystem",
                vec![
                    json!({"name": "read_text_file", "description": "Read the contents of a file as text."}),
                    json!({"name": "list_directory", "description": "List files in a directory."}),
                    json!({"name": "write_file", "description": "Create or overwrite a file."}),
                ],
            ),
            ServerTools::from_values(
                "everything",
                vec![
                    json!({"name": "get-sum", "description": "Adds two numbers."}),
                    json!({"name": "echo", "description": "Echoes the message back."}),
                ],
            ),
        ])
    }

    fn names(hits: &[SearchHit<'_>]) -> Vec<String> {
        hits.iter()
            .map(|hit| format!("{}/{}", hit.tool.server, hit.tool.name))
            .collect()
    }

    #[test]
    fn splits_words() {
        assert_eq!(
            words("listFiles read_text-file HTTPServer"),
            ["list", "file", "read", "text", "file", "httpserver"]
        );
    }

    #[test]
    fn ranks_name_matches_first() {
        let catalog = catalog();
        let query = SearchQuery {
            text: "read file".into(),
            server: None,
            limit: 10,
        };
        let hits = catalog.search(&query);
        assert_eq!(names(&hits)[0], "filesystem/read_text_file");
        assert!(!names(&hits).contains(&"everything/echo".to_owned()));
    }

    #[test]
    fn prefix_and_filter_and_empty_query() {
        let catalog = catalog();
        let hits = catalog.search(&SearchQuery {
            text: "director".into(),
            server: None,
            limit: 10,
        });
        assert_eq!(names(&hits), ["filesystem/list_directory"]);
        let hits = catalog.search(&SearchQuery {
            text: "".into(),
            server: Some("everything".into()),
            limit: 1,
        });
        assert_eq!(names(&hits), ["everything/echo"]);
        let hits = catalog.search(&SearchQuery {
            text: "sum".into(),
            server: Some("filesystem".into()),
            limit: 10,
        });
        assert!(hits.is_empty());
    }
}
