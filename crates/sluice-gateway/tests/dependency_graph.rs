//! Architecture invariant: the trusted side never links the JS engine or the TypeScript parser.
//!
//! Asks cargo for the normal and build dependencies of each trusted crate (dev-dependencies do not
//! reach the gateway binary: the code generator's tests use oxc to parse what it generates) and
//! fails if `rquickjs*`, `oxc*` or `sluice-engine-js` is among them.

// A helper may abort the test on a broken set-up, as a test does.
#![allow(clippy::expect_used)]

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
}

#[test]
fn trusted_crates_never_link_the_js_engine() {
    assert!(
        linked_packages("sluice-engine-js")
            .iter()
            .any(|name| name == "rquickjs"),
        "the check must be able to see the engine where it is"
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
/// of ours: the binary reaches it only through `sluice-worker`.
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
    // The binary links it, and only through the worker crate.
    let direct = std::fs::read_to_string(workspace.join("sluice/Cargo.toml")).expect("read");
    assert!(
        !direct.contains("sluice-sandbox"),
        "the binary must reach the sandbox through sluice-worker"
    );
}
