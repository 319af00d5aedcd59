//! TypeScript/JavaScript to QuickJS-ready JavaScript, with oxc.
//!
//! The pipeline is parse (as an ES module) -> semantic checks (early errors, and the regex
//! literal cap) -> type stripping (TypeScript only) -> codegen with a source map. The source map
//! is kept as a compact [`LineMap`] so positions QuickJS reports in the generated code can be
//! mapped back to the agent's own lines and columns. The module's interface is read from the
//! type-stripped program: its static imports, its exports and its top-level declarations (which
//! a session publishes on `globalThis`, see [`session_bindings`]).

use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::Arc;

use oxc::allocator::Allocator;
use oxc::ast::ast::{
    BindingPattern, Declaration, ExportDefaultDeclarationKind, ImportDeclarationSpecifier, Program,
    RegExpLiteral, Statement, VariableDeclaration, VariableDeclarationKind,
};
use oxc::ast_visit::Visit;
use oxc::codegen::{Codegen, CodegenOptions};
use oxc::diagnostics::OxcDiagnostic;
use oxc::parser::Parser;
use oxc::semantic::ScopeFlags;
use oxc::semantic::SemanticBuilder;
use oxc::span::SourceType;
use oxc::transformer::{TransformOptions, Transformer};
use sluice_worker_protocol::{ErrorKind, ExecutionError, Language};

use crate::MAX_REGEX_SOURCE_CHARS;

/// The result of transpiling one module.
#[derive(Debug, Clone)]
pub(crate) struct Transpiled {
    /// JavaScript for QuickJS (an ES module).
    pub code: String,
    /// Generated position -> original position.
    pub line_map: Arc<LineMap>,
    /// Static imports and re-exports that survive type stripping, in source order.
    pub imports: Vec<StaticImport>,
    /// Names the module exports (values only; types are gone after stripping).
    pub exports: Vec<String>,
    /// Module-scope declarations (var, let, const, function, class, and `var`s nested in
    /// top-level blocks; not imports), in source order.
    pub declarations: Vec<TopLevelBinding>,
    /// Local names of the module's imports (they are top-level names too).
    pub imported_locals: Vec<String>,
}

/// A binding declared at the top level of a module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TopLevelBinding {
    /// Its name.
    pub name: String,
    /// Declared with `const` (it cannot be assigned).
    pub constant: bool,
}

/// One `import ... from "x"` or `export ... from "x"` of a module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StaticImport {
    /// The module specifier as written.
    pub specifier: String,
    /// What is taken from the module.
    pub names: Vec<ImportedName>,
    /// 1-based line of the specifier in the original source.
    pub line: u32,
    /// 1-based column of the specifier in the original source.
    pub column: u32,
}

/// One binding taken from an imported module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ImportedName {
    /// `import { name }` or `export { name } from`.
    Named(String),
    /// `import name from`.
    Default,
    /// `import * as ns from` or `export * from`.
    Namespace,
}

/// Transpile agent code to JavaScript that QuickJS runs as an ES module.
///
/// TypeScript types are stripped (type-only imports disappear with them); ES module syntax and
/// top-level `await` are kept as they are, since QuickJS runs modules natively. Syntax errors are
/// reported as an [`ExecutionError`] of kind `SyntaxError` with the 1-based line and column in
/// `source`, and a message that holds oxc's message and the offending line.
pub fn transpile(source: &str, language: Language) -> Result<String, ExecutionError> {
    transpile_module(source, language, "main").map(|transpiled| transpiled.code)
}

/// [`transpile`], keeping the line map and the module's imports and exports.
///
/// oxc asserts its own invariants with panics; agent code must never take the worker down, so a
/// panic becomes an `InternalError` (the panic message still goes to stderr via the hook).
pub(crate) fn transpile_module(
    source: &str,
    language: Language,
    name: &str,
) -> Result<Transpiled, ExecutionError> {
    std::panic::catch_unwind(AssertUnwindSafe(|| {
        transpile_unguarded(source, language, name)
    }))
    .unwrap_or_else(|_| {
        Err(ExecutionError {
            kind: ErrorKind::InternalError,
            message: "Internal error of the sandbox: the TypeScript transpiler crashed on \
                          this code. Try simpler syntax around recently changed lines."
                .to_owned(),
            line: None,
            column: None,
        })
    })
}

fn transpile_unguarded(
    source: &str,
    language: Language,
    name: &str,
) -> Result<Transpiled, ExecutionError> {
    let allocator = Allocator::default();
    let source_type = match language {
        Language::Typescript => SourceType::ts(),
        Language::Javascript => SourceType::mjs(),
        Language::Python => {
            return Err(ExecutionError {
                kind: ErrorKind::InternalError,
                message: "Internal error of the sandbox: Python code reached the JavaScript \
                          engine"
                    .to_owned(),
                line: None,
                column: None,
            });
        }
    };
    let parsed = Parser::new(&allocator, source, source_type).parse();
    if parsed.panicked || parsed.diagnostics.has_errors() {
        let errors: Vec<&OxcDiagnostic> = parsed.diagnostics.errors().collect();
        return Err(syntax_error(source, &errors));
    }
    let mut program = parsed.program;

    let semantic = SemanticBuilder::new()
        .with_check_syntax_error(true)
        // The TypeScript transform needs evaluated enum members.
        .with_enum_eval(true)
        .with_excess_capacity(2.0)
        .build(&program);
    if semantic.diagnostics.has_errors() {
        let errors: Vec<&OxcDiagnostic> = semantic.diagnostics.errors().collect();
        return Err(syntax_error(source, &errors));
    }
    check_regex_literals(source, &program)?;
    let scoping = semantic.semantic.into_scoping();

    if language == Language::Typescript {
        let options = TransformOptions::default();
        let path = format!("{name}.ts");
        let transformed = Transformer::new(&allocator, Path::new(&path), &options)
            .build_with_scoping(scoping, &mut program);
        if transformed.diagnostics.has_errors() {
            let errors: Vec<&OxcDiagnostic> = transformed.diagnostics.errors().collect();
            return Err(syntax_error(source, &errors));
        }
    }

    let (imports, exports) = module_interface(&program, source);
    let (declarations, imported_locals) = top_level_names(&program);
    let options = CodegenOptions {
        source_map_path: Some(format!("{name}.ts").into()),
        ..CodegenOptions::default()
    };
    let generated = Codegen::new().with_options(options).build(&program);
    let line_map = Arc::new(match &generated.map {
        Some(map) => LineMap::new(map.get_tokens().map(|token| {
            (
                token.get_dst_line(),
                token.get_dst_col(),
                token.get_src_line(),
                token.get_src_col(),
            )
        })),
        None => LineMap::default(),
    });
    Ok(Transpiled {
        code: generated.code,
        line_map,
        imports,
        exports,
        declarations,
        imported_locals,
    })
}

/// Refuse regex literals whose source is longer than [`MAX_REGEX_SOURCE_CHARS`]: QuickJS compiles
/// them while it runs the module, and its regex compiler cannot be interrupted.
fn check_regex_literals(source: &str, program: &Program<'_>) -> Result<(), ExecutionError> {
    /// Finds the first regex literal over the cap.
    #[derive(Default)]
    struct LongRegex {
        found: Option<(u32, usize)>,
    }
    impl<'a> Visit<'a> for LongRegex {
        fn visit_reg_exp_literal(&mut self, literal: &RegExpLiteral<'a>) {
            let length = literal.regex.pattern.text.encode_utf16().count();
            if length > MAX_REGEX_SOURCE_CHARS && self.found.is_none() {
                self.found = Some((literal.span.start, length));
            }
        }
    }
    let mut finder = LongRegex::default();
    finder.visit_program(program);
    let Some((offset, length)) = finder.found else {
        return Ok(());
    };
    let (line, column) = line_column(source, offset);
    Err(ExecutionError {
        kind: ErrorKind::SyntaxError,
        message: format!(
            "Regular expression too long: its pattern is {length} characters; this sandbox \
             allows at most {MAX_REGEX_SOURCE_CHARS}. Use a shorter pattern, or split the \
             matching into simpler steps (line {line}, column {column})"
        ),
        line: Some(line),
        column: Some(column),
    })
}

/// Check code that agent code compiles while it runs (`eval`, the `Function` constructors) for
/// regex literals over the cap, before QuickJS compiles it. The code is parsed as a script the
/// way the prelude builds it; code that does not parse is refused here with oxc's message
/// (QuickJS would refuse it too, and only code oxc has seen may reach QuickJS's regex compiler).
pub(crate) fn check_dynamic_code(source: &str) -> Result<(), String> {
    let checked = std::panic::catch_unwind(AssertUnwindSafe(|| {
        let allocator = Allocator::default();
        let parsed = Parser::new(&allocator, source, SourceType::script()).parse();
        if parsed.panicked || parsed.diagnostics.has_errors() {
            let message = parsed.diagnostics.errors().next().map_or_else(
                || "the code does not parse".to_owned(),
                |error| error.message.to_string(),
            );
            return Err(message);
        }
        check_regex_literals(source, &parsed.program).map_err(|error| error.message)
    }));
    checked.unwrap_or_else(|_| Err("the code could not be checked".to_owned()))
}

/// The top-level declarations and imported local names of a (type-stripped) program.
fn top_level_names(program: &Program<'_>) -> (Vec<TopLevelBinding>, Vec<String>) {
    let mut declarations = Vec::new();
    let mut imported = Vec::new();
    let add_variables = |variables: &VariableDeclaration<'_>,
                         declarations: &mut Vec<TopLevelBinding>| {
        // `using` bindings are disposed when the module body ends: nothing to keep.
        if matches!(
            variables.kind,
            VariableDeclarationKind::Using | VariableDeclarationKind::AwaitUsing
        ) {
            return;
        }
        let constant = variables.kind == VariableDeclarationKind::Const;
        for declarator in &variables.declarations {
            add_pattern(&declarator.id, constant, declarations);
        }
    };
    for statement in &program.body {
        match statement {
            Statement::VariableDeclaration(variables) => {
                add_variables(variables, &mut declarations)
            }
            Statement::FunctionDeclaration(function) => {
                if let Some(id) = &function.id {
                    declarations.push(binding(id.name.as_str(), false));
                }
            }
            Statement::ClassDeclaration(class) => {
                if let Some(id) = &class.id {
                    declarations.push(binding(id.name.as_str(), false));
                }
            }
            Statement::ExportDeclaration(export) => match &export.declaration {
                Declaration::VariableDeclaration(variables) => {
                    add_variables(variables, &mut declarations)
                }
                Declaration::FunctionDeclaration(function) => {
                    if let Some(id) = &function.id {
                        declarations.push(binding(id.name.as_str(), false));
                    }
                }
                Declaration::ClassDeclaration(class) => {
                    if let Some(id) = &class.id {
                        declarations.push(binding(id.name.as_str(), false));
                    }
                }
                _ => {}
            },
            Statement::ExportDefaultDeclaration(export) => match &export.declaration {
                ExportDefaultDeclarationKind::FunctionDeclaration(function) => {
                    if let Some(id) = &function.id {
                        declarations.push(binding(id.name.as_str(), false));
                    }
                }
                ExportDefaultDeclarationKind::ClassDeclaration(class) => {
                    if let Some(id) = &class.id {
                        declarations.push(binding(id.name.as_str(), false));
                    }
                }
                _ => {}
            },
            Statement::ImportDeclaration(import) => {
                for specifier in import.specifiers.iter().flatten() {
                    imported.push(specifier.local().name.to_string());
                }
            }
            _ => {}
        }
    }
    // `var`s in top-level blocks and loop heads (`for (var i ...)`) are module-scoped too.
    let mut hoisted = HoistedVars::default();
    for statement in &program.body {
        if !matches!(statement, Statement::VariableDeclaration(_)) {
            hoisted.visit_statement(statement);
        }
    }
    declarations.extend(hoisted.names.into_iter().map(|name| binding(&name, false)));
    // A name declared twice (`var x` twice, or a function and a var) is one binding.
    let mut seen = std::collections::HashSet::new();
    declarations.retain(|declaration| seen.insert(declaration.name.clone()));
    (declarations, imported)
}

/// Collects the names of `var` declarations outside any function or class: they belong to the
/// module scope wherever they are nested.
#[derive(Default)]
struct HoistedVars {
    names: Vec<String>,
}

impl<'a> Visit<'a> for HoistedVars {
    fn visit_variable_declaration(&mut self, declaration: &VariableDeclaration<'a>) {
        if declaration.kind == VariableDeclarationKind::Var {
            for declarator in &declaration.declarations {
                self.names.extend(
                    declarator
                        .id
                        .get_binding_identifiers()
                        .iter()
                        .map(|id| id.name.to_string()),
                );
            }
        }
        oxc::ast_visit::walk::walk_variable_declaration(self, declaration);
    }

    fn visit_function(&mut self, _function: &oxc::ast::ast::Function<'a>, _flags: ScopeFlags) {}

    fn visit_arrow_function_expression(
        &mut self,
        _arrow: &oxc::ast::ast::ArrowFunctionExpression<'a>,
    ) {
    }

    fn visit_class(&mut self, _class: &oxc::ast::ast::Class<'a>) {}
}

fn binding(name: &str, constant: bool) -> TopLevelBinding {
    TopLevelBinding {
        name: name.to_owned(),
        constant,
    }
}

fn add_pattern(pattern: &BindingPattern<'_>, constant: bool, out: &mut Vec<TopLevelBinding>) {
    for id in pattern.get_binding_identifiers() {
        out.push(binding(id.name.as_str(), constant));
    }
}

/// JavaScript appended to a session execution's module: an exported function, hoisted so it
/// exists even when the module body throws early, that returns an object with one accessor per
/// top-level declaration (a getter, and a setter unless it is `const`). Reading an accessor of a
/// binding still in its temporal dead zone throws, which is how the engine tells which
/// declarations the body reached.
///
/// Returns the export name (chosen so it collides with none of the module's own names) and the
/// code to append. Appending after the last line leaves every mapped position as it was.
pub(crate) fn session_bindings(transpiled: &Transpiled) -> (String, String) {
    let taken = |name: &str| {
        transpiled
            .declarations
            .iter()
            .any(|declaration| declaration.name == name)
            || transpiled.imported_locals.iter().any(|local| local == name)
            || transpiled.exports.iter().any(|export| export == name)
    };
    let unique = |base: &str| {
        let mut name = base.to_owned();
        let mut counter = 0u32;
        while taken(&name) {
            counter += 1;
            name = format!("{base}{counter}");
        }
        name
    };
    let function = unique("__sluiceSessionBindings");
    let parameter = unique("__sluiceValue");
    let mut code = format!("\n;export function {function}() {{ return {{");
    for (index, declaration) in transpiled.declarations.iter().enumerate() {
        let name = &declaration.name;
        if index > 0 {
            code.push(',');
        }
        code.push_str(&format!(" get {name}() {{ return {name}; }}"));
        if !declaration.constant {
            code.push_str(&format!(
                ", set {name}({parameter}) {{ {name} = {parameter}; }}"
            ));
        }
    }
    code.push_str(" }; }\n");
    (function, code)
}

/// Imports and value exports of a (type-stripped) program.
fn module_interface(program: &Program<'_>, source: &str) -> (Vec<StaticImport>, Vec<String>) {
    let mut imports = Vec::new();
    let mut exports = Vec::new();
    for statement in &program.body {
        match statement {
            Statement::ImportDeclaration(declaration) => {
                let names = match &declaration.specifiers {
                    None => Vec::new(),
                    Some(specifiers) => specifiers
                        .iter()
                        .map(|specifier| match specifier {
                            ImportDeclarationSpecifier::ImportSpecifier(specifier) => {
                                ImportedName::Named(specifier.imported.name().to_string())
                            }
                            ImportDeclarationSpecifier::ImportDefaultSpecifier(_) => {
                                ImportedName::Default
                            }
                            ImportDeclarationSpecifier::ImportNamespaceSpecifier(_) => {
                                ImportedName::Namespace
                            }
                        })
                        .collect(),
                };
                let (line, column) = line_column(source, declaration.source.span.start);
                imports.push(StaticImport {
                    specifier: declaration.source.value.to_string(),
                    names,
                    line,
                    column,
                });
            }
            Statement::ExportFromDeclaration(declaration) => {
                let names = declaration
                    .specifiers
                    .iter()
                    .map(|specifier| ImportedName::Named(specifier.local.name().to_string()))
                    .collect();
                exports.extend(
                    declaration
                        .specifiers
                        .iter()
                        .map(|specifier| specifier.exported.name().to_string()),
                );
                let (line, column) = line_column(source, declaration.source.span.start);
                imports.push(StaticImport {
                    specifier: declaration.source.value.to_string(),
                    names,
                    line,
                    column,
                });
            }
            Statement::ExportAllDeclaration(declaration) => {
                let (line, column) = line_column(source, declaration.source.span.start);
                imports.push(StaticImport {
                    specifier: declaration.source.value.to_string(),
                    names: vec![ImportedName::Namespace],
                    line,
                    column,
                });
            }
            Statement::ExportNamedDeclaration(declaration) => {
                exports.extend(
                    declaration
                        .specifiers
                        .iter()
                        .map(|specifier| specifier.exported.name().to_string()),
                );
            }
            Statement::ExportDeclaration(declaration) => {
                if let Some(identifier) = declaration.declaration.id() {
                    exports.push(identifier.name.to_string());
                } else if let oxc::ast::ast::Declaration::VariableDeclaration(variables) =
                    &declaration.declaration
                {
                    for declarator in &variables.declarations {
                        exports.extend(
                            declarator
                                .id
                                .get_binding_identifiers()
                                .iter()
                                .map(|id| id.name.to_string()),
                        );
                    }
                }
            }
            Statement::ExportDefaultDeclaration(_) => exports.push("default".to_owned()),
            _ => {}
        }
    }
    (imports, exports)
}

/// A `SyntaxError` for the first of `errors`.
fn syntax_error(source: &str, errors: &[&OxcDiagnostic]) -> ExecutionError {
    let Some(first) = errors.first() else {
        return ExecutionError {
            kind: ErrorKind::SyntaxError,
            message: "the code could not be parsed".to_owned(),
            line: None,
            column: None,
        };
    };
    let offset = first
        .labels
        .iter()
        .find(|label| label.primary())
        .or_else(|| first.labels.first())
        .map(|label| label.offset());
    let mut message = first.message.to_string();
    if let Some(help) = &first.help {
        message.push_str(". Help: ");
        message.push_str(help);
    }
    if message.contains("return") {
        message.push_str(
            ". The code is an ES module: to return a result, use `export default <value>` \
             (top-level `await` works)",
        );
    }
    let (line, column) = match offset {
        Some(offset) => {
            let (line, column) = line_column(source, offset);
            message.push_str(&format!(" (line {line}, column {column})"));
            if let Some(frame) = code_frame(source, line, column) {
                message.push('\n');
                message.push_str(&frame);
            }
            (Some(line), Some(column))
        }
        None => (None, None),
    };
    if errors.len() > 1 {
        let more = errors.len() - 1;
        message.push_str(&format!(
            "\n({more} more syntax error{} after this one)",
            if more == 1 { "" } else { "s" }
        ));
    }
    ExecutionError {
        kind: ErrorKind::SyntaxError,
        message,
        line,
        column,
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub(crate) fn line_column(source: &str, offset: u32) -> (u32, u32) {
    let mut offset = (offset as usize).min(source.len());
    while !source.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |index| index + 1);
    let column = before[line_start..].chars().count() + 1;
    (saturating_u32(line), saturating_u32(column))
}

fn saturating_u32(value: usize) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

/// The offending line with a caret under the column, like compilers print it.
fn code_frame(source: &str, line: u32, column: u32) -> Option<String> {
    const MAX_LINE_CHARS: usize = 160;
    let text = source.lines().nth(line.checked_sub(1)? as usize)?;
    let column = column.saturating_sub(1) as usize;
    // Long lines (minified code) are cut to a window around the column.
    let skip = column.saturating_sub(MAX_LINE_CHARS / 2);
    let shown: String = text.chars().skip(skip).take(MAX_LINE_CHARS).collect();
    let gutter = line.to_string();
    let pad = " ".repeat(gutter.len());
    let caret_pad: String = shown
        .chars()
        .take(column - skip)
        .map(|character| if character == '\t' { '\t' } else { ' ' })
        .collect();
    Some(format!("{gutter} | {shown}\n{pad} | {caret_pad}^"))
}

/// Generated (0-based line, column) -> original (0-based line, column), from the source map.
#[derive(Debug, Clone, Default)]
pub(crate) struct LineMap {
    /// Sorted by generated position.
    tokens: Vec<(u32, u32, u32, u32)>,
}

impl LineMap {
    fn new(tokens: impl Iterator<Item = (u32, u32, u32, u32)>) -> Self {
        let mut tokens: Vec<_> = tokens.collect();
        tokens.sort_unstable();
        Self { tokens }
    }

    /// Map a 1-based position in the generated code to a 1-based position in the original.
    ///
    /// Best effort: the closest mapped token at or before the position on the same generated
    /// line, else the first token of that line, else the closest earlier token.
    pub(crate) fn original(&self, line: u32, column: u32) -> Option<(u32, u32)> {
        let line = line.checked_sub(1)?;
        let column = column.saturating_sub(1);
        let index = self
            .tokens
            .partition_point(|token| (token.0, token.1) <= (line, column));
        let token = match index.checked_sub(1).map(|before| self.tokens[before]) {
            Some(token) if token.0 == line => token,
            before => match self.tokens.get(index) {
                Some(after) if after.0 == line => *after,
                _ => before?,
            },
        };
        Some((token.2 + 1, token.3 + 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_types_and_keeps_modules() {
        let code = transpile(
            "import type { X } from './servers/a';\nconst n: number = 1;\nexport default await Promise.resolve(n as number);\n",
            Language::Typescript,
        )
        .unwrap();
        assert!(!code.contains("number"), "{code}");
        assert!(code.contains("export default await"), "{code}");
        assert!(!code.contains("servers/a"), "{code}");
    }

    #[test]
    fn syntax_error_has_position_and_frame() {
        let error = transpile("const a = 1;\nconst b = ;\n", Language::Typescript).unwrap_err();
        assert_eq!(error.kind, ErrorKind::SyntaxError);
        assert_eq!(
            (error.line, error.column),
            (Some(2), Some(11)),
            "{}",
            error.message
        );
        assert!(error.message.contains("const b = ;"), "{}", error.message);
    }

    #[test]
    fn top_level_return_suggests_export_default() {
        let error = transpile("const a = 1;\nreturn a;\n", Language::Typescript).unwrap_err();
        assert_eq!(error.line, Some(2));
        assert!(
            error.message.contains("export default"),
            "{}",
            error.message
        );
    }

    #[test]
    fn collects_imports_after_type_stripping() {
        let transpiled = transpile_module(
            "import { a, type T } from './servers/s';\nimport d from './runtime';\nimport * as ns from './servers/t/x';\nconst v: T = a(d, ns);\nexport const w = 1;\n",
            Language::Typescript,
            "main",
        )
        .unwrap();
        let specifiers: Vec<_> = transpiled
            .imports
            .iter()
            .map(|import| import.specifier.as_str())
            .collect();
        assert_eq!(specifiers, ["./servers/s", "./runtime", "./servers/t/x"]);
        assert_eq!(
            transpiled.imports[0].names,
            [ImportedName::Named("a".into())]
        );
        assert_eq!(transpiled.imports[1].names, [ImportedName::Default]);
        assert_eq!(
            (transpiled.imports[2].line, transpiled.imports[2].column),
            (3, 21)
        );
        assert_eq!(transpiled.exports, ["w"]);
    }

    #[test]
    fn line_map_points_back_to_the_source() {
        let source =
            "type A = {\n  a: number;\n};\n\n\nfunction f(x: A) {\n  throw new Error('x');\n}\n";
        let transpiled = transpile_module(source, Language::Typescript, "main").unwrap();
        let generated_line = transpiled
            .code
            .lines()
            .position(|line| line.contains("throw"))
            .unwrap() as u32
            + 1;
        let (line, _) = transpiled.line_map.original(generated_line, 2).unwrap();
        assert_eq!(line, 7);
    }
}
