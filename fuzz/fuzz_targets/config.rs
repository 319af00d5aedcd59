//! Arbitrary config text through the config parser. Must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = sluice_config::parse(text, "fuzz.json", &|name| (name.len() < 8).then(|| name.to_owned()));
});
