//! Precision and recall of every detector on the generated, labelled corpus
//! (`cargo test -p sluice-pii --test corpus -- --nocapture` prints the table).

use sluice_pii::corpus::{Score, UNMARKED_VERSION, corpus, evaluate};
use sluice_pii::{DetectorConfig, PiiType, Tokenizer};

fn print(title: &str, scores: &[Score]) {
    eprintln!("{title}");
    eprintln!("type      TP    FP    FN  precision  recall");
    for score in scores {
        eprintln!(
            "{:<6} {:>5} {:>5} {:>5}     {:.4}  {:.4}",
            score.kind.name(),
            score.true_positives,
            score.false_positives,
            score.false_negatives,
            score.precision(),
            score.recall()
        );
    }
}

#[test]
fn precision_and_recall_per_type() {
    let tokenizer = Tokenizer::new(&DetectorConfig::default()).expect("tokenizer");
    let samples = corpus(2026, 1_000);
    let (scores, mistakes) = evaluate(&tokenizer, &samples);
    eprintln!("{} samples", samples.len());
    print("all samples", &scores);
    let mut counts = std::collections::BTreeMap::new();
    for mistake in &mistakes {
        let kind = if mistake.false_positive { "FP" } else { "FN" };
        *counts
            .entry((mistake.kind.name(), kind, mistake.label))
            .or_insert(0) += 1;
    }
    for ((type_name, kind, label), count) in &counts {
        let examples: Vec<&str> = mistakes
            .iter()
            .filter(|m| {
                m.kind.name() == *type_name
                    && m.label == *label
                    && (if m.false_positive { "FP" } else { "FN" }) == *kind
            })
            .take(3)
            .map(|m| m.value.as_str())
            .collect();
        eprintln!("{count:>4} {kind} {type_name} ({label}) e.g. {examples:?}");
    }
    // The structured types reach 0.99; for IP addresses, once the four-part versions that nothing
    // marks as versions are left out (they are tokenized as addresses on purpose).
    let designed: Vec<&str> = vec![UNMARKED_VERSION];
    let kept: Vec<_> = samples
        .iter()
        .filter(|sample| !designed.contains(&sample.label))
        .cloned()
        .collect();
    let (without, _) = evaluate(&tokenizer, &kept);
    print("without unmarked versions", &without);
    for score in &without {
        let structured = matches!(
            score.kind,
            PiiType::Email | PiiType::Card | PiiType::Iban | PiiType::Ssn | PiiType::Ip
        );
        if structured {
            assert!(
                score.precision() >= 0.99 && score.recall() >= 0.99,
                "{:?}: precision {:.4}, recall {:.4}",
                score.kind,
                score.precision(),
                score.recall()
            );
        }
    }
    for score in &scores {
        assert!(score.true_positives > 0, "{:?} never found", score.kind);
    }
    let phone = &scores[PiiType::Phone as usize];
    assert!(
        phone.precision() >= 0.99 && phone.recall() >= 0.95,
        "{phone:?}"
    );
    let name = &scores[PiiType::Name as usize];
    assert!(name.precision() >= 0.9 && name.recall() >= 0.7, "{name:?}");
}
