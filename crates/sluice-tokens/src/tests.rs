use super::*;

/// The reference encoder the tables were generated from.
fn reference(text: &str) -> usize {
    static REFERENCE: LazyLock<tiktoken_rs::CoreBPE> =
        LazyLock::new(|| tiktoken_rs::o200k_base().expect("the reference encoder builds"));
    REFERENCE.encode_ordinary(text).len()
}

fn assert_same(text: &str) {
    assert_eq!(count(text), reference(text), "counting {text:?}");
}

#[test]
fn counts_known_strings() {
    assert_eq!(count(""), 0);
    assert_eq!(count("hello world"), 2);
    // A JSON object costs more tokens than its words alone.
    assert!(count(r#"{"name": "search_tools", "description": "Find tools"}"#) > 5);
}

#[test]
fn every_table_entry_is_found_by_its_bytes() {
    let ranks = OFFSETS.len() / 4 - 1;
    assert!(ranks > 199_000, "{ranks} ranks");
    for rank in (0..ranks as u32).step_by(7) {
        let bytes = token(rank).expect("every rank has bytes");
        assert_eq!(super::rank(bytes), Some(rank));
    }
    assert_eq!(super::rank(b"not one token, surely"), None);
}

#[test]
fn matches_the_reference_on_the_recorded_catalogs() {
    let folder = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/catalogs");
    let mut seen = 0;
    for entry in std::fs::read_dir(folder).expect("the catalogs folder") {
        let text = std::fs::read_to_string(entry.expect("an entry").path()).expect("a catalog");
        assert_same(&text);
        seen += 1;
    }
    assert!(seen >= 40, "{seen} catalogs");
}

#[test]
fn matches_the_reference_on_mixed_scripts_and_spacing() {
    for text in [
        "Hello, World! It's a test: we'll see if they've got 12345 tokens.",
        "  leading spaces\n\n\ttabs\r\nand CRLF   \n   ",
        "naïve café — “quotes” … 日本語のテキスト、中文文本，한국어 텍스트",
        "Здравствуйте, мир! Ελληνικά κείμενα. עברית וערבية",
        "emoji 😀🎉👩‍👩‍👧 and symbols ©®™ ∑∫√",
        "camelCaseIdentifiers and snake_case_ones and SCREAMING_CASE",
        "https://example.com/path?query=1&other=two#fragment",
        "{\"a\":[1,2,3],\"b\":{\"c\":null,\"d\":true}}",
        "1234567890 3.14159 1e-10 0x7fffffff",
        "            ",
        "a\u{0301}e\u{0308} combining marks",
    ] {
        assert_same(text);
    }
}

#[test]
fn matches_the_reference_on_generated_text() {
    // A fixed pseudo-random walk over character classes that exercise every branch of the
    // pattern: letters of both cases, digits, punctuation, whitespace of several kinds,
    // apostrophe suffixes and non-Latin letters.
    const PARTS: &[&str] = &[
        "a", "Z", "é", "ß", "Ж", "ж", "中", "ی", "1", "42", "'s", "'LL", " ", "  ", "\n", "\r\n",
        "\t", ".", "...", "/", "-", "_", "(", ")", "😀", "\u{00a0}", "th", "ing", "The", "ION",
    ];
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..400 {
        let mut text = String::new();
        let length = 1 + (state % 60) as usize;
        for _ in 0..length {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            text.push_str(PARTS[(state % PARTS.len() as u64) as usize]);
        }
        assert_same(&text);
    }
}

#[test]
fn a_very_long_piece_is_counted_in_chunks() {
    let blob: String = std::iter::repeat_n("qzxv", 3 * LONGEST_PIECE).collect();
    let counted = count(&blob);
    let chunked: usize = blob
        .as_bytes()
        .chunks(LONGEST_PIECE)
        .map(|chunk| count(std::str::from_utf8(chunk).expect("ascii")))
        .sum();
    assert_eq!(counted, chunked);
    assert!(
        counted > blob.len() / 8,
        "{counted} tokens for {} bytes",
        blob.len()
    );
}
