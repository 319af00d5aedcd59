//! The words of the vocabulary are written once, here: no other crate's code spells an error
//! kind, a tool-error kind, a limit or a session-end reason as a string literal (it uses the
//! enum). Test code is not checked. Words that are also ordinary English in other roles
//! (`tool`, `timeout`, `limit`, `ok`, ...) are left out: only distinctive words are looked for.

// A helper may abort the test on a broken set-up, as a test does.
#![allow(clippy::expect_used)]

use std::path::{Path, PathBuf};

use sluice_worker_protocol::{ErrorKind, Limit, SessionEnd, ToolErrorKind};

/// Literals that name something else that happens to share the word, with why.
const ALLOWED: &[(&str, &str)] = &[
    // QuickJS's own error class, recognised in what the engine throws.
    ("sluice-engine-js/src/executor.rs", "InternalError"),
    // The runtime's class name, reserved so no generated identifier shadows it.
    ("sluice-catalog/src/identifier.rs", "ToolError"),
    // The execution report's statistic of the same name, read from its JSON.
    ("sluice-demo/src/code_mode.rs", "tool_calls"),
];

fn words() -> Vec<String> {
    let mut words: Vec<String> = ErrorKind::KNOWN
        .iter()
        .map(|kind| kind.as_str().to_owned())
        .collect();
    let distinctive = |word: &str| word.contains('_');
    words.extend(
        ToolErrorKind::KNOWN
            .iter()
            .map(ToolErrorKind::as_str)
            .chain(Limit::KNOWN.iter().map(Limit::as_str))
            .chain(
                [
                    SessionEnd::ClientDisconnected,
                    SessionEnd::MaxSessions,
                    SessionEnd::MaxExecutions,
                    SessionEnd::WorkerLost,
                ]
                .iter()
                .map(SessionEnd::as_str),
            )
            .filter(|word| distinctive(word))
            .map(str::to_owned),
    );
    words
}

fn rust_files(folder: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            if name != "tests" {
                rust_files(&path, found);
            }
        } else if name.ends_with(".rs") && name != "tests.rs" && !name.ends_with("_tests.rs") {
            found.push(path);
        }
    }
}

#[test]
fn no_other_crate_spells_the_words() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the crates folder");
    let words = words();
    let mut files = Vec::new();
    for entry in std::fs::read_dir(crates).expect("read crates").flatten() {
        if entry.file_name() != "sluice-worker-protocol" {
            rust_files(&entry.path().join("src"), &mut files);
        }
    }
    assert!(files.len() > 50, "the scan must see the workspace");
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read source");
        // Code only: the test module at the end of a file is left out.
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        let relative = file
            .strip_prefix(crates)
            .expect("inside crates")
            .to_string_lossy()
            .into_owned();
        for word in &words {
            let literal = format!("\"{word}\"");
            if code.contains(&literal) && !ALLOWED.contains(&(relative.as_str(), word.as_str())) {
                found.push(format!("{relative}: {literal}"));
            }
        }
    }
    assert!(
        found.is_empty(),
        "use the enums of sluice-worker-protocol instead of these literals:\n{}",
        found.join("\n")
    );
}
