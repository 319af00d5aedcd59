"""Generate the privacy evaluation corpus (dev.jsonl, heldout.jsonl) with Faker in ten locales.

    python -m venv target/py && target/py/bin/pip install faker==40.63.0 phonenumbers
    target/py/bin/python crates/sluice-pii/eval/generate.py

Seeded: the same Faker version gives the same files. Every sample is one JSON line:

    {"split": "dev"|"heldout", "locale": "de_DE", "mode": "field"|"text",
     "category": "phone", "input": <a JSON object (field) or a string (text)>,
     "expected": [["phone", "+49 30 901820"]],
     "widened": [["ip", "10.1.2.3"]]}   # only when the widened settings expect more

`expected` holds what the default settings must find; `widened` (when present) replaces it for
the widened settings (private addresses tokenized too). Hard negatives expect nothing.

The held-out split is not only other values: a quarter of the text templates and of the field
keys of every kind are used in the held-out split only (`split_of` below), so the detectors are
never tuned on them. Phone positives are the ones libphonenumber (its Python port) considers
valid for the locale's region: Faker's formats also print numbers no network could dial
(`00008063608` for en_IN or de_DE); how many were left out is printed.
"""

import ipaddress
import json
import random
from pathlib import Path

import phonenumbers
from faker import Faker

HERE = Path(__file__).resolve().parent
SEED = 22
LOCALES = {
    "en_US": "US", "en_GB": "GB", "de_DE": "DE", "fr_FR": "FR", "es_ES": "ES",
    "it_IT": "IT", "nl_NL": "NL", "pt_BR": "BR", "pl_PL": "PL", "ja_JP": "JP",
}
PER_LOCALE = 60  # positives per type, per locale, per mode


def split_of(items):
    """Items at index 3, 7, 11, ... are held-out only; the others dev only."""
    dev = [item for index, item in enumerate(items) if index % 4 != 3]
    held = [item for index, item in enumerate(items) if index % 4 == 3]
    return {"dev": dev, "heldout": held}


# ------------------------------------------------------------------------------------------
# Values


def person(fake, locale):
    first, last = fake.first_name(), fake.last_name()
    if locale == "ja_JP":
        return f"{last} {first}", first, last
    return f"{first} {last}", first, last


def phone(fake, locale, rng, stats):
    region = LOCALES[locale]
    for _ in range(50):
        value = fake.phone_number()
        try:
            parsed = phonenumbers.parse(value, region)
            ok = phonenumbers.is_valid_number(parsed)
        except phonenumbers.NumberParseException:
            ok = False
        stats["tried"] += 1
        if ok:
            return value
        stats["dropped"] += 1
    return None


def grouped(digits, sizes, separator):
    out, at = [], 0
    for size in sizes:
        out.append(digits[at:at + size])
        at += size
    if at < len(digits):
        out.append(digits[at:])
    return separator.join(part for part in out if part)


def card(fake, rng):
    kind = rng.choice(["visa16", "mastercard", "amex", "discover", "jcb16", "diners",
                       "maestro", "visa19"])
    number = fake.credit_card_number(kind)
    style = rng.random()
    if style < 0.45:
        return number
    separator = " " if style < 0.85 else "-"
    if len(number) == 15:
        return grouped(number, [4, 6, 5], separator)
    if len(number) == 14:
        return grouped(number, [4, 6, 4], separator)
    return grouped(number, [4, 4, 4, 4], separator)


def iban(fake, rng):
    value = fake.iban()
    if rng.random() < 0.5:
        return " ".join(value[i:i + 4] for i in range(0, len(value), 4))
    return value


US = Faker("en_US")
US.seed_instance(SEED)


def us_ssn(fake, rng):
    """A US SSN (from the en_US provider whatever the locale: other locales' `ssn` is their own
    identifier, or a placeholder such as en_GB's `ZZ` numbers)."""
    value = US.ssn()  # ddd-dd-dddd
    style = rng.random()
    if style < 0.4:
        return value, True
    if style < 0.55:
        return value.replace("-", " "), True
    return value.replace("-", ""), False  # undashed: needs a label or a key


def national_id(fake, locale, rng):
    """A national identifier with a checksum, or None when the locale has none in Faker."""
    if locale == "nl_NL":
        return fake.ssn()  # BSN, 11-proof
    if locale == "pl_PL":
        return fake.pesel()
    if locale == "pt_BR":
        return fake.cpf() if rng.random() < 0.5 else fake.cpf().replace(".", "").replace("-", "")
    if locale == "fr_FR":
        return fake.ssn()  # NIR, key mod 97
    if locale == "es_ES":
        return fake.nif()
    if locale == "it_IT":
        return fake.ssn()  # codice fiscale
    return None


def ip(fake, rng):
    style = rng.random()
    if style < 0.6:
        return fake.ipv4_public()
    if style < 0.85:
        return fake.ipv6()
    return fake.ipv6(network=False).split(":")[0] + "::" + fake.ipv6().split(":")[-1]


LOCAL_NETWORKS = [ipaddress.ip_network(network) for network in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "169.254.0.0/16",
    "fc00::/7", "fe80::/10", "::1/128")]


def local(value):
    """Loopback, private, link-local or unique-local: personal data only in widened settings."""
    address = ipaddress.ip_address(value)
    return any(address.version == network.version and address in network
               for network in LOCAL_NETWORKS)


# ------------------------------------------------------------------------------------------
# Field keys and text templates per type (a quarter held out)

KEYS = {
    "email": split_of(["email", "emailAddress", "contact_email", "Email", "mail", "work_email",
                       "e-mail", "primaryEmail", "customerEmail", "billing_email", "from",
                       "reply_to"]),
    "phone": split_of(["phone", "phone_number", "mobile", "tel", "fax", "contactPhone", "cell",
                       "PhoneNumber", "telephone", "home_phone", "mobileNumber", "msisdn",
                       "work_tel", "emergency_phone", "phone1", "Telefon"]),
    "card": split_of(["card_number", "pan", "cardNumber", "cc", "payment_card", "card",
                      "credit_card", "CardNo"]),
    "iban": split_of(["iban", "account_iban", "IBAN", "bank_account", "payout_iban",
                      "debtorIban", "creditor_account", "accountNumber"]),
    "ssn": split_of(["ssn", "tax_id", "national_id", "social_security_number", "SSN",
                     "taxpayerId", "nationalId", "personal_id", "ssn_last", "tin",
                     "NationalIdentifier", "citizen_id"]),
    "ip": split_of(["ip", "client_ip", "remote_addr", "source_ip", "ip_address", "lastLoginIp",
                    "peer", "x_forwarded_for"]),
    "name": split_of(["full_name", "customer_name", "cardholder_name", "signed_by", "created_by",
                      "emergency_contact", "contact_name", "author", "patient", "assignee",
                      "displayName", "account_holder", "approved_by", "employee", "owner_name",
                      "reviewer", "next_of_kin", "beneficiary", "requested_by", "guardian"]),
}

TEMPLATES = {
    "email": split_of([
        "Please write to {v} for details.", "From: {v}", "Reply-To: {v}",
        "contact {v} if the build fails", "<{v}>", "user {v} logged in from the web app",
        "Invitation sent to {v} on Monday.", "cc: {v}; bcc: none",
    ]),
    "phone": split_of([
        "Phone: {v}", "Call me on {v} tomorrow.", "Tel. {v}", "mobile {v} (after 6pm)",
        "Fax: {v}", "You can reach the office at {v}.", "contact number {v}",
        "{n} ({v})", "Telefon: {v}", "ph: {v}", "Customer called from {v} about the order.",
        "Emergency contact: {n}, {v}",
    ]),
    "card": split_of([
        "Card number: {v}", "charged card {v} for the order", "PAN {v}", "card={v}",
        "Payment with {v} failed: insufficient funds.", "cc {v} exp 09/28",
        "The customer's card {v} was declined.", "Visa/MC: {v}",
    ]),
    "iban": split_of([
        "IBAN: {v}", "Please transfer to {v} by Friday.", "account {v}", "iban={v}",
        "Refund sent to {v}.", "Bank details: {v}, BIC DEUTDEFF", "payout to IBAN {v}",
        "Konto: {v}",
    ]),
    "ssn": split_of([
        "SSN: {v}", "social security number {v}", "Tax ID: {v}", "ssn={v}",
        "National ID {v} verified.", "The applicant's SSN is {v}.", "TIN: {v}",
        "national identifier: {v}",
    ]),
    "ip": split_of([
        "client IP {v}", "Connection from {v} refused", "remote_addr={v}",
        "Login from {v} at 10:42", "peer {v} disconnected", "GET /login 200 {v}",
        "blocked address {v} after 5 attempts", "X-Forwarded-For: {v}",
    ]),
    "name": split_of([
        "Dear {n},", "Mr. {n} will join the call.", "Best regards,\n{n}", "Dr. {n} approved it.",
        "Signed: {n}", "Kind regards,\n{n}\nSales", "Please ask {n} to review the contract.",
        "Contact person: {n}", "Ms. {n} called about the invoice.", "Thanks,\n{n}",
        "Meeting with {n} moved to Friday.", "Name: {n}",
    ]),
}

# Unlabelled prose a value sits in (the value itself says what it is).
PLAIN = split_of([
    "{v}", "see {v}", "{v} was updated", "values: {v}, ok", "ref {v} / done",
    "[{v}]", "'{v}'", "-> {v}",
])


def label(rng, split, kind, value, name):
    """A text with the value under one of the kind's templates, and whether the name is in it."""
    template = rng.choice(TEMPLATES[kind][split])
    return template.format(v=value, n=name), "{n}" in template and kind != "name"


def text_of(rng, split, kind, value, name):
    return label(rng, split, kind, value, name)[0]


# ------------------------------------------------------------------------------------------
# Positives


def record(rng, split, kind, value, name_value, fake):
    """A record whose `key` holds the value, with a couple of ordinary fields around it."""
    key = rng.choice(KEYS[kind][split])
    obj = {"id": rng.randint(1000, 99999), key: value}
    if rng.random() < 0.5:
        obj["status"] = rng.choice(["active", "pending", "closed"])
    if rng.random() < 0.3:
        obj["updatedAt"] = fake.iso8601()
    return obj


def positives(rng, split, locale, fake, stats):
    samples = []

    def add(mode, category, value_input, expected, widened=None):
        sample = {"split": split, "locale": locale, "mode": mode, "category": category,
                  "input": value_input, "expected": expected}
        if widened is not None:
            sample["widened"] = widened
        samples.append(sample)

    for _ in range(PER_LOCALE):
        name, first, last = person(fake, locale)
        # email
        value = fake.email()
        add("field", "email", record(rng, split, "email", value, name, fake), [["email", value]])
        value = fake.email()
        add("text", "email", text_of(rng, split, "email", value, name), [["email", value]])
        # phone
        value = phone(fake, locale, rng, stats)
        if value:
            add("field", "phone", record(rng, split, "phone", value, name, fake),
                [["phone", value]])
        value = phone(fake, locale, rng, stats)
        if value:
            text, with_name = label(rng, split, "phone", value, name)
            add("text", "phone", text, [["phone", value]] + ([["name", name]] if with_name else []))
        # card
        value = card(fake, rng)
        add("field", "card", record(rng, split, "card", value, name, fake), [["card", value]])
        value = card(fake, rng)
        add("text", "card", text_of(rng, split, "card", value, name), [["card", value]])
        # iban
        value = iban(fake, rng)
        add("field", "iban", record(rng, split, "iban", value, name, fake), [["iban", value]])
        value = iban(fake, rng)
        add("text", "iban", text_of(rng, split, "iban", value, name), [["iban", value]])
        # ssn: US SSNs in every locale, the locale's national id where it has a checksum
        value, _ = us_ssn(fake, rng)
        national = national_id(fake, locale, rng)
        if national and rng.random() < 0.4:
            value = national
        add("field", "ssn", record(rng, split, "ssn", value, name, fake), [["ssn", value]])
        value, formatted = us_ssn(fake, rng)
        if not formatted or rng.random() < 0.5:
            national = national_id(fake, locale, rng)
            if national and rng.random() < 0.5:
                value = national
            text = text_of(rng, split, "ssn", value, name)
        else:
            text = rng.choice(PLAIN[split]).format(v=value)
        add("text", "ssn", text, [["ssn", value]])
        # ip (public); private addresses are positives only for the widened settings
        value = ip(fake, rng)
        expected = [] if local(value) else [["ip", value]]
        add("field", "ip", record(rng, split, "ip", value, name, fake), expected, [["ip", value]])
        value = ip(fake, rng)
        text = text_of(rng, split, "ip", value, name) if rng.random() < 0.7 \
            else rng.choice(PLAIN[split]).format(v=value)
        expected = [] if local(value) else [["ip", value]]
        add("text", "ip", text, expected, [["ip", value]])
        if rng.random() < 0.25:
            value = fake.ipv4_private()
            add(rng.choice(["field", "text"]), "ip-private",
                text_of(rng, split, "ip", value, name), [], [["ip", value]])
        # names: by key, `name` in a person-like object, "Last, First", parts
        style = rng.random()
        if style < 0.45:
            obj = record(rng, split, "name", name, name, fake)
            expected = [["name", name]]
        elif style < 0.6:
            obj = {"name": name, rng.choice(["tel", "fax", "phone", "email", "mobile"]): "n/a",
                   "role": "customer"}
            expected = [["name", name]]
        elif style < 0.75 and locale != "ja_JP":
            value = f"{last}, {first}"
            obj = {rng.choice(["name", "full_name", "patient", "customer_name"]): value,
                   "dob": fake.date_of_birth().isoformat()}
            expected = [["name", value]]
        else:
            obj = {"first_name": first, "last_name": last, "account": fake.user_name()}
            expected = [["name", first], ["name", last]]
        add("field", "name", obj, expected)
        name, _, _ = person(fake, locale)
        add("text", "name", text_of(rng, split, "name", name, name), [["name", name]])
    return samples


# ------------------------------------------------------------------------------------------
# Hard negatives: nothing in them is personal data


def ean13(rng):
    digits = [rng.randint(0, 9) for _ in range(12)]
    digits[0] = rng.choice([4, 5, 3, 6])  # the prefixes that look like card issuers
    check = (10 - sum(d * (3 if i % 2 else 1) for i, d in enumerate(digits)) % 10) % 10
    return "".join(map(str, digits + [check]))


def luhn_complete(prefix, length, rng):
    digits = [int(c) for c in prefix] + [rng.randint(0, 9) for _ in range(length - len(prefix) - 1)]
    for check in range(10):
        candidate = digits + [check]
        total = 0
        for index, digit in enumerate(reversed(candidate)):
            if index % 2:
                digit *= 2
                if digit > 9:
                    digit -= 9
            total += digit
        if total % 10 == 0:
            return "".join(map(str, candidate))
    return None


def luhn_valid(number):
    total = 0
    for index, ch in enumerate(reversed(number)):
        digit = int(ch)
        if index % 2:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def negative_values(rng, fake):
    """(category, value, context words) of every kind of hard negative."""
    org = fake.user_name()
    repo = fake.slug()
    ean = ean13(rng)
    while not luhn_valid(ean):
        ean = ean13(rng)
    return [
        ("git remote", f"git@github.com:{org}/{repo}.git", "remote"),
        ("git remote", f"ssh://git@gitlab.example.com/{org}/{repo}.git", "url"),
        ("version", f"{rng.randint(1, 12)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}.{rng.randint(0, 99)}", "version"),
        ("version", f"Python {rng.randint(2, 3)}.{rng.randint(0, 13)}.{rng.randint(0, 9)}.{rng.randint(1, 9)}", "runtime"),
        ("version", f"{repo}=={rng.randint(1, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 9)}", "requirement"),
        ("version", f"Chrome/{rng.randint(90, 130)}.0.{rng.randint(1000, 6999)}.{rng.randint(10, 199)}", "userAgent"),
        ("ean13", ean, "ean"),
        ("ean13", fake.ean13(), "barcode"),
        ("tracking", "1Z" + "".join(rng.choice("0123456789ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(16)), "tracking"),
        ("tracking", "9400" + "".join(str(rng.randint(0, 9)) for _ in range(18)), "tracking_number"),
        ("tracking", luhn_complete(str(rng.randint(1, 9)), 15, rng), "tracking"),
        ("tracking", "".join(str(rng.randint(0, 9)) for _ in range(12)), "fedex_tracking"),
        ("routing", fake.aba(), "routing_number"),
        ("routing", "0" + "".join(str(rng.randint(0, 9)) for _ in range(8)), "aba"),
        ("isbn", fake.isbn13(), "isbn"),
        ("isbn", fake.isbn10().replace("-", ""), "isbn"),
        ("isbn", "978" + "".join(str(rng.randint(0, 9)) for _ in range(10)), "isbn13"),
        ("order id", "0" + "".join(str(rng.randint(0, 9)) for _ in range(rng.randint(8, 11))), "order_id"),
        ("order id", f"ORD-{rng.randint(2019, 2026)}-{rng.randint(0, 999999):06d}", "order"),
        ("order id", "".join(str(rng.randint(0, 9)) for _ in range(10)), "orderNumber"),
        ("timestamp", str(rng.randint(1_500_000_000_000, 1_800_000_000_000)), "ts"),
        ("timestamp", str(rng.randint(1_500_000_000, 1_800_000_000)), "created"),
        ("timestamp", fake.iso8601(), "updatedAt"),
        ("uuid", fake.uuid4(), "id"),
        ("hash", fake.sha1(), "commit"),
        ("hash", fake.sha256(), "digest"),
        ("hash", fake.md5(), "etag"),
        ("price", f"${rng.randint(1, 99999):,}.{rng.randint(0, 99):02d}", "total"),
        ("price", f"{rng.randint(1, 9999)},{rng.randint(0, 99):02d} €", "betrag"),
        ("coordinates", f"{fake.latitude()}, {fake.longitude()}", "location"),
        ("coordinates", f"{fake.latitude()}", "lat"),
        ("date", fake.date(), "date"),
        ("date", fake.date(pattern="%d.%m.%Y"), "datum"),
        ("time", fake.time(), "time"),
        ("invoice", f"INV-{rng.randint(10**8, 10**9 - 1)}", "invoice"),
        ("zip", fake.postcode(), "zip"),
        ("mac", fake.mac_address(), "mac"),
        ("oid", f"1.3.6.1.4.1.{rng.randint(1, 60000)}.{rng.randint(1, 9)}", "oid"),
        ("sku", f"SKU-{rng.randint(10**5, 10**6 - 1)}-{rng.randint(10, 99)}", "sku"),
        ("account ref", "".join(str(rng.randint(0, 9)) for _ in range(9)), "account_ref"),
        ("quantity", f"{rng.randint(1, 999999):,} units", "qty"),
        ("duration", f"{rng.randint(0, 99)}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}.{rng.randint(0, 999):03d}", "elapsed"),
        ("company", fake.company(), "name"),
        ("city", fake.city(), "city"),
        ("street", fake.street_name(), "street"),
        ("job", fake.job(), "title"),
        ("username", fake.user_name(), "username"),
        ("product", fake.catch_phrase(), "product"),
        ("file", fake.file_name(), "name"),
    ]


NEGATIVE_TEXT = split_of([
    "{c}: {v}", "Processed {v} successfully.", "{c}={v}", "see {v} for details",
    "[{c}] {v}", "{v}", "Value {v} updated by the sync job.", "The {c} is {v}.",
])


def negatives(rng, split, locale, fake, count):
    samples = []
    for _ in range(count):
        for category, value, context in negative_values(rng, fake):
            if value is None:
                continue
            if rng.random() < 0.5:
                obj = {context: value, "status": "ok"}
                if category in ("company", "file"):
                    obj["type"] = category
                if category == "company":
                    obj["email"] = "info@example.com"
                    samples.append({"split": split, "locale": locale, "mode": "field",
                                    "category": "neg:" + category, "input": obj,
                                    "expected": [["email", "info@example.com"]]})
                    continue
                samples.append({"split": split, "locale": locale, "mode": "field",
                                "category": "neg:" + category, "input": obj, "expected": []})
            else:
                text = rng.choice(NEGATIVE_TEXT[split]).format(c=context.replace("_", " "), v=value)
                samples.append({"split": split, "locale": locale, "mode": "text",
                                "category": "neg:" + category, "input": text, "expected": []})
    return samples


def main():
    rng = random.Random(SEED)
    stats = {"tried": 0, "dropped": 0}
    out = {"dev": [], "heldout": []}
    for locale in LOCALES:
        fake = Faker(locale)
        fake.seed_instance(SEED + len(locale) + sum(map(ord, locale)))
        for split, share in (("dev", 0.6), ("heldout", 0.4)):
            local = random.Random(f"{SEED}-{locale}-{split}")
            global PER_LOCALE
            saved = PER_LOCALE
            PER_LOCALE = int(saved * share)
            out[split] += positives(local, split, locale, fake, stats)
            out[split] += negatives(local, split, locale, fake, int(12 * share))
            PER_LOCALE = saved
    for split, samples in out.items():
        rng.shuffle(samples)
        with open(HERE / f"{split}.jsonl", "w", encoding="utf-8") as file:
            for sample in samples:
                file.write(json.dumps(sample, ensure_ascii=False) + "\n")
        print(f"{split}: {len(samples)} samples")
    print(f"phone numbers: {stats['dropped']} of {stats['tried']} Faker outputs left out as "
          "invalid for their locale's region")


if __name__ == "__main__":
    main()
