//! Deterministic demo data: the same seed and sizes give the same values, byte for byte.
//!
//! Every generator draws from its own stream of the seed, so the size of one data set never
//! changes another (10,000 orders or 100, the contacts stay the same).

mod transcript;
mod words;

use std::collections::HashSet;

use serde::Serialize;

use crate::rng::Rng;

pub use transcript::{TRANSCRIPT_BYTES_PER_TOKEN, transcript};

/// Status of an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OrderStatus {
    /// Placed, not shipped yet (about 20% of orders).
    Pending,
    /// On its way.
    Shipped,
    /// Arrived.
    Delivered,
    /// Cancelled by the customer.
    Cancelled,
}

impl OrderStatus {
    /// The status as it appears in the sheet.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Shipped => "shipped",
            Self::Delivered => "delivered",
            Self::Cancelled => "cancelled",
        }
    }
}

/// One row of the orders sheet. Serializes with the sheet's column names.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    /// `ORD-10001`, `ORD-10002`, ... in date order.
    pub order_id: String,
    /// One of `pending, shipped, delivered, cancelled`.
    pub status: OrderStatus,
    /// The amount in dollars, two decimals (`amount_cents / 100`).
    pub amount: f64,
    /// `YYYY-MM-DD`, in 2026.
    pub date: String,
    /// The customer company.
    pub customer: String,
    /// The amount in cents, exact; for totals without floating-point drift.
    #[serde(skip)]
    pub amount_cents: u64,
}

/// One row of the contacts sheet. Serializes with the sheet's column names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Contact {
    /// `First Last`.
    pub name: String,
    /// Derived from the name and the company's domain; unique.
    pub email: String,
    /// `+1 415 555 0123` style (a few UK and Australian numbers).
    pub phone: String,
    /// Company name.
    pub company: String,
    /// Job title.
    pub title: String,
}

/// A CRM lead. Serializes with the CRM's field names (`Id`, `Name`, ..., `EngagementScore`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Lead {
    /// Salesforce-like id, `00Q5f00000` + a 5-character base-36 counter.
    pub id: String,
    /// `First Last`.
    pub name: String,
    /// Unique email.
    pub email: String,
    /// Phone number.
    pub phone: String,
    /// Company name.
    pub company: String,
    /// Job title.
    pub title: String,
    /// 0-100; about 6% of leads score 90 or more.
    pub engagement_score: u8,
    /// Salesforce's standard lead statuses.
    pub status: String,
    /// Where the lead came from.
    pub source: String,
}

/// The id prefix of leads: `00Q` (the Lead key prefix), a pod-like `5f` and padding.
pub const LEAD_ID_PREFIX: &str = "00Q5f00000";

/// Lead statuses, in Salesforce's default picklist order; new leads start with the first.
pub const LEAD_STATUSES: &[&str] = words::LEAD_STATUSES;

/// The first lead counter of a seed; leads created later continue from `first + leads`.
pub fn first_lead_counter(seed: u64) -> u64 {
    // Somewhere in the 4-character range so ids look used, not fresh.
    Rng::new(seed, "lead-ids").range(36u64.pow(4), 36u64.pow(4) * 20)
}

/// `prefix` followed by `counter` in upper-case base 36, padded to 5 characters.
pub fn salesforce_id(prefix: &str, counter: u64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut digits = Vec::new();
    let mut rest = counter;
    loop {
        digits.push(DIGITS[(rest % 36) as usize] as char);
        rest /= 36;
        if rest == 0 {
            break;
        }
    }
    while digits.len() < 5 {
        digits.push('0');
    }
    let mut id = String::with_capacity(prefix.len() + digits.len());
    id.push_str(prefix);
    id.extend(digits.iter().rev());
    id
}

/// `n` orders of 2026, sorted by date, about 20% pending.
pub fn orders(seed: u64, n: usize) -> Vec<Order> {
    let mut rng = Rng::new(seed, "orders");
    let companies = companies(seed);
    let mut orders: Vec<(u32, Order)> = (0..n)
        .map(|_| {
            let day = rng.below(365) as u32;
            let status = match rng.below(100) {
                0..20 => OrderStatus::Pending,
                20..45 => OrderStatus::Shipped,
                45..92 => OrderStatus::Delivered,
                _ => OrderStatus::Cancelled,
            };
            // Mostly small orders, some mid-size, a few large ones.
            let amount_cents = match rng.below(100) {
                0..60 => rng.range(1_500, 25_000),
                60..90 => rng.range(25_000, 150_000),
                _ => rng.range(150_000, 900_000),
            };
            let customer = rng.pick(&companies).name.clone();
            let order = Order {
                order_id: String::new(),
                status,
                amount: amount_cents as f64 / 100.0,
                date: iso_date(day),
                customer,
                amount_cents,
            };
            (day, order)
        })
        .collect();
    orders.sort_by_key(|(day, _)| *day);
    orders
        .into_iter()
        .enumerate()
        .map(|(index, (_, mut order))| {
            order.order_id = format!("ORD-{}", 10_001 + index);
            order
        })
        .collect()
}

/// `n` contacts with unique emails.
pub fn contacts(seed: u64, n: usize) -> Vec<Contact> {
    let mut rng = Rng::new(seed, "contacts");
    let companies = companies(seed);
    let mut emails = HashSet::new();
    (0..n)
        .map(|_| person(&mut rng, &companies, &mut emails))
        .collect()
}

/// `n` leads, ids counting up from [`first_lead_counter`].
pub fn leads(seed: u64, n: usize) -> Vec<Lead> {
    let mut rng = Rng::new(seed, "leads");
    let companies = companies(seed);
    let mut emails = HashSet::new();
    let first = first_lead_counter(seed);
    (0..n)
        .map(|index| {
            let person = person(&mut rng, &companies, &mut emails);
            let engagement_score = if rng.percent(6) {
                rng.range(90, 100)
            } else {
                // The mean of two draws: most leads sit in the middle.
                (rng.range(0, 89) + rng.range(0, 89)) / 2
            } as u8;
            let status = match rng.below(100) {
                0..40 => LEAD_STATUSES[0],
                40..75 => LEAD_STATUSES[1],
                75..85 => LEAD_STATUSES[2],
                _ => LEAD_STATUSES[3],
            };
            Lead {
                id: salesforce_id(LEAD_ID_PREFIX, first + index as u64),
                name: person.name,
                email: person.email,
                phone: person.phone,
                company: person.company,
                title: person.title,
                engagement_score,
                status: status.to_owned(),
                source: (*rng.pick(words::LEAD_SOURCES)).to_owned(),
            }
        })
        .collect()
}

/// A full name (`First Last`) from the seed's stream `stream`; for speakers and chat users.
pub(crate) fn names(seed: u64, stream: &str, n: usize) -> Vec<(String, String)> {
    let mut rng = Rng::new(seed, stream);
    let mut seen = HashSet::new();
    let mut names = Vec::with_capacity(n);
    while names.len() < n {
        let first = *rng.pick(words::FIRST_NAMES);
        let last = *rng.pick(words::LAST_NAMES);
        // Distinct first names, so people can be addressed by them.
        if seen.insert(first) {
            names.push((first.to_owned(), last.to_owned()));
        }
    }
    names
}

/// A company of the seed's pool.
#[derive(Debug, Clone)]
pub(crate) struct Company {
    pub name: String,
    pub domain: String,
}

/// The seed's pool of 160 companies (so customers recur, as they do).
pub(crate) fn companies(seed: u64) -> Vec<Company> {
    let mut rng = Rng::new(seed, "companies");
    let mut seen = HashSet::new();
    let mut companies = Vec::with_capacity(160);
    while companies.len() < 160 {
        let prefix = *rng.pick(words::COMPANY_PREFIXES);
        let suffix = *rng.pick(words::COMPANY_SUFFIXES);
        if !seen.insert((prefix, suffix)) {
            continue;
        }
        let form = *rng.pick(words::COMPANY_FORMS);
        let domain = if rng.percent(70) {
            format!("{prefix}{suffix}.com")
        } else {
            format!("{prefix}-{suffix}.io")
        }
        .to_ascii_lowercase();
        companies.push(Company {
            name: format!("{prefix} {suffix}{form}"),
            domain,
        });
    }
    companies
}

fn person(rng: &mut Rng, companies: &[Company], emails: &mut HashSet<String>) -> Contact {
    let first = *rng.pick(words::FIRST_NAMES);
    let last = *rng.pick(words::LAST_NAMES);
    let company = rng.pick(companies);
    let (first_lower, last_lower) = (first.to_ascii_lowercase(), last.to_ascii_lowercase());
    let local = match rng.below(10) {
        0..6 => format!("{first_lower}.{last_lower}"),
        6..8 => format!("{}{last_lower}", &first_lower[..1]),
        8 => first_lower.clone(),
        _ => format!("{first_lower}_{last_lower}"),
    };
    let mut email = format!("{local}@{}", company.domain);
    let mut suffix = 2;
    while !emails.insert(email.clone()) {
        email = format!("{local}{suffix}@{}", company.domain);
        suffix += 1;
    }
    Contact {
        name: format!("{first} {last}"),
        email,
        phone: phone(rng),
        company: company.name.clone(),
        title: (*rng.pick(words::TITLES)).to_owned(),
    }
}

fn phone(rng: &mut Rng) -> String {
    match rng.below(100) {
        0..80 => format!(
            "+1 {} 555 {:04}",
            rng.pick(words::AREA_CODES),
            rng.range(100, 9_999)
        ),
        // Ofcom's and ACMA's ranges for fiction.
        80..92 => format!("+44 20 7946 0{:03}", rng.below(1_000)),
        _ => format!("+61 2 5550 {:04}", rng.below(10_000)),
    }
}

const DAYS_IN_MONTH_2026: [u32; 12] = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/// Month (1-12) and day of month of the zero-based `day` of 2026.
pub(crate) fn month_day(day: u32) -> (u32, u32) {
    let mut rest = day % 365;
    for (month, days) in DAYS_IN_MONTH_2026.iter().enumerate() {
        if rest < *days {
            return (month as u32 + 1, rest + 1);
        }
        rest -= days;
    }
    (12, 31)
}

/// `2026-MM-DD` of the zero-based `day` of 2026.
pub(crate) fn iso_date(day: u32) -> String {
    let (month, day) = month_day(day);
    format!("2026-{month:02}-{day:02}")
}

/// Seconds since the Unix epoch of midnight UTC on the zero-based `day` of 2026.
pub(crate) fn epoch_seconds_2026(day: u32) -> u64 {
    // 2026-01-01T00:00:00Z.
    const START_OF_2026: u64 = 1_767_225_600;
    START_OF_2026 + u64::from(day) * 86_400
}

/// The zero-based day of 2026 of a month (1-12) and day of month.
pub(crate) fn day_of_2026(month: u32, day: u32) -> u32 {
    DAYS_IN_MONTH_2026
        .iter()
        .take(month.saturating_sub(1) as usize)
        .sum::<u32>()
        + day.saturating_sub(1)
}

pub(crate) use words::MONTHS;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_data_other_seed_other_data() {
        assert_eq!(orders(42, 500), orders(42, 500));
        assert_eq!(contacts(42, 200), contacts(42, 200));
        assert_eq!(leads(42, 200), leads(42, 200));
        assert_eq!(transcript(42, 5_000), transcript(42, 5_000));
        assert_ne!(orders(42, 500), orders(43, 500));
        assert_ne!(contacts(42, 200), contacts(43, 200));
        assert_ne!(leads(42, 200), leads(43, 200));
        assert_ne!(transcript(42, 5_000), transcript(43, 5_000));
    }

    #[test]
    fn data_sets_do_not_shift_each_other() {
        // A longer orders sheet is the same people and companies.
        assert_eq!(contacts(7, 50), contacts(7, 50));
        assert_eq!(&leads(7, 100)[..50], &leads(7, 50)[..]);
        assert_eq!(&contacts(7, 100)[..50], &contacts(7, 50)[..]);
    }

    #[test]
    fn orders_have_the_promised_shape() {
        let orders = orders(42, 10_000);
        assert_eq!(orders.len(), 10_000);
        let pending = orders
            .iter()
            .filter(|order| order.status == OrderStatus::Pending)
            .count();
        assert!((1_800..=2_200).contains(&pending), "{pending} pending");
        for status in ["shipped", "delivered", "cancelled"] {
            assert!(orders.iter().any(|order| order.status.as_str() == status));
        }
        assert_eq!(orders[0].order_id, "ORD-10001");
        assert_eq!(orders[9_999].order_id, "ORD-20000");
        let mut previous = String::new();
        for order in &orders {
            assert!(order.date.starts_with("2026-") && order.date.len() == 10);
            assert!(order.date >= previous, "sorted by date");
            previous.clone_from(&order.date);
            assert_eq!((order.amount * 100.0).round() as u64, order.amount_cents);
            assert!(order.amount_cents >= 1_500);
            let text = serde_json::to_string(&order.amount).unwrap_or_default();
            let decimals = text.split('.').nth(1).map_or(0, str::len);
            assert!(decimals <= 2, "{text}");
        }
        let row = serde_json::to_value(&orders[0]).unwrap_or_default();
        let keys: Vec<&str> = row
            .as_object()
            .map(|row| row.keys().map(String::as_str).collect())
            .unwrap_or_default();
        assert_eq!(keys, ["orderId", "status", "amount", "date", "customer"]);
    }

    #[test]
    fn contacts_look_real_and_emails_are_unique() {
        let contacts = contacts(42, 1_000);
        assert_eq!(contacts.len(), 1_000);
        let emails: HashSet<&str> = contacts.iter().map(|c| c.email.as_str()).collect();
        assert_eq!(emails.len(), 1_000);
        let mut countries = HashSet::new();
        for contact in &contacts {
            assert_eq!(contact.name.split(' ').count(), 2, "{}", contact.name);
            let last = contact.name.split(' ').nth(1).unwrap_or_default();
            let (local, domain) = contact.email.split_once('@').unwrap_or_default();
            assert!(domain.contains('.'), "{}", contact.email);
            assert!(
                local.contains(&last.to_ascii_lowercase())
                    || local.starts_with(&contact.name[..1].to_ascii_lowercase()),
                "{} / {}",
                contact.name,
                contact.email
            );
            assert!(contact.phone.starts_with('+'), "{}", contact.phone);
            assert!(
                contact
                    .phone
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == ' ' || c == '+')
            );
            countries.insert(
                contact
                    .phone
                    .split(' ')
                    .next()
                    .unwrap_or_default()
                    .to_owned(),
            );
        }
        assert_eq!(countries.len(), 3, "{countries:?}");
    }

    #[test]
    fn leads_have_salesforce_ids_and_scores() {
        let leads = leads(42, 500);
        assert_eq!(leads.len(), 500);
        let ids: HashSet<&str> = leads.iter().map(|lead| lead.id.as_str()).collect();
        assert_eq!(ids.len(), 500);
        for lead in &leads {
            assert_eq!(lead.id.len(), 15, "{}", lead.id);
            assert!(lead.id.starts_with(LEAD_ID_PREFIX));
            assert!(lead.engagement_score <= 100);
            assert!(LEAD_STATUSES.contains(&lead.status.as_str()));
        }
        let engaged = leads
            .iter()
            .filter(|lead| lead.engagement_score >= 90)
            .count();
        assert!((10..=60).contains(&engaged), "{engaged} engaged leads");
        let value = serde_json::to_value(&leads[0]).unwrap_or_default();
        assert!(value.get("EngagementScore").is_some_and(|v| v.is_u64()));
        assert!(value.get("Id").is_some());
    }

    #[test]
    fn salesforce_ids_count_in_base_36() {
        assert_eq!(salesforce_id(LEAD_ID_PREFIX, 0), "00Q5f0000000000");
        assert_eq!(salesforce_id(LEAD_ID_PREFIX, 35), "00Q5f000000000Z");
        assert_eq!(salesforce_id(LEAD_ID_PREFIX, 36), "00Q5f0000000010");
        assert_eq!(salesforce_id("a0M", 1), "a0M00001");
    }

    #[test]
    fn calendar_of_2026() {
        assert_eq!(iso_date(0), "2026-01-01");
        assert_eq!(iso_date(31), "2026-02-01");
        assert_eq!(iso_date(364), "2026-12-31");
        assert_eq!(day_of_2026(12, 31), 364);
        assert_eq!(day_of_2026(3, 1), 59);
        // 2026-11-03T00:00:00Z
        assert_eq!(epoch_seconds_2026(day_of_2026(11, 3)), 1_793_664_000);
    }
}
