//! An immutable view of everything the agent can discover: catalog, generated tree, server states.
//!
//! A new snapshot is built whenever the pool's tools change; readers hold an `Arc` to the one they
//! started with, so a refresh never changes a search or an execution half-way.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};
use sluice_catalog::{Catalog, ServerTools};
use sluice_codegen::GeneratedTree;
use sluice_downstream::{ServerState, ServerStatus};
use sluice_search::SearchIndex;
use sluice_worker_protocol::ToolBinding;

/// Compiled validators by server, then tool (looked up by `&str`, without allocating).
type Validators = HashMap<String, HashMap<String, Arc<jsonschema::Validator>>>;

/// Catalog, tree and server states at one moment.
pub struct Snapshot {
    /// Increases with every rebuild.
    pub version: u64,
    /// Every tool of every ready server.
    pub catalog: Catalog,
    /// The generated TypeScript tree.
    pub tree: GeneratedTree,
    /// Every configured server's state.
    pub statuses: Vec<ServerStatus>,
    /// The search index of the catalog.
    pub search: Arc<SearchIndex>,
    /// Compiled input-schema validators by server, then tool, built on first use.
    validators: Mutex<Validators>,
}

impl Snapshot {
    /// A snapshot with no servers.
    pub fn empty() -> Snapshot {
        Snapshot::build(0, BTreeMap::new(), Vec::new())
    }

    /// Build a snapshot from each ready server's tool list, with a lexical search index.
    pub fn build(
        version: u64,
        tools: BTreeMap<String, Vec<Value>>,
        statuses: Vec<ServerStatus>,
    ) -> Snapshot {
        Snapshot::build_indexed(version, tools, statuses, |catalog| {
            SearchIndex::build(sluice_search::catalog_documents(catalog), None, None)
        })
    }

    /// Build a snapshot whose search index `index` makes from the catalog.
    pub(crate) fn build_indexed(
        version: u64,
        tools: BTreeMap<String, Vec<Value>>,
        statuses: Vec<ServerStatus>,
        index: impl FnOnce(&Catalog) -> SearchIndex,
    ) -> Snapshot {
        let catalog = Catalog::build(
            tools
                .into_iter()
                .map(|(server, tools)| ServerTools::from_values(server, tools))
                .collect(),
        );
        let tree = sluice_codegen::generate_tree(&catalog);
        let search = Arc::new(index(&catalog));
        Snapshot {
            version,
            catalog,
            tree,
            statuses,
            search,
            validators: Mutex::new(HashMap::new()),
        }
    }

    /// Servers that are not ready, with why.
    pub fn unavailable(&self) -> impl Iterator<Item = &ServerStatus> {
        self.statuses
            .iter()
            .filter(|status| !matches!(status.state, ServerState::Ready { .. }))
    }

    /// The tool table the worker's module loader needs.
    pub fn bindings(&self) -> BTreeMap<String, Vec<ToolBinding>> {
        self.catalog
            .server_names()
            .map(|server| {
                let tools = self
                    .catalog
                    .server_tools(server)
                    .unwrap_or_default()
                    .iter()
                    .map(|tool| ToolBinding {
                        identifier: tool.identifier.clone(),
                        name: tool.name.clone(),
                    })
                    .collect();
                (server.to_owned(), tools)
            })
            .collect()
    }

    /// The compiled validator of a tool's input schema. `Err` carries the compile error when the
    /// schema itself is invalid (then arguments are not checked: the server decides). The schema
    /// is only read (and copied) the first time, to compile it.
    pub(crate) fn validator(
        &self,
        server: &str,
        tool: &str,
        schema: &Map<String, Value>,
    ) -> Result<Arc<jsonschema::Validator>, String> {
        if let Ok(cache) = self.validators.lock()
            && let Some(validator) = cache.get(server).and_then(|tools| tools.get(tool))
        {
            return Ok(validator.clone());
        }
        let schema = Value::Object(schema.clone());
        let validator =
            Arc::new(jsonschema::validator_for(&schema).map_err(|error| error.to_string())?);
        if let Ok(mut cache) = self.validators.lock() {
            cache
                .entry(server.to_owned())
                .or_default()
                .insert(tool.to_owned(), validator.clone());
        }
        Ok(validator)
    }
}
