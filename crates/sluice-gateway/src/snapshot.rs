//! An immutable view of everything the agent can discover: catalog, generated tree, server states.
//!
//! A new snapshot is built whenever the pool's tools change; readers hold an `Arc` to the one they
//! started with, so a refresh never changes a search or an execution half-way.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use serde_json::Value;
use sluice_catalog::{Catalog, JsonObject, ServerCatalog};
use sluice_codegen::GeneratedTree;
use sluice_downstream::{ServerState, ServerStatus};
use sluice_search::SearchIndex;
use sluice_worker_protocol::ToolBinding;

/// Compiled validators by server, then tool (looked up by `&str`, without allocating).
type Validators = HashMap<String, HashMap<String, Arc<jsonschema::Validator>>>;

/// Add to `named` the server names `text` writes out after `servers/` (`./servers/github`,
/// `../../servers/github/createIssue.ts`), each once; a name in a comment or a string counts
/// too. False when a `servers/` is followed by no name: a path built at run time.
fn servers_named<'text>(text: &'text str, named: &mut Vec<&'text str>) -> bool {
    for (start, _) in text.match_indices("servers/") {
        let rest = &text[start + "servers/".len()..];
        let length = rest
            .bytes()
            .take_while(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.'))
            .count();
        if length == 0 {
            return false;
        }
        let name = &rest[..length];
        if !named.contains(&name) {
            named.push(name);
        }
    }
    true
}

/// Catalog, tree and server states at one moment.
pub struct Snapshot {
    /// Increases with every rebuild.
    pub version: u64,
    /// Every tool of every ready server (shared with the tree, which writes files from it).
    pub catalog: Arc<Catalog>,
    /// The generated TypeScript tree.
    pub tree: GeneratedTree,
    /// Every configured server's state.
    pub statuses: Vec<ServerStatus>,
    /// The search index of the catalog.
    pub search: Arc<SearchIndex>,
    /// Compiled input-schema validators by server, then tool, built on first use.
    validators: Mutex<Validators>,
    /// The tool policy the snapshot was made with: every call is checked against it.
    pub(crate) policy: Arc<sluice_policy::ToolPolicy>,
    /// The tools the policy left out, with the rule that denies each.
    pub(crate) withheld: crate::governance::Withheld,
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
        let tools = tools
            .into_iter()
            .map(|(server, tools)| {
                let part = Arc::new(ServerCatalog::parse(&server, tools));
                (server, part)
            })
            .collect();
        Snapshot::build_indexed(version, tools, statuses, None, |catalog, _| {
            SearchIndex::build(sluice_search::catalog_documents(catalog), None, None)
        })
    }

    /// Build a snapshot of these servers' catalog parts, whose search index `index` makes from
    /// the catalog and the names of the servers unchanged since `previous`. What was built from
    /// a part that is the same allocation as in `previous` (its search segment, its compiled
    /// validators) is taken from there: a refresh costs in proportion to what changed.
    pub(crate) fn build_indexed(
        version: u64,
        parts: BTreeMap<String, Arc<ServerCatalog>>,
        statuses: Vec<ServerStatus>,
        previous: Option<&Snapshot>,
        index: impl FnOnce(&Catalog, &BTreeSet<String>) -> SearchIndex,
    ) -> Snapshot {
        let unchanged: BTreeSet<String> = parts
            .iter()
            .filter(|(server, part)| {
                previous
                    .and_then(|previous| previous.catalog.part(server))
                    .is_some_and(|before| Arc::ptr_eq(before, part))
            })
            .map(|(server, _)| server.clone())
            .collect();
        let catalog = Arc::new(Catalog::from_parts(parts));
        let tree = match previous {
            Some(previous) => sluice_codegen::regenerate_tree(Arc::clone(&catalog), &previous.tree),
            None => sluice_codegen::generate_tree(Arc::clone(&catalog)),
        };
        let search = Arc::new(index(&catalog, &unchanged));
        let validators = previous
            .and_then(|previous| previous.validators.lock().ok())
            .map(|validators| {
                validators
                    .iter()
                    .filter(|(server, _)| unchanged.contains(*server))
                    .map(|(server, tools)| (server.clone(), tools.clone()))
                    .collect()
            })
            .unwrap_or_default();
        Snapshot {
            version,
            catalog,
            tree,
            statuses,
            search,
            validators: Mutex::new(validators),
            policy: Arc::new(sluice_policy::ToolPolicy::allow_all()),
            withheld: crate::governance::Withheld::new(),
        }
    }

    /// Servers that are not ready, with why.
    pub fn unavailable(&self) -> impl Iterator<Item = &ServerStatus> {
        self.statuses
            .iter()
            .filter(|status| !matches!(status.state, ServerState::Ready { .. }))
    }

    /// The tool table of every server: what the worker's module loader needs for any code.
    pub fn bindings(&self) -> BTreeMap<String, Vec<ToolBinding>> {
        self.catalog
            .server_names()
            .map(|server| (server.to_owned(), self.server_bindings(server)))
            .collect()
    }

    /// The tool table an execution needs: only the servers its code (and the skills it loads)
    /// name as `servers/<server>`, so that an execution's cost does not grow with the catalog.
    /// Every server's table when a text builds a server path at run time (`servers/${name}`)
    /// or names a server that is not ready: the loader then resolves anything, and its errors
    /// list the servers there are, as they would with the whole table.
    pub fn bindings_for<'text>(
        &self,
        texts: impl IntoIterator<Item = &'text str>,
    ) -> BTreeMap<String, Vec<ToolBinding>> {
        let mut named = Vec::new();
        for text in texts {
            if !servers_named(text, &mut named) {
                return self.bindings();
            }
        }
        let mut bindings = BTreeMap::new();
        for candidate in named {
            let server = [".ts", ".js", ""]
                .iter()
                .filter_map(|suffix| candidate.strip_suffix(suffix))
                .find(|server| self.catalog.server_tools(server).is_some());
            let Some(server) = server else {
                return self.bindings();
            };
            if !bindings.contains_key(server) {
                bindings.insert(server.to_owned(), self.server_bindings(server));
            }
        }
        bindings
    }

    /// [`Self::bindings_for`] for Python code, which names a server as a module:
    /// `from servers.<module> import ...` (`sluice_codegen::python::module_name`). Every table
    /// when the code names a module no server has, so the engine's error can list them all.
    pub fn python_bindings_for<'text>(
        &self,
        texts: impl IntoIterator<Item = &'text str>,
    ) -> BTreeMap<String, Vec<ToolBinding>> {
        let mut bindings = BTreeMap::new();
        for code in texts {
            self.add_python_bindings(code, &mut bindings);
        }
        bindings
    }

    /// [`Snapshot::python_bindings_for`] of one text, into `bindings`.
    fn add_python_bindings(&self, code: &str, bindings: &mut BTreeMap<String, Vec<ToolBinding>>) {
        for (start, _) in code.match_indices("servers.") {
            let rest = &code[start + "servers.".len()..];
            let length = rest
                .bytes()
                .take_while(|byte| byte.is_ascii_alphanumeric() || *byte == b'_')
                .count();
            let module = &rest[..length];
            let servers: Vec<&str> = self
                .catalog
                .server_names()
                .filter(|server| sluice_codegen::python::module_name(server) == module)
                .collect();
            if servers.is_empty() {
                *bindings = self.bindings();
                return;
            }
            for server in servers {
                bindings
                    .entry(server.to_owned())
                    .or_insert_with(|| self.server_bindings(server));
            }
        }
    }

    fn server_bindings(&self, server: &str) -> Vec<ToolBinding> {
        self.catalog
            .server_tools(server)
            .unwrap_or_default()
            .iter()
            .map(|tool| ToolBinding {
                identifier: tool.identifier.clone(),
                name: tool.name.clone(),
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
        schema: &JsonObject,
    ) -> Result<Arc<jsonschema::Validator>, String> {
        if let Ok(cache) = self.validators.lock()
            && let Some(validator) = cache.get(server).and_then(|tools| tools.get(tool))
        {
            return Ok(validator.clone());
        }
        let schema = schema.to_value();
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn snapshot() -> Snapshot {
        let tool = |name: &str| json!({"name": name, "inputSchema": {"type": "object"}});
        let mut tools = BTreeMap::new();
        tools.insert(
            "github".to_owned(),
            vec![tool("create_issue"), tool("get_issue")],
        );
        tools.insert("time".to_owned(), vec![tool("get_current_time")]);
        tools.insert("my.server".to_owned(), vec![tool("ping")]);
        Snapshot::build(1, tools, Vec::new())
    }

    fn servers(bindings: &BTreeMap<String, Vec<ToolBinding>>) -> Vec<&str> {
        bindings.keys().map(String::as_str).collect()
    }

    #[test]
    fn an_execution_gets_only_the_servers_its_code_names() {
        let snapshot = snapshot();
        let code = "import { createIssue } from './servers/github/createIssue.ts';\n\
                    import * as time from \"./servers/time\";";
        let bindings = snapshot.bindings_for([code]);
        assert_eq!(servers(&bindings), ["github", "time"]);
        assert_eq!(bindings["github"].len(), 2);
        assert_eq!(bindings["github"][0].name, "create_issue");
        // An index with a suffix, a dotted server name, a skill's relative path.
        assert_eq!(
            servers(&snapshot.bindings_for(["'./servers/time.ts'"])),
            ["time"]
        );
        assert_eq!(
            servers(&snapshot.bindings_for(["'./servers/my.server/ping'"])),
            ["my.server"]
        );
        assert_eq!(
            servers(&snapshot.bindings_for(["export default 1", "'../../servers/github'"])),
            ["github"]
        );
        assert!(snapshot.bindings_for(["export default 1"]).is_empty());
    }

    #[test]
    fn a_rebuild_reuses_what_it_built_from_unchanged_servers() {
        let tool = |name: &str| json!({"name": name, "inputSchema": {"type": "object"}});
        let part = |server: &str, tools: Vec<Value>| Arc::new(ServerCatalog::parse(server, tools));
        let steady = part("steady", vec![tool("get_time"), tool("convert_time")]);
        let changing = part("changing", vec![tool("create_issue")]);
        let sources = BTreeMap::from([
            ("steady".to_owned(), Arc::clone(&steady)),
            ("changing".to_owned(), changing),
        ]);
        let lexical = |catalog: &Catalog, unchanged: &BTreeSet<String>| {
            assert!(unchanged.iter().all(|server| server == "steady"));
            SearchIndex::build(sluice_search::catalog_documents(catalog), None, None)
        };
        let first = Snapshot::build_indexed(1, sources, Vec::new(), None, lexical);
        let schema = first
            .catalog
            .tool("steady", "get_time")
            .unwrap()
            .input_schema
            .clone();
        first.validator("steady", "get_time", &schema).unwrap();
        // The steady server's part is the same allocation; the other one's changed.
        let sources = BTreeMap::from([
            ("steady".to_owned(), steady),
            (
                "changing".to_owned(),
                part("changing", vec![tool("create_issue"), tool("close_issue")]),
            ),
        ]);
        let mut seen = BTreeSet::new();
        let second = Snapshot::build_indexed(
            2,
            sources,
            Vec::new(),
            Some(&first),
            |catalog, unchanged| {
                seen = unchanged.clone();
                lexical(catalog, unchanged)
            },
        );
        assert_eq!(seen, BTreeSet::from(["steady".to_owned()]));
        assert!(Arc::ptr_eq(
            first.catalog.part("steady").unwrap(),
            second.catalog.part("steady").unwrap()
        ));
        assert!(!Arc::ptr_eq(
            first.catalog.part("changing").unwrap(),
            second.catalog.part("changing").unwrap()
        ));
        assert_eq!(second.catalog.len(), 4);
        assert!(second.tree.get("servers/changing/closeIssue.ts").is_some());
        // The compiled validator came along with its server.
        let validators = second.validators.lock().unwrap();
        assert!(
            validators
                .get("steady")
                .is_some_and(|tools| tools.contains_key("get_time"))
        );
        assert!(validators.get("changing").is_none());
    }

    #[test]
    fn a_path_built_at_run_time_or_an_unknown_server_gets_every_server() {
        let snapshot = snapshot();
        let every = ["github", "my.server", "time"];
        let computed = "const tools = await import(`./servers/${name}/index.ts`);";
        assert_eq!(servers(&snapshot.bindings_for([computed])), every);
        assert_eq!(
            servers(&snapshot.bindings_for(["'./servers/' + name"])),
            every
        );
        // So that the loader can say which servers there are.
        assert_eq!(
            servers(&snapshot.bindings_for(["'./servers/githb'"])),
            every
        );
    }
}
