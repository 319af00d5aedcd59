//! The catalog table: what loading every tool of a real-world catalog up front costs, against
//! Sluice's whole starting context.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Value, json};

/// The catalog of 1,535 real tool definitions (every catalogued server but Twilio), in the
/// repository's `data/catalogs/`.
pub const CATALOG_RELATIVE_PATH: &str = "data/catalogs/_combined_excluding_twilio_all.json";

/// The catalog file, when it exists: `data/catalogs/...` in the checkout this was built from.
pub fn default_catalog_path() -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(CATALOG_RELATIVE_PATH);
    path.is_file()
        .then(|| std::fs::canonicalize(&path).unwrap_or(path))
}

/// The catalog table.
#[derive(Debug, Clone, Serialize)]
pub struct CatalogReport {
    /// The catalog file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Tool definitions in it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tools: Option<usize>,
    /// Servers they come from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub servers: Option<usize>,
    /// Bytes of the `tools/list` JSON a client would put in the model's context.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direct_bytes: Option<usize>,
    /// o200k tokens of that JSON.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direct_tokens: Option<u64>,
    /// o200k tokens of Sluice's whole starting context (instructions and `tools/list`).
    pub code_mode_tokens: u64,
    /// The same with the catalog's first [`DIRECT_SAMPLE`] tools offered directly
    /// (`sluice.direct`): what direct tools cost every conversation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code_mode_with_direct_tokens: Option<u64>,
    /// Why the catalog side is missing, when it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

/// How many of the catalog's tools the report prices as direct tools.
pub const DIRECT_SAMPLE: usize = 3;

/// Measure the catalog at `path` (or only Sluice's side, with the reason, when there is none).
pub fn measure(path: Option<&Path>) -> CatalogReport {
    let (_, code_mode_tokens) = sluice_server::starting_context(sluice_server::Capabilities::ALL);
    let mut report = CatalogReport {
        source: path.map(|path| path.display().to_string()),
        tools: None,
        servers: None,
        direct_bytes: None,
        direct_tokens: None,
        code_mode_tokens: code_mode_tokens as u64,
        code_mode_with_direct_tokens: None,
        skipped: None,
    };
    let Some(path) = path else {
        report.skipped = Some(format!(
            "no catalog file: {CATALOG_RELATIVE_PATH} in the source tree was not found"
        ));
        return report;
    };
    let parsed = std::fs::read_to_string(path)
        .map_err(|error| error.to_string())
        .and_then(|text| serde_json::from_str::<Value>(&text).map_err(|error| error.to_string()));
    let tools = match parsed {
        Ok(Value::Object(mut root)) => match root.remove("tools") {
            Some(Value::Array(tools)) => tools,
            _ => {
                report.skipped = Some(format!("{} has no \"tools\" array", path.display()));
                return report;
            }
        },
        Ok(_) => {
            report.skipped = Some(format!("{} is not a JSON object", path.display()));
            return report;
        }
        Err(error) => {
            report.skipped = Some(format!("cannot read {}: {error}", path.display()));
            return report;
        }
    };
    let mut servers = BTreeSet::new();
    let mut direct = Vec::new();
    let listed: Vec<Value> = tools
        .into_iter()
        .map(|mut tool| {
            // The `server` tag is the catalog's bookkeeping, not part of a tool definition.
            if let Some(server) = tool.as_object_mut().and_then(|tool| tool.remove("server")) {
                if direct.len() < DIRECT_SAMPLE {
                    let mut offered = tool.clone();
                    let name = offered
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    let name =
                        sluice_gateway::direct_name(server.as_str().unwrap_or_default(), name);
                    offered["name"] = Value::String(name);
                    if let Ok(offered) = serde_json::from_value::<rmcp::model::Tool>(offered) {
                        direct.push(offered);
                    }
                }
                servers.insert(server.to_string());
            }
            tool
        })
        .collect();
    let (_, with_direct) =
        sluice_server::starting_context_with(sluice_server::Capabilities::ALL, &direct);
    report.code_mode_with_direct_tokens = Some(with_direct as u64);
    report.tools = Some(listed.len());
    report.servers = Some(servers.len());
    let text = json!({ "tools": listed }).to_string();
    report.direct_bytes = Some(text.len());
    report.direct_tokens = Some(sluice_tokens::count(&text) as u64);
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_catalog_is_skipped_with_a_reason() {
        let report = measure(None);
        assert!(report.skipped.is_some());
        assert!(report.code_mode_tokens > 0 && report.code_mode_tokens < 1_000);
    }

    #[test]
    fn real_catalog_when_present() {
        let Some(path) = default_catalog_path() else {
            return;
        };
        let report = measure(Some(&path));
        assert_eq!(report.tools, Some(1_535), "{report:?}");
        assert!(report.direct_tokens.unwrap() > 500_000, "{report:?}");
        assert!(report.code_mode_tokens <= 1_000, "{report:?}");
        let with_direct = report.code_mode_with_direct_tokens.unwrap();
        assert!(with_direct > report.code_mode_tokens, "{report:?}");
        eprintln!(
            "starting context {} tokens, with {DIRECT_SAMPLE} direct tools {with_direct}",
            report.code_mode_tokens
        );
    }

    #[test]
    fn small_catalog_is_counted_without_server_tags() {
        let dir = std::env::temp_dir().join(format!("sluice-demo-catalog-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("catalog.json");
        std::fs::write(
            &path,
            r#"{"tools": [{"server": "a", "name": "x", "inputSchema": {"type": "object"}}, {"server": "b", "name": "y", "inputSchema": {"type": "object"}}]}"#,
        )
        .unwrap();
        let report = measure(Some(&path));
        assert_eq!(report.tools, Some(2));
        assert_eq!(report.servers, Some(2));
        assert_eq!(
            report.direct_bytes,
            Some(r#"{"tools":[{"name":"x","inputSchema":{"type":"object"}},{"name":"y","inputSchema":{"type":"object"}}]}"#.len())
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
