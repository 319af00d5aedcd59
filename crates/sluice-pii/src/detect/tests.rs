use super::*;
use crate::Normalized;

fn detector() -> Detector {
    Detector::new(&DetectorConfig::default()).unwrap()
}

/// `(type, value)` of everything found in `text` after normalization.
fn found(detector: &Detector, text: &str) -> Vec<(PiiType, String)> {
    found_with(detector, text, FieldHint::None)
}

fn found_with(detector: &Detector, text: &str, hint: FieldHint) -> Vec<(PiiType, String)> {
    let normalized = Normalized::new(text);
    detector
        .find(normalized.as_str(), hint)
        .into_iter()
        .map(|finding| (finding.kind, normalized.as_str()[finding.range].to_owned()))
        .collect()
}

fn assert_found(detector: &Detector, text: &str, kind: PiiType, value: &str) {
    assert_eq!(
        found(detector, text),
        [(kind, value.to_owned())],
        "in {text:?}"
    );
}

fn assert_nothing(detector: &Detector, text: &str) {
    assert_eq!(found(detector, text), [], "in {text:?}");
}

#[test]
fn emails() {
    let d = detector();
    for (text, value) in [
        (
            "mail ada.lovelace@example.com today",
            "ada.lovelace@example.com",
        ),
        (
            "<j.smith+news@mail.example.co.uk>",
            "j.smith+news@mail.example.co.uk",
        ),
        ("mailto:o_brien-2@firma.de.", "o_brien-2@firma.de"),
        ("josé.müller@beispiel.de", "josé.müller@beispiel.de"),
        ("\"email\":\"x@y.io\"", "x@y.io"),
        // Obfuscated: full-width, zero-width characters, soft hyphen.
        ("ａｄａ＠ｅｘａｍｐｌｅ．ｃｏｍ", "ada@example.com"),
        ("ad\u{200B}a@exa\u{200D}mple.com", "ada@example.com"),
        ("ada\u{00AD}@example.com", "ada@example.com"),
    ] {
        assert_found(&d, text, PiiType::Email, value);
    }
    for text in [
        "user@localhost",
        "icon@2x.png",
        "@scope/package@1.2.3",
        "follow @ada_l",
        "a@b",
        "x@example.c0m",
        "user@host.com2",
    ] {
        assert_nothing(&d, text);
    }
}

#[test]
fn phones() {
    let d = detector();
    for (text, value) in [
        ("call +1 212 555 0123 now", "+1 212 555 0123"),
        ("+1-415-555-9999", "+1-415-555-9999"),
        ("+12125550123", "+12125550123"),
        ("tel (212) 555-0123.", "(212) 555-0123"),
        ("office: 212-555-0123", "212-555-0123"),
        ("212.555.0123", "212.555.0123"),
        ("1-212-555-0123", "1-212-555-0123"),
        ("+44 20 7946 0958", "+44 20 7946 0958"),
        ("+61 2 5550 1234", "+61 2 5550 1234"),
        ("+33 1 42 68 53 00", "+33 1 42 68 53 00"),
        ("+49 30 901820", "+49 30 901820"),
        ("+91 98765 43210", "+91 98765 43210"),
        // A year glued on after a space is dropped.
        ("+1 212 555 0123 2026", "+1 212 555 0123"),
        // Full-width digits and an en dash.
        ("２１２\u{2013}５５５\u{2013}０１２３", "212-555-0123"),
    ] {
        assert_found(&d, text, PiiType::Phone, value);
    }
    for text in [
        "2026-01-15",
        "2026-01-15 10:30:45",
        "15.01.2026",
        "ORD-2026-000123",
        "1732150000",
        "2125550123",
        "+1 555 123 4567",
        "(123) 456-7890",
        "555-0199",
        "212-555.0123",
        "$1,234,567.89",
        "ISBN 978-3-16-148410-0",
        "zip 10001-1234",
    ] {
        assert_nothing(&d, text);
    }
}

#[test]
fn phone_fields_take_bare_digits() {
    let d = detector();
    assert_eq!(
        d.field_value(FieldHint::Phone, "2125550123"),
        Some(PiiType::Phone)
    );
    assert_eq!(
        d.field_value(FieldHint::Phone, "+442079460958"),
        Some(PiiType::Phone)
    );
    assert_eq!(d.field_value(FieldHint::Phone, "n/a"), None);
    assert_eq!(d.field_value(FieldHint::Phone, "12345"), None);
    // Any region's numbers, an extension kept with the number.
    for value in [
        "(212)555-0123x492",
        "0612345678",
        "030 901820",
        "912 345 678",
        "+33 1 83 41 77 76",
    ] {
        assert_eq!(
            d.field_value(FieldHint::Phone, value),
            Some(PiiType::Phone),
            "{value}"
        );
    }
    assert_eq!(d.field_value(FieldHint::None, "2125550123"), None);
    assert_eq!(FieldHint::for_key("mobilePhone"), FieldHint::Phone);
    assert_eq!(FieldHint::for_key("Phone"), FieldHint::Phone);
    assert_eq!(FieldHint::for_key("hotel"), FieldHint::None);
}

#[test]
fn national_formats_of_configured_regions() {
    let config = DetectorConfig {
        phone_regions: vec!["US".into(), "GB".into()],
        ..DetectorConfig::default()
    };
    let d = Detector::new(&config).unwrap();
    assert_found(&d, "ring 020 7946 0958", PiiType::Phone, "020 7946 0958");
    // Bare digits need a label even in a configured region: identifiers look the same.
    assert_nothing(&d, "ring 02079460958");
    assert_found(&d, "tel 02079460958", PiiType::Phone, "02079460958");
    // Every region by default when grouped the way phone numbers are written, or labelled; a
    // bare run of digits starting with 0 without a label may be an identifier.
    let d = detector();
    assert_found(&d, "ring 020 7946 0958", PiiType::Phone, "020 7946 0958");
    assert_found(&d, "04.15.39.15.00", PiiType::Phone, "04.15.39.15.00");
    assert_found(&d, "Tel: 02079460958", PiiType::Phone, "02079460958");
    assert_found(&d, "mobile 612 345 678", PiiType::Phone, "612 345 678");
    assert_found(&d, "0049 30 901820", PiiType::Phone, "0049 30 901820");
    assert_found(&d, "(212)555-0123x492", PiiType::Phone, "(212)555-0123x492");
    assert_found(
        &d,
        "call 212-555-0123 ext. 12",
        PiiType::Phone,
        "212-555-0123 ext. 12",
    );
    assert_nothing(&d, "ring 02079460958");
    for text in [
        "routing 021000021",
        "ISBN 0306406152",
        "order 0123456789",
        "tracking number 020 7946 0958",
    ] {
        assert_nothing(&d, text);
    }
    assert!(matches!(
        Detector::new(&DetectorConfig {
            phone_regions: vec!["XX".into()],
            ..DetectorConfig::default()
        }),
        Err(DetectorError::UnknownRegion(_))
    ));
    assert!(is_phone_region("DE"));
    assert!(!is_phone_region("ZZ"));
}

#[test]
fn cards() {
    let d = detector();
    for (text, value) in [
        ("card 4111111111111111 exp 12/27", "4111111111111111"),
        ("4111 1111 1111 1111", "4111 1111 1111 1111"),
        ("5500-0000-0000-0004", "5500-0000-0000-0004"),
        ("amex 3782 822463 10005", "3782 822463 10005"),
        ("6011111111111117", "6011111111111117"),
        ("2223000048400011", "2223000048400011"),
        ("3530111333300000", "3530111333300000"),
        ("diners 3056 930902 5904", "3056 930902 5904"),
        ("4222222222222", "4222222222222"),
        // Something before it in the same digit run.
        ("qty 12 4111 1111 1111 1111", "4111 1111 1111 1111"),
        // Full-width digits and no-break spaces.
        (
            "４１１１\u{00A0}１１１１\u{00A0}１１１１\u{00A0}１１１１",
            "4111 1111 1111 1111",
        ),
        (
            "4111\u{200B}1111\u{200B}1111\u{200B}1111",
            "4111111111111111",
        ),
    ] {
        assert_found(&d, text, PiiType::Card, value);
    }
    for text in [
        // Luhn-invalid.
        "4111111111111112",
        "4111 1111 1111 1112",
        // Unknown issuer, timestamps.
        "1234567812345670",
        "1732150000000",
        "9111111111111111",
        // Odd groupings and mixed separators.
        "41 1111 1111 1111 11",
        "4111 1111-1111 1111",
        // Glued to letters: hex hashes, tracking numbers.
        "a4111111111111111",
        "1Z4111111111111111",
        "ORD-2026-000123",
    ] {
        assert_nothing(&d, text);
    }
}

#[test]
fn ibans() {
    let d = detector();
    for (text, value) in [
        ("IBAN DE89370400440532013000", "DE89370400440532013000"),
        (
            "pay to DE89 3704 0044 0532 0130 00.",
            "DE89 3704 0044 0532 0130 00",
        ),
        (
            "GB82 WEST 1234 5698 7654 32 EUR",
            "GB82 WEST 1234 5698 7654 32",
        ),
        ("NL91ABNA0417164300", "NL91ABNA0417164300"),
        (
            "ＤＥ８９３７０４００４４０５３２０１３０００",
            "DE89370400440532013000",
        ),
    ] {
        assert_found(&d, text, PiiType::Iban, value);
    }
    for text in [
        "DE89370400440532013001",
        "DE8937040044053201300",
        "GB82WEST1234569876543",
        "XX89370400440532013000",
        "SKU12ABCDEFGHIJKLMNOP",
    ] {
        assert_nothing(&d, text);
    }
}

#[test]
fn ssns() {
    let d = detector();
    for (text, value) in [
        ("SSN: 536-22-1234", "536-22-1234"),
        ("ssn 536 22 1234", "536 22 1234"),
        ("536.22.1234", "536.22.1234"),
        ("５３６－２２－１２３４", "536-22-1234"),
    ] {
        assert_found(&d, text, PiiType::Ssn, value);
    }
    for text in [
        "000-22-1234",
        "666-22-1234",
        "912-22-1234",
        "536-00-1234",
        "536-22-0000",
        "078-05-1120",
        "219-09-9999",
        "123-45-6789",
        "111-11-1111",
        "ORD-536-22-1234",
        "536-22-12345",
        "1536-22-1234",
    ] {
        assert_nothing(&d, text);
    }
    assert_eq!(
        d.field_value(FieldHint::Ssn, "536221234"),
        Some(PiiType::Ssn)
    );
    assert_eq!(d.field_value(FieldHint::Ssn, "000221234"), None);
    assert_eq!(d.field_value(FieldHint::None, "536221234"), None);
}

#[test]
fn ip_addresses() {
    let d = detector();
    for (text, value) in [
        ("from 198.51.100.10 at", "198.51.100.10"),
        ("[203.0.113.1]:8080", "203.0.113.1"),
        ("host=8.8.8.8;", "8.8.8.8"),
        ("end 192.0.2.4.", "192.0.2.4"),
        ("2001:db8::1", "2001:db8::1"),
        (
            "addr 2a00:1450::1ff:fe23:4567:890a, up",
            "2a00:1450::1ff:fe23:4567:890a",
        ),
        (
            "2001:0db8:85a3:0000:0000:8a2e:0370:7334",
            "2001:0db8:85a3:0000:0000:8a2e:0370:7334",
        ),
        ("::ffff:192.0.2.128", "::ffff:192.0.2.128"),
        // An unmarked four-part version is an address: privacy first.
        ("reached 1.2.3.4", "1.2.3.4"),
        // A version word farther away, on another line, is about something else.
        (
            "Release notes are out.\nBlocked 81.2.69.160 again",
            "81.2.69.160",
        ),
        (
            "the build server, which was reached from 81.2.69.160 at noon",
            "81.2.69.160",
        ),
    ] {
        assert_found(&d, text, PiiType::Ip, value);
    }
    for text in [
        "v1.2.3.4",
        "version 10.0.0.1",
        "Version: 4.3.2.1",
        "1.2.3.4-beta",
        "1.2.3.4+build7",
        "Upgraded the agent from 3.12.8.6 last night",
        "See the 3.12.8.6 release notes.",
        "Router firmware is now 4.2.1.17",
        "1.2.3",
        "256.1.1.1",
        "1.2.3.4.5",
        "01.02.03.04",
        "10:30:45",
        "00:1a:2b:3c:4d:5e",
        "std::net::IpAddr",
        "Foo::bar::baz()",
        "::1",
        "::",
        "550e8400-e29b-41d4-a716-446655440000",
        "da39a3ee5e6b4b0d3255bfef95601890afd80709",
    ] {
        assert_nothing(&d, text);
    }
    assert_eq!(found_with(&d, "1.2.3.4", FieldHint::Version), []);
    assert_eq!(FieldHint::for_key("appVersion"), FieldHint::Version);
    // Marked by what comes before: a package pin, a product name, a user agent.
    for text in [
        "requests==2.31.0.1",
        "Python 3.11.4.1",
        "Chrome/120.0.61.109",
        "upgraded to 1.2.3.4",
    ] {
        assert_nothing(&d, text);
    }
}

#[test]
fn local_addresses_only_when_asked() {
    let local = [
        "127.0.0.1",
        "10.0.0.1",
        "172.16.5.4",
        "172.31.255.1",
        "192.168.1.10",
        "169.254.10.20",
        "0.0.0.0",
        "fe80::1ff:fe23:4567:890a",
        "fc00::1:2",
        "fd12:3456:789a::1",
        "::ffff:10.0.0.1",
    ];
    let d = detector();
    for address in local {
        assert_nothing(&d, &format!("from {address} at"));
    }
    // Just outside the private ranges: public.
    for address in ["172.32.0.1", "11.0.0.1", "192.169.0.1"] {
        assert_found(&d, &format!("from {address} at"), PiiType::Ip, address);
    }
    let wide = Detector::new(&DetectorConfig {
        private_ips: true,
        ..DetectorConfig::default()
    })
    .unwrap();
    for address in local {
        assert_found(&wide, &format!("from {address} at"), PiiType::Ip, address);
    }
}

#[test]
fn names_by_field() {
    let d = detector();
    assert_eq!(d.name_key("fullName"), Some(NameKey::Strong));
    assert_eq!(d.name_key("first_name"), Some(NameKey::Strong));
    assert_eq!(d.name_key("LastName"), Some(NameKey::Strong));
    assert_eq!(d.name_key("Name"), Some(NameKey::Generic));
    assert_eq!(d.name_key("filename"), None);
    assert!(d.is_name(NameKey::Strong, "Ada"));
    assert!(d.is_name(NameKey::Strong, "van der Berg"));
    assert!(d.is_name(NameKey::Generic, "Ada Lovelace"));
    assert!(d.is_name(NameKey::Generic, "Seán O'Brien-Smith"));
    assert!(d.is_name(NameKey::Generic, "J. R. R. Tolkien"));
    assert!(!d.is_name(NameKey::Generic, "Ada"));
    assert!(!d.is_name(NameKey::Generic, "Acme Corp"));
    assert!(!d.is_name(NameKey::Generic, "Orders 2026"));
    assert!(!d.is_name(NameKey::Generic, "report.pdf"));
    assert!(!d.is_name(NameKey::Strong, "deploy"));
    assert!(d.is_person_object(["id", "name", "email"]));
    assert!(!d.is_person_object(["id", "name", "mimeType"]));
    let config = DetectorConfig {
        name_fields: vec!["account_holder".into()],
        ..DetectorConfig::default()
    };
    let d = Detector::new(&config).unwrap();
    assert_eq!(d.name_key("accountHolder"), Some(NameKey::Strong));
}

#[test]
fn types_can_be_switched_off() {
    let config = DetectorConfig {
        types: TypeSet::all().without(PiiType::Ip).without(PiiType::Name),
        ..DetectorConfig::default()
    };
    let d = Detector::new(&config).unwrap();
    assert_eq!(
        found(&d, "10.0.0.1 ada@example.com"),
        [(PiiType::Email, "ada@example.com".to_owned())]
    );
    assert_eq!(d.name_key("fullName"), None);
}

#[test]
fn mixed_text_finds_each_once() {
    let d = detector();
    let text = "Ada (ada@example.com, +1 212 555 0123) paid with 4111 1111 1111 1111 \
                from 203.0.113.7 on 2026-01-15; SSN 536-22-1234; IBAN DE89370400440532013000.";
    let kinds: Vec<PiiType> = found(&d, text).into_iter().map(|(kind, _)| kind).collect();
    assert_eq!(
        kinds,
        [
            PiiType::Email,
            PiiType::Phone,
            PiiType::Card,
            PiiType::Ip,
            PiiType::Ssn,
            PiiType::Iban
        ]
    );
}

/// Cases from the test suites of Microsoft Presidio's card, SSN and IP recognizers (public test
/// data), with this crate's answer where it differs on purpose (noted).
#[test]
fn reference_suite_cases() {
    let d = detector();
    for number in [
        "4012888888881881",
        "4012-8888-8888-1881",
        "4012 8888 8888 1881",
        "371449635398431",
        "5555555555554444",
        "5019717010103742",
        "30569309025904",
        "6011000400000000",
        "3528000700000000",
        "6759649826438453",
        "4917300800000000",
        "4484070000000000",
    ] {
        assert_found(&d, number, PiiType::Card, number);
    }
    // A 15-digit UATP number shares its shape with tracking numbers: a card with a label only.
    assert_found(&d, "card 122000000000003", PiiType::Card, "122000000000003");
    for text in [
        "4012-8888-8888-1882",
        "my credit card number is 36168002586008",
        "122000000000003",
    ] {
        assert_nothing(&d, text);
    }
    for text in ["078-05-1123", "078.05.1123", "078 05 1123"] {
        assert_found(&d, text, PiiType::Ssn, text);
    }
    // Bare nine digits are an SSN only in an SSN field here (Presidio: a weak match).
    for text in [
        "078051121",
        "0780511201",
        "078051120",
        "000000000",
        "666000000",
        "078-05-0000",
        "078 00 1123",
        "693-09.4444",
    ] {
        assert_nothing(&d, text);
    }
    for (text, value) in [
        ("microsoft.com 198.51.100.1", "198.51.100.1"),
        (
            "my ip: 684D:1111:222:3333:4444:5555:6:77",
            "684D:1111:222:3333:4444:5555:6:77",
        ),
        (
            "2345:0425:2CA1::0567:5673:23b5",
            "2345:0425:2CA1::0567:5673:23b5",
        ),
        (
            "2400:c401::5054:ff:fe1b:b031",
            "2400:c401::5054:ff:fe1b:b031",
        ),
        ("Connect to [2001:db8::1]:8080", "2001:db8::1"),
        ("Visit http://[2001:db8::1]/path", "2001:db8::1"),
        ("SSH to user@2001:db8::1", "2001:db8::1"),
        ("Connect to ::ffff:203.0.113.9 now", "::ffff:203.0.113.9"),
        ("::198.51.100.1", "::198.51.100.1"),
        ("NAT64: 64:ff9b::198.51.100.1", "64:ff9b::198.51.100.1"),
        (
            "0:0:0:0:0:FFFF:129.144.52.38",
            "0:0:0:0:0:FFFF:129.144.52.38",
        ),
        (
            "Server IP: 2400:c401::5054:ff:fe1b:b031.",
            "2400:c401::5054:ff:fe1b:b031",
        ),
        ("(198.51.100.1)", "198.51.100.1"),
        ("IP: 198.51.100.1.", "198.51.100.1"),
        ("198.51.100.2@eth0", "198.51.100.2"),
        ("text::ffff:192.0.2.1", "192.0.2.1"),
        ("Subnet: 198.51.100.0/24", "198.51.100.0"),
        ("Prefix: 2001:db8::/32", "2001:db8::"),
        ("Multicast ff02::1", "ff02::1"),
    ] {
        assert_found(&d, text, PiiType::Ip, value);
    }
    for text in [
        "my ip: 192.168.0",
        "684D:1111:222:3333:4444:5555:77",
        "MAC address aa:bb:cc:dd:ee:ff",
        "Time 12:34:56",
        "Ratio 1:2:3:4",
        "Version 1.2.3",
        "Port 80:443",
        "abc:def:ghi",
        "123:abc",
        "file:///path/to/file",
        "std::cout",
        "MyClass::toString",
        ":::",
        "IP192.168.1.1text",
        "text192.168.1.1",
        "fe80::1text",
        "256.256.256.256",
        "192.168.1.256",
        "gggg:hhhh::1234",
        "12345:db8::1",
        "2001::db8::1",
        "::ffff:256.0.0.1",
        // Differences on purpose: `::`, `::1` and one-group prefixes (`fe80::/10`) are not
        // personal; a fifth dotted part makes an OID, not an address.
        "Use local ipv6 ::",
        "my ip: ::1",
        "fe80::/10",
        "192.168.1.1.1",
    ] {
        assert_nothing(&d, text);
    }
}

#[test]
fn runs_find_what_the_whole_text_search_finds() {
    let text = "Call +44 20 7946 0958 or (212) 555-0123, card 4111 1111 1111 1111; \
                SSN 536-22-1234 at 81.2.69.160/24 on 2026-01-15 10:30, ref 0123456789 and \
                12345678901234567890123456789012345 then x1234567 and 7.";
    let runs = Runs::of(text);
    for pattern in [
        CARD,
        SSN,
        IPV4,
        PHONE_INTERNATIONAL,
        PHONE_NANP,
        PHONE_NATIONAL,
        LABELLED_NUMBER,
    ] {
        let regex = compile(pattern).unwrap();
        let whole: Vec<_> = regex.find_iter(text).map(|m| m.range()).collect();
        let in_runs: Vec<_> = runs.matches(&regex, text, 0).map(|m| m.range()).collect();
        assert_eq!(in_runs, whole, "{pattern}");
        assert!(!whole.is_empty(), "{pattern}");
    }
    // Runs with fewer digits than asked for are skipped.
    let regex = compile(IPV4).unwrap();
    assert_eq!(runs.matches(&regex, text, 40).count(), 0);
}

#[test]
fn labels_read_in_any_case_and_script() {
    let d = detector();
    assert_found(
        &d,
        "PHONE NUMBER: 020 7946 0958",
        PiiType::Phone,
        "020 7946 0958",
    );
    assert_found(
        &d,
        "Teléfono número 912 345 678",
        PiiType::Phone,
        "912 345 678",
    );
    assert_nothing(&d, "ORDER NO. 0201 7946 0958");
}

#[test]
fn a_country_code_glued_to_the_area_code() {
    let d = detector();
    assert_found(&d, "ph: +31870-801838", PiiType::Phone, "+31870-801838");
    assert_found(
        &d,
        "Call +3188-4588839 now",
        PiiType::Phone,
        "+3188-4588839",
    );
    assert_eq!(
        d.field_value(FieldHint::Phone, "+3188-4588839"),
        Some(PiiType::Phone)
    );
    // Still a valid number only: these digits are not one.
    assert_nothing(&d, "ph: +99999-123");
}

#[test]
fn a_number_right_after_a_persons_name_is_a_phone_number() {
    let d = detector();
    assert_eq!(
        found(&d, "Mrs. Jane Doe (030 901820)"),
        [
            (PiiType::Name, "Jane Doe".to_owned()),
            (PiiType::Phone, "030 901820".to_owned())
        ]
    );
    assert_eq!(
        found(&d, "Emergency contact: Michael Johnson, 912 345 678"),
        [
            (PiiType::Name, "Michael Johnson".to_owned()),
            (PiiType::Phone, "912 345 678".to_owned())
        ]
    );
    // Ten or eleven bare digits, an area code set off by another separator.
    assert_eq!(
        found(&d, "Mrs. Jane Doe (0553313441)")[1],
        (PiiType::Phone, "0553313441".to_owned())
    );
    assert_eq!(
        found(&d, "Mrs. Jane Doe, 49 2318-3105")[1],
        (PiiType::Phone, "49 2318-3105".to_owned())
    );
    // Not without the name, not dates or nine bare digits, not an identifier after a label.
    assert_nothing(&d, "Shipped: 912 345 678");
    assert_eq!(
        found(&d, "Mrs. Jane Doe, 2026-01-15 10:30"),
        [(PiiType::Name, "Jane Doe".to_owned())]
    );
    assert_eq!(
        found(&d, "Mrs. Jane Doe, 912345678"),
        [(PiiType::Name, "Jane Doe".to_owned())]
    );
    assert_eq!(
        found(&d, "Mrs. Jane Doe, order 912 345 678"),
        [(PiiType::Name, "Jane Doe".to_owned())]
    );
}
