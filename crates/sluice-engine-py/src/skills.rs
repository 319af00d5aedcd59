//! Python skills: saved Python modules that agent code imports as
//! `from skills.<skill> import <name>`.
//!
//! Monty has no user modules, so a skill becomes a function that runs its code and hands back
//! what its top level defines, and one assignment that calls it, fed to the interpreter before
//! the code that imports it:
//!
//! ```python
//! def __sluice_load_skill__():
//!     <the skill's code, imports rewritten, indented one level>
//!     return {"total": total, ...}
//! __sluice_skill_sum_rows_<hash>__ = __sluice_load_skill__()
//! ```
//!
//! The import itself becomes `total = __sluice_skill_sum_rows_<hash>__["total"]`. So a skill has
//! its own namespace (its helpers do not meet the agent's globals), runs once per execution, or
//! once per session and version when the execution keeps a session, before the code that imports
//! it (not at the import statement), and cannot `await` at its top level (its functions can):
//! [`check`] refuses such code when the skill is saved. Lines that start inside a multi-line
//! string are not indented, so the skill's strings keep their text.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use ruff_python_ast::visitor::{Visitor, walk_expr, walk_stmt};
use ruff_python_ast::{Expr, Stmt};
use ruff_text_size::{Ranged, TextSize};

/// The function each skill's code is wrapped in (defined again for every skill).
const LOADER: &str = "__sluice_load_skill__";

/// One Python skill, ready to be fed to the interpreter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SkillLoad {
    /// The skill's name.
    pub name: String,
    /// The global that holds what it defines (by name); its source's hash is part of it, so a
    /// changed skill is a new global within a session.
    pub global: String,
    /// The names its top level defines, in order.
    pub names: Vec<String>,
    /// The snippet that defines [`SkillLoad::global`].
    pub code: String,
}

/// Wrap a skill's `rewritten` code (its imports replaced) as [`SkillLoad::code`]. `source` is
/// the code as saved (for the hash). An error says what is wrong, for an `ImportError`.
pub(crate) fn wrap(name: &str, source: &str, rewritten: &str) -> Result<SkillLoad, String> {
    // Python reads `\r\n` and a lone `\r` as `\n`, in strings too: the same code with one kind
    // of line break, so each line is found and indented.
    let rewritten = &rewritten.replace("\r\n", "\n").replace('\r', "\n");
    let parsed = ruff_python_parser::parse_module(rewritten)
        .map_err(|error| format!("the code does not parse: {}", error.error))?;
    let body = &parsed.syntax().body;
    if let Some(offset) = top_level_await(body) {
        let line = rewritten[..offset].matches('\n').count() + 1;
        return Err(format!(
            "line {line} awaits at the skill's top level, which runs when it is imported; move \
             the await into an async function of the skill"
        ));
    }
    let names = top_level_names(body, true);
    let mut hasher = DefaultHasher::new();
    source.hash(&mut hasher);
    let global = format!(
        "__sluice_skill_{}_{:016x}__",
        sluice_skills::python_module(name),
        hasher.finish()
    );
    let inside_strings: Vec<TextSize> = parsed
        .tokens()
        .iter()
        .flat_map(|token| {
            let range = token.range();
            rewritten[range]
                .match_indices('\n')
                .map(move |(at, _)| range.start() + TextSize::from(u32_of(at + 1)))
                .filter(move |line_start| *line_start < range.end())
        })
        .collect();
    let mut code = format!("def {LOADER}():\n");
    let mut offset = 0usize;
    for line in rewritten.split_inclusive('\n') {
        let start = TextSize::from(u32_of(offset));
        if inside_strings.binary_search(&start).is_err() && !line.trim().is_empty() {
            code.push_str("    ");
            code.push_str(without_form_feeds(line));
        } else {
            code.push_str(line);
        }
        offset += line.len();
    }
    if !code.ends_with('\n') {
        code.push('\n');
    }
    let entries: Vec<String> = names
        .iter()
        .map(|name| format!("\"{name}\": {name}"))
        .collect();
    code.push_str(&format!(
        "    return {{{}}}\n{global} = {LOADER}()\n",
        entries.join(", ")
    ));
    Ok(SkillLoad {
        name: name.to_owned(),
        global,
        names,
        code,
    })
}

/// A line without the part of its indentation up to its last form feed, which Python reads as
/// a return to column 0 (so after the added indentation it would undo it).
fn without_form_feeds(line: &str) -> &str {
    let indentation = line.len() - line.trim_start_matches([' ', '\t', '\x0c']).len();
    match line[..indentation].rfind('\x0c') {
        Some(feed) => &line[feed + 1..],
        None => line,
    }
}

fn u32_of(value: usize) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

/// The names the module's own statements bind (not those inside `if`, `try` or loops, which
/// may not be bound): functions, classes, assignments to a name or a tuple of names, and, with
/// `imports`, the names its imports bind.
pub(crate) fn top_level_names(body: &[Stmt], imports: bool) -> Vec<String> {
    fn targets(expression: &Expr, names: &mut Vec<String>) {
        match expression {
            Expr::Name(name) => names.push(name.id.to_string()),
            Expr::Tuple(tuple) => tuple.elts.iter().for_each(|item| targets(item, names)),
            Expr::List(list) => list.elts.iter().for_each(|item| targets(item, names)),
            _ => {}
        }
    }
    let mut names = Vec::new();
    for statement in body {
        match statement {
            Stmt::FunctionDef(function) => names.push(function.name.to_string()),
            Stmt::ClassDef(class) => names.push(class.name.to_string()),
            Stmt::Assign(assign) => assign
                .targets
                .iter()
                .for_each(|target| targets(target, &mut names)),
            Stmt::AnnAssign(assign) if assign.value.is_some() => {
                targets(&assign.target, &mut names);
            }
            Stmt::ImportFrom(import) if imports => names.extend(import.names.iter().map(|alias| {
                alias
                    .asname
                    .as_ref()
                    .unwrap_or(&alias.name)
                    .as_str()
                    .to_owned()
            })),
            Stmt::Import(import) if imports => names.extend(import.names.iter().map(|alias| {
                match &alias.asname {
                    Some(asname) => asname.as_str().to_owned(),
                    None => alias
                        .name
                        .as_str()
                        .split('.')
                        .next()
                        .unwrap_or_default()
                        .to_owned(),
                }
            })),
            _ => {}
        }
    }
    let mut seen = std::collections::HashSet::new();
    names.retain(|name| seen.insert(name.clone()));
    names
}

/// The offset of the first `await` outside any function, if there is one.
pub(crate) fn top_level_await(body: &[Stmt]) -> Option<usize> {
    #[derive(Default)]
    struct Finder {
        found: Option<usize>,
    }
    impl<'a> Visitor<'a> for Finder {
        fn visit_stmt(&mut self, statement: &'a Stmt) {
            if self.found.is_some() || matches!(statement, Stmt::FunctionDef(_)) {
                return;
            }
            walk_stmt(self, statement);
        }
        fn visit_expr(&mut self, expression: &'a Expr) {
            if self.found.is_some() {
                return;
            }
            match expression {
                Expr::Await(_) => self.found = Some(usize::from(expression.start())),
                // A lambda's body runs when it is called.
                Expr::Lambda(_) => {}
                _ => walk_expr(self, expression),
            }
        }
    }
    let mut finder = Finder::default();
    finder.visit_body(body);
    finder.found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(code: &str) -> Vec<String> {
        top_level_names(
            &ruff_python_parser::parse_module(code)
                .unwrap()
                .syntax()
                .body,
            true,
        )
    }

    #[test]
    fn the_top_level_names_are_what_a_skill_defines() {
        assert_eq!(
            names(
                "import json\nfrom x import a as b\nC = 1\nd, [e, f] = 1, [2, 3]\nn: int = 3\nm: int\n\
                 def g():\n    inner = 1\nasync def h():\n    pass\nclass K:\n    pass\nif C:\n    hidden = 1\nC = 2\n"
            ),
            ["json", "b", "C", "d", "e", "f", "n", "g", "h", "K"]
        );
    }

    #[test]
    fn a_wrapped_skill_keeps_its_strings_and_returns_its_names() {
        let source =
            "TEXT = \"\"\"first\nsecond\n  third\"\"\"\n\ndef total(rows):\n    return sum(rows)\n";
        let load = wrap("sum-rows", source, source).unwrap();
        assert!(load.global.starts_with("__sluice_skill_sum_rows_"));
        assert_eq!(load.names, ["TEXT", "total"]);
        assert_eq!(
            load.code,
            format!(
                "def __sluice_load_skill__():\n    TEXT = \"\"\"first\nsecond\n  third\"\"\"\n\n    def total(rows):\n        return sum(rows)\n    return {{\"TEXT\": TEXT, \"total\": total}}\n{} = __sluice_load_skill__()\n",
                load.global
            )
        );
        assert!(ruff_python_parser::parse_module(&load.code).is_ok());
        let changed = wrap("sum-rows", "x = 1\n", "x = 1\n").unwrap();
        assert_ne!(changed.global, load.global);
    }

    /// Every sequence of three of these lines that parses still parses once wrapped, and its
    /// strings keep their text.
    #[test]
    fn tricky_layouts_still_parse_once_wrapped() {
        let fragments = [
            "x = 1\n",
            "T = \"\"\"a\n  b\n\"\"\"\n",
            "F = f\"\"\"{x}\n{\n x}\"\"\"\n",
            "\x0cy = 2\n",
            "z = 3\r\n",
            "w = 4\r",
            "s = 'a' \\\n    'b'\n",
            "def f(a,\n      b):\n\treturn a\n",
            "class K:\n    pass\n",
            "@staticmethod\ndef g():\n    pass\n",
            "# comment\n",
            "\n",
            "   \n",
            "if x:\n    v = [\n1,\n]\n",
            "B = b'''q\nr'''\n",
        ];
        let mut checked = 0;
        for first in fragments {
            for second in fragments {
                for third in fragments {
                    let code = format!("{first}{second}{third}");
                    if ruff_python_parser::parse_module(&code).is_err() {
                        continue;
                    }
                    let load =
                        wrap("s", &code, &code).unwrap_or_else(|error| panic!("{code:?}: {error}"));
                    assert!(
                        ruff_python_parser::parse_module(&load.code).is_ok(),
                        "{code:?}\n{}",
                        load.code
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked > 2_000, "{checked}");
        let load = wrap("s", fragments[1], fragments[1]).unwrap();
        assert!(
            load.code.contains("T = \"\"\"a\n  b\n\"\"\""),
            "{}",
            load.code
        );
    }

    #[test]
    fn a_top_level_await_is_refused_and_one_in_a_function_is_not() {
        let error = wrap("s", "x = 1\ny = await f()\n", "x = 1\ny = await f()\n").unwrap_err();
        assert!(error.contains("line 2 awaits"), "{error}");
        let fine = "async def g():\n    return await f()\nh = lambda: 1\n";
        assert!(wrap("s", fine, fine).is_ok());
        let comprehension = "x = [await f() for _ in range(2)]\n";
        assert!(wrap("s", comprehension, comprehension).is_err());
    }
}
