//! Architecture invariant: the trusted side never links an engine: not the JS engine or the
//! TypeScript parser, not the Python interpreter or its parser.
//!
//! Asks cargo for the normal and build dependencies of each trusted crate (dev-dependencies do not
//! reach the gateway binary: the code generator's tests use oxc to parse what it generates) and
//! fails if `rquickjs*`, `oxc*`, `sluice-engine-js`, `monty*`, `ruff_*` or `sluice-engine-py` is
//! among them.

// A helper may abort the test on a broken set-up, as a test does.
#![allow(clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

fn linked_packages(package: &str) -> Vec<String> {
    let output = Command::new(env!("CARGO"))
        .args([
            "tree",
            "--offline",
            "--locked",
            "-p",
            package,
            "-e",
            "normal,build",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo tree");
    assert!(
        output.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

fn is_engine(name: &str) -> bool {
    name.starts_with("rquickjs")
        || name == "oxc"
        || name.starts_with("oxc_")
        || name == "sluice-engine-js"
        || name.starts_with("monty")
        || name.starts_with("ruff_")
        || name == "sluice-engine-py"
}

#[test]
fn trusted_crates_never_link_an_engine() {
    assert!(
        linked_packages("sluice-engine-js")
            .iter()
            .any(|name| name == "rquickjs"),
        "the check must be able to see the engine where it is"
    );
    assert!(
        linked_packages("sluice-engine-py")
            .iter()
            .any(|name| name == "monty"),
        "the check must be able to see the Python engine where it is"
    );
    for trusted in [
        "sluice-gateway",
        "sluice-server",
        "sluice-downstream",
        "sluice-catalog",
        "sluice-codegen",
        "sluice-config",
    ] {
        let forbidden: Vec<String> = linked_packages(trusted)
            .into_iter()
            .filter(|name| is_engine(name))
            .collect();
        assert!(forbidden.is_empty(), "{trusted} links {forbidden:?}");
    }
}

/// The confinement crate (the only one with `unsafe`) is linked by the worker and nothing else
/// of ours but the binary, which takes only its two allocator calls from it.
#[test]
fn only_the_worker_links_the_sandbox() {
    assert!(
        linked_packages("sluice-worker")
            .iter()
            .any(|name| name == "sluice-sandbox"),
        "the worker confines itself with sluice-sandbox"
    );
    let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut crates: Vec<String> = std::fs::read_dir(&workspace)
        .expect("read crates/")
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.path().join("Cargo.toml").is_file())
        .filter_map(|entry| entry.file_name().to_str().map(str::to_owned))
        .collect();
    crates.sort();
    for name in crates {
        if ["sluice", "sluice-worker", "sluice-sandbox"].contains(&name.as_str()) {
            continue;
        }
        assert!(
            !linked_packages(&name)
                .iter()
                .any(|package| package == "sluice-sandbox"),
            "{name} links sluice-sandbox"
        );
    }
    // The binary confines nothing itself: of the sandbox crate it names only the function that
    // hands freed heap back to the OS, which it passes to the gateway, and the arena limit.
    let mut sources = Vec::new();
    let mut folders = vec![workspace.join("sluice/src")];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).expect("read src").flatten() {
            let path = entry.path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|extension| extension == "rs") {
                sources.push(std::fs::read_to_string(&path).expect("read source"));
            }
        }
    }
    let named: BTreeSet<String> = sources
        .iter()
        .flat_map(|source| {
            source
                .split("sluice_sandbox::")
                .skip(1)
                .map(|rest| {
                    rest.chars()
                        .take_while(|character| character.is_alphanumeric() || *character == '_')
                        .collect::<String>()
                })
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(
        named,
        BTreeSet::from([
            "limit_heap_arenas".to_owned(),
            "release_free_heap".to_owned()
        ]),
        "the binary must confine nothing itself"
    );
}

/// The top-level modules of each crate's `src` (a file `x.rs` or a folder `x/`) and the other
/// top-level modules each one names through `crate::...` outside its tests.
fn module_imports(src: &std::path::Path) -> BTreeMap<String, BTreeSet<String>> {
    fn files(folder: &std::path::Path, found: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(folder).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                files(&path, found);
            } else if path.extension().is_some_and(|extension| extension == "rs") {
                found.push(path);
            }
        }
    }
    let mut found = Vec::new();
    files(src, &mut found);
    let mut imports: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in found {
        let relative = file.strip_prefix(src).expect("inside src");
        let first = relative
            .components()
            .next()
            .expect("a path")
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        let test_file = relative.components().any(|part| {
            let part = part.as_os_str().to_string_lossy();
            part == "tests" || part == "tests.rs" || part.ends_with("_tests.rs")
        });
        if first == "lib" || first == "main" || test_file {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("read source");
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        let named = imports.entry(first.clone()).or_default();
        for (at, _) in code.match_indices("crate::") {
            let rest = &code[at + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                let group = &group[..group.find('}').unwrap_or(group.len())];
                for item in group.split(',') {
                    if let Some((module, _)) = item.trim().split_once("::") {
                        named.insert(module.to_owned());
                    }
                }
            } else {
                let module: String = rest
                    .chars()
                    .take_while(|character| character.is_alphanumeric() || *character == '_')
                    .collect();
                if rest[module.len()..].starts_with("::") {
                    named.insert(module);
                }
            }
        }
        named.remove(&first);
    }
    let modules: BTreeSet<String> = imports.keys().cloned().collect();
    for named in imports.values_mut() {
        named.retain(|module| modules.contains(module));
    }
    imports
}

/// A circle of modules that name each other, if there is one.
fn circle(imports: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        module: &str,
        imports: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|seen| seen == module) {
            let mut circle = path[start..].to_vec();
            circle.push(module.to_owned());
            return Some(circle);
        }
        if done.contains(module) {
            return None;
        }
        path.push(module.to_owned());
        for next in imports.get(module).into_iter().flatten() {
            if let Some(circle) = visit(next, imports, path, done) {
                return Some(circle);
            }
        }
        path.pop();
        done.insert(module.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    imports
        .keys()
        .find_map(|module| visit(module, imports, &mut Vec::new(), &mut done))
}

/// No crate has modules that import each other in a circle: shared small types live in leaf
/// modules. (`cargo test -p sluice-gateway --test dependency_graph` shows any circle.)
#[test]
fn no_crate_has_an_import_circle_between_its_modules() {
    let crates = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the crates folder");
    let mut checked = 0;
    for entry in std::fs::read_dir(crates).expect("read crates").flatten() {
        let src = entry.path().join("src");
        if !src.is_dir() {
            continue;
        }
        let imports = module_imports(&src);
        checked += imports.len();
        if let Some(circle) = circle(&imports) {
            panic!(
                "{}: modules import each other in a circle: {}",
                entry.file_name().to_string_lossy(),
                circle.join(" -> ")
            );
        }
    }
    assert!(checked > 50, "the check must see the workspace's modules");
}

#[test]
fn the_circle_check_finds_a_circle() {
    let imports: BTreeMap<String, BTreeSet<String>> = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec![]),
    ]
    .into_iter()
    .map(|(module, named)| {
        (
            module.to_owned(),
            named.into_iter().map(str::to_owned).collect(),
        )
    })
    .collect();
    assert_eq!(
        circle(&imports),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
}
