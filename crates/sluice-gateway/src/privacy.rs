//! Personal data on the tool-call path (see [`sluice_pii`]): tool results are tokenized before the
//! worker sees them, tokens in arguments are replaced by real values only where the flow policy
//! allows, and what an execution returns to the agent is scanned once more.
//!
//! Values the code puts in clear text into a call's arguments come back in results as it sent them,
//! never as the token of a value it holds only as a token (see [`sluice_pii::Vault`]'s threat
//! model); how many distinct ones it may send per vault is bounded
//! (`sluice.privacy.maxClearValues`), and a call over it fails with the `ToolError` kind
//! `privacy_budget` ([`ToolErrorKind::PrivacyBudget`]), audited. A trusted server's results reach the code as they are, but their
//! values are registered, so what reaches the model and the audit log is scanned the same way.
//!
//! Every release of a real value is an audit event (type, token, source, destination; never the
//! value): logged with `tracing` under the target `sluice::audit`, kept for the execution's audit
//! records, and counted in the execution's stats.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use serde_json::Value;
use sluice_config::PrivacySettings;
use sluice_pii::{
    DetectorConfig, Endpoint, FlowRule, Origin, PiiType, Policy, Supplied, Tokenizer, ToolRef,
    TypeSet, Vault,
};
use sluice_worker_protocol::{ToolErrorKind, ToolOutcome};

/// A vault shared by the tasks of an execution: one per execution ([`new_vault`]), or one per
/// session, kept by its [`Client`](crate::Client) across the session's executions.
pub(crate) type SharedVault = Arc<Mutex<Vault>>;

/// Detectors and policy, built once from the settings.
pub(crate) struct Privacy {
    tokenizer: Tokenizer,
    policy: Policy,
    trusted: BTreeSet<String>,
    max_clear_values: usize,
}

/// Whether personal data is tokenized, and with what.
pub(crate) enum PrivacyState {
    /// `sluice.privacy.enabled` is false.
    Off,
    On(Arc<Privacy>),
    /// The detectors could not be built: executions fail rather than leak.
    Broken(String),
}

/// The scan of text the model reads outside any execution (a workspace or skill file, a file
/// name, a skill's description, an error about them): the same detectors as an execution's
/// output, in a vault of its own, whose tokens resolve nowhere.
pub(crate) struct ViewScan {
    privacy: Option<Arc<Privacy>>,
    vault: Vault,
}

impl ViewScan {
    /// `text` with its personal data tokenized (as it is when privacy is off).
    pub(crate) fn text(&mut self, text: &str) -> String {
        match &self.privacy {
            Some(privacy) => {
                // As a JSON string: a `.json` file's names are found by field.
                let mut value = Value::String(text.to_owned());
                privacy.tokenizer.tokenize_value(
                    &mut self.vault,
                    &mut value,
                    &Origin::Unattributed,
                );
                match value {
                    Value::String(text) => text,
                    other => other.to_string(),
                }
            }
            None => text.to_owned(),
        }
    }
}

impl PrivacyState {
    /// A scan for one view; `Err` with the problem when the detectors could not be built (the
    /// view must not be shown unscanned).
    pub(crate) fn view_scan(&self) -> Result<ViewScan, String> {
        let privacy = match self {
            PrivacyState::On(privacy) => Some(privacy.clone()),
            PrivacyState::Off => None,
            PrivacyState::Broken(problem) => return Err(problem.clone()),
        };
        Ok(ViewScan {
            privacy,
            vault: Vault::with_tag(&random_tag()).unwrap_or_default(),
        })
    }

    pub(crate) fn from_settings(settings: &PrivacySettings) -> PrivacyState {
        if !settings.enabled {
            return PrivacyState::Off;
        }
        let detect = &settings.detect;
        let types: TypeSet = [
            (detect.email, PiiType::Email),
            (detect.phone, PiiType::Phone),
            (detect.card, PiiType::Card),
            (detect.iban, PiiType::Iban),
            (detect.ssn, PiiType::Ssn),
            (detect.ip, PiiType::Ip),
            (detect.name, PiiType::Name),
        ]
        .into_iter()
        .filter(|(on, _)| *on)
        .map(|(_, kind)| kind)
        .collect();
        let phone_regions = settings
            .phone_regions
            .iter()
            .filter(|region| {
                let known = sluice_pii::is_phone_region(&region.to_ascii_uppercase());
                if !known {
                    tracing::warn!(
                        "sluice.privacy.phoneRegions: unknown region \"{region}\" ignored"
                    );
                }
                known
            })
            .cloned()
            .collect();
        let config = DetectorConfig {
            types,
            phone_regions,
            name_fields: settings.name_fields.clone(),
            private_ips: settings.private_ips,
        };
        let tokenizer = match Tokenizer::new(&config) {
            Ok(tokenizer) => tokenizer,
            Err(error) => return PrivacyState::Broken(error.to_string()),
        };
        let rules = settings
            .flows
            .iter()
            .map(|rule| FlowRule {
                types: rule
                    .types
                    .as_ref()
                    .map(|types| types.iter().copied().collect()),
                from: Endpoint::new(rule.from.clone()),
                to: Endpoint::new(rule.to.clone()),
                allow: rule.allow,
            })
            .collect();
        PrivacyState::On(Arc::new(Privacy {
            tokenizer,
            policy: Policy::new(rules),
            trusted: settings.trusted_servers.iter().cloned().collect(),
            max_clear_values: settings.max_clear_values,
        }))
    }

    /// Load the phone metadata off the async threads, so the first call does not pay for it.
    pub(crate) fn warm_up(&self) {
        if let PrivacyState::On(privacy) = self {
            let privacy = privacy.clone();
            tokio::task::spawn_blocking(move || privacy.tokenizer.detector().warm_up());
        }
    }
}

/// A vault tag: 4 characters of a 32-letter alphabet, from the process's random hasher keys.
pub(crate) fn random_tag() -> String {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    const ALPHABET: &[u8; 32] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    if let Ok(elapsed) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        hasher.write_u128(elapsed.as_nanos());
    }
    let mut bits = hasher.finish();
    (0..4)
        .map(|_| {
            let c = ALPHABET[(bits % 32) as usize] as char;
            bits /= 32;
            c
        })
        .collect()
}

/// A new vault with a random tag: tokens of other vaults never resolve in it.
pub(crate) fn new_vault() -> SharedVault {
    let vault = Vault::with_tag(&random_tag()).unwrap_or_default();
    Arc::new(Mutex::new(vault))
}

/// Privacy for one execution: the shared detectors and policy, its vault, its counters.
pub(crate) struct ExecutionPrivacy {
    privacy: Arc<Privacy>,
    vault: SharedVault,
    tokenized: AtomicU64,
    untokenized: AtomicU64,
    denied: AtomicU64,
    nanos: AtomicU64,
    /// Every release of this execution (kind, source, destination), for the audit log.
    releases: Mutex<Vec<ReleaseEvent>>,
}

/// One personal-data value released into a tool call's arguments (never the value).
#[derive(Debug, Clone)]
pub(crate) struct ReleaseEvent {
    pub kind: sluice_pii::PiiType,
    pub source: String,
    pub destination: String,
}

/// Why a call's arguments were not released.
enum Refusal {
    /// Over the budget of values in clear: how many there would be.
    Budget(usize),
    /// The flow policy said no.
    Denied(sluice_pii::FlowDenied),
}

/// What [`ExecutionPrivacy`] counted.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PrivacyCounts {
    pub tokenized: u64,
    pub untokenized: u64,
    pub denied: u64,
    pub micros: u64,
}

impl ExecutionPrivacy {
    pub(crate) fn new(privacy: Arc<Privacy>, vault: SharedVault) -> ExecutionPrivacy {
        ExecutionPrivacy {
            privacy,
            vault,
            tokenized: AtomicU64::new(0),
            untokenized: AtomicU64::new(0),
            denied: AtomicU64::new(0),
            nanos: AtomicU64::new(0),
            releases: Mutex::new(Vec::new()),
        }
    }

    /// The releases so far, taken out.
    pub(crate) fn take_releases(&self) -> Vec<ReleaseEvent> {
        std::mem::take(&mut *self.releases.lock().unwrap_or_else(PoisonError::into_inner))
    }

    pub(crate) fn counts(&self) -> PrivacyCounts {
        PrivacyCounts {
            tokenized: self.tokenized.load(Ordering::Relaxed),
            untokenized: self.untokenized.load(Ordering::Relaxed),
            denied: self.denied.load(Ordering::Relaxed),
            micros: self.nanos.load(Ordering::Relaxed) / 1_000,
        }
    }

    fn timed<T>(&self, work: impl FnOnce(&mut Vault) -> T) -> T {
        let started = Instant::now();
        let result = {
            let mut vault = self.vault.lock().unwrap_or_else(PoisonError::into_inner);
            work(&mut vault)
        };
        self.nanos
            .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        result
    }

    /// Replace tokens in a call's arguments by the real values the policy lets go to
    /// `server.tool`; a denied flow becomes a `policy_denied` tool error and the call is not made.
    /// Also returns the values the code put into the arguments in clear (see
    /// [`protect_outcome`](Self::protect_outcome)); a call that would take the execution over its
    /// budget of such values fails with `privacy_budget` ([`ToolErrorKind::PrivacyBudget`]).
    // The error is what the worker receives, built once per denied call.
    #[allow(clippy::result_large_err)]
    pub(crate) fn release(
        &self,
        server: &str,
        tool: &str,
        mut arguments: Value,
    ) -> Result<(Value, Supplied), ToolOutcome> {
        let destination = ToolRef::new(server, tool);
        let privacy = &self.privacy;
        let outcome = self.timed(|vault| {
            let supplied = privacy.tokenizer.supplied(vault, &arguments);
            let count = vault.supplied_count_with(&supplied);
            if count > privacy.max_clear_values {
                return Err(Refusal::Budget(count));
            }
            let releases = privacy
                .tokenizer
                .untokenize_value(
                    vault,
                    &mut arguments,
                    &destination,
                    &mut |kind, origin, destination| {
                        privacy.policy.allows(kind, origin, destination)
                    },
                )
                .map_err(Refusal::Denied)?;
            vault.record_supplied(server, &supplied);
            for release in &releases {
                vault.link(&release.token, server);
            }
            Ok((releases, supplied))
        });
        match outcome {
            Ok((releases, supplied)) => {
                for release in &releases {
                    tracing::info!(
                        target: "sluice::audit",
                        event = "pii_released",
                        kind = %release.kind,
                        token = %release.token,
                        source = %release.origin,
                        destination = %release.destination,
                        "personal data released to a tool"
                    );
                }
                self.releases
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .extend(releases.iter().map(|release| ReleaseEvent {
                        kind: release.kind,
                        source: release.origin.to_string(),
                        destination: release.destination.to_string(),
                    }));
                self.untokenized
                    .fetch_add(releases.len() as u64, Ordering::Relaxed);
                Ok((arguments, supplied))
            }
            Err(Refusal::Budget(count)) => {
                tracing::warn!(
                    target: "sluice::audit",
                    event = "pii_clear_budget",
                    destination = %destination,
                    values = count,
                    limit = privacy.max_clear_values,
                    "a call with too many personal-data values in clear text refused"
                );
                self.denied.fetch_add(1, Ordering::Relaxed);
                Err(ToolOutcome::failure(
                    ToolErrorKind::PrivacyBudget,
                    format!(
                        "this call would take the execution to {count} different personal-data \
                         values sent in clear text, over the limit of {} \
                         (sluice.privacy.maxClearValues); the call was not made. Pass values as \
                         the tokens tool results gave you rather than as text",
                        privacy.max_clear_values
                    ),
                    false,
                ))
            }
            Err(Refusal::Denied(denied)) => {
                let sources: Vec<String> = denied.origins.iter().map(ToString::to_string).collect();
                tracing::warn!(
                    target: "sluice::audit",
                    event = "pii_flow_denied",
                    kind = %denied.kind,
                    token = %denied.token,
                    source = %sources.join(","),
                    destination = %denied.destination,
                    "personal data kept from a tool by the flow policy"
                );
                self.denied.fetch_add(1, Ordering::Relaxed);
                Err(ToolOutcome::failure(
                    ToolErrorKind::PolicyDenied,
                    denied.to_string(),
                    false,
                ))
            }
        }
    }

    /// Tokenize what the worker will receive for a call. `from_tool`: the outcome is the tool's
    /// (its result or its error, including transport errors that quote it), for arguments that
    /// held `supplied` in clear; else it is the gateway's own message about the call (the code
    /// namespace). A trusted server's outcomes pass as they are, their values registered so the
    /// model-visible scan and the audit log find them as the result path would.
    pub(crate) fn protect_outcome(
        &self,
        server: &str,
        tool: &str,
        outcome: ToolOutcome,
        from_tool: Option<&Supplied>,
    ) -> ToolOutcome {
        let tokenizer = &self.privacy.tokenizer;
        let source = ToolRef::new(server, tool);
        if from_tool.is_some() && self.privacy.trusted.contains(server) {
            self.timed(|vault| match &outcome {
                ToolOutcome::Ok { value } => {
                    tokenizer.register_trusted(vault, value, &source);
                }
                ToolOutcome::Error {
                    message, content, ..
                } => {
                    tokenizer.register_trusted_text(vault, message, &source);
                    if let Some(content) = content {
                        tokenizer.register_trusted(vault, content, &source);
                    }
                }
            });
            return outcome;
        }
        let (outcome, count) = self.timed(|vault| {
            let mut value_of = |value: &mut Value| match from_tool {
                Some(supplied) => tokenizer.tokenize_result(vault, value, &source, supplied),
                None => tokenizer.tokenize_value(vault, value, &Origin::Unattributed),
            };
            match outcome {
                ToolOutcome::Ok { mut value } => {
                    let count = value_of(&mut value);
                    (ToolOutcome::Ok { value }, count)
                }
                ToolOutcome::Error {
                    kind,
                    message,
                    mut content,
                    retryable,
                } => {
                    let mut message = Value::String(message);
                    let mut count = value_of(&mut message);
                    if let Some(content) = &mut content {
                        count += value_of(content);
                    }
                    let message = match message {
                        Value::String(message) => message,
                        other => other.to_string(),
                    };
                    (
                        ToolOutcome::Error {
                            kind,
                            message,
                            content,
                            retryable,
                        },
                        count,
                    )
                }
            }
        });
        self.tokenized.fetch_add(count as u64, Ordering::Relaxed);
        outcome
    }

    /// The text of a call's error for the audit log, scanned as what reaches the model is.
    pub(crate) fn audit_text(&self, text: &str) -> String {
        let tokenizer = &self.privacy.tokenizer;
        self.timed(|vault| {
            tokenizer
                .tokenize_text(vault, text, &Origin::Unattributed)
                .text
                .into_owned()
        })
    }

    /// Tokenize text the execution returns to the agent (its output, an error message).
    pub(crate) fn protect_text(&self, text: String) -> String {
        let tokenizer = &self.privacy.tokenizer;
        let (replaced, count) = self.timed(|vault| {
            let tokenized = tokenizer.tokenize_text(vault, &text, &Origin::Unattributed);
            match tokenized.text {
                Cow::Borrowed(_) => (None, 0),
                Cow::Owned(replaced) => (Some(replaced), tokenized.count),
            }
        });
        self.tokenized.fetch_add(count as u64, Ordering::Relaxed);
        replaced.unwrap_or(text)
    }

    /// Tokenize the value the execution returns to the agent.
    pub(crate) fn protect_value(&self, mut value: Value) -> Value {
        let tokenizer = &self.privacy.tokenizer;
        let count =
            self.timed(|vault| tokenizer.tokenize_value(vault, &mut value, &Origin::Unattributed));
        self.tokenized.fetch_add(count as u64, Ordering::Relaxed);
        value
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn execution() -> ExecutionPrivacy {
        let PrivacyState::On(privacy) = PrivacyState::from_settings(&PrivacySettings::default())
        else {
            panic!("privacy is on by default");
        };
        ExecutionPrivacy::new(privacy, new_vault())
    }

    /// Records as failing tools repeat them in their errors: JSON after a sentence, a
    /// Python-style dict, `key=value` pairs; values that only their field identifies (a name,
    /// an SSN without dashes, a bare phone number) among them.
    const RECORDS: &str = "import failed for 2 records: [{\"name\": \"Ada Lovelace\", \"ssn\": \"536221234\", \
         \"tel\": \"2125550143\", \"email\": \"ada@example.com\"}, {\"full_name\": \"Grace Hopper\", \
         \"national_id\": \"536221235\", \"mobile\": \"020 7946 0958\"}]\n\
         retrying {'cardholder_name': 'Alan Turing', 'tax_id': '536221236', 'ip': '81.2.69.160'}\n\
         last error: signed_by=\"Katherine Johnson\" phone=+44 20 7946 0959 ssn=536-22-1237";

    const RAW: [&str; 14] = [
        "Ada Lovelace",
        "536221234",
        "2125550143",
        "ada@example.com",
        "Grace Hopper",
        "536221235",
        "020 7946 0958",
        "Alan Turing",
        "536221236",
        "81.2.69.160",
        "Katherine Johnson",
        "+44 20 7946 0959",
        "536-22-1237",
        "Lovelace",
    ];

    #[test]
    fn a_tool_error_repeating_records_reaches_the_code_without_a_raw_value() {
        let execution = execution();
        let outcome = ToolOutcome::Error {
            kind: ToolErrorKind::Tool,
            message: RECORDS.to_owned(),
            content: Some(json!([{"type": "text", "text": RECORDS}])),
            retryable: false,
        };
        let protected =
            execution.protect_outcome("crm", "import", outcome, Some(&Supplied::none()));
        let ToolOutcome::Error {
            message, content, ..
        } = protected
        else {
            panic!("still an error");
        };
        let content = content
            .map(|content| content.to_string())
            .unwrap_or_default();
        for raw in RAW {
            assert!(!message.contains(raw), "{raw} in {message}");
            assert!(!content.contains(raw), "{raw} in {content}");
        }
        assert!(message.contains("[NAME_"), "{message}");
        assert!(message.contains("[SSN_"), "{message}");
        // What the execution itself reports (its output, its error) is scanned as strongly.
        let fresh = super::tests::execution();
        let output = fresh.protect_text(RECORDS.to_owned());
        for raw in RAW {
            assert!(!output.contains(raw), "{raw} in {output}");
        }
        let value = fresh.protect_value(json!({"error": RECORDS}));
        for raw in RAW {
            assert!(!value.to_string().contains(raw), "{raw} in {value}");
        }
    }

    #[test]
    fn local_addresses_stay_readable_unless_configured() {
        let execution = execution();
        let text = execution.protect_text("connect to 127.0.0.1:8080 via 10.1.2.3".to_owned());
        assert_eq!(text, "connect to 127.0.0.1:8080 via 10.1.2.3");
        let settings = PrivacySettings {
            private_ips: true,
            ..PrivacySettings::default()
        };
        let PrivacyState::On(privacy) = PrivacyState::from_settings(&settings) else {
            panic!("privacy is on");
        };
        let wide = ExecutionPrivacy::new(privacy, new_vault());
        let text = wide.protect_text("connect to 127.0.0.1:8080 via 10.1.2.3".to_owned());
        assert!(
            !text.contains("127.0.0.1") && !text.contains("10.1.2.3"),
            "{text}"
        );
    }
}
