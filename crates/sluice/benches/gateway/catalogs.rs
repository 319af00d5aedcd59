//! The captured real-world catalogs in `data/catalogs`, read for sections 5 and 8.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;
use sluice_catalog::ServerTools;

use crate::report::BenchResult;

pub(crate) fn catalogs_folder() -> PathBuf {
    sluice_test_support::workspace_root()
        .join("data")
        .join("catalogs")
}

pub(crate) fn read_json(path: &Path) -> BenchResult<Value> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    Ok(serde_json::from_str(&text)
        .map_err(|error| format!("{} is not JSON: {error}", path.display()))?)
}

pub(crate) fn tools_of(value: &Value, path: &Path) -> BenchResult<Vec<Value>> {
    Ok(value["tools"]
        .as_array()
        .ok_or_else(|| format!("{} has no `tools` list", path.display()))?
        .clone())
}

/// Every per-server file (`_*` skipped), keyed by file stem.
pub(crate) fn per_server_catalogs() -> BenchResult<Vec<ServerTools>> {
    let folder = catalogs_folder();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&folder)
        .map_err(|error| format!("cannot read {}: {error}", folder.display()))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    let mut servers = Vec::new();
    for path in paths {
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        if stem.starts_with('_') {
            continue;
        }
        let tools = tools_of(&read_json(&path)?, &path)?;
        servers.push(ServerTools::from_values(stem, tools));
    }
    Ok(servers)
}

/// `_combined_excluding_twilio_all.json` (grouped by its `server` field) plus Twilio's full set.
pub(crate) fn combined_catalogs() -> BenchResult<Vec<ServerTools>> {
    let folder = catalogs_folder();
    let combined_path = folder.join("_combined_excluding_twilio_all.json");
    let mut by_server: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for mut tool in tools_of(&read_json(&combined_path)?, &combined_path)? {
        let server = tool
            .as_object_mut()
            .and_then(|object| object.remove("server"))
            .and_then(|server| server.as_str().map(str::to_owned))
            .ok_or("a combined catalog entry has no `server`")?;
        by_server.entry(server).or_default().push(tool);
    }
    let twilio_path = folder.join("twilio-all-services.json");
    let twilio = tools_of(&read_json(&twilio_path)?, &twilio_path)?;
    let mut servers: Vec<ServerTools> = by_server
        .into_iter()
        .map(|(server, tools)| ServerTools::from_values(server, tools))
        .collect();
    servers.push(ServerTools::from_values("twilio-all-services", twilio));
    Ok(servers)
}
