/*!
Code generation: the typed TypeScript API agents read, and the JavaScript modules the worker runs.

Pure: no IO. Given a [`sluice_catalog::Catalog`], [`generate_tree`] returns the virtual file tree

```text
README.md                         how to import and call tools
runtime.ts                        callMCPTool, ToolError, retry, reportProgress
servers/<server>/index.ts         lists and re-exports every tool of the server
servers/<server>/<identifier>.ts  one typed async function per tool
```

that `list_files`/`read_file` serve and `sluice tools tree` writes to disk. [`tool_signature`]
gives the same types and documentation of one tool in the compact form `search_tools` shows;
[`typescript`] explains how JSON Schema becomes TypeScript. The worker never sees
TypeScript from here: it loads the small JavaScript modules of [`javascript`], which call the
same runtime, so generated code never needs transpiling at run time.

Security invariant: no text from a server (names, descriptions, schema strings) can leave the
comment or string literal it is placed in; see [`escape`].
*/
#![deny(missing_docs)]

pub mod escape;
pub mod javascript;
pub mod python;
pub mod tree;
pub mod typescript;

pub use tree::{GeneratedTree, generate_tree, regenerate_tree};
pub use typescript::{tool_file, tool_signature};

/// Module name of the runtime library, as resolved from any generated file.
pub const RUNTIME_MODULE: &str = "runtime";

/// The runtime library, in TypeScript. The worker transpiles it once at start-up; agents can read
/// it as `runtime.ts` in the tree.
pub const RUNTIME_TS: &str = include_str!("runtime.ts");

/// Path of a server's folder in the tree.
pub fn server_folder(server: &str) -> String {
    format!("servers/{server}")
}
