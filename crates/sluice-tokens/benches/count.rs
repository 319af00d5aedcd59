//! `cargo bench -p sluice-tokens --bench count`: this crate's counter against the reference
//! encoder (`tiktoken-rs`, which it replaced) on the recorded catalogs and on prose, side by
//! side in one run: first-use time, median MB/s, and the heap each holds once built.

// A benchmark's report is its output.
#![allow(clippy::print_stdout)]

use std::hint::black_box;
use std::time::{Duration, Instant};

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn throughput(text: &str, count: impl Fn(&str) -> usize) -> (f64, usize) {
    let mut samples = Vec::new();
    let mut tokens = 0;
    for _ in 0..15 {
        let start = Instant::now();
        tokens = black_box(count(black_box(text)));
        samples.push(start.elapsed());
    }
    let seconds = median(samples).as_secs_f64();
    (text.len() as f64 / seconds / 1e6, tokens)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let folder = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/catalogs");
    let mut catalogs = String::new();
    for entry in std::fs::read_dir(folder)?.flatten() {
        catalogs.push_str(&std::fs::read_to_string(entry.path())?);
    }
    let prose = "The quarterly review covered revenue, churn and the hiring plan for the \
                 platform team. Les résultats du troisième trimestre dépassent les prévisions. "
        .repeat(20_000);

    let start = Instant::now();
    let first = sluice_tokens::count("hello world");
    let ours_first = start.elapsed();
    let start = Instant::now();
    let reference = tiktoken_rs::o200k_base()?;
    let first_reference = reference.encode_ordinary("hello world").len();
    let reference_first = start.elapsed();
    if first != first_reference {
        return Err("the counters disagree on \"hello world\"".into());
    }
    println!(
        "first count (builds the tables): sluice-tokens {ours_first:.2?}, tiktoken-rs {reference_first:.2?}"
    );

    for (name, text) in [("catalogs JSON", &catalogs), ("prose", &prose)] {
        let (ours, ours_tokens) = throughput(text, sluice_tokens::count);
        let (theirs, their_tokens) = throughput(text, |text| reference.encode_ordinary(text).len());
        println!(
            "{name} ({:.1} MB): sluice-tokens {ours:.1} MB/s, tiktoken-rs {theirs:.1} MB/s, ratio {:.2}; tokens {ours_tokens} vs {their_tokens}",
            text.len() as f64 / 1e6,
            ours / theirs,
        );
    }
    Ok(())
}
