//! Arbitrary paths, as agent code could write them, through the workspace path rules the worker
//! applies before any file call. Must never panic, and what it accepts must stay below the
//! workspace: plain names only (no empty, `.`, `..`, `/` or NUL component), within the length
//! limit, and the same components again when the accepted path is checked a second time.
#![no_main]

use std::path::{Component, Path};

use libfuzzer_sys::fuzz_target;
use sluice_paths::{MAX_PATH_BYTES, PathRefusal, joined_length, workspace_components};

fuzz_target!(|data: &[u8]| {
    let path = String::from_utf8_lossy(data);
    match workspace_components(&path) {
        Ok(components) => {
            assert!(!path.contains('\0') && !path.starts_with('/'));
            for component in &components {
                assert!(!component.is_empty());
                assert!(*component != "." && *component != "..");
                assert!(!component.contains('/') && !component.contains('\0'));
            }
            let joined = components.join("/");
            assert_eq!(joined.len(), joined_length(&components));
            assert!(joined.len() <= MAX_PATH_BYTES);
            // Joined beneath any folder, it never climbs out of it.
            assert!(
                Path::new(&joined)
                    .components()
                    .all(|component| matches!(component, Component::Normal(_)))
            );
            // Normalizing is idempotent.
            let again = format!("./workspace/{joined}");
            assert_eq!(workspace_components(&again).as_deref(), Ok(&components[..]));
        }
        Err(PathRefusal::TooLong { bytes }) => assert!(bytes > MAX_PATH_BYTES),
        Err(PathRefusal::Nul) => assert!(path.contains('\0')),
        Err(PathRefusal::Absolute) => assert!(path.starts_with('/')),
        Err(_) => {}
    }
});
