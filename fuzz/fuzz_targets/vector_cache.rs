//! The search vector cache decoder: any bytes in `<data dir>/cache/search-vectors.bin` (a file
//! another process or a crash may have left half written) load as a cache or a note, never a
//! panic or an allocation beyond the file's size.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for (fingerprint, dimension) in [("model", 2), ("model", 384), ("", 0)] {
        let (cache, _note) = sluice_search::VectorCache::from_bytes(data, fingerprint, dimension);
        assert!(cache.len() * (32 + 4 * dimension) <= data.len());
    }
});
