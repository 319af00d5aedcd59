//! `cargo run --release -p sluice-embed --example embed -- MODEL_FOLDER TEXT...`: print each
//! text's first vector components and the time one embedding takes (a quick check of a model
//! folder against a reference implementation).

#![allow(clippy::print_stdout)]

use std::path::Path;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut arguments = std::env::args().skip(1);
    let folder = arguments
        .next()
        .ok_or("usage: embed MODEL_FOLDER TEXT...")?;
    let started = Instant::now();
    let encoder = sluice_embed::Encoder::load(Path::new(&folder))?;
    println!("loaded in {:?}", started.elapsed());
    for text in arguments {
        let started = Instant::now();
        let rounds = 20;
        let mut vector = Vec::new();
        for _ in 0..rounds {
            vector = encoder.embed(&text, sluice_embed::TextKind::Query);
        }
        let ids = encoder.token_ids(&text, sluice_embed::TextKind::Query);
        println!(
            "{text:?}: {} tokens {:?} per embedding; {:?}",
            ids.len(),
            started.elapsed() / rounds,
            &vector[..5]
        );
    }
    Ok(())
}
