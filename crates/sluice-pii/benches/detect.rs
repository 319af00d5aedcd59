//! Detector throughput and the added latency per tool call.
//!
//! `cargo bench -p sluice-pii --bench detect`: a plain main (no harness) that prints
//! - MB/s of `tokenize_text` over a few MB of mixed realistic text (prose, logs, CSV, JSON text)
//!   with personal data sprinkled in, over the same text without any, and of `tokenize_value` over
//!   a large structured result;
//! - the time to tokenize typical tool results and to untokenize typical arguments, which is what
//!   privacy adds to one tool call.

// A benchmark's report is its output.
#![allow(clippy::print_stdout)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sluice_pii::corpus::{self, Input, Rng};
use sluice_pii::{DetectorConfig, Origin, PiiType, Tokenizer, ToolRef, Vault};

const PROSE: &[&str] = &[
    "The quarterly review covered revenue, churn and the hiring plan for the platform team.",
    "Deployment 2026-03-14 finished in 42 minutes; 3 services were restarted and no alerts fired.",
    "Please find attached the summary of the meeting, including the action items we agreed on.",
    "GET /api/v2/orders?page=17&limit=50 200 12ms user-agent=Mozilla/5.0 (X11; Linux x86_64)",
    "Order ORD-2026-000123 shipped on 2026-01-15 10:30:45 UTC, tracking 1Z999AA10123456784.",
    "commit 3f2a9c1d7e4b8a6f0c5d2e1b9a8f7c6d5e4b3a21 Merge pull request #4521 from feature/search",
    "Invoice total: $12,480.00 (net 30), version 2.14.0, build 10.0.19041.1, checksum sha256:ab12cd",
    "Les résultats du troisième trimestre dépassent les prévisions de 4,2 % grâce aux ventes en ligne.",
];

/// About `bytes` of mixed text: prose and log lines, with a labelled corpus sample (personal data
/// or a hard negative) every `every` lines, or never.
fn mixed_text(bytes: usize, every: Option<usize>, seed: u64) -> String {
    let samples = corpus::corpus(seed, 400);
    let mut rng = Rng::new(seed + 4);
    let mut text = String::with_capacity(bytes + 1024);
    let mut line = 0;
    while text.len() < bytes {
        line += 1;
        match every {
            Some(every) if line % every == 0 => {
                let sample = rng.pick(&samples);
                match &sample.input {
                    Input::Text(sample) => text.push_str(sample),
                    Input::Json(value) => text.push_str(&value.to_string()),
                }
            }
            _ => text.push_str(rng.pick::<&str>(PROSE)),
        }
        text.push('\n');
    }
    text
}

fn contact(rng: &mut Rng, index: usize) -> Value {
    json!({
        "Id": format!("00Q5g00000{index:05}"),
        "Name": corpus::name(rng),
        "Email": corpus::email(rng),
        "Phone": corpus::phone(rng),
        "Company": "Acme Corp",
        "Title": "VP Sales",
        "EngagementScore": rng.below(100),
        "Status": "Open - Not Contacted",
        "CreatedDate": "2026-01-15T10:30:45Z",
    })
}

/// Median of `runs` timings of `work`.
fn median(runs: usize, mut work: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let started = Instant::now();
            work();
            started.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

fn throughput(label: &str, tokenizer: &Tokenizer, text: &str) {
    let origin = Origin::Tool(ToolRef::new("bench", "read"));
    let chunks: Vec<&str> = text.split_inclusive('\n').collect();
    // Tool results arrive as strings of a few KB: tokenize in 4 KB pieces.
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut size = 0;
    for (index, chunk) in chunks.iter().enumerate() {
        size += chunk.len();
        if size >= 4096 || index + 1 == chunks.len() {
            pieces.push(chunks[start..=index].concat());
            start = index + 1;
            size = 0;
        }
    }
    let mut replaced = 0;
    let elapsed = median(5, || {
        let mut vault = Vault::with_tag("bench").unwrap_or_default();
        replaced = pieces
            .iter()
            .map(|piece| tokenizer.tokenize_text(&mut vault, piece, &origin).count)
            .sum::<usize>();
    });
    let megabytes = text.len() as f64 / 1_000_000.0;
    println!(
        "{label:<44} {:>6.1} MB  {:>8.1} MB/s  {replaced:>6} values",
        megabytes,
        megabytes / elapsed.as_secs_f64()
    );
}

fn main() {
    let started = Instant::now();
    let tokenizer = match Tokenizer::new(&DetectorConfig::default()) {
        Ok(tokenizer) => tokenizer,
        Err(error) => {
            println!("cannot build the tokenizer: {error}");
            return;
        }
    };
    let built = started.elapsed();
    // `cargo test --all-targets` runs this binary too, in a debug build and without `--bench`:
    // there it only checks that detection works, rather than measuring it.
    if !std::env::args().any(|arg| arg == "--bench") {
        let sample = mixed_text(4_000, Some(4), 7);
        let mut vault = Vault::default();
        let origin = Origin::Tool(ToolRef::new("bench", "read"));
        let replaced = tokenizer.tokenize_text(&mut vault, &sample, &origin).count;
        println!(
            "smoke test (not run by `cargo bench`): {replaced} values replaced in a 4 KB sample"
        );
        if replaced == 0 {
            std::process::exit(1);
        }
        return;
    }
    let started = Instant::now();
    tokenizer.detector().warm_up();
    println!(
        "start-up: detectors {:.1} ms, phone metadata {:.1} ms (once per process)\n",
        built.as_secs_f64() * 1e3,
        started.elapsed().as_secs_f64() * 1e3
    );

    println!("throughput (tokenize_text over 4 KB pieces, median of 5)");
    throughput(
        "mixed text, a labelled sample every 4 lines",
        &tokenizer,
        &mixed_text(4_000_000, Some(4), 7),
    );
    throughput(
        "mixed text, a labelled sample every 40 lines",
        &tokenizer,
        &mixed_text(4_000_000, Some(40), 7),
    );
    throughput(
        "text with no personal data",
        &tokenizer,
        &mixed_text(4_000_000, None, 7),
    );

    // A large structured result: 10,000 CRM leads (about 2.3 MB of JSON).
    let mut rng = Rng::new(3);
    let leads: Value = Value::Array((0..10_000).map(|index| contact(&mut rng, index)).collect());
    let bytes = leads.to_string().len();
    let origin = Origin::Tool(ToolRef::new("crm", "query"));
    let mut replaced = 0;
    let elapsed = median(5, || {
        let mut vault = Vault::with_tag("bench").unwrap_or_default();
        let mut value = leads.clone();
        replaced = tokenizer.tokenize_value(&mut vault, &mut value, &origin);
        black_box(value);
    });
    println!(
        "{:<44} {:>6.1} MB  {:>8.1} MB/s  {replaced:>6} values (clone included)\n",
        "JSON: 10,000 CRM leads (tokenize_value)",
        bytes as f64 / 1e6,
        bytes as f64 / 1e6 / elapsed.as_secs_f64()
    );

    // Fresh values in every run (libphonenumber answers are memoized, so repeating one result
    // would flatter the figures), one vault for all runs as within an execution.
    println!(
        "added latency per tool call (median over distinct results; one vault, as in an execution)"
    );
    let small: Vec<Value> = (0..2_000)
        .map(|n| json!({"sum": n, "message": format!("The sum of {n} and 23 is {}.", n + 23)}))
        .collect();
    let leads: Vec<Value> = (0..2_000).map(|index| contact(&mut rng, index)).collect();
    let pages: Vec<Value> = (0..200)
        .map(|_| Value::Array((0..50).map(|index| contact(&mut rng, index)).collect()))
        .collect();
    let documents: Vec<Value> = (0..100)
        .map(|seed| json!({"id": "doc-1", "title": "Meeting notes", "content": mixed_text(10_000, Some(20), 100 + seed)}))
        .collect();
    for (label, results) in [
        ("small result without personal data", &small),
        ("one CRM lead", &leads),
        ("50 CRM leads", &pages),
        ("10 KB document with some personal data", &documents),
    ] {
        let mut vault = Vault::with_tag("bench").unwrap_or_default();
        let mut times: Vec<Duration> = results
            .iter()
            .map(|result| {
                let mut value = result.clone();
                let started = Instant::now();
                tokenizer.tokenize_value(&mut vault, &mut value, &origin);
                let elapsed = started.elapsed();
                black_box(value);
                elapsed
            })
            .collect();
        times.sort();
        println!(
            "  tokenize {label:<40} {:>8.1} µs  (~{} B)",
            times[times.len() / 2].as_secs_f64() * 1e6,
            results[0].to_string().len()
        );
    }
    let lead = leads[0].clone();
    // Arguments of a createRecord call with three tokens, and without any.
    let mut vault = Vault::with_tag("bench").unwrap_or_default();
    let mut tokens = lead.clone();
    tokenizer.tokenize_value(&mut vault, &mut tokens, &origin);
    let arguments = json!({"objectType": "Lead", "data": tokens});
    let plain =
        json!({"objectType": "Lead", "where": {"EngagementScore": {"gte": 90}}, "limit": 10});
    let destination = ToolRef::new("crm", "createRecord");
    for (label, arguments) in [
        ("createRecord arguments with 3 tokens", &arguments),
        ("query arguments without tokens", &plain),
    ] {
        let elapsed = median(2_000, || {
            let mut value = arguments.clone();
            let released = tokenizer.untokenize_value(
                &vault,
                &mut value,
                &destination,
                &mut |_: PiiType, _: &Origin, _: &ToolRef| true,
            );
            black_box((value, released.ok()));
        });
        println!(
            "  untokenize {label:<38} {:>8.1} µs",
            elapsed.as_secs_f64() * 1e6
        );
    }
}
