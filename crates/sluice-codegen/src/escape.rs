//! Making untrusted text safe to place in generated TypeScript.
//!
//! Everything a downstream server sends (tool names, titles, descriptions, property names, enum
//! values, defaults) is untrusted: a hostile or careless server must not be able to end a comment
//! or a string literal early and so inject code into the files agents read and import. Generated
//! code therefore only ever places server text in three spots, each with its own escaper here:
//!
//! - inside a `/** ... */` documentation comment: [`jsdoc`] and [`jsdoc_block`];
//! - inside a string literal (also used as a literal type): [`string_literal`];
//! - as a property key: [`property_key`], which emits a bare identifier only when the text is a
//!   plain ASCII identifier and a string literal otherwise.
//!
//! Names that become identifiers (function and type names) are never taken from server text
//! directly: the catalog derives them, and [`type_name_part`] reduces any other text to
//! identifier characters.

/// Words that are legal property names but that TypeScript reads as modifiers or operators at
/// the start of a type member. Quoting them costs nothing and removes any doubt about how a
/// member such as `readonly?: boolean` or `new: string` is parsed.
const QUOTED_KEYWORDS: &[&str] = &[
    "abstract",
    "accessor",
    "asserts",
    "async",
    "constructor",
    "declare",
    "get",
    "in",
    "infer",
    "is",
    "keyof",
    "new",
    "out",
    "override",
    "private",
    "protected",
    "public",
    "readonly",
    "set",
    "static",
    "typeof",
    "unique",
];

/// Longest text kept in one documentation comment. Real descriptions are far shorter; the cap
/// only stops a pathological server from bloating every file that documents it.
const MAX_COMMENT_CHARS: usize = 8_000;

/// Make text safe and readable as the content of a `/** ... */` comment.
///
/// - Line breaks of every kind (CRLF, CR, U+2028, U+2029, U+0085) become `\n`, so the caller's
///   line layout (` * ` prefixes) is the only layout, and no exotic line terminator can end a
///   line comment should the text ever be used in one.
/// - Tabs become spaces; other control characters, and the invisible bidirectional-override and
///   byte-order-mark characters that can make a comment read differently from how it parses
///   ("Trojan Source"), are dropped.
/// - Every `*/` becomes `*\/`, after the removals above, so removing a character cannot join a
///   `*` and a `/` into a comment end.
/// - Trailing spaces are trimmed from each line and the whole text is trimmed; text longer than
///   8,000 characters is cut with `…`.
///
/// Postcondition: the result contains no `*/` and no line terminator other than `\n`.
pub fn jsdoc(text: &str) -> String {
    let mut cleaned = String::with_capacity(text.len());
    let mut characters = text.chars().peekable();
    let mut kept = 0usize;
    while let Some(character) = characters.next() {
        if kept >= MAX_COMMENT_CHARS {
            cleaned.push('…');
            break;
        }
        match character {
            '\r' => {
                // CRLF is one break, a lone CR another.
                if characters.peek() == Some(&'\n') {
                    characters.next();
                }
                cleaned.push('\n');
            }
            '\n' | '\u{2028}' | '\u{2029}' | '\u{0085}' => cleaned.push('\n'),
            '\t' => cleaned.push(' '),
            character if is_hidden(character) => continue,
            character => cleaned.push(character),
        }
        kept += 1;
    }
    let cleaned = cleaned.replace("*/", "*\\/");
    dedent(&cleaned)
}

/// Trim trailing spaces from each line, drop blank lines at both ends, strip the first line's
/// indentation and the margin the other lines share, as Python's `inspect.cleandoc` does.
/// Docstring-generated descriptions indent every line after the first; relative indentation
/// (nested Markdown lists) is kept.
fn dedent(text: &str) -> String {
    let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    let Some(first) = lines.iter().position(|line| !line.is_empty()) else {
        return String::new();
    };
    let last = lines
        .iter()
        .rposition(|line| !line.is_empty())
        .unwrap_or(first);
    let lines = &lines[first..=last];
    let indentation = |line: &str| line.len() - line.trim_start_matches(' ').len();
    let margin = lines[1..]
        .iter()
        .filter(|line| !line.is_empty())
        .map(|line| indentation(line))
        .min()
        .unwrap_or(0);
    let mut result = lines[0].trim_start().to_owned();
    for line in &lines[1..] {
        result.push('\n');
        // Every non-empty line has at least `margin` leading ASCII spaces; empty ones have none.
        result.push_str(line.get(margin.min(line.len())..).unwrap_or(line));
    }
    result
}

/// Characters dropped from comments: controls (other than the line breaks and tabs handled by
/// [`jsdoc`]) and invisible formatting characters that change how text is displayed. The CLI
/// escapes the same characters before it prints text from records and skills.
pub fn is_hidden(character: char) -> bool {
    character.is_control()
        || matches!(
            character,
            '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}'
        )
}

/// A complete `/** ... */` comment holding `text`, each line starting with `indent`, ending in a
/// newline. Empty text gives an empty string, so callers can always push the result.
///
/// Short single-line text becomes `/** text */`; anything else the usual multi-line block. The
/// text goes through [`jsdoc`], so any input is safe.
pub fn jsdoc_block(text: &str, indent: &str) -> String {
    const SINGLE_LINE_LIMIT: usize = 90;
    let text = jsdoc(text);
    if text.is_empty() {
        return String::new();
    }
    if !text.contains('\n') && text.chars().count() <= SINGLE_LINE_LIMIT {
        return format!("{indent}/** {text} */\n");
    }
    let mut block = format!("{indent}/**\n");
    for line in text.lines() {
        if line.is_empty() {
            block.push_str(indent);
            block.push_str(" *\n");
        } else {
            block.push_str(indent);
            block.push_str(" * ");
            block.push_str(line);
            block.push('\n');
        }
    }
    block.push_str(indent);
    block.push_str(" */\n");
    block
}

/// A double-quoted string literal holding exactly `text`, valid in JavaScript and TypeScript and
/// as a TypeScript literal type.
///
/// Builds on [`crate::javascript::string_literal`] (JSON escaping: quotes, backslashes and
/// control characters) and also escapes U+2028 and U+2029. Those two are legal inside string
/// literals since ES2019, but older tools treat them as line breaks, and an escaped form keeps
/// every generated line a real line.
pub fn string_literal(text: &str) -> String {
    crate::javascript::string_literal(text)
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

/// True when `text` is a plain ASCII identifier: `[A-Za-z_$][A-Za-z0-9_$]*`.
///
/// Deliberately narrower than ECMAScript's definition (no Unicode letters, no escapes): the
/// narrow test is easy to get right, and anything it rejects is still emitted correctly, just
/// quoted.
pub fn is_plain_identifier(text: &str) -> bool {
    let mut characters = text.chars();
    let Some(first) = characters.next() else {
        return false;
    };
    (first.is_ascii_alphabetic() || first == '_' || first == '$')
        && characters.all(|character| {
            character.is_ascii_alphanumeric() || character == '_' || character == '$'
        })
}

/// A property key for an interface or object type: bare when `name` is a plain identifier
/// that TypeScript cannot mistake for a member modifier, a string literal otherwise.
///
/// Reserved words such as `delete` or `default` stay bare: they are valid property names.
pub fn property_key(name: &str) -> String {
    if is_plain_identifier(name) && !QUOTED_KEYWORDS.contains(&name) {
        name.to_owned()
    } else {
        string_literal(name)
    }
}

/// Longest name part [`type_name_part`] returns; callers make names unique anyway.
const MAX_NAME_PART_CHARS: usize = 64;

/// Reduce arbitrary text (a `$defs` key, say) to characters that may follow the start of a
/// TypeScript identifier: ASCII letters, digits and `_`. Runs of anything else become one `_`;
/// the first letter is upper-cased so the part reads well after a PascalCase prefix. Empty
/// input gives `Type`; the result is at most 64 characters, so a hostile key cannot make
/// every mention of its type enormous.
pub fn type_name_part(text: &str) -> String {
    let mut part = String::with_capacity(text.len().min(MAX_NAME_PART_CHARS));
    let mut pending_separator = false;
    for character in text.chars() {
        if part.len() > MAX_NAME_PART_CHARS {
            break;
        }
        if character.is_ascii_alphanumeric() || character == '_' {
            if pending_separator && !part.is_empty() {
                part.push('_');
            }
            pending_separator = false;
            if part.is_empty() {
                part.push(character.to_ascii_uppercase());
            } else {
                part.push(character);
            }
        } else {
            pending_separator = true;
        }
    }
    if part.is_empty() {
        part.push_str("Type");
    }
    // Only ASCII was pushed, so any length is a character boundary.
    part.truncate(MAX_NAME_PART_CHARS);
    part
}

/// PascalCase form of a catalog identifier (`getSum` -> `GetSum`), the stem of every type name
/// generated for that tool. Catalog identifiers start with a lower-case letter or `_`, so this
/// stays a valid identifier and distinct tools keep distinct stems.
pub fn pascal_case(identifier: &str) -> String {
    let mut characters = identifier.chars();
    match characters.next() {
        Some(first) => first.to_uppercase().chain(characters).collect(),
        None => String::from("Tool"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comment_end_is_neutralised() {
        assert_eq!(jsdoc("a */ b"), "a *\\/ b");
        assert_eq!(jsdoc("**/"), "**\\/");
        // A dropped control character must not join `*` and `/`.
        assert_eq!(jsdoc("*\u{0}/ x"), "*\\/ x");
        assert_eq!(jsdoc("*\u{202E}/"), "*\\/");
        assert!(!jsdoc("*/*/*/").contains("*/"));
    }

    #[test]
    fn line_breaks_are_normalised() {
        assert_eq!(
            jsdoc("a\r\nb\rc\u{2028}d\u{2029}e\u{85}f"),
            "a\nb\nc\nd\ne\nf"
        );
        assert_eq!(jsdoc("  a  \n\tb\u{7}  "), "a\nb");
    }

    #[test]
    fn docstring_indentation_is_removed() {
        assert_eq!(
            jsdoc("Summary.\n        Details.\n          - nested\n\n        End."),
            "Summary.\nDetails.\n  - nested\n\nEnd."
        );
        assert_eq!(jsdoc("\n\n   only\n\n"), "only");
    }

    #[test]
    fn long_comments_are_cut() {
        let long = "x".repeat(20_000);
        let cut = jsdoc(&long);
        assert!(cut.chars().count() <= MAX_COMMENT_CHARS + 1);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn blocks_have_single_and_multi_line_forms() {
        assert_eq!(jsdoc_block("Hello", "  "), "  /** Hello */\n");
        assert_eq!(jsdoc_block("", ""), "");
        assert_eq!(jsdoc_block(" \r\n ", ""), "");
        assert_eq!(
            jsdoc_block("a\n\nb */", ""),
            "/**\n * a\n *\n * b *\\/\n */\n"
        );
    }

    #[test]
    fn string_literals_escape_everything() {
        assert_eq!(string_literal("a\"b\\c\n"), r#""a\"b\\c\n""#);
        assert_eq!(string_literal("\u{2028}\u{2029}"), r#""\u2028\u2029""#);
        assert_eq!(string_literal("${x}`"), r#""${x}`""#);
    }

    #[test]
    fn property_keys_are_bare_only_when_plain() {
        assert_eq!(property_key("name"), "name");
        assert_eq!(property_key("$ref_2"), "$ref_2");
        assert_eq!(property_key("delete"), "delete");
        assert_eq!(property_key("readonly"), "\"readonly\"");
        assert_eq!(property_key("content-type"), "\"content-type\"");
        assert_eq!(property_key("2fa"), "\"2fa\"");
        assert_eq!(property_key(""), "\"\"");
        assert_eq!(property_key("naïve"), "\"naïve\"");
        assert_eq!(property_key("a\"}; x"), "\"a\\\"}; x\"");
    }

    #[test]
    fn type_name_parts_are_identifier_characters() {
        assert_eq!(type_name_part("richTextRequest"), "RichTextRequest");
        assert_eq!(type_name_part("my.def/x"), "My_def_x");
        assert_eq!(type_name_part("*/"), "Type");
        assert_eq!(type_name_part("9lives"), "9lives");
        assert_eq!(
            type_name_part(&"ab-".repeat(100)).len(),
            MAX_NAME_PART_CHARS
        );
        assert_eq!(pascal_case("getSum"), "GetSum");
        assert_eq!(pascal_case("_2faVerify"), "_2faVerify");
    }
}
