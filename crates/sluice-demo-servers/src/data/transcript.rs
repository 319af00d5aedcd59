//! The meeting transcript: a two-hour Q4 planning meeting, one line per utterance,
//! `[hh:mm:ss] Speaker Name: text`, built from templates and word lists.

use super::{Company, MONTHS, companies, names};
use crate::rng::Rng;

/// Bytes of transcript per o200k token, in tenths: the generator aims at
/// `tokens * TRANSCRIPT_BYTES_PER_TOKEN / 10` bytes. Measured on this generator's output with the
/// o200k tokenizer: 3.96-3.98 bytes per token for 5,000 to 200,000 tokens (the timestamps and
/// numbers cost more than plain prose).
pub const TRANSCRIPT_BYTES_PER_TOKEN: usize = 40;

/// The meeting runs from `[00:00:12]` to just before two hours.
const FIRST_SECOND: u64 = 12;
const LAST_SECOND: u64 = 2 * 3_600 - 25;

const ROLES: &[&str] = &[
    "CEO",
    "VP Sales",
    "Head of Product",
    "CFO",
    "VP Marketing",
    "VP Engineering",
    "Head of Customer Success",
];
const CEO: usize = 0;

struct Topic {
    title: &'static str,
    owner: usize,
    lines: &'static [&'static str],
}

const TOPICS: &[Topic] = &[
    Topic {
        title: "the Q3 results",
        owner: 3,
        lines: &[
            "We closed Q3 at {money} in revenue, which is {pct} percent above plan.",
            "Gross margin came in at {margin} percent, a little under where we wanted it.",
            "Operating expenses were {money}, mostly driven by {team} headcount.",
            "Cash burn was lower than forecast because {customer} paid their annual invoice early.",
            "If you strip out the one-time items, {metric} actually improved quarter over quarter.",
            "The biggest miss was in {region}, where we landed {pct} percent below target.",
            "Collections are healthy; days sales outstanding is down to {n2} days.",
            "I want to flag that the {customer} renewal slipped from Q3 into Q4, so it shows up as a miss.",
            "Net revenue retention for the quarter was {nrr} percent.",
            "We added {n2} new logos in Q3, and {n} of them are enterprise.",
            "Services revenue was flat, which is fine, but it is not a growth lever for us.",
            "The board deck will show Q3 against the original plan and against the reforecast from {month}.",
            "Deferred revenue is up {pct} percent, so Q4 starts from a better base.",
        ],
    },
    Topic {
        title: "pipeline and Q4 bookings",
        owner: 1,
        lines: &[
            "Pipeline for Q4 stands at {money}, which gives us about {ratio} times coverage against the number.",
            "{customer} is our biggest deal this quarter; they are in legal review now.",
            "We have {n} deals above {money_small} in the commit column.",
            "Win rate against our main competitor dropped to {pct2} percent in {region}.",
            "The sales cycle for mid-market is averaging {n2} days, which is longer than last year.",
            "I'm worried about {customer}; their champion just left the company.",
            "We should get {customer} to sign before {date}; procurement there freezes in December.",
            "Two reps in {region} are still ramping and won't be at full quota until {month}.",
            "If {customer} and {customer2} both close, we beat the number.",
            "Discounting is creeping up; the average discount last month was {pct} percent.",
            "The partner channel sourced {pct} percent of new pipeline, the highest it has been.",
            "I'd like approval for a Q4 incentive on multi-year deals.",
            "Our forecast call on {weekday} will have the final commit number.",
            "{customer2} wants {feature} in the contract before they expand to more teams.",
        ],
    },
    Topic {
        title: "the product roadmap",
        owner: 2,
        lines: &[
            "{feature} is on track for the {date} release.",
            "We had to cut scope on {feature} to hit the date.",
            "Customer feedback on the beta of {feature} has been mostly positive.",
            "{customer} asked for {feature} as a condition of their renewal.",
            "I'd rather ship {feature} behind a flag and learn than wait another sprint.",
            "The design review for {feature} is on {weekday}; please send comments before then.",
            "Usage of {feature} grew {pct} percent after we changed the onboarding flow.",
            "We have {n} open requests from enterprise customers that all point at {feature}.",
            "My proposal is to move {feature} to Q1 and focus the team on {feature2}.",
            "The research sessions with {customer} showed people can't find {feature} at all.",
            "We are retiring the old export in {month}; customers have been notified.",
            "Adoption is the real issue, not the length of the feature list.",
            "The roadmap review with the customer advisory board is on {date}.",
        ],
    },
    Topic {
        title: "engineering capacity and reliability",
        owner: 5,
        lines: &[
            "Uptime last quarter was 99.9{digit} percent, but the {month} incident hurt.",
            "We have {n2} engineers on the platform team and two open roles.",
            "The migration to the new database cluster is about {pct2} percent done.",
            "On-call load is too high; the {team} team got paged {n2} times last month.",
            "We need to pay down some debt in the billing service before we build {feature}.",
            "The api v2.14 release includes the rate-limit changes that {customer} asked for.",
            "Cloud spend is up {pct} percent, mostly from the analytics workloads.",
            "I'd like to reserve a fifth of every sprint for reliability work.",
            "The postmortem for the {month} outage is published; the root cause was a bad config push.",
            "Hiring senior engineers in {region} is taking about {n2} days per role.",
            "We could get {feature} out faster if we pull two people from the data team.",
            "Deploys are fully automated now; we did {big} production deploys last quarter.",
            "Page load time on the dashboard is down {pct} percent since the caching work.",
        ],
    },
    Topic {
        title: "the marketing budget",
        owner: 4,
        lines: &[
            "The Q4 budget request is {money}, with most of it going into events and paid search.",
            "The webinar series drove {big} sign-ups and about {n} qualified opportunities.",
            "Cost per lead in {region} went up {pct} percent after the auctions got more competitive.",
            "I want to run a case study with {customer}; they saw great results with {feature}.",
            "Brand search volume is up {pct} percent since the conference.",
            "We're planning a launch campaign for {feature} on {date}.",
            "Marketing-sourced pipeline was {money} in Q3.",
            "The website redesign goes live in {month}, pending legal review.",
            "Email engagement is down; we're sending too much and segmenting too little.",
            "Field marketing in {region} has been our best channel per dollar.",
            "I'd like {person} to join the customer advisory board dinner on {date}.",
            "Attribution is still messy, so take the channel numbers with a grain of salt.",
            "The analyst briefing is booked for {date}, and {customer} agreed to be a reference.",
        ],
    },
    Topic {
        title: "renewals and churn",
        owner: 6,
        lines: &[
            "Gross churn was {small_pct} percent last quarter, mostly small accounts.",
            "{customer} is at risk; usage dropped by half after their reorganization.",
            "We have {n} renewals over {money_small} coming up before {date}.",
            "Health scores flagged {big} accounts, but only a few of them are truly at risk.",
            "The onboarding changes cut time to first value from {n2} to {n} days.",
            "{customer} wants a business review with an executive sponsor before they renew.",
            "The support ticket backlog is at {big}, which is too high going into the holidays.",
            "Expansion revenue from existing customers was {money} in Q3.",
            "The main churn reason is still price, followed by missing {feature}.",
            "I'd like to offer {customer} a two-year renewal with a price lock.",
            "Customer satisfaction is at {csat} percent, steady for three quarters.",
            "We should reach out to every account that hasn't logged in for {n2} days.",
            "{customer2} expanded by {n2} seats last month without any sales involvement.",
        ],
    },
    Topic {
        title: "the hiring plan",
        owner: CEO,
        lines: &[
            "The plan has us adding {n2} people by the end of the year.",
            "The {team} team gets priority for the next {n} hires.",
            "Time to hire is averaging {n2} days, and offer acceptance is {pct2} percent.",
            "I'd like to open a second hub in {region} next year.",
            "We should backfill the {team} lead role before we add net new headcount.",
            "Contractors are a good bridge for {feature}, but not for the long term.",
            "Compensation bands are being refreshed in {month}.",
            "The referral bonus brought in {n} hires this quarter.",
            "Let's not hire ahead of the revenue; we can revisit in {month}.",
            "Every manager should send their Q1 hiring plan to {person} by {date}.",
            "Interview load on engineering is heavy; {person} is doing {n} interviews a week.",
            "Onboarding for new hires takes too long; it should be two weeks, not six.",
        ],
    },
    Topic {
        title: "pricing and packaging",
        owner: 2,
        lines: &[
            "The current price list hasn't changed in {n2} months.",
            "Usage-based pricing would help small teams but could hurt our enterprise deals.",
            "{customer} told us the per-seat model is the main blocker for a wider rollout.",
            "I'd propose raising list price by {pct} percent for new customers only.",
            "We should bundle {feature} into the enterprise tier instead of selling it as an add-on.",
            "Competitors are discounting heavily in {region}.",
            "A free tier would increase sign-ups, but I'm not sure it would increase revenue.",
            "Any price change needs a {n}-month notice period for existing contracts.",
            "Finance modeled three scenarios; the middle one is about {money} of upside next year.",
            "Let's test the new packaging with {n} friendly customers before we announce it.",
            "Sales needs a simple answer to the question of what is in each tier.",
            "The add-on for {feature} sold to {n2} customers in its first quarter.",
        ],
    },
];

const GENERIC: &[&str] = &[
    "Can you say more about that, {person}?",
    "That matches what I'm hearing from customers.",
    "I'd push back a little on that.",
    "What's the confidence level on that number?",
    "Do we have data to back that up?",
    "Let's take the details offline.",
    "I can follow up on that after the meeting.",
    "Plus one to what {person} said.",
    "That's a fair point.",
    "We talked about this in {month} and didn't decide anything, so let's decide today.",
    "I'll put it in the notes.",
    "How does that compare to last year?",
    "I'm not sure we have the capacity for that this quarter.",
    "Let's make sure the {team} team is in the loop.",
    "The risk is that we spread ourselves too thin.",
    "I think we're aligned on the direction; the question is timing.",
    "Can we get a number on that by {weekday}?",
    "Who owns that?",
    "I'll sync with {person} on {weekday}.",
    "That's a good question.",
    "Let me pull up the dashboard.",
    "Sorry, you cut out for a second there.",
    "We should write that down as a decision.",
    "I don't want to lose the thread on {metric}.",
    "Honestly, I think that's one of the most important things we'll discuss today.",
    "That depends on what happens with {customer}.",
    "We tried something similar in {region} last year and it didn't stick.",
    "{person}, does that work for your team?",
    "Let's look at {metric} before we commit to anything.",
    "I want to be careful not to overpromise here.",
];

const REACTIONS: &[&str] = &[
    "Agreed.",
    "Makes sense.",
    "Yeah.",
    "Sounds good.",
    "Okay.",
    "Got it.",
    "Right.",
    "Exactly.",
    "Sure.",
    "Good point.",
    "Yes, that's right.",
    "Mm-hmm.",
];

const OPENERS: &[&str] = &[
    "So, ",
    "Yeah, ",
    "Okay, ",
    "Right, ",
    "I think ",
    "Honestly, ",
    "Just to add, ",
    "To be fair, ",
    "Well, ",
    "And ",
];

const TRANSITIONS: &[&str] = &[
    "Okay, let's move on to {title}. {owner}, over to you.",
    "Next on the agenda is {title}. {owner}, do you want to kick us off?",
    "Good. Let's switch to {title}; {owner}, you have the floor.",
    "Alright, {title}. {owner}, what's the headline?",
    "Let's keep moving. Next up: {title}. {owner}?",
];

const RETURNS: &[&str] = &[
    "I want to come back to {title} for a few minutes. {owner}, anything we missed?",
    "Let's circle back to {title} before we run out of time. {owner}?",
    "One more pass on {title}, because I don't think we landed it. {owner}, go ahead.",
];

const WRAP_UPS: &[&str] = &[
    "Okay, good discussion. {owner}, can you write up the decision on {title} and share it by {weekday}?",
    "Let's park the rest of {title} and pick it up in the weekly.",
    "So the decision is to keep the plan as it is and revisit {title} in {month}.",
    "Great. I think we have what we need on {title}.",
    "Thanks, {owner}. Let's capture the open questions on {title} in the doc.",
];

const TASKS: &[&str] = &[
    "send the revised Q4 forecast",
    "share the pricing scenarios",
    "set up the business review with {customer}",
    "publish the reliability roadmap",
    "finalize the Q4 campaign budget",
    "circulate the updated hiring plan",
    "follow up with {customer} on the renewal",
    "write up the decision log",
    "update the board deck",
    "book the launch review for {feature}",
];

const TEAMS: &[&str] = &[
    "sales",
    "marketing",
    "support",
    "platform",
    "data",
    "design",
    "finance",
    "partnerships",
    "security",
    "solutions",
];

const REGIONS: &[&str] = &[
    "EMEA",
    "APAC",
    "North America",
    "Latin America",
    "the Nordics",
    "DACH",
    "the UK",
    "Japan",
];

const FEATURES: &[&str] = &[
    "the new billing portal",
    "single sign-on for mid-market",
    "the analytics dashboard",
    "usage-based billing",
    "the mobile app",
    "audit logs",
    "the CRM sync",
    "bulk export",
    "the workflow builder",
    "the onboarding wizard",
    "data residency in the EU",
    "the public API",
    "role-based access control",
    "the AI assistant",
];

const METRICS: &[&str] = &[
    "pipeline coverage",
    "net revenue retention",
    "win rate",
    "average deal size",
    "time to first value",
    "gross margin",
    "payback period",
    "the ticket backlog",
    "activation rate",
    "weekly active users",
];

const WEEKDAYS: &[&str] = &["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"];

const MONEY_SMALL: &[&str] = &["$50k", "$75k", "$100k", "$150k", "$250k"];

struct Context {
    rng: Rng,
    speakers: Vec<String>,
    first_names: Vec<String>,
    companies: Vec<Company>,
}

impl Context {
    /// Fill the `{slot}`s of `template`; `speaker` is who says it (never addressed by name).
    fn fill(&mut self, template: &str, speaker: usize, topic: Option<&Topic>) -> String {
        let mut out = String::with_capacity(template.len() + 32);
        let mut rest = template;
        while let Some(start) = rest.find('{') {
            out.push_str(&rest[..start]);
            let after = &rest[start + 1..];
            let Some(end) = after.find('}') else {
                out.push_str(&rest[start..]);
                return out;
            };
            let slot = &after[..end];
            let value = self.slot(slot, speaker, topic);
            out.push_str(&value);
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        out
    }

    fn slot(&mut self, slot: &str, speaker: usize, topic: Option<&Topic>) -> String {
        let rng = &mut self.rng;
        match slot {
            "n" => rng.range(2, 12).to_string(),
            "n2" => rng.range(14, 60).to_string(),
            "big" => rng.range(40, 900).to_string(),
            "pct" => rng.range(3, 35).to_string(),
            "pct2" => rng.range(40, 95).to_string(),
            "margin" => rng.range(60, 82).to_string(),
            "nrr" => rng.range(96, 125).to_string(),
            "csat" => rng.range(86, 96).to_string(),
            "digit" => rng.range(1, 9).to_string(),
            "ratio" => format!("{}.{}", rng.range(2, 3), rng.range(0, 9)),
            "small_pct" => format!("{}.{}", rng.range(1, 6), rng.range(0, 9)),
            "money" => {
                if rng.percent(50) {
                    format!("${}.{} million", rng.range(1, 9), rng.range(1, 9))
                } else {
                    format!("${}k", rng.range(12, 95) * 10)
                }
            }
            "money_small" => (*rng.pick(MONEY_SMALL)).to_owned(),
            "month" => (*rng.pick(&MONTHS[8..])).to_owned(),
            "date" => {
                let month = MONTHS[9 + rng.index(3)];
                format!("{month} {}", ordinal(rng.range(1, 28)))
            }
            "weekday" => (*rng.pick(WEEKDAYS)).to_owned(),
            "team" => (*rng.pick(TEAMS)).to_owned(),
            "region" => (*rng.pick(REGIONS)).to_owned(),
            "feature" | "feature2" => (*rng.pick(FEATURES)).to_owned(),
            "metric" => (*rng.pick(METRICS)).to_owned(),
            "customer" | "customer2" => {
                let company = rng.pick(&self.companies);
                company.name.clone()
            }
            "person" => {
                let mut other = rng.index(self.first_names.len());
                if other == speaker {
                    other = (other + 1) % self.first_names.len();
                }
                self.first_names[other].clone()
            }
            "title" => topic.map_or("", |topic| topic.title).to_owned(),
            "owner" => topic
                .map(|topic| self.first_names[topic.owner].clone())
                .unwrap_or_default(),
            other => other.to_owned(),
        }
    }

    /// A speaker other than `not`, weighted towards the topic's owner.
    fn next_speaker(&mut self, topic: &Topic, not: usize) -> usize {
        let count = self.speakers.len();
        let pick = match self.rng.below(100) {
            0..38 => topic.owner,
            38..52 => CEO,
            _ => self.rng.index(count),
        };
        if pick == not {
            (pick + 1 + self.rng.index(count - 1)) % count
        } else {
            pick
        }
    }

    /// One utterance of `speaker` about `topic`: a reaction, or one to four sentences.
    /// After a short reaction, the next utterance is never another one.
    fn utterance(&mut self, speaker: usize, topic: &Topic, after_reaction: bool) -> String {
        if !after_reaction && self.rng.percent(14) {
            return (*self.rng.pick(REACTIONS)).to_owned();
        }
        let sentences = match self.rng.below(100) {
            0..30 => 1,
            30..70 => 2,
            70..92 => 3,
            _ => 4,
        };
        let mut text = String::new();
        let mut used: Vec<&str> = Vec::with_capacity(sentences);
        for index in 0..sentences {
            // Never the same template twice in one utterance.
            let template = loop {
                let template = if self.rng.percent(68) {
                    *self.rng.pick(topic.lines)
                } else {
                    *self.rng.pick(GENERIC)
                };
                if !used.contains(&template) {
                    break template;
                }
            };
            used.push(template);
            let mut sentence = self.fill(template, speaker, Some(topic));
            if index == 0 && self.rng.percent(30) && lowercase_ok(template) {
                let opener = *self.rng.pick(OPENERS);
                sentence = format!("{opener}{}", lowercase_first(&sentence));
            }
            if !text.is_empty() {
                text.push(' ');
            }
            text.push_str(&sentence);
        }
        text
    }
}

/// The transcript of the seed, about `tokens` o200k tokens long (at least the opening and the
/// action items). Lines are `[hh:mm:ss] Speaker Name: text`, from `[00:00:12]` to just before
/// `[02:00:00]`.
pub fn transcript(seed: u64, tokens: usize) -> String {
    let target = tokens.saturating_mul(TRANSCRIPT_BYTES_PER_TOKEN) / 10;
    let names = names(seed, "speakers", ROLES.len());
    let mut context = Context {
        rng: Rng::new(seed, "transcript"),
        speakers: names
            .iter()
            .map(|(first, last)| format!("{first} {last}"))
            .collect(),
        first_names: names.iter().map(|(first, _)| first.clone()).collect(),
        companies: companies(seed),
    };
    let mut lines: Vec<(usize, String)> = Vec::new();

    // Opening.
    let agenda: Vec<&str> = TOPICS.iter().map(|topic| topic.title).collect();
    lines.push((
        CEO,
        "Okay, let's get started. Thanks everyone for making the time. This is the Q4 planning \
         session; we have two hours and a full agenda."
            .to_owned(),
    ));
    lines.push((
        CEO,
        format!(
            "Quick round of introductions for the recording: {}.",
            context
                .speakers
                .iter()
                .zip(ROLES)
                .map(|(name, role)| format!("{name}, {role}"))
                .collect::<Vec<_>>()
                .join("; ")
        ),
    ));
    lines.push((
        CEO,
        format!(
            "The agenda: {}. We'll finish with action items.",
            agenda.join(", ")
        ),
    ));

    // The action items, generated first so the body knows how much room it has.
    let mut closing: Vec<(usize, String)> = vec![(
        CEO,
        "We're almost at time, so let's go through the action items.".to_owned(),
    )];
    let mut tasks: Vec<&str> = TASKS.to_vec();
    for speaker in 1..ROLES.len() {
        // Each person takes a different task.
        let task = tasks.swap_remove(context.rng.index(tasks.len()));
        let task = context.fill(task, speaker, None);
        let date = context.fill("{date}", speaker, None);
        closing.push((speaker, format!("I'll {task} by {date}.")));
    }
    closing.push((
        CEO,
        "Thanks, everyone. Good session. I'll send the notes and the recording link after this."
            .to_owned(),
    ));

    let line_bytes = |(speaker, text): &(usize, String), speakers: &[String]| -> usize {
        "[00:00:00] ".len() + speakers[*speaker].len() + 2 + text.len() + 1
    };
    let fixed: usize = lines
        .iter()
        .chain(&closing)
        .map(|line| line_bytes(line, &context.speakers))
        .sum();
    let mut size = fixed;
    let mut round = 0;
    'sections: while size < target {
        for topic in TOPICS {
            if size >= target {
                break 'sections;
            }
            let templates = if round == 0 { TRANSITIONS } else { RETURNS };
            let transition = *context.rng.pick(templates);
            let transition = context.fill(transition, CEO, Some(topic));
            let line = (CEO, transition);
            size += line_bytes(&line, &context.speakers);
            lines.push(line);
            let mut speaker = topic.owner;
            let exchanges = context.rng.range(10, 28);
            let mut after_reaction = false;
            for _ in 0..exchanges {
                let text = context.utterance(speaker, topic, after_reaction);
                after_reaction = REACTIONS.contains(&text.as_str());
                let line = (speaker, text);
                size += line_bytes(&line, &context.speakers);
                lines.push(line);
                if size >= target {
                    break 'sections;
                }
                speaker = context.next_speaker(topic, speaker);
            }
            let wrap_up = *context.rng.pick(WRAP_UPS);
            let wrap_up = context.fill(wrap_up, CEO, Some(topic));
            let line = (CEO, wrap_up);
            size += line_bytes(&line, &context.speakers);
            lines.push(line);
        }
        round += 1;
    }
    lines.extend(closing);

    // Spread the lines over two hours in proportion to how long they take to say.
    let total = lines
        .iter()
        .map(|line| line_bytes(line, &context.speakers))
        .sum::<usize>()
        .max(1) as u64;
    let mut out = String::with_capacity(total as usize);
    let mut before = 0u64;
    let mut previous = None;
    for line in &lines {
        let mut second = FIRST_SECOND + before * (LAST_SECOND - FIRST_SECOND) / total;
        if let Some(previous) = previous
            && second <= previous
        {
            second = previous + 1;
        }
        previous = Some(second);
        before += line_bytes(line, &context.speakers) as u64;
        let (speaker, text) = line;
        out.push_str(&format!(
            "[{:02}:{:02}:{:02}] {}: {}\n",
            second / 3_600,
            second / 60 % 60,
            second % 60,
            context.speakers[*speaker],
            text
        ));
    }
    out
}

fn ordinal(day: u64) -> String {
    let suffix = match (day % 10, day % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{day}{suffix}")
}

/// Whether a sentence from `template` may start in lower case after an opener: not a question,
/// and not when it starts with a name, an acronym or "I".
fn lowercase_ok(template: &str) -> bool {
    let first_word = template.split([' ', '\'', ',', ';']).next().unwrap_or("");
    !template.starts_with('{')
        && !template.ends_with('?')
        && first_word != "I"
        && first_word.len() > 1
        && !first_word
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        && !first_word.chars().skip(1).any(|c| c.is_ascii_uppercase())
}

fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_lowercase().chain(chars).collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_hours_of_timestamped_lines() {
        let text = transcript(42, 50_000);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.len() > 500, "{} lines", lines.len());
        assert!(lines[0].starts_with("[00:00:12] "), "{}", lines[0]);
        let last = lines[lines.len() - 1];
        assert!(last.starts_with("[01:5"), "{last}");
        let mut previous = String::new();
        let mut speakers = std::collections::HashSet::new();
        for line in &lines {
            assert_eq!(&line[0..1], "[");
            assert_eq!(&line[9..11], "] ");
            let stamp = &line[1..9];
            assert!(stamp > previous.as_str(), "{stamp} after {previous}");
            previous = stamp.to_owned();
            let (speaker, said) = line[11..].split_once(": ").unwrap_or_default();
            assert!(!said.is_empty(), "{line}");
            speakers.insert(speaker.to_owned());
            assert!(!line.contains('{') && !line.contains('}'), "{line}");
            assert!(line.is_ascii(), "{line}");
        }
        assert_eq!(speakers.len(), ROLES.len());
    }

    #[test]
    fn size_follows_the_token_target() {
        for tokens in [5_000, 50_000, 200_000] {
            let bytes = transcript(42, tokens).len();
            let target = tokens * TRANSCRIPT_BYTES_PER_TOKEN / 10;
            assert!(
                bytes >= target && bytes < target + 2_000,
                "{tokens} tokens: {bytes} bytes for target {target}"
            );
        }
        // Tiny targets still give a whole meeting: opening and action items.
        let tiny = transcript(42, 0);
        assert!(tiny.contains("action items"));
        assert!(tiny.lines().count() >= 10);
    }

    #[test]
    fn sentences_vary() {
        let text = transcript(42, 50_000);
        let lines: std::collections::HashSet<&str> = text.lines().map(|line| &line[11..]).collect();
        // Mostly distinct utterances (short reactions repeat, as they do).
        assert!(lines.len() * 10 > text.lines().count() * 8);
    }

    #[test]
    fn ordinals() {
        let got: Vec<String> = [1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 28]
            .into_iter()
            .map(ordinal)
            .collect();
        assert_eq!(
            got,
            [
                "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "23rd", "28th"
            ]
        );
    }
}
