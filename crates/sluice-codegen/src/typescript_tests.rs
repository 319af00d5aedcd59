//! Tests of `typescript.rs`.

use super::*;
use serde_json::json;
use sluice_catalog::{Catalog, ServerTools};

/// The printed type of a schema used as a tool's input (so `$ref`s resolve against it).
fn ts(schema: Value) -> String {
    let Value::Object(map) = schema else {
        panic!("schema must be an object")
    };
    let root = Value::Object(map);
    let mut generator = Generator::new("T", "t");
    generator.roots.push(Root {
        schema: &root,
        name: "TInput".into(),
    });
    let ty = generator.render(&root, 0, 0);
    let mut out = String::new();
    ty.print(&mut out, 0);
    out
}

/// A property's type: the schema wrapped as property `p`, so non-object schemas work too.
fn property(schema: Value) -> String {
    let printed = ts(json!({"type": "object", "properties": {"p": schema}, "required": ["p"]}));
    // After the property's doc comment, if it has one (constraints are shown there).
    let inner = printed
        .split_once("\n  p: ")
        .filter(|(head, _)| *head == "{" || head.ends_with("*/"))
        .and_then(|(_, rest)| rest.strip_suffix(";\n}"))
        .unwrap_or_else(|| panic!("unexpected shape: {printed}"));
    inner.to_owned()
}

fn tool(name: &str, tool: Value) -> CatalogTool {
    let mut definition = tool;
    definition["name"] = json!(name);
    let catalog = Catalog::build(vec![ServerTools::from_values("srv", vec![definition])]);
    catalog
        .tools()
        .next()
        .cloned()
        .expect("tool is in the catalog")
}

#[test]
fn primitive_types() {
    assert_eq!(property(json!({"type": "string"})), "string");
    assert_eq!(property(json!({"type": "integer"})), "number");
    assert_eq!(property(json!({"type": "number"})), "number");
    assert_eq!(property(json!({"type": "boolean"})), "boolean");
    assert_eq!(property(json!({"type": "null"})), "null");
    assert_eq!(property(json!({"type": "strange"})), "unknown");
    assert_eq!(property(json!({})), "unknown");
    assert_eq!(property(json!({"$comment": "only words"})), "unknown");
    assert_eq!(property(json!(true)), "unknown");
    assert_eq!(property(json!(false)), "never");
    assert_eq!(property(json!(42)), "unknown");
}

#[test]
fn type_lists_and_nullable() {
    assert_eq!(
        property(json!({"type": ["string", "null"]})),
        "string | null"
    );
    assert_eq!(property(json!({"type": ["integer", "number"]})), "number");
    assert_eq!(
        property(json!({"type": "string", "nullable": true})),
        "string | null"
    );
    assert_eq!(
        property(json!({"type": ["array", "null"], "items": {"type": "string"}})),
        "string[] | null"
    );
}

#[test]
fn required_and_optional_properties() {
    let printed = ts(json!({
        "type": "object",
        "properties": {"a": {"type": "number"}, "b": {"type": "string"}},
        "required": ["a", "missing"]
    }));
    assert_eq!(printed, "{\n  a: number;\n  b?: string;\n}");
}

#[test]
fn odd_property_names_are_quoted() {
    let printed = ts(json!({
        "type": "object",
        "properties": {"content-type": {}, "x\"y": {}, "ok_1": {}, "readonly": {}}
    }));
    assert_eq!(
        printed,
        "{\n  \"content-type\"?: unknown;\n  \"x\\\"y\"?: unknown;\n  ok_1?: unknown;\n  \"readonly\"?: unknown;\n}"
    );
}

#[test]
fn enums_and_consts_are_literals() {
    assert_eq!(
        property(json!({"type": "string", "enum": ["a", "b\"c"]})),
        "\"a\" | \"b\\\"c\""
    );
    assert_eq!(
        property(json!({"enum": [1, -2.5, true, null, "x"]})),
        "1 | -2.5 | true | null | \"x\""
    );
    assert_eq!(property(json!({"const": "fixed"})), "\"fixed\"");
    assert_eq!(property(json!({"const": false})), "false");
    assert_eq!(property(json!({"enum": []})), "never");
    assert_eq!(property(json!({"enum": ["a", "a"]})), "\"a\"");
    assert_eq!(
        property(json!({"enum": ["a"], "nullable": true})),
        "\"a\" | null"
    );
    assert_eq!(
        property(json!({"const": {"a": 1}})),
        "Record<string, unknown>"
    );
}

#[test]
fn huge_enums_fall_back_to_the_base_type() {
    let values: Vec<String> = (0..MAX_ENUM_VALUES + 1).map(|n| format!("v{n}")).collect();
    assert_eq!(
        property(json!({"type": "string", "enum": values})),
        "string"
    );
}

#[test]
fn unions_and_intersections() {
    assert_eq!(
        property(json!({"anyOf": [{"type": "string"}, {"type": "number"}, {"type": "string"}]})),
        "string | number"
    );
    assert_eq!(
        property(json!({"oneOf": [{"type": "string"}, {}]})),
        "unknown"
    );
    assert_eq!(
        property(json!({"allOf": [
            {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
            {"type": "object", "properties": {"b": {"type": "number"}}}
        ]})),
        "{\n    a: string;\n    b?: number;\n  }"
    );
    assert_eq!(
        property(json!({"allOf": [
            {"anyOf": [{"type": "string"}, {"type": "number"}]},
            {"$ref": "#"}
        ]})),
        "(string | number) & TInput"
    );
    assert_eq!(
        property(
            json!({"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "null"}]}})
        ),
        "Array<string | null>"
    );
    // `required`-only alternatives add nothing TypeScript can say and vanish.
    assert_eq!(
        property(json!({
            "type": "object",
            "properties": {"a": {"type": "string"}},
            "anyOf": [{"required": ["a"]}, {"required": ["b"]}]
        })),
        "{\n    a?: string;\n  }"
    );
}

#[test]
fn bare_object_type_beside_a_reference_is_dropped() {
    assert_eq!(property(json!({"type": "object", "$ref": "#"})), "TInput");
    assert_eq!(
        property(json!({"allOf": [{"type": "object"}, {"type": "object"}]})),
        "Record<string, unknown>"
    );
}

#[test]
fn arrays_and_tuples() {
    assert_eq!(property(json!({"type": "array"})), "unknown[]");
    assert_eq!(
        property(json!({"type": "array", "items": {"type": "number"}})),
        "number[]"
    );
    assert_eq!(
        property(json!({"type": "array", "prefixItems": [{"type": "number"}, {"type": "string"}]})),
        "[number, string]"
    );
    assert_eq!(
        property(
            json!({"type": "array", "items": [{"type": "number"}], "additionalItems": {"type": "string"}})
        ),
        "[number, ...string[]]"
    );
    assert_eq!(
        property(json!({
            "type": "array",
            "prefixItems": [{"type": "number"}, {"anyOf": [{"type": "string"}, {"type": "null"}]}],
            "items": false,
            "minItems": 1
        })),
        "[number, (string | null)?]"
    );
    assert_eq!(
        property(json!({"type": "array", "items": {"type": "array", "items": {"type": "string"}}})),
        "string[][]"
    );
}

#[test]
fn additional_properties() {
    assert_eq!(
        property(json!({"type": "object"})),
        "Record<string, unknown>"
    );
    assert_eq!(
        property(json!({"type": "object", "additionalProperties": {"type": "string"}})),
        "Record<string, string>"
    );
    assert_eq!(
        property(json!({"type": "object", "additionalProperties": false})),
        "Record<string, never>"
    );
    assert_eq!(
        property(
            json!({"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": true})
        ),
        "{\n    a?: string;\n    [key: string]: unknown;\n  }"
    );
    // Index type must admit every property: widened when it does not.
    assert_eq!(
        property(json!({
            "type": "object",
            "properties": {"a": {"type": "number"}},
            "required": ["a"],
            "additionalProperties": {"type": "string"}
        })),
        "{\n    a: number;\n    [key: string]: unknown;\n  }"
    );
    assert_eq!(
        property(json!({
            "type": "object",
            "properties": {"a": {"type": "string"}},
            "required": ["a"],
            "additionalProperties": {"type": "string"}
        })),
        "{\n    a: string;\n    [key: string]: string;\n  }"
    );
    assert_eq!(
        property(
            json!({"type": "object", "patternProperties": {"^x": {"type": "number"}}, "additionalProperties": false})
        ),
        "Record<string, number>"
    );
    // Properties without `type` still make an object.
    assert_eq!(
        property(json!({"properties": {"a": {"type": "string"}}})),
        "{\n    a?: string;\n  }"
    );
}

#[test]
fn property_documentation() {
    let printed = ts(json!({
        "type": "object",
        "properties": {
            "when": {"type": "string", "description": "Start */ time", "format": "date-time", "default": "now"},
            "timezone": {"type": "string", "title": "Timezone"},
            "old": {"type": "string", "title": "Legacy field", "deprecated": true}
        }
    }));
    assert_eq!(
        printed,
        "{\n  /**\n   * Start *\\/ time\n   * @format date-time\n   * @default \"now\"\n   */\n  when?: string;\n  \
         timezone?: string;\n  /**\n   * Legacy field\n   * @deprecated\n   */\n  old?: string;\n}"
    );
}

#[test]
fn defs_become_named_types() {
    let printed = ts(json!({
        "type": "object",
        "properties": {
            "a": {"$ref": "#/$defs/Item"},
            "b": {"$ref": "#/definitions/other-thing"},
            "c": {"type": "array", "items": {"$ref": "#/$defs/Item"}}
        },
        "$defs": {"Item": {"type": "string"}},
        "definitions": {"other-thing": {"type": "number"}}
    }));
    assert_eq!(
        printed,
        "{\n  a?: T_Item;\n  b?: T_Other_thing;\n  c?: T_Item[];\n}"
    );
}

#[test]
fn missing_and_remote_references_are_unknown() {
    assert_eq!(property(json!({"$ref": "#/$defs/Nope"})), "unknown");
    assert_eq!(
        property(json!({"$ref": "https://example.com/schema.json"})),
        "unknown"
    );
    assert_eq!(property(json!({"$ref": "#anchor"})), "unknown");
}

#[test]
fn other_local_pointers_are_inlined_and_cycles_stop() {
    let printed = ts(json!({
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "alias": {"$ref": "#/properties/name"},
            "loop": {"$ref": "#/properties/loop"},
            "escaped": {"$ref": "#/properties/a~1b"},
            "a/b": {"type": "boolean"}
        }
    }));
    assert!(printed.contains("alias?: string;"), "{printed}");
    assert!(printed.contains("loop?: unknown;"), "{printed}");
    assert!(printed.contains("escaped?: boolean;"), "{printed}");
}

#[test]
fn recursive_definitions_reference_their_name() {
    let node = tool(
        "tree",
        json!({"inputSchema": {
            "type": "object",
            "properties": {"root": {"$ref": "#/$defs/Node"}},
            "required": ["root"],
            "$defs": {"Node": {
                "type": "object",
                "description": "A node.",
                "properties": {"children": {"type": "array", "items": {"$ref": "#/$defs/Node"}}}
            }}
        }}),
    );
    let file = tool_file(&node);
    assert!(file.contains("root: Tree_Node;"), "{file}");
    assert!(
        file.contains("/** A node. */\nexport interface Tree_Node {\n  children?: Tree_Node[];\n}"),
        "{file}"
    );
    assert_eq!(file.matches("export interface Tree_Node").count(), 1);
}

#[test]
fn input_and_output_definitions_share_or_split_names() {
    let item_string = json!({"$defs": {"Item": {"type": "string"}}});
    let shared = tool(
        "shared",
        json!({
            "inputSchema": {"type": "object", "properties": {"x": {"$ref": "#/$defs/Item"}}, "$defs": item_string["$defs"]},
            "outputSchema": {"type": "object", "properties": {"y": {"$ref": "#/$defs/Item"}}, "$defs": item_string["$defs"]}
        }),
    );
    let file = tool_file(&shared);
    assert_eq!(
        file.matches("export type Shared_Item = string;").count(),
        1,
        "{file}"
    );
    let split = tool(
        "split",
        json!({
            "inputSchema": {"type": "object", "properties": {"x": {"$ref": "#/$defs/Item"}}, "$defs": {"Item": {"type": "string"}}},
            "outputSchema": {"type": "object", "properties": {"y": {"$ref": "#/$defs/Item"}}, "$defs": {"Item": {"type": "number"}}}
        }),
    );
    let file = tool_file(&split);
    assert!(file.contains("export type Split_Item = string;"), "{file}");
    assert!(file.contains("export type Split_Item2 = number;"), "{file}");
    assert!(file.contains("y?: Split_Item2;"), "{file}");
}

#[test]
fn depth_and_size_are_bounded() {
    let mut deep = json!({"type": "string"});
    for _ in 0..200 {
        deep = json!({"type": "object", "properties": {"n": deep}});
    }
    let printed = ts(deep);
    assert!(printed.contains("n?: unknown;"));
    assert!(printed.matches('{').count() <= MAX_DEPTH + 1);

    let properties: Map<String, Value> = (0..MAX_NODES + 100)
        .map(|n| (format!("p{n}"), json!({"type": "string"})))
        .collect();
    let wide = tool(
        "wide",
        json!({"inputSchema": {"type": "object", "properties": properties}}),
    );
    let file = tool_file(&wide);
    assert!(file.contains("[key: string]: unknown;"));
    assert!(file.contains("too deep or too large"));
    assert!(file.matches("?: string;").count() < MAX_NODES);
}

#[test]
fn exponential_inline_references_are_bounded() {
    // Each level refers to the next twice: 2^40 expansions without a budget.
    let mut properties = Map::new();
    for level in 0..40 {
        let next = format!("#/properties/l{}", level + 1);
        properties.insert(
            format!("l{level}"),
            json!({"type": "object", "properties": {"a": {"$ref": next}, "b": {"$ref": next}}}),
        );
    }
    let file = tool_file(&tool(
        "boom",
        json!({"inputSchema": {"type": "object", "properties": properties}}),
    ));
    assert!(file.len() < 20_000_000);
}

#[test]
fn get_sum_file() {
    let get_sum = tool(
        "get-sum",
        json!({
            "description": "Returns the sum of two numbers",
            "inputSchema": {
                "type": "object",
                "properties": {"a": {"type": "number", "description": "First number"}, "b": {"type": "number"}},
                "required": ["a", "b"]
            },
            "annotations": {"readOnlyHint": true, "title": "Sum"}
        }),
    );
    let file = tool_file(&get_sum);
    assert!(file.starts_with("import { callMCPTool } from \"../../runtime\";\n\n"));
    assert!(file.contains(
        "export interface GetSumInput {\n  /** First number */\n  a: number;\n  b: number;\n}"
    ));
    assert!(file.contains("export type GetSumOutput = unknown;"));
    assert!(
        file.contains(" * @readOnlyHint true\n * @see MCP tool \"get-sum\" on server \"srv\"\n */")
    );
    assert!(file.contains(
        "export async function getSum(input: GetSumInput): Promise<GetSumOutput> {\n  \
         return callMCPTool<GetSumOutput>(\"srv\", \"get-sum\", input);\n}\n"
    ));
    let signature = tool_signature(&get_sum);
    assert!(!signature.contains("import"));
    assert!(
        signature.ends_with(
            "export function getSum(input: {\n  /** First number */\n  a: number;\n  b: number;\n}): Promise<unknown>;\n"
        ),
        "{signature}"
    );
}

#[test]
fn input_without_requirements_is_optional() {
    let echo = tool(
        "ping",
        json!({"inputSchema": {"type": "object", "properties": {"x": {"type": "string"}}}}),
    );
    assert!(tool_file(&echo).contains("export async function ping(input: PingInput = {})"));
    assert!(tool_signature(&echo).contains("export function ping(input?: {"));
    let empty = tool("noop", json!({"inputSchema": {"type": "object"}}));
    assert!(tool_file(&empty).contains("export type NoopInput = Record<string, unknown>;"));
    let either = tool(
        "either",
        json!({"inputSchema": {"type": "object", "properties": {"x": {}}, "anyOf": [{"required": ["x"]}]}}),
    );
    assert!(tool_file(&either).contains("(input: EitherInput)"));
}

#[test]
fn output_schema_is_typed() {
    let read = tool(
        "read",
        json!({
            "inputSchema": {"type": "object"},
            "outputSchema": {"type": "object", "properties": {"content": {"type": "string"}}, "required": ["content"]}
        }),
    );
    let file = tool_file(&read);
    assert!(
        file.contains("export interface ReadOutput {\n  content: string;\n}"),
        "{file}"
    );
}

#[test]
fn percent_and_tilde_escapes_in_pointers() {
    assert_eq!(percent_decode("%24defs"), "$defs");
    assert_eq!(percent_decode("100%"), "100%");
    assert_eq!(percent_decode("%zz%4"), "%zz%4");
    assert_eq!(
        pointer_segments("/a~1b/c~0d"),
        Some(vec!["a/b".to_owned(), "c~d".to_owned()])
    );
    assert_eq!(pointer_segments("nope"), None);
}

#[test]
fn constraints_are_shown_in_the_doc_comment() {
    let printed = ts(json!({"type": "object", "properties": {
        "count": {"type": "integer", "minimum": 1, "maximum": 100, "description": "How many."},
        "code": {"type": "string", "pattern": "^[A-Z]{3}*/$", "maxLength": 3},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1, "uniqueItems": true}
    }}));
    assert!(printed.contains("@minimum 1"), "{printed}");
    assert!(printed.contains("@maximum 100"), "{printed}");
    assert!(printed.contains("@maxLength 3"), "{printed}");
    assert!(
        printed.contains("@minItems 1") && printed.contains("@uniqueItems true"),
        "{printed}"
    );
    // A pattern cannot end the comment.
    assert!(printed.contains("@pattern \"^[A-Z]{3}*\\/$\""), "{printed}");
}
