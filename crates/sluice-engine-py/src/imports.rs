//! Imports of tools, `from servers.<server> import <tool>[ as <name>], ...`, and of Python
//! skills, `from skills.<skill> import <name>, ...` (see the `skills` module).
//!
//! Monty has no modules of its own beyond part of the standard library, so the engine reads
//! the agent's code first (with the Python parser Monty itself uses) and replaces each
//! `from servers.<server> import ...` statement, wherever it is, with assignments of the same
//! names from the host: `create_issue = __sluice_bind__(0)`, padded with line breaks so every
//! line keeps its number. The imports are checked here, before anything runs: an unknown
//! server or tool, `import servers...`, `from servers import <server>`, an unknown skill, a
//! TypeScript skill and a name a skill does not define are each an `ImportError` at the
//! statement's position that says which form works and what exists. Code that does not parse is left alone: Monty reports the
//! `SyntaxError` itself.

use std::collections::BTreeMap;

use ruff_python_ast::statement_visitor::{StatementVisitor, walk_stmt};
use ruff_python_ast::{Stmt, StmtImport, StmtImportFrom};
use ruff_text_size::TextRange;
use sluice_worker_protocol::{ErrorKind, ExecutionError, Language, SkillSource, ToolBinding};

use crate::skills::SkillLoad;

/// The name of the host function the rewritten imports call.
pub(crate) const BIND_FUNCTION: &str = "__sluice_bind__";

/// A tool an import names: what `__sluice_bind__(index)` hands the code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BoundTool {
    /// The server's config key.
    pub server: String,
    /// The tool's MCP name, for `tools/call`.
    pub tool: String,
    /// Its Python name (`create_issue`).
    pub python_name: String,
}

/// The code as it runs, the tools its imports bind (by index), and the skills to load first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rewritten {
    pub code: String,
    pub bound: Vec<BoundTool>,
    /// The Python skills the code imports (and those they import), dependencies first.
    pub skills: Vec<SkillLoad>,
}

/// The Python names of every server's tools: by server, Python name to binding.
pub(crate) fn python_tables(
    tools: &BTreeMap<String, Vec<ToolBinding>>,
) -> BTreeMap<&str, BTreeMap<String, &ToolBinding>> {
    tools
        .iter()
        .map(|(server, bindings)| {
            let names = sluice_codegen::python::python_names(
                bindings.iter().map(|binding| binding.identifier.as_str()),
            );
            let table = bindings
                .iter()
                .filter_map(|binding| {
                    names
                        .get(&binding.identifier)
                        .map(|name| (name.clone(), binding))
                })
                .collect();
            (server.as_str(), table)
        })
        .collect()
}

/// Replace the tool and skill imports of `code`, or say which one is wrong.
pub(crate) fn rewrite(
    code: &str,
    tools: &BTreeMap<String, Vec<ToolBinding>>,
    skills: &BTreeMap<String, SkillSource>,
) -> Result<Rewritten, ExecutionError> {
    let mut rewriter = Rewriter {
        tables: python_tables(tools),
        skills,
        bound: Vec::new(),
        loads: Vec::new(),
        loading: Vec::new(),
    };
    let code = rewriter.rewrite_source(code, None)?;
    Ok(Rewritten {
        code,
        bound: rewriter.bound,
        skills: rewriter.loads,
    })
}

/// What rewriting one execution's code (and its skills' code) has found so far.
struct Rewriter<'a> {
    tables: BTreeMap<&'a str, BTreeMap<String, &'a ToolBinding>>,
    skills: &'a BTreeMap<String, SkillSource>,
    bound: Vec<BoundTool>,
    loads: Vec<SkillLoad>,
    /// The skills being rewritten now, outermost first (an import cycle shows here).
    loading: Vec<String>,
}

impl Rewriter<'_> {
    /// `code` with its imports replaced; `skill` names the skill it is the code of, if it is one.
    /// The agent's code that does not parse is left alone (Monty reports the `SyntaxError`).
    fn rewrite_source(
        &mut self,
        code: &str,
        skill: Option<&str>,
    ) -> Result<String, ExecutionError> {
        let parsed = match ruff_python_parser::parse_module(code) {
            Ok(parsed) => parsed,
            Err(error) => {
                return match skill {
                    None => Ok(code.to_owned()),
                    Some(name) => Err(import_error(
                        code,
                        error.location,
                        format!("the code does not parse: {}", error.error),
                    ))
                    .map_err(|error| in_skill(name, error)),
                };
            }
        };
        let mut finder = ImportFinder::default();
        finder.visit_body(&parsed.syntax().body);
        if finder.found.is_empty() {
            return Ok(code.to_owned());
        }
        let mut replacements = Vec::new();
        for found in finder.found {
            let replacement = match &found {
                Found::From(statement) if is_skills_module(statement) => {
                    self.skill_statement(code, statement)
                }
                Found::From(statement) => {
                    bind_statement(code, statement, &self.tables, &mut self.bound)
                }
                Found::Plain(statement) => {
                    let names: Vec<&str> = statement
                        .names
                        .iter()
                        .map(|alias| alias.name.as_str())
                        .collect();
                    Err(import_error(
                        code,
                        statement.range,
                        format!(
                            "`import {}` is not how tools or skills are imported in Python. {} \
                             Skills: `from skills.<skill> import <name>`.",
                            names.join(", "),
                            usage(&self.tables)
                        ),
                    ))
                }
            };
            let replacement = match (replacement, skill) {
                (Ok(replacement), _) => replacement,
                (Err(error), None) => return Err(error),
                (Err(error), Some(name)) => return Err(in_skill(name, error)),
            };
            replacements.push((found.range(), replacement));
        }
        let mut rewritten = String::with_capacity(code.len() + 64);
        let mut cursor = 0;
        for (range, replacement) in replacements {
            let (start, end) = (usize::from(range.start()), usize::from(range.end()));
            rewritten.push_str(&code[cursor..start]);
            rewritten.push_str(&replacement);
            rewritten.extend(std::iter::repeat_n(
                '\n',
                code[start..end].matches('\n').count(),
            ));
            cursor = end;
        }
        rewritten.push_str(&code[cursor..]);
        Ok(rewritten)
    }

    /// The assignments that replace one `from skills.<module> import ...`, loading the skill
    /// (and what it imports) first.
    fn skill_statement(
        &mut self,
        code: &str,
        statement: &StmtImportFrom,
    ) -> Result<String, ExecutionError> {
        let module = statement
            .module
            .as_ref()
            .map(|module| module.as_str())
            .unwrap_or_default();
        let Some(module) = module
            .strip_prefix("skills.")
            .filter(|module| !module.is_empty() && !module.contains('.'))
        else {
            return Err(import_error(
                code,
                statement.range,
                "a skill is one module: write `from skills.<skill> import <name>` (the skill's \
                 name with `-` as `_`)."
                    .to_owned(),
            ));
        };
        let name = sluice_skills::skill_of_python_module(module);
        let load = match self.skills.get(&name) {
            Some(source) if source.language == Language::Python => {
                self.load_skill(&name, &source.code)?
            }
            Some(_) => {
                return Err(import_error(
                    code,
                    statement.range,
                    format!(
                        "the skill '{name}' was saved in TypeScript, and TypeScript skills are \
                         imported from TypeScript code (`import {{ ... }} from './skills/{name}'`). \
                         Save a Python version under another name to use it from Python."
                    ),
                ));
            }
            None => {
                return Err(import_error(
                    code,
                    statement.range,
                    format!(
                        "there is no skill '{name}' (module skills.{module}). {}",
                        self.skill_list()
                    ),
                ));
            }
        };
        let mut assignments = Vec::new();
        for alias in &statement.names {
            let wanted = alias.name.as_str();
            if wanted == "*" {
                return Err(import_error(
                    code,
                    alias.range,
                    format!(
                        "`from skills.{module} import *` is not supported: name what you use, \
                         for example `from skills.{module} import {}`.",
                        load.names.first().map_or("a_function", String::as_str)
                    ),
                ));
            }
            if !load.names.iter().any(|known| known == wanted) {
                return Err(import_error(
                    code,
                    alias.range,
                    format!(
                        "the skill '{name}' defines no '{wanted}'. It defines: {}.",
                        if load.names.is_empty() {
                            "nothing".to_owned()
                        } else {
                            load.names.join(", ")
                        }
                    ),
                ));
            }
            let local = alias
                .asname
                .as_ref()
                .map_or(wanted, |asname| asname.as_str());
            assignments.push(format!("{local} = {}[\"{wanted}\"]", load.global));
        }
        Ok(assignments.join("; "))
    }

    /// Rewrite and wrap the Python skill `name` (once per execution), returning what it
    /// defines.
    fn load_skill(&mut self, name: &str, source: &str) -> Result<SkillLoad, ExecutionError> {
        if let Some(done) = self.loads.iter().find(|load| load.name == name) {
            return Ok(done.clone());
        }
        if self.loading.iter().any(|loading| loading == name) {
            let mut cycle = self.loading.clone();
            cycle.push(name.to_owned());
            return Err(ExecutionError {
                kind: ErrorKind::ImportError,
                message: format!(
                    "ImportError: skills import each other in a circle ({}); a skill cannot \
                     import itself, directly or through others.",
                    cycle.join(" -> ")
                ),
                line: None,
                column: None,
            });
        }
        self.loading.push(name.to_owned());
        let rewritten = self.rewrite_source(source, Some(name));
        self.loading.pop();
        let load = crate::skills::wrap(name, source, &rewritten?).map_err(|error| {
            in_skill(
                name,
                ExecutionError {
                    kind: ErrorKind::ImportError,
                    message: format!("ImportError: {error}"),
                    line: None,
                    column: None,
                },
            )
        })?;
        self.loads.push(load.clone());
        Ok(load)
    }

    fn skill_list(&self) -> String {
        if self.skills.is_empty() {
            "No skill this code names is saved (a skill is loaded by its name written out: \
             `from skills.<skill> import ...`; search_tools lists the saved ones)."
                .to_owned()
        } else {
            let names: Vec<&str> = self.skills.keys().map(String::as_str).collect();
            format!("Skills loaded for this code: {}.", names.join(", "))
        }
    }
}

/// An error found in a skill's code, said as such: the position is the skill's, not the code's.
fn in_skill(name: &str, error: ExecutionError) -> ExecutionError {
    let at = match error.line {
        Some(line) => format!(" line {line}"),
        None => String::new(),
    };
    let message = error
        .message
        .strip_prefix("ImportError: ")
        .unwrap_or(&error.message);
    ExecutionError {
        kind: ErrorKind::ImportError,
        message: format!("ImportError: in skill '{name}' (skills/{name}/skill.py{at}): {message}"),
        line: None,
        column: None,
    }
}

fn is_skills_module(statement: &StmtImportFrom) -> bool {
    statement
        .module
        .as_ref()
        .is_some_and(|module| module.as_str() == "skills" || module.as_str().starts_with("skills."))
}

/// The assignments that replace one `from servers.<server> import ...`.
fn bind_statement(
    code: &str,
    statement: &StmtImportFrom,
    tables: &BTreeMap<&str, BTreeMap<String, &ToolBinding>>,
    bound: &mut Vec<BoundTool>,
) -> Result<String, ExecutionError> {
    let module = statement
        .module
        .as_ref()
        .map(|module| module.as_str())
        .unwrap_or_default();
    if module == "servers" {
        return Err(import_error(
            code,
            statement.range,
            format!(
                "`from servers import ...` imports no server as a module. {}",
                usage(tables)
            ),
        ));
    }
    let wanted = module.strip_prefix("servers.").unwrap_or(module);
    let matching: Vec<&str> = tables
        .keys()
        .copied()
        .filter(|server| sluice_codegen::python::module_name(server) == wanted)
        .collect();
    if matching.len() > 1 {
        return Err(import_error(
            code,
            statement.range,
            format!(
                "Servers {} all have the Python module name '{wanted}'; rename one of them in \
                 the gateway's configuration, or call the tools from TypeScript.",
                matching.join(", ")
            ),
        ));
    }
    let server = matching.first().copied().unwrap_or(wanted);
    let Some(table) = tables.get(server) else {
        let known: Vec<String> = tables
            .keys()
            .map(|server| sluice_codegen::python::module_name(server))
            .collect();
        return Err(import_error(
            code,
            statement.range,
            format!(
                "No server named '{server}' is connected. Servers: {}. Search with \
                 search_tools, or list servers/ with list_files.",
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            ),
        ));
    };
    let mut assignments = Vec::new();
    for alias in &statement.names {
        let name = alias.name.as_str();
        if name == "*" {
            return Err(import_error(
                code,
                alias.range,
                format!(
                    "`from servers.{server} import *` is not supported: name the tools you use, \
                     for example `from servers.{server} import {}`.",
                    table.keys().next().map_or("a_tool", String::as_str)
                ),
            ));
        }
        let Some(binding) = table.get(name) else {
            let suggestions = closest(name, table.keys().map(String::as_str));
            return Err(import_error(
                code,
                alias.range,
                format!(
                    "Server '{server}' has no tool '{name}' in Python{}. Its tools are named in \
                     snake_case, as in servers/{server}/<tool>.py; read_file or search_tools \
                     with language \"python\" shows them.",
                    if suggestions.is_empty() {
                        String::new()
                    } else {
                        format!(" (did you mean {}?)", suggestions.join(", "))
                    }
                ),
            ));
        };
        let local = alias.asname.as_ref().map_or(name, |asname| asname.as_str());
        assignments.push(format!("{local} = {BIND_FUNCTION}({})", bound.len()));
        bound.push(BoundTool {
            server: server.to_owned(),
            tool: binding.name.clone(),
            python_name: name.to_owned(),
        });
    }
    Ok(assignments.join("; "))
}

/// How tools are imported, with a real example.
fn usage(tables: &BTreeMap<&str, BTreeMap<String, &ToolBinding>>) -> String {
    let example = tables
        .iter()
        .find_map(|(server, table)| {
            table
                .keys()
                .next()
                .map(|tool| format!("{server} import {tool}"))
        })
        .unwrap_or_else(|| "<server> import <tool>".to_owned());
    format!(
        "Write `from servers.{example}` and call `await {}(...)`.",
        { example.rsplit(' ').next().unwrap_or("tool") }
    )
}

/// Up to three names that start like `name` or contain it.
fn closest<'a>(name: &str, names: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let wanted = name.to_ascii_lowercase().replace('-', "_");
    let stem: String = wanted.chars().take(4).collect();
    names
        .filter(|candidate| candidate.contains(&wanted) || candidate.starts_with(&stem))
        .take(3)
        .collect()
}

fn import_error(code: &str, range: TextRange, message: String) -> ExecutionError {
    let (line, column) = position(code, usize::from(range.start()));
    ExecutionError {
        kind: ErrorKind::ImportError,
        message: format!("ImportError: {message}"),
        line: Some(line),
        column: Some(column),
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub(crate) fn position(code: &str, offset: usize) -> (u32, u32) {
    let before = code.get(..offset).unwrap_or(code);
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit('\n')
        .next()
        .map_or(0, |tail| tail.chars().count())
        + 1;
    (
        u32::try_from(line).unwrap_or(u32::MAX),
        u32::try_from(column).unwrap_or(u32::MAX),
    )
}

/// A statement that imports from `servers` or `skills`.
enum Found {
    From(StmtImportFrom),
    Plain(StmtImport),
}

impl Found {
    fn range(&self) -> TextRange {
        match self {
            Found::From(statement) => statement.range,
            Found::Plain(statement) => statement.range,
        }
    }
}

#[derive(Default)]
struct ImportFinder {
    found: Vec<Found>,
}

fn names_servers_or_skills(module: &str) -> bool {
    ["servers", "skills"].iter().any(|root| {
        module == *root
            || module
                .strip_prefix(root)
                .is_some_and(|rest| rest.starts_with('.'))
    })
}

impl<'a> StatementVisitor<'a> for ImportFinder {
    fn visit_stmt(&mut self, statement: &'a Stmt) {
        match statement {
            Stmt::ImportFrom(from)
                if from.level == 0
                    && from
                        .module
                        .as_ref()
                        .is_some_and(|module| names_servers_or_skills(module.as_str())) =>
            {
                self.found.push(Found::From(from.clone()));
            }
            Stmt::Import(import)
                if import
                    .names
                    .iter()
                    .any(|alias| names_servers_or_skills(alias.name.as_str())) =>
            {
                self.found.push(Found::Plain(import.clone()));
            }
            _ => walk_stmt(self, statement),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tools() -> BTreeMap<String, Vec<ToolBinding>> {
        let binding = |identifier: &str, name: &str| ToolBinding {
            identifier: identifier.into(),
            name: name.into(),
        };
        BTreeMap::from([(
            "github".to_owned(),
            vec![
                binding("createIssue", "create_issue"),
                binding("listIssues", "list-issues"),
            ],
        )])
    }

    #[test]
    fn tool_imports_become_bindings_on_the_same_lines() {
        let code = "x = 1\nif x:\n    from servers.github import (\n        create_issue,\n        list_issues as li,\n    )\ny = 2\n";
        let rewritten = rewrite(code, &tools(), &BTreeMap::new()).unwrap();
        assert_eq!(
            rewritten.code,
            "x = 1\nif x:\n    create_issue = __sluice_bind__(0); li = __sluice_bind__(1)\n\n\n\ny = 2\n"
        );
        assert_eq!(rewritten.bound[1].tool, "list-issues");
        assert_eq!(rewritten.bound[1].python_name, "list_issues");
        assert_eq!(
            rewrite("import json\n1", &tools(), &BTreeMap::new())
                .unwrap()
                .code,
            "import json\n1"
        );
    }

    #[test]
    fn wrong_imports_are_import_errors_with_positions() {
        let error = rewrite(
            "\nfrom servers.gitlab import x\n",
            &tools(),
            &BTreeMap::new(),
        )
        .unwrap_err();
        assert_eq!(
            (error.kind, error.line, error.column),
            (ErrorKind::ImportError, Some(2), Some(1))
        );
        assert!(
            error.message.contains("Servers: github"),
            "{}",
            error.message
        );
        let error = rewrite(
            "from servers.github import create_isue\n",
            &tools(),
            &BTreeMap::new(),
        )
        .unwrap_err();
        assert!(
            error.message.contains("did you mean create_issue"),
            "{}",
            error.message
        );
        assert_eq!(error.column, Some(28));
        let error = rewrite("import servers.github\n", &tools(), &BTreeMap::new()).unwrap_err();
        assert!(
            error
                .message
                .contains("from servers.github import create_issue"),
            "{}",
            error.message
        );
        let skills = BTreeMap::from([
            (
                "report".to_owned(),
                SkillSource::typescript("export const run = 1;"),
            ),
            (
                "sum-rows".to_owned(),
                SkillSource::python("def total(x):\n    return x\n"),
            ),
        ]);
        let error = rewrite("from skills.report import run\n", &tools(), &skills).unwrap_err();
        assert!(
            error.message.contains("saved in TypeScript"),
            "{}",
            error.message
        );
        let error = rewrite("\nfrom skills.nope import run\n", &tools(), &skills).unwrap_err();
        assert_eq!(error.line, Some(2));
        assert!(
            error
                .message
                .contains("no skill 'nope' (module skills.nope). Skills loaded for this code: report, sum-rows."),
            "{}",
            error.message
        );
        let error = rewrite("from skills.sum_rows import totl\n", &tools(), &skills).unwrap_err();
        assert!(
            error
                .message
                .contains("defines no 'totl'. It defines: total."),
            "{}",
            error.message
        );
        let rewritten = rewrite(
            "from skills.sum_rows import total as t\nt(1)",
            &tools(),
            &skills,
        )
        .unwrap();
        assert_eq!(rewritten.skills.len(), 1);
        let global = &rewritten.skills[0].global;
        assert_eq!(rewritten.code, format!("t = {global}[\"total\"]\nt(1)"));
    }
}
