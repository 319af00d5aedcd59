//! Personal data on the tool-call path (see [`sluice_pii`]): tool results are tokenized before the
//! worker sees them, tokens in arguments are replaced by real values only where the flow policy
//! allows, and what an execution returns to the agent is scanned once more.
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
    DetectorConfig, Endpoint, FlowRule, Origin, PiiType, Policy, Tokenizer, ToolRef, TypeSet, Vault,
};
use sluice_worker_protocol::ToolOutcome;

use crate::tool_call::failure;

/// A vault shared by the tasks of an execution: one per execution ([`new_vault`]), or one per
/// session, kept by its [`Client`](crate::Client) across the session's executions.
pub(crate) type SharedVault = Arc<Mutex<Vault>>;

/// The `ToolError` kind of a call stopped by the flow policy.
pub const POLICY_DENIED: &str = "policy_denied";

/// Detectors and policy, built once from the settings.
pub(crate) struct Privacy {
    tokenizer: Tokenizer,
    policy: Policy,
    trusted: BTreeSet<String>,
}

/// Whether personal data is tokenized, and with what.
pub(crate) enum PrivacyState {
    /// `sluice.privacy.enabled` is false.
    Off,
    On(Arc<Privacy>),
    /// The detectors could not be built: executions fail rather than leak.
    Broken(String),
}

impl PrivacyState {
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
    pub kind: String,
    pub source: String,
    pub destination: String,
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
    // The error is what the worker receives, built once per denied call.
    #[allow(clippy::result_large_err)]
    pub(crate) fn release(
        &self,
        server: &str,
        tool: &str,
        mut arguments: Value,
    ) -> Result<Value, ToolOutcome> {
        let destination = ToolRef::new(server, tool);
        let privacy = &self.privacy;
        let outcome = self.timed(|vault| {
            privacy.tokenizer.untokenize_value(
                vault,
                &mut arguments,
                &destination,
                &mut |kind, origin, destination| privacy.policy.allows(kind, origin, destination),
            )
        });
        match outcome {
            Ok(releases) => {
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
                        kind: release.kind.to_string(),
                        source: release.origin.to_string(),
                        destination: release.destination.to_string(),
                    }));
                self.untokenized
                    .fetch_add(releases.len() as u64, Ordering::Relaxed);
                Ok(arguments)
            }
            Err(denied) => {
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
                Err(failure(POLICY_DENIED, denied.to_string(), false))
            }
        }
    }

    /// Tokenize what the worker will receive for a call. `from_tool`: the outcome is the tool's
    /// (its result or its error, including transport errors that quote it); else it is the
    /// gateway's own message about the call. A trusted server's outcomes pass as they are.
    pub(crate) fn protect_outcome(
        &self,
        server: &str,
        tool: &str,
        outcome: ToolOutcome,
        from_tool: bool,
    ) -> ToolOutcome {
        if from_tool && self.privacy.trusted.contains(server) {
            return outcome;
        }
        let origin = if from_tool {
            Origin::Tool(ToolRef::new(server, tool))
        } else {
            Origin::Unattributed
        };
        let tokenizer = &self.privacy.tokenizer;
        let (outcome, count) = self.timed(|vault| match outcome {
            ToolOutcome::Ok { mut value } => {
                let count = tokenizer.tokenize_value(vault, &mut value, &origin);
                (ToolOutcome::Ok { value }, count)
            }
            ToolOutcome::Error {
                kind,
                message,
                mut content,
                retryable,
            } => {
                let tokenized = tokenizer.tokenize_text(vault, &message, &origin);
                let mut count = tokenized.count;
                let message = tokenized.text.into_owned();
                if let Some(content) = &mut content {
                    count += tokenizer.tokenize_value(vault, content, &origin);
                }
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
        });
        self.tokenized.fetch_add(count as u64, Ordering::Relaxed);
        outcome
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
