//! Arbitrary text as a Python skill: `check` (what saving a skill runs) never panics, and code
//! that passes it still parses once wrapped the way the engine loads a skill (re-indented one
//! level, lines inside multi-line strings left alone).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(code) = std::str::from_utf8(data) else { return };
    if sluice_engine_py::check(code).error.is_some() {
        return;
    }
    let Ok(snippet) = sluice_engine_py::skill_snippet("fuzz", code) else { return };
    let checked = sluice_engine_py::check(&snippet);
    assert!(checked.error.is_none(), "{code:?}\n{snippet}\n{:?}", checked.error);
});
