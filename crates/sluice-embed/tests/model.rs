//! The encoder with the real model (all-MiniLM-L6-v2, installed by `scripts/fetch-model`, which
//! `scripts/test` runs first; `SLUICE_MODEL` names another folder).

use std::path::PathBuf;

use sluice_embed::{Encoder, SharedEncoder, TextKind};

fn folder() -> PathBuf {
    std::env::var_os("SLUICE_MODEL").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/models/all-MiniLM-L6-v2"),
        PathBuf::from,
    )
}

fn encoder() -> Encoder {
    Encoder::load(&folder()).unwrap_or_else(|error| {
        panic!("{error} (these tests need the model: run scripts/fetch-model)")
    })
}

fn cosine(left: &[f32], right: &[f32]) -> f32 {
    left.iter().zip(right).map(|(a, b)| a * b).sum()
}

#[test]
fn vectors_are_unit_length_and_deterministic() {
    let encoder = encoder();
    let vector = encoder.embed("is it lunchtime in Osaka yet?", TextKind::Query);
    assert_eq!(vector.len(), encoder.dimension());
    assert!((cosine(&vector, &vector) - 1.0).abs() < 1e-4);
    assert_eq!(
        vector,
        encoder.embed("is it lunchtime in Osaka yet?", TextKind::Query)
    );
}

#[test]
fn a_batch_gives_each_text_its_own_vector() {
    let encoder = encoder();
    let texts = [
        "find the open pull requests in my repository",
        "post a summary to the team channel",
        "x",
        "create a calendar event for tomorrow at noon with the design team and send the agenda",
    ];
    let together = encoder.embed_batch(&texts, TextKind::Query);
    assert_eq!(together.len(), texts.len());
    for (text, vector) in texts.iter().zip(&together) {
        let alone = encoder.embed(text, TextKind::Query);
        assert!(cosine(&alone, vector) > 0.99999, "{text}");
    }
    let many = encoder.embed_many(&texts, TextKind::Query, 2);
    for (left, right) in many.iter().zip(&together) {
        assert!(cosine(left, right) > 0.99999);
    }
}

#[test]
fn close_meanings_are_closer_than_unrelated_ones() {
    let encoder = encoder();
    let query = encoder.embed("is it lunchtime in Osaka yet?", TextKind::Query);
    let time = encoder.embed(
        "get_current_time: Get the current time in a specific timezone",
        TextKind::Document,
    );
    let issue = encoder.embed(
        "create_issue: Create a new issue in a GitHub repository",
        TextKind::Document,
    );
    let weather = encoder.embed(
        "get_forecast: Get the weather forecast for a location",
        TextKind::Document,
    );
    let to_time = cosine(&query, &time);
    assert!(to_time > cosine(&query, &issue) + 0.1, "{to_time}");
    assert!(to_time > cosine(&query, &weather), "{to_time}");
}

#[test]
fn the_fingerprint_names_the_weights_and_their_precision() {
    let encoder = encoder();
    let fingerprint = encoder.fingerprint();
    assert!(fingerprint.starts_with(&encoder.manifest().name));
    assert!(fingerprint.contains(&encoder.manifest().weights_sha256));
    assert!(fingerprint.ends_with(":w8e8"), "{fingerprint}");
}

#[test]
fn a_shared_encoder_lets_go_when_idle_and_loads_again_with_the_same_vectors() {
    let shared = SharedEncoder::new(encoder(), folder());
    let fingerprint = shared.fingerprint().to_owned();
    let before = shared
        .get()
        .expect("loaded")
        .embed("send a message to the team", TextKind::Query);
    // Just used: not idle for a minute yet.
    assert!(!shared.release_if_idle(std::time::Duration::from_secs(60)));
    assert!(shared.is_loaded());
    assert!(shared.release_if_idle(std::time::Duration::ZERO));
    assert!(!shared.is_loaded());
    assert_eq!(shared.fingerprint(), fingerprint);
    let after = shared
        .get()
        .expect("loads again")
        .embed("send a message to the team", TextKind::Query);
    assert_eq!(before, after);
    assert!(shared.is_loaded());
    assert_eq!(shared.loads(), 2);
}

#[test]
fn a_shared_encoder_whose_folder_went_away_says_so() {
    let copy = std::env::temp_dir().join(format!("sluice-embed-gone-{}", std::process::id()));
    std::fs::create_dir_all(&copy).expect("a folder");
    for file in [
        "sluice-model.json",
        "config.json",
        "vocab.txt",
        "model.safetensors",
    ] {
        std::fs::copy(folder().join(file), copy.join(file)).expect("copied");
    }
    let shared = SharedEncoder::new(Encoder::load(&copy).expect("the copy loads"), copy.clone());
    assert!(shared.release_if_idle(std::time::Duration::ZERO));
    std::fs::remove_dir_all(&copy).expect("removed");
    let error = shared.get().expect_err("nothing to load").to_string();
    assert!(error.contains("fetch-model"), "{error}");
}
