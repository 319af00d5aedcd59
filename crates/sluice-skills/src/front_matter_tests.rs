//! Tests of `front_matter.rs`.

use super::*;

fn front(name: &str, description: &str, version: u32) -> FrontMatter {
    FrontMatter {
        name: name.to_owned(),
        description: description.to_owned(),
        version,
        saved_by: None,
    }
}

fn parse(text: &str) -> Result<FrontMatter, String> {
    parse_skill_md(Path::new("skills/x/SKILL.md"), text).map_err(|error| match error {
        SkillError::InvalidSkillFile { line, reason, .. } => {
            format!("{}: {reason}", line.unwrap_or(0))
        }
        other => panic!("{other}"),
    })
}

fn exports(names: &[&str]) -> Vec<String> {
    names.iter().map(|name| (*name).to_owned()).collect()
}

#[test]
fn a_python_skill_says_how_python_imports_it() {
    let text = render_skill_md(
        &front("sum-orders", "Sum orders", 2),
        &exports(&["total", "pending"]),
        SkillLanguage::Python,
    );
    assert!(
        text.contains("```python\nfrom skills.sum_orders import total, pending\n```"),
        "{text}"
    );
    assert_eq!(
        parse(&text).unwrap(),
        front("sum-orders", "Sum orders", 2),
        "{text}"
    );
}

#[test]
fn renders_front_matter_and_usage() {
    let text = render_skill_md(
        &front("save-sheet-as-csv", "Save a sheet as a CSV file", 3),
        &exports(&["saveSheetAsCsv", "toCsv"]),
        SkillLanguage::TypeScript,
    );
    assert_eq!(
        text,
        "---\nname: save-sheet-as-csv\ndescription: Save a sheet as a CSV file\nversion: 3\n---\n\n\
         # save-sheet-as-csv\n\nSave a sheet as a CSV file\n\n## Usage\n\n\
         ```ts\nimport { saveSheetAsCsv, toCsv } from './skills/save-sheet-as-csv';\n```\n\n\
         Exports: `saveSheetAsCsv`, `toCsv`.\n"
    );
    assert_eq!(
        parse(&text).unwrap(),
        front("save-sheet-as-csv", "Save a sheet as a CSV file", 3)
    );
}

#[test]
fn renders_default_exports_and_modules_without_exports() {
    let text = render_skill_md(
        &front("sum-orders", "Sum orders", 1),
        &exports(&["default", "helper"]),
        SkillLanguage::TypeScript,
    );
    assert!(
        text.contains("import sumOrders, { helper } from './skills/sum-orders';"),
        "{text}"
    );
    let text = render_skill_md(&front("setup", "Set up", 1), &[], SkillLanguage::TypeScript);
    assert!(text.contains("import './skills/setup';"), "{text}");
}

#[test]
fn awkward_descriptions_are_quoted_and_read_back_unchanged() {
    for description in [
        "Note: this has a colon",
        "--- looks like a fence ---",
        "\"quoted\" at the start",
        "'single' at the start",
        "# a heading",
        "ends with colon:",
        "has a #hash and a comment # here",
        "true",
        "No",
        "null",
        "~",
        "42",
        "[not a list]",
        "{not: a map}",
        "| not a block",
        "> not a block",
        "- not a list item",
        "back\\slash and \u{1F600} emoji",
        "&anchor *alias !tag %directive @at `tick`",
        "ünïcödé first",
        "zero\u{feff}width no-break\u{a0}space and \u{fffe} nonchar",
        "\u{feff}starts with a byte order mark",
        "... three dots",
        "? a question",
        "a\u{3000}#wide space then hash",
    ] {
        let text = render_skill_md(&front("x", description, 1), &[], SkillLanguage::TypeScript);
        let parsed = parse(&text).unwrap_or_else(|error| panic!("{description}: {error}\n{text}"));
        assert_eq!(parsed.description, description, "{text}");
        // The front matter stays three lines whatever the description holds.
        let front_matter: Vec<&str> = text.lines().take(5).collect();
        assert_eq!(front_matter[0], "---");
        assert!(front_matter[2].starts_with("description: "));
        assert_eq!(front_matter[4], "---", "{text}");
    }
    assert_eq!(yaml_scalar("Plain words, fine."), "Plain words, fine.");
    assert_eq!(yaml_scalar("a: b"), "\"a: b\"");
}

#[test]
fn reads_hand_written_files() {
    let parsed = parse(
        "\u{feff}---\r\n# a comment\r\nname: 'csv-export'   # trailing comment\r\ndescription: It's   fine, really  # comment\r\nlicense: MIT\r\nallowed-tools:\r\n  - Read\r\n  - Write\r\n---\r\nbody\r\n",
    )
    .unwrap();
    assert_eq!(parsed, front("csv-export", "It's   fine, really", 1));
    let parsed = parse("---\nname: \"a\"\ndescription: 'it''s \"x\"'\nversion: 12\n---\n").unwrap();
    assert_eq!(parsed, front("a", "it's \"x\"", 12));
    let parsed = parse("---\nname: a\ndescription: \"tab\\u0041 \\\"q\\\"\" # c\n---\n").unwrap();
    assert_eq!(parsed.description, "tabA \"q\"");
}

const QUOTE_HINT: &str = "put a value that holds `: ` or ` #`, or starts with a quote or a sign such as `[`, `&` or `|`, in double quotes with JSON-style escapes";

#[test]
fn reads_every_yaml_style_of_a_one_line_value() {
    for (text, description) in [
        ("---\nname: a\ndescription: >\n  folded\n---\n", "folded"),
        ("---\nname: a\ndescription: |\n  literal\n---\n", "literal"),
        (
            "---\nname: a\ndescription: >-\n  Folded over\n  two lines\n---\n",
            "Folded over two lines",
        ),
        (
            "---\nname: a\ndescription: Plain over\n  two lines\n---\n",
            "Plain over two lines",
        ),
        ("---\nname: a\ndescription:\n  indented\n---\n", "indented"),
        ("---\nname: a\ndescription: \"bad \\x41\"\n---\n", "bad A"),
        // Read as written, not as YAML's booleans, nulls or numbers.
        ("---\nname: a\ndescription: true\n---\n", "true"),
        ("---\nname: a\ndescription: ~\n---\n", "~"),
        ("---\nname: a\ndescription: 0x10\n---\n", "0x10"),
    ] {
        let parsed = parse(text).unwrap_or_else(|error| panic!("{text:?}: {error}"));
        assert_eq!(parsed.description, description, "{text:?}");
    }
    let parsed = parse("---\nname: a\ndescription: b\nversion: \"7\"\n---\n").unwrap();
    assert_eq!(parsed.version, 7);
    // Written so by older versions.
    let parsed = parse("---\nname: a\ndescription: zero\u{feff}width\n---\n").unwrap();
    assert_eq!(parsed.description, "zerowidth");
}

/// Keys Sluice does not read may hold any YAML; their aliases are never expanded, so a
/// "billion laughs" costs only the reading of its text.
#[test]
fn other_keys_may_hold_anything_and_aliases_are_not_expanded() {
    let mut text =
        "---\nname: a\ndescription: b\nmetadata: {tags: [x, y], nested: {deep: [[1]]}}\n"
            .to_owned();
    text.push_str("l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for level in 1..40 {
        let previous = level - 1;
        text.push_str(&format!(
            "l{level}: &l{level} [*l{previous}, *l{previous}, *l{previous}, *l{previous}, *l{previous}, *l{previous}, *l{previous}, *l{previous}, *l{previous}, *l{previous}]\n"
        ));
    }
    text.push_str("---\n");
    let started = std::time::Instant::now();
    assert_eq!(parse(&text).unwrap(), front("a", "b", 1));
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    // The parser bounds nesting: deep values are refused, not a stack overflow.
    let deep = format!(
        "---\nname: a\ndescription: b\ndeep: {}{}\n---\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let error = parse(&deep).unwrap_err();
    assert!(error.contains("recursion limit exceeded"), "{error}");
}

#[test]
fn rejects_what_it_cannot_read_safely_with_the_line() {
    for (text, error) in [
        (
            "",
            "1: the file does not start with a `---` line opening the front matter",
        ),
        (
            "name: a\n",
            "1: the file does not start with a `---` line opening the front matter",
        ),
        (
            "---\nname: a\ndescription: b\n",
            "0: the front matter has no closing `---` line",
        ),
        (
            "---\ndescription: b\n---\n",
            "0: the front matter has no `name`",
        ),
        (
            "---\nname: a\n---\n",
            "0: the front matter has no `description`",
        ),
        (
            "---\nname: a\nname: b\ndescription: c\n---\n",
            "3: `name` appears twice",
        ),
        (
            "---\nname: a\ndescription:\n---\n",
            "3: invalid skill description: it is empty; give one line of at most 1024 characters saying what the skill does, for example `Save a sheet of the documents server as a CSV file`",
        ),
        (
            "---\nname: a\ndescription: \"open\n---\n",
            &format!(
                "3: this is not valid YAML: while scanning a quoted scalar, found unexpected end of stream at column 14; {QUOTE_HINT}"
            ),
        ),
        (
            "---\nname: a\ndescription: \"a\" b\n---\n",
            &format!(
                "3: this is not valid YAML: invalid trailing content after double-quoted scalar at column 18; {QUOTE_HINT}"
            ),
        ),
        (
            "---\nname: a\ndescription: \"two\\nlines\"\n---\n",
            "3: invalid skill description: it has a line break; give one line of at most 1024 characters saying what the skill does, for example `Save a sheet of the documents server as a CSV file`",
        ),
        (
            "---\nname: a\ndescription: key: value\n---\n",
            &format!(
                "3: this is not valid YAML: mapping values are not allowed in this context at column 17; {QUOTE_HINT}"
            ),
        ),
        (
            "---\nname: a\ndescription: [x]\n---\n",
            "3: `description` is a list or a map, not one line of text; put it in double quotes if it starts with `[`, `{` or `-`",
        ),
        (
            "---\nname: a\ndescription:\n  - x\n---\n",
            "4: `description` is a list or a map, not one line of text; put it in double quotes if it starts with `[`, `{` or `-`",
        ),
        (
            "---\nname: a\nlicense: &l MIT\ndescription: *l\n---\n",
            "4: `description` has a YAML tag (`!`), anchor (`&`) or alias (`*`); write the value itself, in double quotes if it starts with one of those signs",
        ),
        (
            "---\nname: a\ndescription: !!str b\n---\n",
            "3: `description` has a YAML tag (`!`), anchor (`&`) or alias (`*`); write the value itself, in double quotes if it starts with one of those signs",
        ),
        (
            "---\nname: a\ndescription: b\n...\nversion: 2\n---\n",
            "5: a second YAML document after a `...` line; the front matter is one",
        ),
        (
            "---\n- name: a\n---\n",
            "2: the front matter is not a list of `key: value` lines",
        ),
        (
            "---\n[name, a]: b\n---\n",
            "2: a key that is not a word; keys are words like `name`",
        ),
        (
            "---\nlicense: MIT\nlicense: MIT\n---\n",
            "3: `license` appears twice",
        ),
        (
            "---\nname: a\ndescription: b\nversion: 0\n---\n",
            "4: the version `0` is not a whole number from 1",
        ),
        (
            "---\nname: a\ndescription: b\nversion: -1\n---\n",
            "4: the version `-1` is not a whole number from 1",
        ),
        (
            "---\nname: a\ndescription: b\nversion: 99999999999\n---\n",
            "4: the version `99999999999` is not a whole number from 1",
        ),
        (
            "---\nname: Bad_Name\ndescription: b\n---\n",
            "2: invalid skill name `Bad_Name`: it must start with a lowercase letter; a skill name is kebab-case: lowercase letters and digits in words joined by single hyphens, starting with a letter, at most 64 characters, for example `save-sheet-as-csv`",
        ),
        (
            "---\nname:a\n---\n",
            "2: expected `key: value` lines (a space after the colon), found \"name:a\"",
        ),
        (
            "---\njust text\n---\n",
            "2: expected `key: value` lines (a space after the colon), found \"just text\"",
        ),
        // A key with a space is some other key.
        ("---\nna me: a\n---\n", "0: the front matter has no `name`"),
        (
            "---\nname: a\n  more\n---\n",
            "2: invalid skill name `a more`: it has the character ' '; a skill name is kebab-case: lowercase letters and digits in words joined by single hyphens, starting with a letter, at most 64 characters, for example `save-sheet-as-csv`",
        ),
    ] {
        assert_eq!(parse(text).unwrap_err(), error, "{text:?}");
    }
    let message = parse_skill_md(Path::new("skills/x/SKILL.md"), "---\n")
        .unwrap_err()
        .to_string();
    assert!(
        message.starts_with("skills/x/SKILL.md: the front matter has no closing"),
        "{message}"
    );
}

#[test]
fn camel_case_of_names() {
    assert_eq!(camel_case("save-sheet-as-csv"), "saveSheetAsCsv");
    assert_eq!(camel_case("a"), "a");
    assert_eq!(camel_case("v2-x"), "v2X");
}

#[test]
fn saved_by_round_trips_and_stays_one_line() {
    let mut front_matter = front("to-csv", "Turn rows into CSV", 2);
    front_matter.saved_by = Some("mcp-3: \"quoted\" # not a comment".to_owned());
    let text = render_skill_md(
        &front_matter,
        &["toCsv".to_owned()],
        SkillLanguage::TypeScript,
    );
    let parsed = parse_skill_md(Path::new("SKILL.md"), &text).unwrap();
    assert_eq!(parsed, front_matter);
    let forged = text.replace("savedBy: ", "savedBy: x\u{1b}");
    let long = text.replace("savedBy: ", &format!("savedBy: {}", "y".repeat(200)));
    for bad in [forged, long] {
        assert!(
            parse_skill_md(Path::new("SKILL.md"), &bad).is_err(),
            "{bad}"
        );
    }
}
