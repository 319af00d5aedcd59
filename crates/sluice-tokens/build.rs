//! Writes o200k_base's ranks as three flat tables the library embeds, so counting tokens needs
//! no start-up work and no heap: `o200k_tokens.bin` (every ordinary token's bytes, in rank
//! order), `o200k_offsets.bin` (little-endian u32: where each rank's bytes start, one more
//! entry than ranks) and `o200k_slots.bin` (little-endian u32: an open-addressing hash table
//! of rank + 1, 0 for empty, probed linearly from `table::hash`).
//!
//! The ranks come from the `tiktoken-rs` package (its embedded copy of OpenAI's file), which
//! is only a build dependency: nothing of it is linked into Sluice.

#[path = "src/table.rs"]
#[allow(dead_code)]
mod table;

use std::collections::HashSet;
use std::error::Error;
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn Error>> {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=src/table.rs");
    let bpe = tiktoken_rs::o200k_base()?;
    let special: HashSet<u32> = bpe
        .special_tokens()
        .into_iter()
        .flat_map(|name| bpe.encode_with_special_tokens(name))
        .collect();
    // Ordinary ranks are 0..N with no gaps below the special ones; stop after a long run of
    // unknown ranks.
    let mut tokens: Vec<Vec<u8>> = Vec::new();
    let mut misses = 0;
    let mut rank: u32 = 0;
    while misses < 1_000 {
        match bpe.decode_bytes(&[rank]) {
            Ok(bytes) if !special.contains(&rank) => {
                tokens.resize(rank as usize, Vec::new());
                tokens.push(bytes);
                misses = 0;
            }
            _ => misses += 1,
        }
        rank += 1;
    }
    let mut bytes = Vec::new();
    let mut offsets = Vec::with_capacity((tokens.len() + 1) * 4);
    for token in &tokens {
        offsets.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        bytes.extend_from_slice(token);
    }
    offsets.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    let mask = (1usize << table::SLOT_BITS) - 1;
    let mut slots = vec![0u32; mask + 1];
    for (rank, token) in tokens.iter().enumerate() {
        if token.is_empty() {
            continue;
        }
        let mut slot = table::hash(token) as usize & mask;
        while slots[slot] != 0 {
            slot = (slot + 1) & mask;
        }
        slots[slot] = rank as u32 + 1;
    }
    let slots: Vec<u8> = slots.iter().flat_map(|slot| slot.to_le_bytes()).collect();
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("o200k_tokens.bin"), bytes)?;
    std::fs::write(out.join("o200k_offsets.bin"), offsets)?;
    std::fs::write(out.join("o200k_slots.bin"), slots)?;
    std::fs::write(
        out.join("o200k_pattern.txt"),
        tiktoken_rs::O200K_BASE_PAT_STR,
    )?;
    Ok(())
}
