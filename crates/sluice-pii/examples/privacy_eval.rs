//! Recall and precision of the detectors on the generated corpus in `eval/` (Faker, ten locales,
//! see `eval/generate.py`), per type, for values in fields and in free text, with the default
//! settings and with widened ones (the corpus's ten phone regions configured, private and
//! loopback addresses tokenized).
//!
//! `cargo run -p sluice-pii --example privacy_eval --release` prints both splits;
//! `-- dev` or `-- heldout` one of them; `-- --mistakes` also lists what was missed or wrongly
//! taken (of the dev split only: the held-out split is for measuring, not for looking at).
//! `-- unseen` scores names the gazetteer has never seen, in the name-in-text samples of each
//! split (`eval/unseen_names.py`).

// A report is this program's output.
#![allow(clippy::print_stdout)]

use std::collections::BTreeMap;

use serde_json::Value;
use sluice_pii::{DetectorConfig, Origin, PiiType, Tokenizer, ToolRef, Vault};

const DEV: &str = include_str!("../eval/dev.jsonl");
const HELDOUT: &str = include_str!("../eval/heldout.jsonl");
const UNSEEN: &str = include_str!("../eval/unseen_names.jsonl");

/// The lines of `UNSEEN` that came from one split.
fn unseen(split: &str) -> String {
    let marker = format!("\"split\": \"unseen-{split}\"");
    UNSEEN
        .lines()
        .filter(|line| line.contains(&marker))
        .map(|line| format!("{line}\n"))
        .collect()
}

/// The regions of the corpus's locales.
const REGIONS: [&str; 10] = ["US", "GB", "DE", "FR", "ES", "IT", "NL", "BR", "PL", "JP"];

struct Sample {
    mode: String,
    category: String,
    input: Value,
    expected: Vec<(PiiType, String)>,
    widened: Option<Vec<(PiiType, String)>>,
}

fn pairs(value: Option<&Value>) -> Option<Vec<(PiiType, String)>> {
    let items = value?.as_array()?;
    Some(
        items
            .iter()
            .filter_map(|pair| {
                let kind = PiiType::from_name(pair.get(0)?.as_str()?)?;
                Some((kind, pair.get(1)?.as_str()?.to_owned()))
            })
            .collect(),
    )
}

fn load(text: &str) -> Vec<Sample> {
    text.lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .map(|sample| Sample {
            mode: sample["mode"].as_str().unwrap_or_default().to_owned(),
            category: sample["category"].as_str().unwrap_or_default().to_owned(),
            expected: pairs(sample.get("expected")).unwrap_or_default(),
            widened: pairs(sample.get("widened")),
            input: sample["input"].clone(),
        })
        .collect()
}

/// Letters and digits, lowercase: how a found value is compared with an expected one.
fn compact(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

#[derive(Default, Clone, Copy)]
struct Count {
    expected: usize,
    found: usize,
    false_positives: usize,
    negatives_fp: usize,
}

impl Count {
    fn recall(&self) -> f64 {
        if self.expected == 0 {
            f64::NAN
        } else {
            self.found as f64 / self.expected as f64
        }
    }
}

struct Report {
    /// (type, mode) -> counts.
    counts: BTreeMap<(PiiType, String), Count>,
    /// Expected values left raw in what the agent would see.
    raw: usize,
    mistakes: Vec<String>,
}

fn evaluate(tokenizer: &Tokenizer, samples: &[Sample], widened: bool) -> Report {
    let origin = Origin::Tool(ToolRef::new("corpus", "sample"));
    let mut report = Report {
        counts: BTreeMap::new(),
        raw: 0,
        mistakes: Vec::new(),
    };
    for sample in samples {
        let expected = match (&sample.widened, widened) {
            (Some(more), true) => more,
            _ => &sample.expected,
        };
        let mut vault = Vault::new();
        let output = match &sample.input {
            Value::String(text) => tokenizer
                .tokenize_text(&mut vault, text, &origin)
                .text
                .into_owned(),
            other => {
                let mut value = other.clone();
                tokenizer.tokenize_value(&mut vault, &mut value, &origin);
                value.to_string()
            }
        };
        let found: Vec<(PiiType, String)> = vault
            .entries()
            .iter()
            .map(|entry| (entry.kind(), compact(entry.value())))
            .collect();
        for (kind, value) in expected {
            let want = compact(value);
            let count = report
                .counts
                .entry((*kind, sample.mode.clone()))
                .or_default();
            count.expected += 1;
            if found
                .iter()
                .any(|(found_kind, found)| found_kind == kind && found.contains(&want))
            {
                count.found += 1;
            } else {
                report.mistakes.push(format!(
                    "FN {:<5} {:<5} {:<14} {value:?} in {}",
                    kind.name(),
                    sample.mode,
                    sample.category,
                    sample.input
                ));
            }
            if output.contains(value.as_str()) {
                report.raw += 1;
            }
        }
        for (kind, value) in &found {
            let overlapping = expected.iter().any(|(expected_kind, expected)| {
                let expected = compact(expected);
                expected_kind == kind && (expected.contains(value) || value.contains(&expected))
            });
            // A private address the default settings leave alone is not counted either way.
            let ignored = !widened
                && sample.widened.as_ref().is_some_and(|more| {
                    more.iter().any(|(k, v)| k == kind && compact(v) == *value)
                });
            if !overlapping && !ignored {
                let count = report
                    .counts
                    .entry((*kind, sample.mode.clone()))
                    .or_default();
                count.false_positives += 1;
                if sample.category.starts_with("neg:") {
                    count.negatives_fp += 1;
                }
                report.mistakes.push(format!(
                    "FP {:<5} {:<5} {:<14} {value:?} in {}",
                    kind.name(),
                    sample.mode,
                    sample.category,
                    sample.input
                ));
            }
        }
    }
    report
}

fn print(title: &str, report: &Report, negatives: usize) {
    println!("{title}");
    println!(
        "  type   recall field  recall text   precision (all)   false positives on {negatives} hard negatives"
    );
    for kind in PiiType::ALL {
        let field = report
            .counts
            .get(&(kind, "field".to_owned()))
            .copied()
            .unwrap_or_default();
        let text = report
            .counts
            .get(&(kind, "text".to_owned()))
            .copied()
            .unwrap_or_default();
        let true_positives = field.found + text.found;
        let false_positives = field.false_positives + text.false_positives;
        let precision = if true_positives + false_positives == 0 {
            f64::NAN
        } else {
            true_positives as f64 / (true_positives + false_positives) as f64
        };
        println!(
            "  {:<6} {:.3} ({:>4})  {:.3} ({:>4})  {:.3} ({:>3} FP)     {}",
            kind.name(),
            field.recall(),
            field.expected,
            text.recall(),
            text.expected,
            precision,
            false_positives,
            field.negatives_fp + text.negatives_fp,
        );
    }
    println!("  expected values left raw in the output: {}\n", report.raw);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let show_mistakes = args.iter().any(|arg| arg == "--mistakes");
    let splits: Vec<(&str, String)> = if args.iter().any(|arg| arg == "unseen") {
        vec![
            ("unseen names (dev templates)", unseen("dev")),
            ("unseen names (held-out templates)", unseen("heldout")),
        ]
    } else {
        [("dev", DEV), ("heldout", HELDOUT)]
            .into_iter()
            .filter(|(name, _)| {
                !args.iter().any(|arg| arg == "dev" || arg == "heldout")
                    || args.iter().any(|a| a == name)
            })
            .map(|(name, text)| (name, text.to_owned()))
            .collect()
    };
    let default = DetectorConfig::default();
    let widened = DetectorConfig {
        phone_regions: REGIONS.iter().map(|region| (*region).to_owned()).collect(),
        private_ips: true,
        ..DetectorConfig::default()
    };
    for (split, text) in splits {
        let samples = load(&text);
        let negatives = samples
            .iter()
            .filter(|sample| sample.category.starts_with("neg:"))
            .count();
        println!("== {split}: {} samples\n", samples.len());
        for (label, config, is_widened) in [
            ("default settings", &default, false),
            (
                "widened settings (phoneRegions = the ten locales, privateIps = true)",
                &widened,
                true,
            ),
        ] {
            let tokenizer = match Tokenizer::new(config) {
                Ok(tokenizer) => tokenizer,
                Err(error) => {
                    println!("cannot build the tokenizer: {error}");
                    return;
                }
            };
            let report = evaluate(&tokenizer, &samples, is_widened);
            print(label, &report, negatives);
            if show_mistakes && split == "dev" {
                for mistake in &report.mistakes {
                    println!("{mistake}");
                }
            }
        }
    }
}
