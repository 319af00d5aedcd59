//! The module graph agent code can see: its own module, the runtime, and `./servers/...`.
//!
//! Module names inside QuickJS are normalized paths without suffix: `main.ts` (the agent's code),
//! `runtime`, `servers/<server>/index` and `servers/<server>/<identifier>`. Nothing else
//! resolves: there is no file system, no `std`/`os` module and no network behind the loader.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use std::sync::OnceLock;

use rquickjs::loader::{ImportAttributes, Loader, Resolver};
use rquickjs::{Ctx, Exception, Module};
use sluice_worker_protocol::{ExecutionError, Language, ToolBinding};

use crate::kinds;
use crate::transpile::{ImportedName, StaticImport, Transpiled, transpile_module};

/// Name of the agent's module inside QuickJS (and in stack traces).
pub(crate) const MAIN_MODULE: &str = "main.ts";
/// Name of the runtime module inside QuickJS.
const RUNTIME_MODULE: &str = sluice_codegen::RUNTIME_MODULE;
/// How many tool names an error message lists.
const LISTED_NAMES: usize = 10;

/// The runtime library, transpiled once per process.
pub(crate) fn runtime_module() -> Result<&'static Transpiled, ExecutionError> {
    static RUNTIME: OnceLock<Result<Transpiled, ExecutionError>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            transpile_module(
                sluice_codegen::RUNTIME_TS,
                Language::Typescript,
                RUNTIME_MODULE,
            )
            .map_err(|error| ExecutionError {
                kind: kinds::INTERNAL_ERROR.to_owned(),
                message: format!("the runtime library does not compile: {}", error.message),
                line: None,
                column: None,
            })
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// A module the sandbox can load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ModuleId {
    /// The runtime library.
    Runtime,
    /// All tools of a server.
    Index { server: String },
    /// One tool of a server.
    Tool {
        server: String,
        identifier: String,
        name: String,
    },
}

impl ModuleId {
    fn name(&self) -> String {
        match self {
            Self::Runtime => RUNTIME_MODULE.to_owned(),
            Self::Index { server } => format!("servers/{server}/index"),
            Self::Tool {
                server, identifier, ..
            } => format!("servers/{server}/{identifier}"),
        }
    }
}

/// The tools of one execution, by server, indexed for resolution.
#[derive(Debug, Default)]
pub(crate) struct Catalog {
    servers: BTreeMap<String, ServerTools>,
}

#[derive(Debug, Default)]
struct ServerTools {
    /// Identifiers in the order the gateway sent them.
    identifiers: Vec<String>,
    /// Identifier -> original MCP name.
    names: HashMap<String, String>,
}

impl Catalog {
    pub(crate) fn new(tools: &BTreeMap<String, Vec<ToolBinding>>) -> Self {
        let servers = tools
            .iter()
            .map(|(server, bindings)| {
                let tools = ServerTools {
                    identifiers: bindings
                        .iter()
                        .map(|binding| binding.identifier.clone())
                        .collect(),
                    names: bindings
                        .iter()
                        .map(|binding| (binding.identifier.clone(), binding.name.clone()))
                        .collect(),
                };
                (server.clone(), tools)
            })
            .collect();
        Self { servers }
    }

    /// Resolve `specifier` imported from the module named `base`.
    pub(crate) fn resolve(&self, base: &str, specifier: &str) -> Result<ModuleId, String> {
        let importer = if base == MAIN_MODULE {
            "your code"
        } else {
            base
        };
        if !(specifier.starts_with("./") || specifier.starts_with("../")) {
            return Err(format!(
                "Cannot find module '{specifier}' (imported from {importer}): this sandbox has no \
                 Node, npm or built-in modules and no network. {}",
                self.valid_forms()
            ));
        }
        let mut segments: Vec<&str> = Vec::new();
        let directory = base.rsplit_once('/').map_or("", |(directory, _)| directory);
        for segment in directory.split('/').chain(specifier.split('/')) {
            match segment {
                "" | "." => {}
                ".." => {
                    if segments.pop().is_none() {
                        return Err(format!(
                            "Cannot find module '{specifier}' (imported from {importer}): it points \
                             outside the sandbox. {}",
                            self.valid_forms()
                        ));
                    }
                }
                other => segments.push(other),
            }
        }
        if let Some(last) = segments.last_mut()
            && let Some(stripped) = last
                .strip_suffix(".ts")
                .or_else(|| last.strip_suffix(".js"))
        {
            *last = stripped;
        }
        match segments.as_slice() {
            [module] if *module == RUNTIME_MODULE => Ok(ModuleId::Runtime),
            ["servers", server] | ["servers", server, "index"] => {
                self.server(specifier, importer, server)?;
                Ok(ModuleId::Index {
                    server: (*server).to_owned(),
                })
            }
            ["servers", server, identifier] => {
                let tools = self.server(specifier, importer, server)?;
                match tools.names.get(*identifier) {
                    Some(name) => Ok(ModuleId::Tool {
                        server: (*server).to_owned(),
                        identifier: (*identifier).to_owned(),
                        name: name.clone(),
                    }),
                    None => Err(format!(
                        "Cannot find module '{specifier}' (imported from {importer}): server \
                         '{server}' has no tool '{identifier}'.{}",
                        tool_hint(tools, identifier, server)
                    )),
                }
            }
            _ => Err(format!(
                "Cannot find module '{specifier}' (imported from {importer}). {}",
                self.valid_forms()
            )),
        }
    }

    fn server(
        &self,
        specifier: &str,
        importer: &str,
        server: &str,
    ) -> Result<&ServerTools, String> {
        self.servers.get(server).ok_or_else(|| {
            let suggestion =
                oxc::span::best_match(server, self.servers.keys().map(String::as_str), 3)
                    .map(|best| format!(" Did you mean '{best}'?"))
                    .unwrap_or_default();
            format!(
                "Cannot find module '{specifier}' (imported from {importer}): there is no server \
                 '{server}'.{suggestion} {}",
                self.server_list()
            )
        })
    }

    fn server_list(&self) -> String {
        if self.servers.is_empty() {
            "No servers are configured.".to_owned()
        } else {
            format!(
                "Servers: {}.",
                list(self.servers.keys().map(String::as_str), self.servers.len())
            )
        }
    }

    fn valid_forms(&self) -> String {
        format!(
            "Importable modules: './runtime' (callMCPTool, ToolError, retry), \
             './servers/<server>' or './servers/<server>/index' (all tools of a server) and \
             './servers/<server>/<tool>' (one tool), with an optional '.ts' or '.js' suffix. {}",
            self.server_list()
        )
    }

    /// Check the names a static import takes from a module that resolved.
    fn check_names(&self, import: &StaticImport, module: &ModuleId) -> Result<(), String> {
        let specifier = &import.specifier;
        for name in &import.names {
            match (name, module) {
                (ImportedName::Namespace, _) => {}
                (ImportedName::Default, ModuleId::Runtime) => {
                    return Err(format!(
                        "Module '{specifier}' has no default export: import its functions by \
                         name, e.g. `import {{ callMCPTool, ToolError, retry }} from \"{specifier}\"`."
                    ));
                }
                (ImportedName::Default, ModuleId::Index { server }) => {
                    return Err(format!(
                        "Module '{specifier}' has no default export: import tools by name, e.g. \
                         `import {{ {} }} from \"{specifier}\"`, or all of them with \
                         `import * as {} from \"{specifier}\"`.",
                        self.servers
                            .get(server)
                            .and_then(|tools| tools.identifiers.first())
                            .map_or("toolName", String::as_str),
                        namespace_name(server),
                    ));
                }
                (ImportedName::Default, ModuleId::Tool { identifier, .. }) => {
                    return Err(format!(
                        "Module '{specifier}' has no default export: use \
                         `import {{ {identifier} }} from \"{specifier}\"`."
                    ));
                }
                (ImportedName::Named(name), ModuleId::Runtime) => {
                    let exports = runtime_module()
                        .map(|runtime| runtime.exports.as_slice())
                        .unwrap_or(&[]);
                    if !exports.iter().any(|export| export == name) {
                        return Err(format!(
                            "Module '{specifier}' has no export '{name}'. It exports: {}.",
                            exports.join(", ")
                        ));
                    }
                }
                (ImportedName::Named(name), ModuleId::Index { server }) => {
                    let Some(tools) = self.servers.get(server) else {
                        continue;
                    };
                    if !tools.names.contains_key(name) {
                        return Err(format!(
                            "Module '{specifier}' has no export '{name}': server '{server}' has no \
                             tool '{name}'.{}",
                            tool_hint(tools, name, server)
                        ));
                    }
                }
                (ImportedName::Named(name), ModuleId::Tool { identifier, .. }) => {
                    if name != identifier {
                        return Err(format!(
                            "Module '{specifier}' has no export '{name}'; it exports only \
                             '{identifier}' (types such as input and output interfaces need \
                             `import type`)."
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// Check every static import of the agent's module before anything runs, so a wrong import
    /// is reported with its position.
    pub(crate) fn check_imports(&self, imports: &[StaticImport]) -> Result<(), ExecutionError> {
        for import in imports {
            let checked = self
                .resolve(MAIN_MODULE, &import.specifier)
                .and_then(|module| self.check_names(import, &module));
            if let Err(message) = checked {
                return Err(ExecutionError {
                    kind: kinds::IMPORT_ERROR.to_owned(),
                    message: format!("{message} (line {}, column {})", import.line, import.column),
                    line: Some(import.line),
                    column: Some(import.column),
                });
            }
        }
        Ok(())
    }

    /// JavaScript source of a resolved module.
    fn source(&self, module: &ModuleId) -> Result<String, String> {
        match module {
            ModuleId::Runtime => runtime_module()
                .map(|runtime| runtime.code.clone())
                .map_err(|error| error.message),
            ModuleId::Index { server } => {
                let tools = self
                    .servers
                    .get(server)
                    .ok_or_else(|| format!("unknown server '{server}'"))?;
                Ok(sluice_codegen::javascript::index_module(
                    tools.identifiers.iter().map(String::as_str),
                ))
            }
            ModuleId::Tool {
                server,
                identifier,
                name,
            } => Ok(sluice_codegen::javascript::tool_module(
                server, name, identifier,
            )),
        }
    }

    /// Parse a normalized module name back into a module.
    fn module_by_name(&self, name: &str) -> Option<ModuleId> {
        self.resolve("", &format!("./{name}")).ok()
    }
}

/// `; did you mean` and the first tools of a server.
fn tool_hint(tools: &ServerTools, wanted: &str, server: &str) -> String {
    let lowercase = wanted.to_lowercase();
    let suggestion = tools
        .identifiers
        .iter()
        .find(|identifier| identifier.to_lowercase() == lowercase)
        .map(String::as_str)
        .or_else(|| oxc::span::best_match(wanted, tools.identifiers.iter().map(String::as_str), 3))
        .map(|best| format!(" Did you mean '{best}'?"))
        .unwrap_or_default();
    if tools.identifiers.is_empty() {
        return format!("{suggestion} Server '{server}' has no tools.");
    }
    format!(
        "{suggestion} Its tools: {}.",
        list(
            tools.identifiers.iter().map(String::as_str),
            tools.identifiers.len()
        )
    )
}

/// The first few names, and how many there are in all.
fn list<'a>(names: impl Iterator<Item = &'a str>, total: usize) -> String {
    let shown: Vec<&str> = names.take(LISTED_NAMES).collect();
    if total > shown.len() {
        format!("{}, ... ({total} in all)", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

/// A plausible namespace identifier for a server name, for examples in messages.
fn namespace_name(server: &str) -> String {
    let name: String = server
        .chars()
        .filter(|character| character.is_ascii_alphanumeric() || *character == '_')
        .collect();
    match name.chars().next() {
        Some(first) if !first.is_ascii_digit() => name,
        _ => "server".to_owned(),
    }
}

/// Resolution failures of this execution, so an uncaught one can be reported as `ImportError`.
pub(crate) type ImportFailures = Rc<RefCell<Vec<String>>>;

/// The QuickJS resolver: [`Catalog::resolve`].
pub(crate) struct SandboxResolver {
    pub(crate) catalog: Rc<Catalog>,
    pub(crate) failures: ImportFailures,
}

impl Resolver for SandboxResolver {
    fn resolve<'js>(
        &mut self,
        ctx: &Ctx<'js>,
        base: &str,
        name: &str,
        _attributes: Option<ImportAttributes<'js>>,
    ) -> rquickjs::Result<String> {
        match self.catalog.resolve(base, name) {
            Ok(module) => Ok(module.name()),
            Err(message) => {
                self.failures.borrow_mut().push(message.clone());
                Err(Exception::throw_message(ctx, &message))
            }
        }
    }
}

/// The QuickJS loader: generated JavaScript for servers, the transpiled runtime.
pub(crate) struct SandboxLoader {
    pub(crate) catalog: Rc<Catalog>,
}

impl Loader for SandboxLoader {
    fn load<'js>(
        &mut self,
        ctx: &Ctx<'js>,
        name: &str,
        _attributes: Option<ImportAttributes<'js>>,
    ) -> rquickjs::Result<Module<'js>> {
        let source = self
            .catalog
            .module_by_name(name)
            .ok_or_else(|| format!("no module named '{name}'"))
            .and_then(|module| self.catalog.source(&module));
        match source {
            Ok(source) => Module::declare(ctx.clone(), name, source),
            Err(message) => Err(rquickjs::Error::Loading {
                name: name.to_owned(),
                message: Some(message),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        let mut tools = BTreeMap::new();
        tools.insert(
            "math".to_owned(),
            vec![
                ToolBinding {
                    identifier: "add".into(),
                    name: "add".into(),
                },
                ToolBinding {
                    identifier: "getSum".into(),
                    name: "get-sum".into(),
                },
            ],
        );
        Catalog::new(&tools)
    }

    #[test]
    fn resolves_the_documented_forms() {
        let catalog = catalog();
        for specifier in [
            "./servers/math",
            "./servers/math/index",
            "./servers/math/index.ts",
            "./servers/math.js",
        ] {
            assert_eq!(
                catalog.resolve(MAIN_MODULE, specifier),
                Ok(ModuleId::Index {
                    server: "math".into()
                }),
                "{specifier}"
            );
        }
        assert_eq!(
            catalog
                .resolve(MAIN_MODULE, "./servers/math/getSum.ts")
                .map(|module| module.name()),
            Ok("servers/math/getSum".to_owned())
        );
        assert_eq!(
            catalog.resolve("servers/math/add", "../../runtime"),
            Ok(ModuleId::Runtime)
        );
        assert_eq!(
            catalog.resolve(MAIN_MODULE, "./runtime.ts"),
            Ok(ModuleId::Runtime)
        );
        assert_eq!(
            catalog
                .resolve("servers/math/index", "./add")
                .map(|module| module.name()),
            Ok("servers/math/add".to_owned())
        );
    }

    #[test]
    fn explains_what_does_not_resolve() {
        let catalog = catalog();
        let error = catalog
            .resolve(MAIN_MODULE, "./servers/math/getsum")
            .unwrap_err();
        assert!(error.contains("Did you mean 'getSum'?"), "{error}");
        assert!(error.contains("add, getSum"), "{error}");
        let error = catalog.resolve(MAIN_MODULE, "os").unwrap_err();
        assert!(
            error.contains("'os'") && error.contains("./servers/<server>/<tool>"),
            "{error}"
        );
        let error = catalog.resolve(MAIN_MODULE, "./servers/maths").unwrap_err();
        assert!(error.contains("Did you mean 'math'?"), "{error}");
        assert!(catalog.resolve(MAIN_MODULE, "../etc/passwd").is_err());
        assert!(catalog.resolve(MAIN_MODULE, "./main").is_err());
    }
}
