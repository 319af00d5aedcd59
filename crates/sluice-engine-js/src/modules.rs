//! The module graph agent code can see: its own module, the runtime, `./servers/...`,
//! `./skills/...` and `fs/promises`.
//!
//! Module names inside QuickJS: `main.ts` (the agent's code; `main-<n>.ts` for the n-th
//! execution of a session), `runtime`, `servers/<server>/index`, `servers/<server>/<identifier>`,
//! `skills/<name>/index@<hash>.ts` (a skill; the hash of its source makes a changed skill a new
//! module within a session) and `node:fs/promises`. Nothing else resolves: there is no file
//! system behind the loader, no `std`/`os` module and no network.
//!
//! Resolution: a specifier is resolved against the importing module's path, the way Node and
//! TypeScript do (`../../servers/<server>` from a skill at `/skills/<name>/index.ts`). A skill
//! may also write `./servers/...`, `./skills/...` and `./runtime` as agent code does, from the
//! root: skills are usually agent code that was saved, and `skills/<name>/servers` can never
//! name a module, so the two readings cannot clash. `fs/promises` and `node:fs/promises` resolve
//! from anywhere.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::rc::Rc;
use std::sync::OnceLock;

use rquickjs::loader::{ImportAttributes, Loader, Resolver};
use rquickjs::{Ctx, Exception, JsLifetime, Module};
use sluice_worker_protocol::{ErrorKind, ExecutionError, Language, SkillSource, ToolBinding};

use crate::module_names::{display_name, skill_module_name, skill_of_module};
use crate::positions::SourceMaps;
use crate::transpile::{ImportedName, StaticImport, Transpiled, transpile_module};
use crate::workspace::{FS_PROMISES_EXPORTS, FS_PROMISES_MODULE};

/// Name of the agent's module inside QuickJS (and in stack traces).
pub(crate) const MAIN_MODULE: &str = "main.ts";
/// Name of the `fs/promises` module inside QuickJS.
const FS_MODULE: &str = "node:fs/promises";
/// Source bytes of transpiled skills the cache keeps before it starts over.
const SKILL_CACHE_BYTES: usize = 32 * 1024 * 1024;

/// The module name of the agent's code: `main.ts`, or `main-<n>.ts` for the n-th execution of a
/// session (each execution's module stays loaded, so each needs its own name).
pub(crate) fn agent_module_name(session_execution: Option<u32>) -> String {
    match session_execution {
        None => MAIN_MODULE.to_owned(),
        Some(number) => format!("main-{number}.ts"),
    }
}

/// True for the module names of agent code (see [`agent_module_name`]).
pub(crate) fn is_agent_module(name: &str) -> bool {
    name == MAIN_MODULE
        || name
            .strip_prefix("main-")
            .and_then(|rest| rest.strip_suffix(".ts"))
            .is_some_and(|number| !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()))
}

/// Transpiled skills by source text, shared by the executions of one engine: a skill is
/// transpiled once however many executions import it. Keyed by the whole source (not a digest),
/// so two skills never share an entry by accident.
#[derive(Debug, Default)]
pub(crate) struct SkillCache {
    entries: HashMap<String, Rc<Transpiled>>,
    bytes: usize,
}

impl SkillCache {
    /// The transpiled skill `name` with this source.
    fn get(&mut self, name: &str, source: &str) -> Result<Rc<Transpiled>, ExecutionError> {
        if let Some(found) = self.entries.get(source) {
            return Ok(found.clone());
        }
        let transpiled = Rc::new(transpile_module(
            source,
            Language::Typescript,
            &format!("skills/{name}/index"),
        )?);
        if self.bytes + source.len() > SKILL_CACHE_BYTES {
            self.entries.clear();
            self.bytes = 0;
        }
        self.bytes += source.len();
        self.entries.insert(source.to_owned(), transpiled.clone());
        Ok(transpiled)
    }
}

/// A skill of one execution.
#[derive(Debug)]
struct Skill {
    source: String,
    /// Module name inside QuickJS: `skills/<name>/index@<hash>.ts`.
    module: String,
}

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
                kind: ErrorKind::InternalError,
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
    /// A saved skill.
    Skill { name: String },
    /// `fs/promises`.
    FsPromises,
}

/// The modules of one execution: tools by server, indexed for resolution, and skills.
#[derive(Debug, Default)]
pub(crate) struct Catalog {
    servers: BTreeMap<String, ServerTools>,
    skills: BTreeMap<String, Skill>,
    /// Skills saved in Python: named, so importing one says why it cannot be.
    python_skills: BTreeSet<String>,
    cache: Rc<RefCell<SkillCache>>,
}

#[derive(Debug, Default)]
struct ServerTools {
    /// Identifiers in the order the gateway sent them.
    identifiers: Vec<String>,
    /// Identifier -> original MCP name.
    names: HashMap<String, String>,
}

impl Catalog {
    #[cfg(test)]
    pub(crate) fn new(tools: &BTreeMap<String, Vec<ToolBinding>>) -> Self {
        Self::with_skills(tools, &BTreeMap::new(), Rc::default())
    }

    pub(crate) fn with_skills(
        tools: &BTreeMap<String, Vec<ToolBinding>>,
        skills: &BTreeMap<String, SkillSource>,
        cache: Rc<RefCell<SkillCache>>,
    ) -> Self {
        let python_skills = skills
            .iter()
            .filter(|(_, source)| !source.language.is_javascript_family())
            .map(|(name, _)| name.clone())
            .collect();
        let skills = skills
            .iter()
            .filter(|(_, source)| source.language.is_javascript_family())
            .map(|(name, SkillSource { code: source, .. })| {
                let mut hasher = DefaultHasher::new();
                source.hash(&mut hasher);
                let skill = Skill {
                    source: source.clone(),
                    module: skill_module_name(name, hasher.finish()),
                };
                (name.clone(), skill)
            })
            .collect();
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
        Self {
            servers,
            skills,
            python_skills,
            cache,
        }
    }

    /// The name QuickJS knows a module by.
    pub(crate) fn module_name(&self, module: &ModuleId) -> String {
        match module {
            ModuleId::Runtime => RUNTIME_MODULE.to_owned(),
            ModuleId::Index { server } => format!("servers/{server}/index"),
            ModuleId::Tool {
                server, identifier, ..
            } => format!("servers/{server}/{identifier}"),
            ModuleId::Skill { name } => self.skills.get(name).map_or_else(
                || format!("skills/{name}/index"),
                |skill| skill.module.clone(),
            ),
            ModuleId::FsPromises => FS_MODULE.to_owned(),
        }
    }

    /// The transpiled skill `name`.
    pub(crate) fn skill(&self, name: &str) -> Result<Rc<Transpiled>, ExecutionError> {
        let Some(skill) = self.skills.get(name) else {
            return Err(ExecutionError {
                kind: ErrorKind::ImportError,
                message: format!("there is no skill '{name}'. {}", self.skill_list()),
                line: None,
                column: None,
            });
        };
        self.cache.borrow_mut().get(name, &skill.source)
    }

    fn skill_list(&self) -> String {
        // The gateway passes only the skills the code names: say so rather than "none saved".
        if self.skills.is_empty() {
            "No skill this code names is saved (a skill is loaded by its name written out, \
             './skills/<name>'; search_tools lists the saved ones)."
                .to_owned()
        } else {
            format!(
                "Skills loaded for this code: {}.",
                list(self.skills.keys().map(String::as_str), self.skills.len())
            )
        }
    }

    /// Resolve `specifier` imported from the module named `base`.
    pub(crate) fn resolve(&self, base: &str, specifier: &str) -> Result<ModuleId, String> {
        let importer = if is_agent_module(base) {
            "your code".into()
        } else {
            display_name(base)
        };
        let importer = importer.as_ref();
        if matches!(specifier, "fs/promises" | "node:fs/promises") {
            return Ok(ModuleId::FsPromises);
        }
        if matches!(specifier, "fs" | "node:fs") {
            return Err(format!(
                "Cannot find module '{specifier}' (imported from {importer}): this sandbox has \
                 only the promise API of the file system, for files under ./workspace: \
                 `import * as fs from 'fs/promises'`."
            ));
        }
        // Skills may write root-relative paths as agent code does (see the module docs).
        let base = if skill_of_module(base).is_some()
            && (specifier.starts_with("./servers/")
                || specifier.starts_with("./skills/")
                || matches!(specifier, "./runtime" | "./runtime.ts" | "./runtime.js"))
        {
            ""
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
        // A skill's module `skills/<name>/index@<hash>.ts` sits in `skills/<name>`.
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
            ["skills", name] | ["skills", name, "index"] => {
                if self.skills.contains_key(*name) {
                    return Ok(ModuleId::Skill {
                        name: (*name).to_owned(),
                    });
                }
                if self.python_skills.contains(*name) {
                    return Err(format!(
                        "Cannot import '{specifier}' (imported from {importer}): the skill \
                         '{name}' was saved in Python, and Python skills are imported from \
                         Python code (execute_code with language \"python\": `from skills.{} \
                         import ...`). Save a TypeScript version under another name to use it \
                         here.",
                        name.replace('-', "_")
                    ));
                }
                let suggestion =
                    oxc::span::best_match(name, self.skills.keys().map(String::as_str), 3)
                        .map(|best| format!(" Did you mean '{best}'?"))
                        .unwrap_or_default();
                Err(format!(
                    "Cannot find module '{specifier}' (imported from {importer}): there is no \
                     skill '{name}'.{suggestion} {}",
                    self.skill_list()
                ))
            }
            ["skills", ..] => Err(format!(
                "Cannot find module '{specifier}' (imported from {importer}): a skill is one \
                 module, imported as './skills/<name>'. {}",
                self.skill_list()
            )),
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
            // The gateway passes the servers that are ready (or being reconnected): a configured
            // server that is starting or down is not here, and search_tools says why.
            "No server is ready (search_tools lists servers that are starting or down, and why)."
                .to_owned()
        } else {
            format!(
                "Servers ready: {}.",
                list(self.servers.keys().map(String::as_str), self.servers.len())
            )
        }
    }

    fn valid_forms(&self) -> String {
        format!(
            "Importable modules: './runtime' (callMCPTool, ToolError, retry, reportProgress), \
             './servers/<server>' or './servers/<server>/index' (all tools of a server), \
             './servers/<server>/<tool>' (one tool), './skills/<name>' (a saved skill), with an \
             optional '.ts' or '.js' suffix, and 'fs/promises' (files under ./workspace). {} {}",
            self.server_list(),
            self.skill_list()
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
                (ImportedName::Default, ModuleId::FsPromises) => {}
                (ImportedName::Named(name), ModuleId::FsPromises) => {
                    if !FS_PROMISES_EXPORTS.contains(&name.as_str()) {
                        return Err(format!(
                            "Module '{specifier}' has no export '{name}'. This sandbox's \
                             fs/promises has: {}.",
                            FS_PROMISES_EXPORTS.join(", ")
                        ));
                    }
                }
                (ImportedName::Default, ModuleId::Skill { name: skill })
                | (ImportedName::Named(_), ModuleId::Skill { name: skill }) => {
                    let wanted = match name {
                        ImportedName::Named(name) => name.as_str(),
                        _ => "default",
                    };
                    let exports = self
                        .skill(skill)
                        .map(|transpiled| transpiled.exports.clone())
                        .map_err(|error| skill_compile_error(skill, &error))?;
                    if !exports.iter().any(|export| export == wanted) {
                        let listed = if exports.is_empty() {
                            "nothing".to_owned()
                        } else {
                            exports.join(", ")
                        };
                        return Err(format!(
                            "Skill '{skill}' has no export '{wanted}'. It exports: {listed}."
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// Check every static import of the agent's module, and of the skills it imports (and they
    /// import), before anything runs, so a wrong import is reported with its position. An error
    /// inside a skill is reported at the agent's import that leads to it.
    pub(crate) fn check_imports(
        &self,
        module: &str,
        imports: &[StaticImport],
    ) -> Result<(), ExecutionError> {
        let mut checked_skills = HashSet::new();
        for import in imports {
            let result = self
                .resolve(module, &import.specifier)
                .and_then(|resolved| {
                    self.check_names(import, &resolved)?;
                    match &resolved {
                        ModuleId::Skill { name } => self.check_skill(name, &mut checked_skills),
                        _ => Ok(()),
                    }
                });
            if let Err(message) = result {
                return Err(ExecutionError {
                    kind: ErrorKind::ImportError,
                    message: format!("{message} (line {}, column {})", import.line, import.column),
                    line: Some(import.line),
                    column: Some(import.column),
                });
            }
        }
        Ok(())
    }

    /// Check a skill's own imports, once per skill (imports between skills may form cycles).
    fn check_skill(&self, name: &str, checked: &mut HashSet<String>) -> Result<(), String> {
        if !checked.insert(name.to_owned()) {
            return Ok(());
        }
        let transpiled = self
            .skill(name)
            .map_err(|error| skill_compile_error(name, &error))?;
        let module = self.module_name(&ModuleId::Skill {
            name: name.to_owned(),
        });
        for import in &transpiled.imports {
            let in_skill = |message: String| {
                format!(
                    "{message} (in skill '{name}', line {}, column {})",
                    import.line, import.column
                )
            };
            let resolved = self.resolve(&module, &import.specifier).map_err(in_skill)?;
            self.check_names(import, &resolved).map_err(in_skill)?;
            if let ModuleId::Skill { name: imported } = &resolved {
                self.check_skill(imported, checked)?;
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
            ModuleId::Skill { name } => self
                .skill(name)
                .map(|transpiled| transpiled.code.clone())
                .map_err(|error| error.message),
            ModuleId::FsPromises => Ok(FS_PROMISES_MODULE.to_owned()),
        }
    }

    /// Parse a module name (as [`Catalog::module_name`] makes them) back into a module.
    fn module_by_name(&self, name: &str) -> Option<ModuleId> {
        if name == FS_MODULE {
            return Some(ModuleId::FsPromises);
        }
        if let Some(skill) = skill_of_module(name) {
            return self
                .skills
                .get(skill)
                .filter(|known| known.module == name)
                .map(|_| ModuleId::Skill {
                    name: skill.to_owned(),
                });
        }
        self.resolve("", &format!("./{name}")).ok()
    }
}

/// The message for a skill that does not transpile (its own positions are in the skill).
fn skill_compile_error(name: &str, error: &ExecutionError) -> String {
    format!(
        "Skill '{name}' does not compile ({}; positions are in the skill's source): {}",
        error.kind, error.message
    )
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

/// The modules of the execution running now. The resolver and loader belong to the runtime,
/// which a session keeps across executions, so they read the current catalog from here.
pub(crate) type CatalogSlot = Rc<RefCell<Rc<Catalog>>>;

/// What the resolver and loader of a session's runtime read: the context's user data while the
/// runtime is a session's (a runtime made ahead, on another thread, has none and loads nothing).
#[derive(Clone, JsLifetime)]
pub(crate) struct ModuleLink {
    pub(crate) catalog: CatalogSlot,
    pub(crate) failures: ImportFailures,
    pub(crate) maps: Rc<RefCell<SourceMaps>>,
}

/// The module link of the runtime `ctx` belongs to, or why there is none.
fn module_link(ctx: &Ctx<'_>) -> Result<ModuleLink, String> {
    ctx.userdata::<ModuleLink>()
        .map(|link| link.clone())
        .ok_or_else(|| "Internal error of the sandbox: this runtime has no modules".to_owned())
}

/// The QuickJS resolver: [`Catalog::resolve`] on the linked catalog.
pub(crate) struct SandboxResolver;

impl Resolver for SandboxResolver {
    fn resolve<'js>(
        &mut self,
        ctx: &Ctx<'js>,
        base: &str,
        name: &str,
        _attributes: Option<ImportAttributes<'js>>,
    ) -> rquickjs::Result<String> {
        let link = module_link(ctx).map_err(|message| Exception::throw_internal(ctx, &message))?;
        let catalog = link.catalog.borrow().clone();
        match catalog.resolve(base, name) {
            Ok(module) => Ok(catalog.module_name(&module)),
            Err(message) => {
                link.failures.borrow_mut().push(message.clone());
                Err(Exception::throw_message(ctx, &message))
            }
        }
    }
}

/// The QuickJS loader: generated JavaScript for servers, the transpiled runtime and skills, and
/// `fs/promises`. A skill's line map is registered so positions in it can be mapped back.
pub(crate) struct SandboxLoader;

impl Loader for SandboxLoader {
    fn load<'js>(
        &mut self,
        ctx: &Ctx<'js>,
        name: &str,
        _attributes: Option<ImportAttributes<'js>>,
    ) -> rquickjs::Result<Module<'js>> {
        let source = module_link(ctx).and_then(|link| {
            let catalog = link.catalog.borrow().clone();
            match catalog.module_by_name(name) {
                Some(ModuleId::Skill { name: skill }) => catalog
                    .skill(&skill)
                    .map_err(|error| error.message)
                    .map(|transpiled| {
                        link.maps
                            .borrow_mut()
                            .insert(name, transpiled.line_map.clone());
                        transpiled.code.clone()
                    }),
                Some(module) => catalog.source(&module),
                None => Err(format!("no module named '{name}'")),
            }
        });
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
                .map(|module| catalog.module_name(&module)),
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
                .map(|module| catalog.module_name(&module)),
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
