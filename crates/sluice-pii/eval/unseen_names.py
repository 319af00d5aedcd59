"""Names the gazetteer has never seen: write unseen_names.jsonl from the name-in-text samples.

The gazetteer (`data/names`) is derived from the name lists of every Faker locale, so the
corpus's names are in it by construction. This takes every name-in-text sample of both splits
and puts in place of its name a "Given Family" name from another source, the 1990 US Census name
lists that the `names` package ships (MIT), of which *neither word* is in the gazetteer (the most
frequent 300 such given names and 5,000 such family names: `Haydee Dotson`), keeping the text
around it (title, salutation, signature, label). Seeded; run from the repository root:

    python -m venv target/py && target/py/bin/pip install names==0.3.0
    target/py/bin/python crates/sluice-pii/eval/unseen_names.py

`cargo run -p sluice-pii --example privacy_eval --release -- unseen` scores it (names only).
"""

import json
import random
from pathlib import Path

import names as census

HERE = Path(__file__).parent


def gazetteer():
    words = set()
    for name in ("first.txt", "last.txt"):
        words.update((HERE.parent / "data" / "names" / name).read_text().split())
    return words


def census_list(name, known, most):
    """The words of one of the package's lists, most frequent first, that the gazetteer lacks."""
    path = Path(census.__file__).parent / name
    words = [line.split()[0].capitalize() for line in path.read_text().splitlines() if line]
    unseen = []
    for word in words:
        if word not in known and word not in unseen:
            unseen.append(word)
    return unseen[:most]


def unseen_names(known, rng, count):
    given = census_list("dist.female.first", known, 150) + census_list("dist.male.first", known,
                                                                       150)
    family = census_list("dist.all.last", known, 5000)
    return [f"{rng.choice(given)} {rng.choice(family)}" for _ in range(count)]


def main():
    known = gazetteer()
    rng = random.Random(2026)
    samples = []
    for split in ("dev", "heldout"):
        for line in (HERE / f"{split}.jsonl").read_text().splitlines():
            sample = json.loads(line)
            if sample["category"] != "name" or sample["mode"] != "text":
                continue
            names = [value for kind, value in sample["expected"] if kind == "name"]
            if len(names) != 1 or sample["input"].count(names[0]) != 1:
                continue
            samples.append((split, sample, names[0]))
    replacements = unseen_names(known, rng, len(samples))
    with (HERE / "unseen_names.jsonl").open("w") as out:
        for (split, sample, old), new in zip(samples, replacements):
            sample = dict(sample, split=f"unseen-{split}", locale="unseen",
                          input=sample["input"].replace(old, new),
                          expected=[[kind, new if value == old else value]
                                    for kind, value in sample["expected"]])
            out.write(json.dumps(sample, ensure_ascii=False) + "\n")
    print(f"{len(samples)} samples, e.g. {replacements[:3]}")


if __name__ == "__main__":
    main()
