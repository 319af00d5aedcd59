/*!
Token counting with OpenAI's `o200k_base` encoding, the yardstick for everything Sluice claims
about context size.

The ranks are three flat tables generated at build time (see `build.rs`) and embedded in the
binary: about 4.5 MB of read-only data that the kernel pages in as lookups touch it and shares
between processes, instead of the 35 MB of hash maps a general tokenizer builds on the heap of
every process on first use (a few hundred milliseconds). Only counting is offered: Sluice never
needs the token ids.

Text is split into pieces by o200k's own pattern, and each piece that is not a token is merged
pair by pair, lowest rank first, exactly as the reference encoder does; the tests compare the
counts with it. One deliberate difference: a piece longer than [`LONGEST_PIECE`] bytes (a run of
letters with no separator, such as a base64 blob) is counted in chunks of that size, which keeps
the cost linear where the reference encoder's is quadratic, at the price of a count that may
differ by a few tokens per chunk.

```
assert_eq!(sluice_tokens::count("hello world"), 2);
```
*/
#![deny(missing_docs)]

mod table;

use std::sync::LazyLock;

/// Pieces longer than this many bytes are counted per chunk of this size.
pub const LONGEST_PIECE: usize = 2048;

static TOKENS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/o200k_tokens.bin"));
static OFFSETS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/o200k_offsets.bin"));
static SLOTS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/o200k_slots.bin"));
const PATTERN: &str = include_str!(concat!(env!("OUT_DIR"), "/o200k_pattern.txt"));

/// The pattern that splits text into pieces; `None` only if the embedded pattern did not
/// compile, which a build's own tests would show.
static PIECES: LazyLock<Option<fancy_regex::Regex>> =
    LazyLock::new(|| fancy_regex::Regex::new(PATTERN).ok());

/// Tokens of `text` in o200k_base. Special-token text is counted as ordinary text.
///
/// Falls back to a conservative estimate (one token per 3 bytes) for any text the pattern
/// cannot split (a backtracking limit), which keeps budgets working rather than failing an
/// execution over a statistic.
pub fn count(text: &str) -> usize {
    let Some(pieces) = PIECES.as_ref() else {
        return estimate(text);
    };
    let mut total = 0;
    let mut end = 0;
    for piece in pieces.find_iter(text) {
        let Ok(piece) = piece else {
            return total + estimate(&text[end..]);
        };
        end = piece.end();
        total += piece
            .as_str()
            .as_bytes()
            .chunks(LONGEST_PIECE)
            .map(piece_tokens)
            .sum::<usize>();
    }
    total
}

fn estimate(text: &str) -> usize {
    text.len().div_ceil(3)
}

/// Tokens of one piece: merge adjacent parts, the pair with the lowest rank first (the
/// leftmost of equal ones), until no pair is a token.
fn piece_tokens(piece: &[u8]) -> usize {
    if piece.len() < 2 || rank(piece).is_some() {
        return usize::from(!piece.is_empty());
    }
    // Where each part starts, and `piece.len()` last.
    let mut starts: Vec<usize> = (0..=piece.len()).collect();
    let pair = |starts: &[usize], index: usize| -> u32 {
        match (starts.get(index), starts.get(index + 2)) {
            (Some(&from), Some(&to)) => rank(&piece[from..to]).unwrap_or(u32::MAX),
            _ => u32::MAX,
        }
    };
    // `ranks[i]`: the rank of parts i and i + 1 merged (`u32::MAX`: not a token).
    let mut ranks: Vec<u32> = (0..starts.len())
        .map(|index| pair(&starts, index))
        .collect();
    while let Some((best, &lowest)) = ranks.iter().enumerate().min_by_key(|(_, rank)| **rank) {
        if lowest == u32::MAX {
            break;
        }
        starts.remove(best + 1);
        ranks.remove(best + 1);
        ranks[best] = pair(&starts, best);
        if best > 0 {
            ranks[best - 1] = pair(&starts, best - 1);
        }
    }
    starts.len() - 1
}

/// The rank of a token's bytes, if they are one.
fn rank(bytes: &[u8]) -> Option<u32> {
    let mask = (1usize << table::SLOT_BITS) - 1;
    let mut slot = table::hash(bytes) as usize & mask;
    loop {
        let entry = word(SLOTS, slot)?;
        if entry == 0 {
            return None;
        }
        let rank = entry - 1;
        if token(rank)? == bytes {
            return Some(rank);
        }
        slot = (slot + 1) & mask;
    }
}

/// The bytes of the token with this rank.
fn token(rank: u32) -> Option<&'static [u8]> {
    let from = word(OFFSETS, rank as usize)? as usize;
    let to = word(OFFSETS, rank as usize + 1)? as usize;
    TOKENS.get(from..to)
}

/// The little-endian u32 at `index` of a table.
fn word(table: &[u8], index: usize) -> Option<u32> {
    let bytes = table.get(index * 4..index * 4 + 4)?;
    Some(u32::from_le_bytes(bytes.try_into().ok()?))
}

#[cfg(test)]
mod tests;
