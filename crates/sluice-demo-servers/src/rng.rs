//! A small seeded pseudo-random number generator (SplitMix64).
//!
//! Only integer arithmetic, so the same seed gives the same numbers on every platform.

/// SplitMix64: fast, small state, good enough statistics for generated demo data.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A generator for one named stream of a seed: different streams of the same seed are
    /// independent, so adding rows to one data set never shifts another.
    pub fn new(seed: u64, stream: &str) -> Self {
        // FNV-1a of the stream name, mixed into the seed.
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in stream.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        let mut rng = Self {
            state: seed ^ hash.rotate_left(17),
        };
        // Warm up so that nearby seeds diverge at once.
        rng.next_u64();
        rng
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`0` when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// A number in `low..=high`.
    pub fn range(&mut self, low: u64, high: u64) -> u64 {
        low + self.below(high.saturating_sub(low) + 1)
    }

    /// True with probability `percent`/100.
    pub fn percent(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// An index into a slice of `len` items.
    pub fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }

    /// One item of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.index(items.len())]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_numbers() {
        let mut a = Rng::new(42, "x");
        let mut b = Rng::new(42, "x");
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        let mut c = Rng::new(43, "x");
        let mut d = Rng::new(42, "y");
        let first = Rng::new(42, "x").next_u64();
        assert_ne!(first, c.next_u64());
        assert_ne!(first, d.next_u64());
    }

    #[test]
    fn ranges_are_inclusive_and_bounded() {
        let mut rng = Rng::new(1, "range");
        let mut seen = [false; 6];
        for _ in 0..1_000 {
            let value = rng.range(5, 10);
            assert!((5..=10).contains(&value));
            seen[(value - 5) as usize] = true;
        }
        assert!(seen.iter().all(|seen| *seen));
        assert_eq!(rng.below(0), 0);
    }
}
