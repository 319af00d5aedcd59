//! The virtual file tree agents browse: `README.md`, `runtime.ts` and one folder per server.
//!
//! The tree holds its paths and the catalog; a server's `index.ts` and a tool's file are written
//! when they are read (a few microseconds each), so a catalog of ten thousand tools does not keep
//! ten thousand files of TypeScript in memory. It is served by `list_files` and `read_file`, or
//! written to disk by `sluice tools tree`. Paths are relative, `/`-separated and
//! never start with `./`; lookups accept a few spellings agents commonly use (see
//! [`normalize_path`]).

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use sluice_catalog::{Catalog, CatalogTool, ServerCatalog};

use crate::escape::{jsdoc_block, string_literal};
use crate::typescript::{code_identifier, tool_file, type_names};

/// A generated file tree: relative path to file content, in path order.
#[derive(Debug, Clone, Default)]
pub struct GeneratedTree {
    /// `README.md` and `runtime.ts`.
    root: BTreeMap<String, Cow<'static, str>>,
    /// Each server's folder, keyed by its path with a trailing `/` (`servers/x/`), so that the
    /// folders iterate in the order of their files' paths.
    servers: BTreeMap<String, Arc<ServerFiles>>,
}

/// The files of one server's folder, made from its catalog part. A rebuilt tree takes them as
/// they are from the tree before when the part is the same allocation
/// ([`regenerate_tree`]): a server's refresh costs in proportion to that server's tools.
#[derive(Debug)]
struct ServerFiles {
    server: String,
    part: Arc<ServerCatalog>,
    /// Full path → what the file is written from.
    files: BTreeMap<String, Source>,
}

/// What a server's file is written from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// `servers/<server>/index.ts`.
    Index,
    /// One tool's file: the tool at this position in its server's list.
    Tool(usize),
    /// The Python stub of the tool at this position (`servers/<server>/<python name>.py`).
    Python(usize),
}

impl ServerFiles {
    fn new(server: &str, part: &Arc<ServerCatalog>) -> ServerFiles {
        let folder = crate::server_folder(server);
        let mut files = BTreeMap::new();
        let mut insert = |path: String, source: Source| {
            if let Some(path) = normalize_path(&path) {
                files.insert(path, source);
            }
        };
        let python_names =
            crate::python::python_names(part.tools().iter().map(|tool| tool.identifier.as_str()));
        for (position, tool) in part.tools().iter().enumerate() {
            insert(
                format!("{folder}/{}.ts", code_identifier(tool)),
                Source::Tool(position),
            );
            if let Some(python_name) = python_names.get(&tool.identifier) {
                insert(
                    format!("{folder}/{python_name}.py"),
                    Source::Python(position),
                );
            }
        }
        insert(format!("{folder}/index.ts"), Source::Index);
        ServerFiles {
            server: server.to_owned(),
            part: Arc::clone(part),
            files,
        }
    }

    fn text(&self, source: Source) -> Option<Cow<'_, str>> {
        match source {
            Source::Index => Some(Cow::Owned(index_file(&self.server, self.part.tools()))),
            Source::Tool(position) => Some(Cow::Owned(tool_file(self.part.tools().get(position)?))),
            Source::Python(position) => {
                let tools = self.part.tools();
                let tool = tools.get(position)?;
                let name = crate::python::python_name(
                    tools.iter().map(|tool| tool.identifier.as_str()),
                    &tool.identifier,
                );
                Some(Cow::Owned(crate::python::python_tool_file(tool, &name)))
            }
        }
    }
}

impl GeneratedTree {
    /// The content of a file.
    ///
    /// `path` goes through [`normalize_path`]; when no file has that exact path, the path with
    /// `.ts` appended is tried, the way module specifiers name files (`./servers/x/getSum`).
    pub fn get(&self, path: &str) -> Option<Cow<'_, str>> {
        let path = self.resolve(path)?;
        if let Some(text) = self.root.get(path) {
            return Some(Cow::Borrowed(text.as_ref()));
        }
        let files = self.server_of(path)?;
        files.text(*files.files.get(path)?)
    }

    /// The folder `path` lies in, when it lies in a server's folder.
    fn server_of(&self, path: &str) -> Option<&ServerFiles> {
        // The folder keys before `path` in order; the nearest one that is a prefix of it.
        let (key, files) = self
            .servers
            .range::<str, _>((std::ops::Bound::Unbounded, std::ops::Bound::Included(path)))
            .next_back()?;
        path.starts_with(key.as_str()).then_some(files.as_ref())
    }

    /// The stored path a lookup of `path` finds (see [`GeneratedTree::get`]), if any.
    pub fn resolve(&self, path: &str) -> Option<&str> {
        let normalized = normalize_path(path)?;
        let with_extension = format!("{normalized}.ts");
        [normalized, with_extension].into_iter().find_map(|path| {
            if let Some((found, _)) = self.root.get_key_value(&path) {
                return Some(found.as_str());
            }
            let files = self.server_of(&path)?;
            files
                .files
                .get_key_value(&path)
                .map(|(found, _)| found.as_str())
        })
    }

    /// Every file path, in order.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        let root = self.root.keys().map(String::as_str);
        let servers = self
            .servers
            .values()
            .flat_map(|files| files.files.keys().map(String::as_str));
        root.chain(servers)
    }

    /// How many files the tree has.
    pub fn len(&self) -> usize {
        self.root.len()
            + self
                .servers
                .values()
                .map(|files| files.files.len())
                .sum::<usize>()
    }

    /// True when the tree has no file.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every file with its content, in path order (server files are written as they are
    /// reached).
    pub fn iter(&self) -> impl Iterator<Item = (&str, Cow<'_, str>)> {
        let root = self
            .root
            .iter()
            .map(|(path, text)| (path.as_str(), Cow::Borrowed(text.as_ref())));
        let servers = self.servers.values().flat_map(|files| {
            files
                .files
                .iter()
                .filter_map(|(path, &source)| files.text(source).map(|text| (path.as_str(), text)))
        });
        root.chain(servers)
    }

    /// The entries directly inside `folder` (`""` for the root), sorted: file names, and
    /// sub-folder names with a trailing `/`. `None` when no such folder exists.
    pub fn list(&self, folder: &str) -> Option<Vec<String>> {
        let folder = normalize_path(folder)?;
        let prefix = if folder.is_empty() {
            String::new()
        } else {
            format!("{folder}/")
        };
        let mut children = BTreeSet::new();
        let mut add = |path: &str| {
            if let Some(rest) = path.strip_prefix(&prefix) {
                match rest.split_once('/') {
                    Some((child_folder, _)) => children.insert(format!("{child_folder}/")),
                    None => children.insert(rest.to_owned()),
                };
            }
        };
        self.root.keys().for_each(|path| add(path));
        for (folder_key, files) in &self.servers {
            if prefix.starts_with(folder_key.as_str()) {
                // Inside this server's folder: its files.
                files.files.keys().for_each(|path| add(path));
            } else if folder_key.starts_with(&prefix) {
                // The folder lies under the one listed: any one of its files names the child.
                if let Some(path) = files.files.keys().next() {
                    add(path);
                }
            }
        }
        if children.is_empty() && !folder.is_empty() {
            return None;
        }
        Some(children.into_iter().collect())
    }
}

impl PartialEq for GeneratedTree {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

/// The canonical form of a path in the tree, or `None` when it leaves the tree.
///
/// Leading `/` and `./`, repeated `/`, `.` segments and a trailing `/` are dropped, so
/// `./servers//x/` and `servers/x` are the same path; the root is `""`. A `..` segment is refused
/// rather than resolved: nothing in the tree needs it, and refusing it keeps every lookup inside
/// the tree by construction.
pub fn normalize_path(path: &str) -> Option<String> {
    let mut segments = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => return None,
            segment => segments.push(segment),
        }
    }
    Some(segments.join("/"))
}

/// Build the tree for a catalog.
///
/// Preconditions: none beyond the catalog's own invariants (identifiers unique per server).
/// Postconditions: one `servers/<server>/index.ts` per server, one
/// `servers/<server>/<identifier>.ts` and one `servers/<server>/<python name>.py` per tool, plus
/// `README.md` and `runtime.ts` at the root;
/// server and tool files are written when read.
pub fn generate_tree(catalog: Arc<Catalog>) -> GeneratedTree {
    build_tree(&catalog, None)
}

/// [`generate_tree`] for a catalog rebuilt from `previous`'s: the folder of a server whose
/// catalog part is the same allocation as in `previous` is taken from it as it is.
pub fn regenerate_tree(catalog: Arc<Catalog>, previous: &GeneratedTree) -> GeneratedTree {
    build_tree(&catalog, Some(previous))
}

fn build_tree(catalog: &Catalog, previous: Option<&GeneratedTree>) -> GeneratedTree {
    let mut root = BTreeMap::new();
    root.insert("README.md".to_owned(), Cow::Owned(readme(catalog)));
    root.insert("runtime.ts".to_owned(), Cow::Borrowed(crate::RUNTIME_TS));
    let mut servers = BTreeMap::new();
    for server in catalog.server_names() {
        let Some(part) = catalog.part(server) else {
            continue;
        };
        let Some(folder) = normalize_path(&crate::server_folder(server)) else {
            continue;
        };
        let key = format!("{folder}/");
        let reused = previous
            .and_then(|previous| previous.servers.get(&key))
            .filter(|files| Arc::ptr_eq(&files.part, part) && files.server == server);
        let files = match reused {
            Some(files) => Arc::clone(files),
            None => Arc::new(ServerFiles::new(server, part)),
        };
        servers.insert(key, files);
    }
    GeneratedTree { root, servers }
}

/// A name to import a server's module under: its name as a lowerCamelCase identifier.
fn module_alias(server: &str) -> String {
    sluice_catalog::to_identifier(server)
}

/// The import statement an agent's script (at the tree root) uses for a server.
fn import_example(server: &str) -> String {
    format!(
        "import * as {} from {};",
        module_alias(server),
        string_literal(&format!("./{}", crate::server_folder(server)))
    )
}

/// `servers/<server>/index.ts`: a header listing the tools with one-line summaries, then a
/// re-export of each tool's function and its input and output types.
fn index_file(server: &str, tools: &[CatalogTool]) -> String {
    let count = match tools.len() {
        1 => "1 tool".to_owned(),
        count => format!("{count} tools"),
    };
    let mut header = format!(
        "Tools of the MCP server {} ({count}).\n\nUse from a script at the tree root:\n{}\n",
        string_literal(server),
        import_example(server)
    );
    for tool in tools {
        let summary = tool.summary();
        header.push('\n');
        header.push_str(&format!("- {}", code_identifier(tool)));
        if !summary.is_empty() {
            header.push_str(": ");
            header.push_str(&summary);
        }
    }
    let mut file = jsdoc_block(&header, "");
    file.push('\n');
    for tool in tools {
        let identifier = code_identifier(tool);
        let module = string_literal(&format!("./{identifier}"));
        let (input, output) = type_names(tool);
        file.push_str(&format!("export {{ {identifier} }} from {module};\n"));
        file.push_str(&format!(
            "export type {{ {input}, {output} }} from {module};\n"
        ));
    }
    file
}

/// The README's Python section: how Python code (`execute_code` with `language: "python"`, run
/// by Monty) imports and calls the same tools, with a real example when there is a tool.
fn python_section(catalog: &Catalog) -> String {
    let (module, function) = match catalog.tools().next() {
        Some(tool) => {
            let names = crate::python::python_names(
                catalog
                    .server_tools(&tool.server)
                    .unwrap_or_default()
                    .iter()
                    .map(|tool| tool.identifier.as_str()),
            );
            (
                crate::python::module_name(&tool.server),
                names
                    .get(&tool.identifier)
                    .cloned()
                    .unwrap_or_else(|| crate::python::snake_case(&tool.identifier)),
            )
        }
        None => ("<server>".to_owned(), "some_tool".to_owned()),
    };
    format!(
        "\n## Python\n\n\
         `execute_code` with `language: \"python\"` runs Python (Monty: a subset of Python 3; no \
         class inheritance, no generators, no third-party modules; `asyncio`, `json`, `re`, \
         `math`, `datetime`, `collections`, `itertools`, `functools`, `dataclasses` are there). \
         Each tool is an async function named in snake_case (see `search_tools` or `read_file` \
         with `language: \"python\"`); a server's module name is its name with `-` and `.` as \
         `_`:\n\n\
         ```python\nimport asyncio\nfrom servers.{module} import {function}\n\
         result = await {function}(name=value)  # keyword arguments are the input fields\n\
         both = await asyncio.gather({function}(...), {function}(...))  # calls in parallel\n\
         print(result)  # output reaches you\nresult  # the last expression is the result\n```\n\n\
         - A failed call raises `RuntimeError(\"ToolError(<kind>): ...\")`; `tool_error(e)` gives \
         its fields (`kind`, `message`, `content`, `retryable`, `server`, `tool`), `None` for \
         other errors. In `asyncio.gather`, the first failure is raised by the gather itself.\n\
         - `await sleep(seconds)` waits (Monty's `asyncio` has no `sleep`); \
         `report_progress(message, fraction=None)` tells the person waiting how far a long run \
         has come.\n\
         - With a `session` id, globals (variables, functions, imported tools) survive into the \
         session's next Python execution.\n\
         - Files: `from pathlib import Path`; `Path(\"workspace/a.txt\").write_text(text)`, \
         `.read_text()`, `.append_text()`, `.exists()`, `.iterdir()`, `.mkdir()`, `.unlink()` (the \
         same `./workspace/` as TypeScript's). No other files, no environment, no network. \
         Skills: `save_skill` with `language: \"python\"` saves Python (its top-level functions \
         are what it exports; no `await` at its top level), imported as `from skills.<module> import \
         fn` (the module is the skill's name with `-` as `_`); a TypeScript skill is imported \
         from TypeScript only.\n"
    )
}

/// `README.md`: what the tree is and how to use it, with a real example when there is a tool.
fn readme(catalog: &Catalog) -> String {
    let mut readme = String::from(
        "# Tool API\n\n\
         Typed TypeScript wrappers for the tools of every connected MCP server.\n\n\
         - `runtime.ts`: `callMCPTool`, `ToolError` (thrown when a call fails), `retry` and `reportProgress` (tell the person waiting how far a long run has come).\n\
         - `servers/<server>/index.ts`: one server's tools, each with a one-line summary.\n\
         - `servers/<server>/<tool>.ts`: one tool's input and output types and its async \
         function.\n\n",
    );
    let example = catalog.tools().next();
    let (server, call) = match example {
        Some(tool) => (
            tool.server.as_str(),
            format!(
                "{}.{}(/* input */)",
                module_alias(&tool.server),
                code_identifier(tool)
            ),
        ),
        None => ("<server>", "server.someTool(/* input */)".to_owned()),
    };
    readme.push_str("Import a server's tools and call them from a script at the tree root:\n\n");
    readme.push_str(&format!(
        "```ts\n{}\nconst result = await {call};\n```\n\n",
        import_example(server)
    ));
    readme.push_str("Servers:\n\n");
    let mut any = false;
    for server in catalog.server_names() {
        let count = catalog.server_tools(server).map_or(0, <[CatalogTool]>::len);
        let plural = if count == 1 { "" } else { "s" };
        readme.push_str(&format!(
            "- {} ({count} tool{plural})\n",
            markdown_code(server)
        ));
        any = true;
    }
    if !any {
        readme.push_str("- (none connected)\n");
    }
    readme.push_str(
        "\nState that outlives one execution:\n\n\
         - `./workspace/`: files your code keeps, across executions and restarts: \
         `import * as fs from \"fs/promises\"` (`readFile`, `writeFile`, `appendFile`, `readdir`, \
         `stat`, `rm`, `mkdir`; `\"base64\"` as the encoding for binary data such as an image \
         block's `data`), paths such as `./workspace/leads.csv`. `list_files(\"workspace\")` \
         shows them.\n\
         - `execute_code` with a `session` id: the top-level declarations of one execution are \
         globals in the next execution of the same session.\n\
         - `save_skill({ name, description, code })` keeps working code as a module: \
         `import { fn } from \"./skills/<name>\"` (`list_files(\"skills\")`, `search_tools` finds \
         them).\n",
    );
    readme.push_str(&python_section(catalog));
    readme
}

/// Text as a Markdown code span, with anything that could end the span or the line removed.
fn markdown_code(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .filter(|character| *character != '`' && !character.is_control())
        .collect();
    format!("`{cleaned}`")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use sluice_catalog::ServerTools;

    fn catalog() -> Catalog {
        Catalog::build(vec![
            ServerTools::from_values(
                "server-everything",
                vec![
                    json!({"name": "get-sum", "description": "Adds two numbers. Really.", "inputSchema": {"type": "object"}}),
                    json!({"name": "echo", "inputSchema": {"type": "object"}}),
                ],
            ),
            ServerTools::from_values(
                "fs",
                vec![json!({"name": "read_file", "inputSchema": {"type": "object"}})],
            ),
        ])
    }

    #[test]
    fn a_regenerated_tree_reuses_the_folders_of_unchanged_servers() {
        let first = catalog();
        let before = generate_tree(Arc::new(first.clone()));
        let changed = Catalog::build(vec![ServerTools::from_values(
            "fs",
            vec![
                json!({"name": "read_file", "inputSchema": {"type": "object"}}),
                json!({"name": "write_file", "inputSchema": {"type": "object"}}),
            ],
        )]);
        let everything = "server-everything";
        let parts = [
            (
                everything.to_owned(),
                Arc::clone(first.part(everything).unwrap()),
            ),
            ("fs".to_owned(), Arc::clone(changed.part("fs").unwrap())),
        ];
        let catalog = Arc::new(Catalog::from_parts(parts));
        let after = regenerate_tree(Arc::clone(&catalog), &before);
        assert!(Arc::ptr_eq(
            &before.servers["servers/server-everything/"],
            &after.servers["servers/server-everything/"]
        ));
        assert!(!Arc::ptr_eq(
            &before.servers["servers/fs/"],
            &after.servers["servers/fs/"]
        ));
        // The same tree as one built from scratch.
        assert_eq!(after, generate_tree(catalog));
        assert_eq!(
            after.list("servers/fs").unwrap(),
            [
                "index.ts",
                "readFile.ts",
                "read_file.py",
                "writeFile.ts",
                "write_file.py"
            ]
        );
        assert!(after.get("servers/fs/writeFile").is_some());
        assert!(before.get("servers/fs/writeFile").is_none());
    }

    #[test]
    fn lists_folders_and_finds_files_by_their_module_names() {
        let tree = generate_tree(Arc::new(catalog()));
        assert_eq!(
            tree.list("").unwrap(),
            ["README.md", "runtime.ts", "servers/"]
        );
        assert_eq!(tree.list("servers").unwrap(), ["fs/", "server-everything/"]);
        assert_eq!(
            tree.list("./servers/fs/").unwrap(),
            ["index.ts", "readFile.ts", "read_file.py"]
        );
        assert_eq!(tree.list("servers/nope"), None);
        assert_eq!(tree.list("servers/fs/readFile.ts"), None);
        assert_eq!(
            tree.resolve("servers/fs/readFile"),
            Some("servers/fs/readFile.ts")
        );
        assert_eq!(tree.resolve("servers/f/readFile"), None);
        // README and runtime, an index per server, a TypeScript and a Python file per tool.
        assert_eq!(tree.len(), 2 + 2 + 2 * 3);
        assert_eq!(tree.paths().count(), tree.len());
        assert!(tree.paths().is_sorted());
    }

    #[test]
    fn normalizes_paths() {
        assert_eq!(
            normalize_path("./servers//x/").as_deref(),
            Some("servers/x")
        );
        assert_eq!(normalize_path("/runtime.ts").as_deref(), Some("runtime.ts"));
        assert_eq!(normalize_path(".").as_deref(), Some(""));
        assert_eq!(normalize_path(""), Some(String::new()));
        assert_eq!(normalize_path("servers/../etc"), None);
    }

    #[test]
    fn has_every_file() {
        let tree = generate_tree(catalog().into());
        let paths: Vec<&str> = tree.paths().collect();
        assert_eq!(
            paths,
            [
                "README.md",
                "runtime.ts",
                "servers/fs/index.ts",
                "servers/fs/readFile.ts",
                "servers/fs/read_file.py",
                "servers/server-everything/echo.py",
                "servers/server-everything/echo.ts",
                "servers/server-everything/getSum.ts",
                "servers/server-everything/get_sum.py",
                "servers/server-everything/index.ts",
            ]
        );
        assert_eq!(tree.len(), 10);
        assert!(!tree.is_empty());
        assert_eq!(tree.iter().count(), 10);
        let stub = tree.get("servers/server-everything/get_sum.py").unwrap();
        assert!(stub.contains("async def get_sum("), "{stub}");
        assert_eq!(tree.get("runtime.ts").as_deref(), Some(crate::RUNTIME_TS));
    }

    #[test]
    fn lookups_accept_common_spellings() {
        let tree = generate_tree(catalog().into());
        let file = tree.get("servers/fs/readFile.ts").expect("file exists");
        assert_eq!(tree.get("./servers/fs/readFile.ts"), Some(file.clone()));
        assert_eq!(tree.get("servers/fs/readFile"), Some(file.clone()));
        assert!(file.contains("export async function readFile("), "{file}");
        assert_eq!(
            tree.resolve("./servers/fs/readFile"),
            Some("servers/fs/readFile.ts")
        );
        assert_eq!(tree.get("servers/fs"), None);
        assert_eq!(tree.get("servers/fs/../fs/readFile.ts"), None);
        assert_eq!(tree.get("servers/fs/nothing.ts"), None);
    }

    #[test]
    fn lists_folders() {
        let tree = generate_tree(catalog().into());
        assert_eq!(
            tree.list("").unwrap(),
            ["README.md", "runtime.ts", "servers/"]
        );
        assert_eq!(tree.list(".").unwrap(), tree.list("/").unwrap());
        assert_eq!(
            tree.list("./servers/").unwrap(),
            ["fs/", "server-everything/"]
        );
        assert_eq!(
            tree.list("servers/server-everything").unwrap(),
            ["echo.py", "echo.ts", "getSum.ts", "get_sum.py", "index.ts"]
        );
        assert_eq!(tree.list("servers/nope"), None);
        assert_eq!(tree.list("runtime.ts"), None);
        assert_eq!(tree.list("serv"), None);
        assert_eq!(GeneratedTree::default().list(""), Some(Vec::new()));
    }

    #[test]
    fn index_lists_and_reexports_tools() {
        let tree = generate_tree(catalog().into());
        let index = tree.get("servers/server-everything/index.ts").unwrap();
        assert!(
            index.starts_with("/**\n * Tools of the MCP server \"server-everything\" (2 tools).")
        );
        assert!(
            index.contains(
                " * import * as serverEverything from \"./servers/server-everything\";\n"
            )
        );
        assert!(index.contains(" * - echo\n * - getSum: Adds two numbers.\n */\n"));
        assert!(index.ends_with(
            "export { echo } from \"./echo\";\nexport type { EchoInput, EchoOutput } from \"./echo\";\n\
             export { getSum } from \"./getSum\";\nexport type { GetSumInput, GetSumOutput } from \"./getSum\";\n"
        ));
    }

    #[test]
    fn readme_shows_a_real_import() {
        let tree = generate_tree(catalog().into());
        let readme = tree.get("README.md").unwrap();
        assert!(
            readme.contains(
                "import * as fs from \"./servers/fs\";\nconst result = await fs.readFile("
            )
        );
        assert!(readme.contains("- `server-everything` (2 tools)\n"));
        let empty = generate_tree(Catalog::default().into());
        assert!(empty.get("README.md").unwrap().contains("(none connected)"));
        assert_eq!(empty.len(), 2);
    }
}
