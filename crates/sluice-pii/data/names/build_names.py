"""Derive the name gazetteer (first.txt, last.txt) from the name lists of Faker (MIT, see LICENSE).

    python -m venv target/py && target/py/bin/pip install faker==40.63.0
    target/py/bin/python crates/sluice-pii/data/build_names.py

Only data is taken: the given and family names of every Faker person provider, one per line,
deduplicated and sorted. Names shorter than two letters, or that are also common lowercase words
of the locales' prose (checked by the detector, not here), stay in the list; the detector decides
how to use it.
"""

import importlib
import pkgutil
import unicodedata
from pathlib import Path

import faker.providers.person as person

HERE = Path(__file__).resolve().parent


def names(module, attributes):
    found = set()
    for attribute in attributes:
        value = getattr(module.Provider, attribute, None)
        if not isinstance(value, (list, tuple, dict, set, frozenset)):
            continue
        items = value.keys() if isinstance(value, dict) else value
        for item in items:
            if not isinstance(item, str):
                continue
            item = unicodedata.normalize("NFKC", item.strip())
            # Word by word (`van der Berg` gives `Berg`): capitalised words, or words of a
            # script without case; letters, hyphens and apostrophes only.
            for word in item.split():
                if len(word) < 2 or not all(c.isalpha() or c in "-'’" for c in word):
                    continue
                if word[0].islower():
                    continue
                found.add(word)
    return found


def main():
    first, last = set(), set()
    for info in pkgutil.iter_modules(person.__path__):
        module = importlib.import_module(f"faker.providers.person.{info.name}")
        attributes = [name for name in dir(module.Provider) if not name.startswith("_")]
        first |= names(module, [name for name in attributes if "first_name" in name])
        last |= names(module, [name for name in attributes if "last_name" in name])
    (HERE / "first.txt").write_text("\n".join(sorted(first)) + "\n", encoding="utf-8")
    (HERE / "last.txt").write_text("\n".join(sorted(last)) + "\n", encoding="utf-8")
    print(f"{len(first)} given names, {len(last)} family names")


if __name__ == "__main__":
    main()
