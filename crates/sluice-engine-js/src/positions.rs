//! Mapping positions in stack traces and messages back to the agent's own source.
//!
//! QuickJS reports positions in the JavaScript that oxc generated (`main.ts:12:7`). Every module
//! transpiled from agent code or a skill registers its [`LineMap`] here under its QuickJS module
//! name; [`SourceMaps::rewrite`] replaces each `NAME.ts:LINE:COLUMN` of a registered module with
//! the original position (and a skill's module name with its display name).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use crate::module_names::display_name;
use crate::transpile::LineMap;

/// Modules whose maps a session keeps; older ones are forgotten (their frames keep generated
/// positions), so a long session does not grow without bound.
const KEPT_MAPS: usize = 256;

/// Line maps by QuickJS module name, and which module is the current execution's.
#[derive(Debug, Default)]
pub(crate) struct SourceMaps {
    maps: HashMap<String, Arc<LineMap>>,
    /// Insertion order, for forgetting the oldest.
    order: VecDeque<String>,
    /// The module of the execution running now: its first frame gives an error's position.
    current: String,
}

impl SourceMaps {
    /// Register the map of a module.
    pub(crate) fn insert(&mut self, module: &str, map: Arc<LineMap>) {
        if self.maps.insert(module.to_owned(), map).is_none() {
            self.order.push_back(module.to_owned());
        }
        while self.order.len() > KEPT_MAPS {
            if let Some(oldest) = self.order.pop_front() {
                self.maps.remove(&oldest);
            }
        }
    }

    /// Register the current execution's module.
    pub(crate) fn set_current(&mut self, module: &str, map: Arc<LineMap>) {
        self.insert(module, map);
        self.current = module.to_owned();
    }

    /// Rewrite every `MODULE:LINE:COLUMN` (and `MODULE:LINE`) of a registered module in `text` to
    /// original positions; also return the first position found in the current module.
    pub(crate) fn rewrite(&self, text: &str) -> (String, Option<(u32, u32)>) {
        const SUFFIX: &str = ".ts:";
        let mut out = String::with_capacity(text.len());
        let mut first = None;
        let mut rest = text;
        while let Some(index) = rest.find(SUFFIX) {
            let name_end = index + SUFFIX.len() - 1;
            // Module names hold no spaces or parentheses; QuickJS writes `at f (NAME:L:C)`.
            let name_start = rest[..name_end]
                .char_indices()
                .rev()
                .find(|(_, character)| *character == '(' || character.is_whitespace())
                .map_or(0, |(position, character)| position + character.len_utf8());
            let name = &rest[name_start..name_end];
            let after = name_end + 1;
            let Some(map) = self.maps.get(name) else {
                out.push_str(&rest[..after]);
                rest = &rest[after..];
                continue;
            };
            out.push_str(&rest[..name_start]);
            out.push_str(&display_name(name));
            out.push(':');
            rest = &rest[after..];
            let line_digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            let line: Option<u32> = rest[..line_digits].parse().ok();
            let remainder = &rest[line_digits..];
            let column_digits = remainder
                .strip_prefix(':')
                .map(|tail| tail.bytes().take_while(u8::is_ascii_digit).count())
                .unwrap_or(0);
            let column: Option<u32> = if column_digits > 0 {
                remainder[1..=column_digits].parse().ok()
            } else {
                None
            };
            let consumed = line_digits
                + if column_digits > 0 {
                    1 + column_digits
                } else {
                    0
                };
            let mapped = line.and_then(|line| map.original(line, column.unwrap_or(1)));
            match mapped {
                Some((original_line, original_column)) => {
                    if name == self.current {
                        first.get_or_insert((original_line, original_column));
                    }
                    if column.is_some() {
                        out.push_str(&format!("{original_line}:{original_column}"));
                    } else {
                        out.push_str(&original_line.to_string());
                    }
                }
                None => out.push_str(&rest[..consumed]),
            }
            rest = &rest[consumed..];
        }
        out.push_str(rest);
        (out, first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transpile::transpile_module;
    use sluice_worker_protocol::Language;

    #[test]
    fn rewrites_known_modules_and_names_skills_without_their_hash() {
        let transpiled =
            transpile_module("type T = number;\n\nthrow 1;\n", Language::Typescript, "m").unwrap();
        let mut maps = SourceMaps::default();
        maps.set_current("main-2.ts", transpiled.line_map.clone());
        maps.insert(
            "skills/a/index@00ff00ff00ff00ff.ts",
            transpiled.line_map.clone(),
        );
        let (text, first) = maps.rewrite(
            "Error\n    at f (skills/a/index@00ff00ff00ff00ff.ts:1:1)\n    at <eval> (main-2.ts:1:1)\n    at g (other.ts:4:2)",
        );
        assert_eq!(
            text,
            "Error\n    at f (skills/a/index.ts:3:1)\n    at <eval> (main-2.ts:3:1)\n    at g (other.ts:4:2)"
        );
        assert_eq!(first, Some((3, 1)));
    }
}
