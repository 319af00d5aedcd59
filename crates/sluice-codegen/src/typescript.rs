//! JSON Schema to TypeScript: the typed file of each tool, and its compact signature.
//!
//! Agents write code against these files, so the types aim to be what a careful person would
//! write by hand: interfaces for objects, literal unions for enums, named types for `$defs`,
//! JSDoc from descriptions. Where a schema says something TypeScript cannot express (patterns,
//! ranges, `not`, conditionals), the type is the nearest wider one; where it says nothing, the
//! type is `unknown`. The gateway validates arguments against the real schema anyway, so a type
//! that is a little too wide costs a clear error message at run time, never a wrong call.
//!
//! Supported keywords: `type` (also as a list), `properties`, `required`, `additionalProperties`,
//! `patternProperties`, `items` (schema or tuple list), `prefixItems`, `additionalItems`,
//! `minItems` (for optional tuple elements), `enum`, `const`, `anyOf`, `oneOf`, `allOf`, `$ref`
//! (to `#`, `#/$defs/X` and `#/definitions/X` as named types, any other local JSON pointer
//! inline), OpenAPI's `nullable`, boolean schemas, and `description`, `title`, `format`,
//! `default` and `deprecated` as documentation.
//!
//! Limits: schemas nested deeper than [`MAX_DEPTH`], more than [`MAX_NODES`] schema nodes per
//! tool, enums of more than [`MAX_ENUM_VALUES`] values and chains of more than
//! [`MAX_INLINE_REFERENCES`] inline references are typed with the nearest wider type (usually
//! `unknown`) and say so in their documentation. Output is deterministic: properties keep the
//! order the server sent, named types are sorted by name.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde_json::{Map, Value};
use sluice_catalog::{CatalogTool, JsonObject};

use crate::escape::{
    jsdoc, jsdoc_block, pascal_case, property_key, string_literal, type_name_part,
};

/// Deepest schema nesting that is typed; deeper parts become `unknown`.
pub const MAX_DEPTH: usize = 32;
/// Most schema nodes typed per tool (input, output and named types together). The largest real
/// tool definition we know of has about 3,000; the cap keeps a hostile one from producing
/// megabytes of TypeScript.
pub const MAX_NODES: usize = 20_000;
/// Largest enum typed as a union of literals; larger ones are typed by their values' kinds.
pub const MAX_ENUM_VALUES: usize = 500;
/// Most non-`$defs` references being expanded inside one another at once.
pub const MAX_INLINE_REFERENCES: usize = 16;
/// Longest `@default` value shown, in characters.
const MAX_DEFAULT_CHARS: usize = 200;

/// The complete TypeScript module for one tool: `servers/<server>/<identifier>.ts`.
///
/// It imports `callMCPTool` from the runtime, declares the input and output types (and a named
/// type for every `$defs` entry they use), and exports one documented async function that calls
/// the tool by its server and original MCP name. Every piece of server text is escaped (see
/// [`crate::escape`]), so the module parses whatever the server sent.
pub fn tool_file(tool: &CatalogTool) -> String {
    let parts = ToolTypes::build(tool, Style::File);
    let mut file = format!(
        "import {{ callMCPTool }} from \"../../{}\";\n\n",
        crate::RUNTIME_MODULE
    );
    parts.push_declarations(&mut file);
    file.push_str(&jsdoc_block(&parts.function_doc, ""));
    let parameter = if parts.input_optional {
        format!("input: {} = {{}}", parts.input_name)
    } else {
        format!("input: {}", parts.input_name)
    };
    file.push_str(&format!(
        "export async function {identifier}({parameter}): Promise<{output}> {{\n  \
         return callMCPTool<{output}>({server}, {name}, input);\n}}\n",
        identifier = parts.identifier,
        output = parts.output_name,
        server = string_literal(&tool.server),
        name = string_literal(&tool.name),
    ));
    file
}

/// The compact typed signature of one tool, as `search_tools` shows it at detail `full`.
///
/// The same type declarations and function documentation as [`tool_file`], with the function as
/// a bodiless declaration (`export function getSum(input: GetSumInput): Promise<GetSumOutput>;`)
/// and without the import: everything an agent needs to call the tool, nothing it does not.
pub fn tool_signature(tool: &CatalogTool) -> String {
    let parts = ToolTypes::build(tool, Style::Signature);
    let question = if parts.input_optional { "?" } else { "" };
    let mut signature = String::new();
    // The compact form writes the input and output types inline: a search result costs the
    // model's context, and two named interfaces per tool add words without adding meaning. A
    // schema whose `$defs` refer back to the input or output type by name keeps the named form.
    let refers_to_root = parts.named_declarations.iter().any(|declaration| {
        declaration.contains(&parts.input_name) || declaration.contains(&parts.output_name)
    });
    if refers_to_root {
        parts.push_declarations(&mut signature);
        signature.push_str(&jsdoc_block(&parts.function_doc, ""));
        signature.push_str(&format!(
            "export function {}(input{question}: {}): Promise<{}>;\n",
            parts.identifier, parts.input_name, parts.output_name
        ));
        return signature;
    }
    for declaration in &parts.named_declarations {
        signature.push_str(declaration);
        signature.push('\n');
    }
    signature.push_str(&jsdoc_block(&parts.function_doc, ""));
    signature.push_str(&format!(
        "export function {}(input{question}: ",
        parts.identifier
    ));
    parts.input_type.print(&mut signature, 0);
    signature.push_str("): Promise<");
    parts.output_type.print(&mut signature, 0);
    signature.push_str(">;\n");
    signature
}

/// The identifier a tool's function and file are named by.
///
/// Catalog identifiers are already valid, and deriving an identifier from one gives it back
/// unchanged; doing so anyway turns whatever a careless caller put in the field into a safe
/// identifier, so no caller can smuggle code into a function name or a path.
pub fn code_identifier(tool: &CatalogTool) -> String {
    sluice_catalog::to_identifier(&tool.identifier)
}

/// The names of a tool's input and output types: `GetSumInput` and `GetSumOutput` for `getSum`.
///
/// The function name is shorter than both and `callMCPTool` ends differently, so neither can
/// collide with them and the tool file always uses exactly these names; the server's index file
/// relies on that to re-export them.
pub fn type_names(tool: &CatalogTool) -> (String, String) {
    let stem = pascal_case(&code_identifier(tool));
    (format!("{stem}Input"), format!("{stem}Output"))
}

/// How much documentation to generate.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Style {
    /// The tool's file: every declaration documented, including where the call goes.
    File,
    /// A search result in the model's context: only documentation that says something about this
    /// tool (no "Input of" boilerplate, no `@see` line: the result names the file).
    Signature,
}

/// Everything generated for one tool, shared by [`tool_file`] and [`tool_signature`].
struct ToolTypes {
    identifier: String,
    input_name: String,
    output_name: String,
    /// Type declarations in file order: input, output, then named types sorted by name.
    declarations: Vec<String>,
    /// The input and output types themselves, for the inline form of a signature.
    input_type: Ty,
    output_type: Ty,
    /// Declarations of `$defs` types (a suffix of `declarations`).
    named_declarations: Vec<String>,
    function_doc: String,
    /// True when `{}` is a valid input, so the parameter can be left out.
    input_optional: bool,
}

impl ToolTypes {
    fn build(tool: &CatalogTool, style: Style) -> Self {
        let identifier = code_identifier(tool);
        let (input_name_wanted, output_name_wanted) = type_names(tool);
        let input_schema = tool.input_schema.to_value();
        let output_schema = tool.output_schema.as_ref().map(JsonObject::to_value);

        let mut generator = Generator::new(&pascal_case(&identifier), &identifier);
        let input_name = generator.reserve(&input_name_wanted);
        let output_name = generator.reserve(&output_name_wanted);
        generator.roots.push(Root {
            schema: &input_schema,
            name: input_name.clone(),
        });
        if let Some(schema) = &output_schema {
            generator.roots.push(Root {
                schema,
                name: output_name.clone(),
            });
        }

        let mut declarations = Vec::new();

        let input_type = generator.render(&input_schema, 0, 0);
        let mut input_doc = match style {
            Style::File => format!("Input of `{identifier}`."),
            Style::Signature => String::new(),
        };
        push_paragraph(&mut input_doc, schema_description(&input_schema, None));
        if generator.take_truncated() {
            push_paragraph(&mut input_doc, Some(TRUNCATED_NOTE));
        }
        declarations.push(declaration(&input_name, &input_type, &input_doc));
        let mut output_type = Ty::unknown();

        let output_declaration = match &output_schema {
            Some(schema) => {
                output_type = generator.render(schema, 1, 0);
                let mut doc = match style {
                    Style::File => format!(
                        "Output of `{identifier}`: the tool's structured content, as its output\n\
                         schema declares it."
                    ),
                    Style::Signature => String::new(),
                };
                push_paragraph(&mut doc, schema_description(schema, None));
                if generator.take_truncated() {
                    push_paragraph(&mut doc, Some(TRUNCATED_NOTE));
                }
                declaration(&output_name, &output_type, &doc)
            }
            None => {
                let doc = match style {
                    Style::File => format!(
                        "Output of `{identifier}`. The tool declares no output schema, so this is\n\
                         whatever it returns: its `structuredContent` when it sends one, else its\n\
                         text content parsed as JSON when that text is JSON, else the text itself;\n\
                         images or other non-text content come as `ToolContent` blocks (see\n\
                         runtime.ts, `isContent`)."
                    ),
                    Style::Signature => "No output schema: parsed JSON or text.".to_owned(),
                };
                declaration(&output_name, &Ty::unknown(), &doc)
            }
        };
        declarations.push(output_declaration);
        let named_declarations = generator.named_declarations();
        declarations.extend(named_declarations.iter().cloned());

        Self {
            input_type,
            output_type,
            named_declarations,
            input_optional: input_schema.as_object().is_some_and(input_accepts_empty),
            function_doc: function_doc(tool, style),
            identifier,
            input_name,
            output_name,
            declarations,
        }
    }

    fn push_declarations(&self, out: &mut String) {
        for declaration in &self.declarations {
            out.push_str(declaration);
            out.push('\n');
        }
    }
}

const TRUNCATED_NOTE: &str = "Parts of this schema are too deep or too large to type here; \
                              they are typed `unknown` (or a wider type) instead.";

/// True when an empty object satisfies the input schema as far as its types can tell: nothing
/// is required and no combinator adds conditions.
fn input_accepts_empty(schema: &Map<String, Value>) -> bool {
    let nothing_required = schema
        .get("required")
        .and_then(Value::as_array)
        .is_none_or(|required| required.is_empty());
    let combinators = ["anyOf", "oneOf", "allOf", "$ref", "enum", "const"];
    nothing_required
        && !combinators
            .iter()
            .any(|keyword| schema.contains_key(*keyword))
}

/// Append a paragraph (cleaned by [`jsdoc`] on its own, so its indentation is judged apart
/// from the rest of the comment) after a blank line; nothing for empty text.
fn push_paragraph(doc: &mut String, paragraph: Option<&str>) {
    let paragraph = jsdoc(paragraph.unwrap_or(""));
    if paragraph.is_empty() {
        return;
    }
    if !doc.is_empty() {
        doc.push_str("\n\n");
    }
    doc.push_str(&paragraph);
}

/// The documentation of the tool's function: title, description, hints and where it goes.
fn function_doc(tool: &CatalogTool, style: Style) -> String {
    let title = tool
        .title
        .as_deref()
        .map(str::trim)
        .filter(|title| !title.is_empty());
    let description = tool
        .description
        .as_deref()
        .map(str::trim)
        .filter(|text| !text.is_empty());
    let mut doc = String::new();
    if title.is_some_and(|title| description.is_none_or(|text| !text.starts_with(title))) {
        push_paragraph(&mut doc, title);
    }
    push_paragraph(&mut doc, description);
    // What the catalog repaired in the definition, so a surprising type has an explanation.
    for warning in &tool.warnings {
        push_paragraph(&mut doc, Some(&format!("Note: {warning}.")));
    }
    let mut tags = Vec::new();
    if let Some(Value::Object(annotations)) = &tool.annotations {
        for hint in [
            "readOnlyHint",
            "destructiveHint",
            "idempotentHint",
            "openWorldHint",
        ] {
            if let Some(Value::Bool(value)) = annotations.get(hint) {
                tags.push(format!("@{hint} {value}"));
            }
        }
    }
    if style == Style::File {
        tags.push(format!(
            "@see MCP tool {} on server {}",
            string_literal(&tool.name),
            string_literal(&tool.server)
        ));
    }
    push_paragraph(&mut doc, Some(&tags.join("\n")));
    doc
}

/// The description of a schema (else a title that says more than its key), for documentation.
///
/// Generators such as Pydantic give every property a `title` that merely repeats the key
/// (`"timezone"` titled `"Timezone"`); those add nothing and are left out.
fn schema_description<'v>(schema: &'v Value, key: Option<&str>) -> Option<&'v str> {
    let object = schema.as_object()?;
    let text_of = |keyword: &str| {
        object
            .get(keyword)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|text| !text.is_empty())
    };
    if let Some(description) = text_of("description") {
        return Some(description);
    }
    let title = text_of("title")?;
    let squash = |text: &str| -> String {
        text.chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .collect()
    };
    match key {
        Some(key) if squash(key) == squash(title) => None,
        // A root schema's title is usually a generated class name (`get_timeArguments`).
        None => None,
        Some(_) => Some(title),
    }
}

/// The JSON Schema keywords that constrain a value and are shown as doc tags.
const CONSTRAINT_KEYWORDS: [&str; 12] = [
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minProperties",
];

/// The documentation of one property: description, format, default, constraints, deprecation.
fn member_doc(key: &str, schema: &Value) -> String {
    let mut doc = jsdoc(schema_description(schema, Some(key)).unwrap_or(""));
    let Some(object) = schema.as_object() else {
        return doc;
    };
    let mut tags = Vec::new();
    if let Some(format) = object.get("format").and_then(Value::as_str) {
        tags.push(format!("@format {format}"));
    }
    if let Some(default) = object.get("default") {
        let mut shown = default.to_string();
        if shown.chars().count() > MAX_DEFAULT_CHARS {
            shown = shown.chars().take(MAX_DEFAULT_CHARS - 1).collect();
            shown.push('…');
        }
        tags.push(format!("@default {shown}"));
    }
    // What the gateway checks at call time is shown where the code is written.
    for keyword in CONSTRAINT_KEYWORDS {
        if let Some(value) = object.get(keyword) {
            let mut shown = value.to_string();
            if shown.chars().count() > MAX_DEFAULT_CHARS {
                shown = shown.chars().take(MAX_DEFAULT_CHARS - 1).collect();
                shown.push('…');
            }
            tags.push(format!("@{keyword} {shown}"));
        }
    }
    if object.get("deprecated") == Some(&Value::Bool(true)) {
        tags.push("@deprecated".to_owned());
    }
    if !tags.is_empty() {
        if !doc.is_empty() {
            doc.push('\n');
        }
        doc.push_str(&tags.join("\n"));
    }
    doc
}

/// `export interface Name { ... }` for an object type, `export type Name = ...;` otherwise,
/// documented, ending in a newline.
fn declaration(name: &str, ty: &Ty, doc: &str) -> String {
    let mut out = jsdoc_block(doc, "");
    if let Ty::Object { .. } = ty {
        out.push_str(&format!("export interface {name} "));
        ty.print(&mut out, 0);
        out.push('\n');
    } else {
        out.push_str(&format!("export type {name} = "));
        ty.print(&mut out, 0);
        out.push_str(";\n");
    }
    out
}

/// A TypeScript type, built from a schema and then printed. Keeping a tree (rather than
/// printing directly) lets unions and intersections be flattened, de-duplicated and simplified
/// (`unknown` absorbs a union, vanishes from an intersection) before anything is written.
#[derive(Debug, Clone, PartialEq)]
enum Ty {
    /// `string`, `number`, `boolean`, `null`, `unknown`, `never`, `true`, `false`.
    Keyword(&'static str),
    /// A literal type, already escaped: `"a"`, `-1.5`.
    Literal(String),
    /// A named type declared in the same file.
    Named(String),
    Array(Box<Ty>),
    Tuple {
        elements: Vec<(Ty, bool)>,
        rest: Option<Box<Ty>>,
    },
    /// `Record<string, T>`: an object with no known keys.
    Record(Box<Ty>),
    Object {
        members: Vec<Member>,
        index: Option<Box<Ty>>,
    },
    Union(Vec<Ty>),
    Intersection(Vec<Ty>),
}

#[derive(Debug, Clone, PartialEq)]
struct Member {
    /// The key as it is written: bare or quoted (see [`property_key`]).
    key: String,
    optional: bool,
    /// Raw documentation text; escaped when printed.
    doc: String,
    ty: Ty,
}

impl Ty {
    fn unknown() -> Ty {
        Ty::Keyword("unknown")
    }

    /// `Record<string, unknown>`: what `{"type": "object"}` alone says.
    fn any_object() -> Ty {
        Ty::Record(Box::new(Ty::unknown()))
    }

    fn never() -> Ty {
        Ty::Keyword("never")
    }

    fn is_unknown(&self) -> bool {
        *self == Ty::Keyword("unknown")
    }

    fn is_never(&self) -> bool {
        *self == Ty::Keyword("never")
    }

    /// The union of `types`, flattened and de-duplicated; `unknown` if any member is, `never`
    /// if there are none.
    fn union(types: Vec<Ty>) -> Ty {
        let mut members: Vec<Ty> = Vec::new();
        for ty in types {
            let nested = match ty {
                Ty::Union(nested) => nested,
                other => vec![other],
            };
            for member in nested {
                if member.is_unknown() {
                    return Ty::unknown();
                }
                if !member.is_never() && !members.contains(&member) {
                    members.push(member);
                }
            }
        }
        match members.len() {
            0 => Ty::never(),
            1 => members.swap_remove(0),
            _ => Ty::Union(members),
        }
    }

    /// The intersection of `types`, flattened and de-duplicated; object literals with disjoint
    /// keys are merged into one. `unknown` members vanish; no members at all give `unknown`.
    fn intersection(types: Vec<Ty>) -> Ty {
        let mut members: Vec<Ty> = Vec::new();
        for ty in types {
            let nested = match ty {
                Ty::Intersection(nested) => nested,
                other => vec![other],
            };
            for member in nested {
                if member.is_never() {
                    return Ty::never();
                }
                if member.is_unknown() || members.contains(&member) {
                    continue;
                }

                if let Some(Ty::Object {
                    members: previous,
                    index: None,
                }) = members.last_mut()
                    && let Ty::Object {
                        members: extra,
                        index: None,
                    } = &member
                    && extra
                        .iter()
                        .all(|new| previous.iter().all(|old| old.key != new.key))
                {
                    previous.extend(extra.iter().cloned());
                    continue;
                }
                members.push(member);
            }
        }
        // "Any object" adds nothing next to another part (typically a `$ref` with a sibling
        // `"type": "object"`), and `X & Record<string, unknown>` reads badly.
        if members.len() > 1 {
            members.retain(|member| *member != Ty::any_object());
            if members.is_empty() {
                return Ty::any_object();
            }
        }
        match members.len() {
            0 => Ty::unknown(),
            1 => members.swap_remove(0),
            _ => Ty::Intersection(members),
        }
    }

    /// Write the type; `indent` is the nesting level of the line it starts on, used for the
    /// members of object literals.
    fn print(&self, out: &mut String, indent: usize) {
        match self {
            Ty::Keyword(keyword) => out.push_str(keyword),
            Ty::Literal(literal) | Ty::Named(literal) => out.push_str(literal),
            Ty::Array(element) => match **element {
                Ty::Union(_) | Ty::Intersection(_) | Ty::Object { .. } => {
                    out.push_str("Array<");
                    element.print(out, indent);
                    out.push('>');
                }
                _ => {
                    element.print(out, indent);
                    out.push_str("[]");
                }
            },
            Ty::Tuple { elements, rest } => {
                out.push('[');
                for (position, (element, optional)) in elements.iter().enumerate() {
                    if position > 0 {
                        out.push_str(", ");
                    }
                    let compound = matches!(
                        element,
                        Ty::Union(_) | Ty::Intersection(_) | Ty::Object { .. }
                    );
                    if *optional && compound {
                        out.push('(');
                        element.print(out, indent);
                        out.push_str(")?");
                    } else {
                        element.print(out, indent);
                        if *optional {
                            out.push('?');
                        }
                    }
                }
                if let Some(rest) = rest {
                    if !elements.is_empty() {
                        out.push_str(", ");
                    }
                    out.push_str("...");
                    Ty::Array(rest.clone()).print(out, indent);
                }
                out.push(']');
            }
            Ty::Record(value) => {
                out.push_str("Record<string, ");
                value.print(out, indent);
                out.push('>');
            }
            Ty::Object { members, index } => {
                let pad = "  ".repeat(indent + 1);
                out.push_str("{\n");
                for member in members {
                    out.push_str(&jsdoc_block(&member.doc, &pad));
                    out.push_str(&pad);
                    out.push_str(&member.key);
                    if member.optional {
                        out.push('?');
                    }
                    out.push_str(": ");
                    member.ty.print(out, indent + 1);
                    out.push_str(";\n");
                }
                if let Some(index) = index {
                    out.push_str(&pad);
                    out.push_str("[key: string]: ");
                    index.print(out, indent + 1);
                    out.push_str(";\n");
                }
                out.push_str(&"  ".repeat(indent));
                out.push('}');
            }
            Ty::Union(members) => {
                for (position, member) in members.iter().enumerate() {
                    if position > 0 {
                        out.push_str(" | ");
                    }
                    if let Ty::Intersection(_) = member {
                        out.push('(');
                        member.print(out, indent);
                        out.push(')');
                    } else {
                        member.print(out, indent);
                    }
                }
            }
            Ty::Intersection(members) => {
                for (position, member) in members.iter().enumerate() {
                    if position > 0 {
                        out.push_str(" & ");
                    }
                    if let Ty::Union(_) = member {
                        out.push('(');
                        member.print(out, indent);
                        out.push(')');
                    } else {
                        member.print(out, indent);
                    }
                }
            }
        }
    }
}

/// A schema document whose `$ref`s resolve against it: the input or the output schema.
struct Root<'s> {
    schema: &'s Value,
    /// The type name `#` refers to.
    name: String,
}

/// A named type waiting to be rendered.
struct PendingType<'s> {
    name: String,
    key: String,
    schema: &'s Value,
    root: usize,
}

/// Turns the schemas of one tool into types, keeping the per-tool state: the names in use, the
/// named types for `$defs`, and the budget that bounds the work.
struct Generator<'s> {
    stem: String,
    roots: Vec<Root<'s>>,
    /// Every name declared in the file, so new names never collide.
    used_names: BTreeSet<String>,
    /// `(root, reference)` to the name of its type.
    named: BTreeMap<(usize, String), String>,
    pending: VecDeque<PendingType<'s>>,
    /// Rendered named types, by name (so they print sorted).
    rendered: BTreeMap<String, String>,
    /// Inline references being expanded, to stop cycles.
    expanding: Vec<(usize, String)>,
    nodes_left: usize,
    /// Set when a limit made a part of the current schema wider than it says.
    truncated: bool,
}

impl<'s> Generator<'s> {
    fn new(stem: &str, identifier: &str) -> Self {
        let used_names = [identifier, "callMCPTool"]
            .into_iter()
            .map(str::to_owned)
            .collect();
        Self {
            stem: stem.to_owned(),
            roots: Vec::new(),
            used_names,
            named: BTreeMap::new(),
            pending: VecDeque::new(),
            rendered: BTreeMap::new(),
            expanding: Vec::new(),
            nodes_left: MAX_NODES,
            truncated: false,
        }
    }

    /// Claim `wanted` as a type name, or `wanted2`, `wanted3`, ... if it is taken.
    fn reserve(&mut self, wanted: &str) -> String {
        let mut name = wanted.to_owned();
        let mut suffix = 2usize;
        while self.used_names.contains(&name) {
            name = format!("{wanted}{suffix}");
            suffix += 1;
        }
        self.used_names.insert(name.clone());
        name
    }

    fn take_truncated(&mut self) -> bool {
        std::mem::replace(&mut self.truncated, false)
    }

    /// Render every named type reached so far (and those they reach), sorted by name.
    fn named_declarations(&mut self) -> Vec<String> {
        while let Some(pending) = self.pending.pop_front() {
            let ty = self.render(pending.schema, pending.root, 0);
            let mut doc =
                jsdoc(schema_description(pending.schema, Some(&pending.key)).unwrap_or(""));
            if self.take_truncated() {
                push_paragraph(&mut doc, Some(TRUNCATED_NOTE));
            }
            let text = declaration(&pending.name, &ty, &doc);
            self.rendered.insert(pending.name, text);
        }
        self.rendered.values().cloned().collect()
    }

    /// Account for one schema node; false when a limit is reached and the caller must widen.
    fn spend(&mut self, depth: usize) -> bool {
        if depth > MAX_DEPTH || self.nodes_left == 0 {
            self.truncated = true;
            return false;
        }
        self.nodes_left -= 1;
        true
    }

    /// The type of one schema, found in document `root`, at nesting `depth`.
    fn render(&mut self, schema: &'s Value, root: usize, depth: usize) -> Ty {
        if !self.spend(depth) {
            return Ty::unknown();
        }
        let object = match schema {
            Value::Bool(false) => return Ty::never(),
            Value::Object(object) => object,
            _ => return Ty::unknown(),
        };
        let mut parts = Vec::new();
        if let Some(reference) = object.get("$ref").and_then(Value::as_str) {
            parts.push(self.reference(reference, root, depth));
        }
        if let Some(value) = object.get("const") {
            parts.push(literal(value));
        } else if let Some(Value::Array(values)) = object.get("enum") {
            parts.push(self.enumeration(values, object, root, depth));
        } else if let Some(base) = self.typed(object, root, depth) {
            parts.push(base);
        }
        for keyword in ["anyOf", "oneOf"] {
            if let Some(Value::Array(alternatives)) = object.get(keyword)
                && !alternatives.is_empty()
            {
                let mut members = Vec::with_capacity(alternatives.len());
                for alternative in alternatives {
                    members.push(self.render(alternative, root, depth + 1));
                    // One `unknown` alternative makes the whole union `unknown`: stop early.
                    if members.last().is_some_and(Ty::is_unknown) {
                        break;
                    }
                }
                parts.push(Ty::union(members));
            }
        }
        if let Some(Value::Array(all)) = object.get("allOf") {
            for member in all {
                parts.push(self.render(member, root, depth + 1));
            }
        }
        let ty = Ty::intersection(parts);
        if object.get("nullable") == Some(&Value::Bool(true)) {
            Ty::union(vec![ty, Ty::Keyword("null")])
        } else {
            ty
        }
    }

    /// The type a schema's `type` keyword gives (or that `properties`/`items` imply when there
    /// is no `type`); `None` when the schema does not constrain the type.
    fn typed(&mut self, object: &'s Map<String, Value>, root: usize, depth: usize) -> Option<Ty> {
        match object.get("type") {
            Some(Value::String(kind)) => Some(self.of_kind(kind, object, root, depth)),
            Some(Value::Array(kinds)) => {
                let mut members = Vec::new();
                for kind in kinds.iter().filter_map(Value::as_str) {
                    members.push(self.of_kind(kind, object, root, depth));
                }
                (!members.is_empty()).then(|| Ty::union(members))
            }
            _ => {
                let object_keywords = ["properties", "additionalProperties", "patternProperties"];
                let array_keywords = ["items", "prefixItems"];
                if object_keywords
                    .iter()
                    .any(|keyword| object.contains_key(*keyword))
                {
                    Some(self.object_type(object, root, depth))
                } else if array_keywords
                    .iter()
                    .any(|keyword| object.contains_key(*keyword))
                {
                    Some(self.array_type(object, root, depth))
                } else {
                    None
                }
            }
        }
    }

    fn of_kind(
        &mut self,
        kind: &str,
        object: &'s Map<String, Value>,
        root: usize,
        depth: usize,
    ) -> Ty {
        match kind {
            "string" => Ty::Keyword("string"),
            "number" | "integer" => Ty::Keyword("number"),
            "boolean" => Ty::Keyword("boolean"),
            "null" => Ty::Keyword("null"),
            "object" => self.object_type(object, root, depth),
            "array" => self.array_type(object, root, depth),
            _ => Ty::unknown(),
        }
    }

    fn object_type(&mut self, object: &'s Map<String, Value>, root: usize, depth: usize) -> Ty {
        let required: BTreeSet<&str> = object
            .get("required")
            .and_then(Value::as_array)
            .map(|names| names.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut members = Vec::new();
        let mut complete = true;
        if let Some(Value::Object(properties)) = object.get("properties") {
            for (key, schema) in properties {
                if self.nodes_left == 0 {
                    // Out of budget: stop listing keys and let the index signature admit the rest.
                    self.truncated = true;
                    complete = false;
                    break;
                }
                members.push(Member {
                    key: property_key(key),
                    optional: !required.contains(key.as_str()),
                    doc: member_doc(key, schema),
                    ty: self.render(schema, root, depth + 1),
                });
            }
        }
        let mut extra = Vec::new();
        let additional = object.get("additionalProperties");
        match additional {
            Some(Value::Bool(false)) => {}
            None | Some(Value::Bool(true)) => {}
            Some(schema) => extra.push(self.render(schema, root, depth + 1)),
        }
        if let Some(Value::Object(patterns)) = object.get("patternProperties") {
            for schema in patterns.values() {
                extra.push(self.render(schema, root, depth + 1));
            }
        }
        let open = match additional {
            Some(Value::Bool(true)) => true,
            // No word on extra keys: open, but only worth saying when nothing else is known.
            None => members.is_empty() && extra.is_empty(),
            _ => false,
        };
        let index = if open || !complete {
            Some(Ty::unknown())
        } else if extra.is_empty() {
            None
        } else {
            Some(Ty::union(extra))
        };
        match index {
            None if members.is_empty() => Ty::Record(Box::new(Ty::never())),
            Some(index) if members.is_empty() => Ty::Record(Box::new(index)),
            None => Ty::Object {
                members,
                index: None,
            },
            Some(index) => {
                // Every property must fit the index signature: keep its type only when all do.
                let fits = members
                    .iter()
                    .all(|member| !member.optional && member.ty == index);
                let index = if fits { index } else { Ty::unknown() };
                Ty::Object {
                    members,
                    index: Some(Box::new(index)),
                }
            }
        }
    }

    fn array_type(&mut self, object: &'s Map<String, Value>, root: usize, depth: usize) -> Ty {
        let tuple = match (object.get("prefixItems"), object.get("items")) {
            (Some(Value::Array(prefix)), rest) => Some((prefix, rest)),
            (_, Some(Value::Array(prefix))) => Some((prefix, object.get("additionalItems"))),
            _ => None,
        };
        if let Some((prefix, rest)) = tuple {
            let minimum = object.get("minItems").and_then(Value::as_u64);
            let mut elements = Vec::with_capacity(prefix.len());
            for (position, schema) in prefix.iter().enumerate() {
                let optional = minimum.is_some_and(|minimum| (position as u64) >= minimum);
                elements.push((self.render(schema, root, depth + 1), optional));
            }
            // Extra elements are typed only when the schema describes them; a bare prefix is
            // almost always meant as a fixed-length tuple (`[latitude, longitude]`).
            let rest = match rest {
                Some(Value::Bool(false)) | None => None,
                Some(schema) => Some(Box::new(self.render(schema, root, depth + 1))),
            };
            return Ty::Tuple { elements, rest };
        }
        match object.get("items") {
            Some(items) => Ty::Array(Box::new(self.render(items, root, depth + 1))),
            None => Ty::Array(Box::new(Ty::unknown())),
        }
    }

    fn enumeration(
        &mut self,
        values: &[Value],
        object: &'s Map<String, Value>,
        root: usize,
        depth: usize,
    ) -> Ty {
        if values.len() > MAX_ENUM_VALUES {
            self.truncated = true;
            return self.typed(object, root, depth).unwrap_or_else(Ty::unknown);
        }
        Ty::union(values.iter().map(literal).collect())
    }

    /// The type a `$ref` points at: a named type for `#` and `$defs`/`definitions` entries, the
    /// target's type inline for any other local pointer, `unknown` for what cannot be resolved
    /// (remote references, anchors, missing targets, cycles of inline references).
    fn reference(&mut self, reference: &str, root: usize, depth: usize) -> Ty {
        let Some(pointer) = reference.strip_prefix('#') else {
            return Ty::unknown();
        };
        let Some(root_entry) = self.roots.get(root) else {
            return Ty::unknown();
        };
        let document = root_entry.schema;
        if pointer.is_empty() {
            return Ty::Named(root_entry.name.clone());
        }
        let Some(segments) = pointer_segments(pointer) else {
            return Ty::unknown();
        };
        let Some(target) = resolve(document, &segments) else {
            return Ty::unknown();
        };
        if let [container, key] = segments.as_slice()
            && (container == "$defs" || container == "definitions")
        {
            return Ty::Named(self.named_type(root, reference, key, target));
        }
        let entry = (root, reference.to_owned());
        if self.expanding.contains(&entry) || self.expanding.len() >= MAX_INLINE_REFERENCES {
            self.truncated = true;
            return Ty::unknown();
        }
        self.expanding.push(entry);
        let ty = self.render(target, root, depth + 1);
        self.expanding.pop();
        ty
    }

    /// The name of the type for a `$defs` entry, queuing it for rendering the first time.
    ///
    /// Input and output are separate documents and may both define `X`; when both define it
    /// identically they share one type, otherwise the second gets a numbered name.
    fn named_type(&mut self, root: usize, reference: &str, key: &str, target: &'s Value) -> String {
        if let Some(name) = self.named.get(&(root, reference.to_owned())) {
            return name.clone();
        }
        let shared = self
            .named
            .iter()
            .find_map(|((other_root, other_reference), name)| {
                let same_target = *other_root != root
                    && other_reference == reference
                    && self
                        .roots
                        .get(*other_root)
                        .and_then(|other| resolve_reference(other.schema, other_reference))
                        == Some(target);
                same_target.then(|| name.clone())
            });
        let name = match shared {
            Some(name) => name,
            None => {
                let name = self.reserve(&format!("{}_{}", self.stem, type_name_part(key)));
                self.pending.push_back(PendingType {
                    name: name.clone(),
                    key: key.to_owned(),
                    schema: target,
                    root,
                });
                name
            }
        };
        self.named
            .insert((root, reference.to_owned()), name.clone());
        name
    }
}

/// The literal type of one JSON value (for `const` and `enum`).
fn literal(value: &Value) -> Ty {
    match value {
        Value::Null => Ty::Keyword("null"),
        Value::Bool(true) => Ty::Keyword("true"),
        Value::Bool(false) => Ty::Keyword("false"),
        Value::Number(number) => Ty::Literal(number.to_string()),
        Value::String(text) => Ty::Literal(string_literal(text)),
        // Structured constants are rare; their kind is the useful part.
        Value::Array(_) => Ty::Array(Box::new(Ty::unknown())),
        Value::Object(_) => Ty::Record(Box::new(Ty::unknown())),
    }
}

/// Split a JSON pointer (the part of a reference after `#`) into unescaped segments.
fn pointer_segments(pointer: &str) -> Option<Vec<String>> {
    let rest = pointer.strip_prefix('/')?;
    Some(
        rest.split('/')
            .map(|segment| {
                percent_decode(segment)
                    .replace("~1", "/")
                    .replace("~0", "~")
            })
            .collect(),
    )
}

fn resolve<'v>(document: &'v Value, segments: &[String]) -> Option<&'v Value> {
    let mut current = document;
    for segment in segments {
        current = match current {
            Value::Object(object) => object.get(segment)?,
            Value::Array(items) => items.get(segment.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(current)
}

fn resolve_reference<'v>(document: &'v Value, reference: &str) -> Option<&'v Value> {
    let segments = pointer_segments(reference.strip_prefix('#')?)?;
    resolve(document, &segments)
}

/// Decode `%XX` escapes, which URI-fragment pointers may use (`#/%24defs/X`); text that does not
/// decode to UTF-8 is kept as it was.
fn percent_decode(text: &str) -> String {
    if !text.contains('%') {
        return text.to_owned();
    }
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut position = 0;
    while position < bytes.len() {
        let byte = bytes[position];
        if byte == b'%' && position + 2 < bytes.len() {
            let high = (bytes[position + 1] as char).to_digit(16);
            let low = (bytes[position + 2] as char).to_digit(16);
            if let (Some(high), Some(low)) = (high, low) {
                decoded.push((high * 16 + low) as u8);
                position += 3;
                continue;
            }
        }
        decoded.push(byte);
        position += 1;
    }
    String::from_utf8(decoded).unwrap_or_else(|_| text.to_owned())
}

#[cfg(test)]
#[path = "typescript_tests.rs"]
mod tests;
