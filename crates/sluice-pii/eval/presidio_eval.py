"""Microsoft Presidio's pattern recognizers on the same corpus, for comparison with privacy_eval.

    python -m venv target/py && target/py/bin/pip install presidio-analyzer
    target/py/bin/python crates/sluice-pii/eval/presidio_eval.py

Only the pattern recognizers are run (email, phone, credit card, IBAN, US SSN, IP), called one by
one without an NLP engine, so no spaCy model is needed; Presidio finds names only with one, so
names are left out. A field sample is given to Presidio as its JSON text (the keys are context
words for it). Scores are computed as privacy_eval computes them: an expected value counts as
found when a span of the same type contains it; a span that overlaps no expected value of its
type is a false positive; private addresses are ignored (neither expected nor counted).
"""

import json
import sys
from pathlib import Path

from presidio_analyzer.predefined_recognizers import (
    CreditCardRecognizer,
    EmailRecognizer,
    IbanRecognizer,
    IpRecognizer,
    PhoneRecognizer,
    UsSsnRecognizer,
)

HERE = Path(__file__).resolve().parent
RECOGNIZERS = {
    "email": (EmailRecognizer(), "EMAIL_ADDRESS"),
    "phone": (PhoneRecognizer(), "PHONE_NUMBER"),
    "card": (CreditCardRecognizer(), "CREDIT_CARD"),
    "iban": (IbanRecognizer(), "IBAN_CODE"),
    "ssn": (UsSsnRecognizer(), "US_SSN"),
    "ip": (IpRecognizer(), "IP_ADDRESS"),
}
THRESHOLD = 0.3


def compact(text):
    return "".join(c for c in text.lower() if c.isalnum())


def evaluate(split):
    counts = {}
    negatives = 0
    for line in (HERE / f"{split}.jsonl").open(encoding="utf-8"):
        sample = json.loads(line)
        if sample["category"].startswith("neg:"):
            negatives += 1
        text = sample["input"] if isinstance(sample["input"], str) else json.dumps(
            sample["input"], ensure_ascii=False)
        mode = sample["mode"]
        expected = [(kind, value) for kind, value in sample["expected"] if kind in RECOGNIZERS]
        ignored = [compact(value) for _, value in sample.get("widened", [])]
        found = []
        for kind, (recognizer, entity) in RECOGNIZERS.items():
            for result in recognizer.analyze(text, [entity], None):
                if result.score >= THRESHOLD:
                    found.append((kind, compact(text[result.start:result.end])))
        for kind, value in expected:
            count = counts.setdefault((kind, mode), [0, 0, 0, 0])
            count[0] += 1
            if any(k == kind and compact(value) in f for k, f in found):
                count[1] += 1
        for kind, value in found:
            overlapping = any(k == kind and (compact(e) in value or value in compact(e))
                              for k, e in expected)
            if not overlapping and value not in ignored:
                count = counts.setdefault((kind, mode), [0, 0, 0, 0])
                count[2] += 1
                if sample["category"].startswith("neg:"):
                    count[3] += 1
    print(f"== {split}: Presidio pattern recognizers (score >= {THRESHOLD})")
    print(f"  type   recall field  recall text   precision (all)   false positives on "
          f"{negatives} hard negatives")
    for kind in RECOGNIZERS:
        field = counts.get((kind, "field"), [0, 0, 0, 0])
        text = counts.get((kind, "text"), [0, 0, 0, 0])
        found = field[1] + text[1]
        wrong = field[2] + text[2]
        precision = found / (found + wrong) if found + wrong else float("nan")
        recall = lambda c: c[1] / c[0] if c[0] else float("nan")
        print(f"  {kind:<6} {recall(field):.3f} ({field[0]:>4})  {recall(text):.3f} ({text[0]:>4})"
              f"  {precision:.3f} ({wrong:>3} FP)     {field[3] + text[3]}")
    print()


if __name__ == "__main__":
    for split in sys.argv[1:] or ["dev", "heldout"]:
        evaluate(split)
