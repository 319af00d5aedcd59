//! Pinned tool definitions ([`sluice_pins`]) in the gateway: each rebuild compares what every
//! server presents with its pins; a tool whose definition changed is held back (left out of the
//! snapshot, so of the tree, the bindings and search, and its calls fail with
//! `definition_changed`) until a person accepts the change (`sluice tools review`). The pin
//! folder is watched, so an accepted review is picked up without a restart.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use sluice_audit::GovernanceEvent;
use sluice_catalog::ServerCatalog;
use sluice_config::PinningSettings;
use sluice_pins::{Definition, PinStore, describe_fields};
use sluice_worker_protocol::{ToolErrorKind, ToolOutcome};

use crate::Gateway;

/// Held tools of a snapshot, by server then tool: the message a call gets.
pub(crate) type Held = HashMap<String, HashMap<String, String>>;

/// The gateway's pins: the store, the settings, and the parts made from the pool's, so that a
/// rebuild where neither a server's tools nor its pins changed reuses the same part.
pub(crate) struct PinState {
    /// `None`: no data folder, or pinning is off.
    store: Option<PinStore>,
    settings: PinningSettings,
    parts: Mutex<HashMap<String, PinnedPart>>,
    /// The pin folder's modification time at the last look ([`PinState::changed_outside`]).
    seen: Mutex<Option<SystemTime>>,
}

struct PinnedPart {
    source: Arc<ServerCatalog>,
    kept: Arc<ServerCatalog>,
    held: HashMap<String, String>,
    /// The server's pin file as this part was made from it: a part whose file someone else
    /// replaced since is made again.
    file: Option<sluice_pins::FileIdentity>,
}

/// A held-back tool or server event to write to the audit log.
pub(crate) struct HeldEvent {
    pub server: String,
    pub tool: String,
    pub detail: String,
}

impl PinState {
    pub(crate) fn new(data_dir: Option<&std::path::Path>, settings: &PinningSettings) -> PinState {
        let store = data_dir.filter(|_| settings.enabled).map(PinStore::new);
        let seen = store.as_ref().and_then(PinStore::stamp);
        PinState {
            store,
            settings: settings.clone(),
            parts: Mutex::new(HashMap::new()),
            seen: Mutex::new(seen),
        }
    }

    /// The pool's parts with the held tools left out, the held tools with their messages, and
    /// the tools held for the first time (to audit).
    pub(crate) fn apply(
        &self,
        parts: BTreeMap<String, Arc<ServerCatalog>>,
    ) -> (BTreeMap<String, Arc<ServerCatalog>>, Held, Vec<HeldEvent>) {
        let Some(store) = &self.store else {
            return (parts, Held::new(), Vec::new());
        };
        let mut cache = self.parts.lock().unwrap_or_else(PoisonError::into_inner);
        cache.retain(|server, _| parts.contains_key(server));
        let mut held = Held::new();
        let mut events = Vec::new();
        let kept = parts
            .into_iter()
            .map(|(server, source)| {
                if !self.settings.pins(&server) {
                    return (server, source);
                }
                let reuse = cache
                    .get(&server)
                    .is_some_and(|part| Arc::ptr_eq(&part.source, &source));
                if !reuse {
                    let made = pin(store, &server, source, &mut events);
                    cache.insert(server.clone(), made);
                }
                let Some(part) = cache.get(&server) else {
                    return (server, Arc::new(ServerCatalog::default()));
                };
                if !part.held.is_empty() {
                    held.insert(server.clone(), part.held.clone());
                }
                (server, Arc::clone(&part.kept))
            })
            .collect();
        (kept, held, events)
    }

    /// Whether someone else changed a pin file since its part was made (`sluice tools review`
    /// accepted or rejected a change); those parts are made again at the next rebuild. Cheap
    /// when nothing changed: only the folder's modification time is read. The gateway's own
    /// writes do not count: each part keeps the identity of the file it read or wrote (taken
    /// from the open file, so a review that replaces the file at any moment after it is seen).
    fn changed_outside(&self) -> bool {
        let Some(store) = &self.store else {
            return false;
        };
        let now = store.stamp();
        {
            let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
            if now.is_none() || now == *seen {
                return false;
            }
            *seen = now;
        }
        let mut parts = self.parts.lock().unwrap_or_else(PoisonError::into_inner);
        let before = parts.len();
        parts.retain(|server, part| store.file_identity(server) == part.file);
        parts.len() != before
    }
}

/// Compare one server's part with its pins.
fn pin(
    store: &PinStore,
    server: &str,
    source: Arc<ServerCatalog>,
    events: &mut Vec<HeldEvent>,
) -> PinnedPart {
    let definitions: Vec<Definition> = source
        .tools()
        .iter()
        .map(|tool| Definition::from_tool(tool.definition()))
        .collect();
    let mut file = None;
    let held: HashMap<String, String> = match store.observe(server, &definitions) {
        Ok(observed) => {
            file = observed.file.clone();
            if observed.newly_pinned > 0 {
                tracing::debug!(
                    server,
                    pinned = observed.newly_pinned,
                    "tool definitions pinned"
                );
            }
            for tool in &observed.newly_held {
                let changed = observed
                    .held
                    .get(tool)
                    .map(|held| describe_fields(&held.changed))
                    .unwrap_or_default();
                tracing::warn!(
                    server,
                    tool = %tool,
                    "the server changed this tool's definition ({changed}); it is held back until a person accepts the change with `sluice tools review`"
                );
                events.push(HeldEvent {
                    server: server.to_owned(),
                    tool: tool.clone(),
                    detail: format!("{changed} changed since the definition was pinned"),
                });
            }
            observed
                .held
                .into_iter()
                .map(|(tool, held)| {
                    let changed = describe_fields(&held.changed);
                    let message = if held.rejected {
                        format!(
                            "the server \"{server}\" changed the definition of \"{tool}\" since it was pinned ({changed} changed) and a person rejected the change; the tool stays held back until the server presents the pinned definition again or the change is accepted with `sluice tools review`"
                        )
                    } else {
                        format!(
                            "the server \"{server}\" changed the definition of \"{tool}\" since it was pinned ({changed} changed); the tool is held back until a person accepts the change with `sluice tools review`"
                        )
                    };
                    (tool, message)
                })
                .collect()
        }
        Err(error) => {
            tracing::error!(server, "{error}");
            let message = format!("every tool of \"{server}\" is held back: {error}");
            source
                .tools()
                .iter()
                .map(|tool| (tool.name.clone(), message.clone()))
                .collect()
        }
    };
    let kept = if held.is_empty() {
        Arc::clone(&source)
    } else {
        Arc::new(source.filtered(|tool| !held.contains_key(&tool.name)))
    };
    PinnedPart {
        source,
        kept,
        held,
        file,
    }
}

/// The failure of a call to a held tool.
pub(crate) fn definition_changed(message: &str) -> ToolOutcome {
    ToolOutcome::failure(ToolErrorKind::DefinitionChanged, message.to_owned(), false)
}

/// How often the pin folder is looked at for a review's decisions.
const PINS_CHECK: std::time::Duration = std::time::Duration::from_secs(1);

/// Look at the pin folder every second; when someone else changed it (`sluice tools review`
/// accepted or rejected a change), make the parts again and rebuild the snapshot: an accepted
/// tool comes back without a restart.
pub(crate) async fn watch_pins(gateway: Gateway) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(PINS_CHECK) => {}
            () = gateway.stopping().cancelled() => break,
        }
        if gateway.inner.pins.changed_outside() {
            tracing::info!("pinned tool definitions changed on disk; rebuilding the catalog");
            gateway.refresh().await;
        }
    }
}

impl Gateway {
    /// Audit tools held for the first time.
    pub(crate) fn audit_held(&self, events: Vec<HeldEvent>) {
        for event in events {
            self.audit().governance(
                GovernanceEvent::DefinitionHeld,
                &event.server,
                &event.tool,
                None,
                event.detail,
            );
        }
    }

    /// The pin store of this gateway's data folder, when definitions are pinned.
    pub fn pin_store(&self) -> Option<&PinStore> {
        self.inner.pins.store.as_ref()
    }

    /// Record a person's decision on a held tool (`sluice tools review`) in the audit log.
    pub fn audit_review(&self, review: &sluice_pins::Review, accepted: bool) {
        let event = if accepted {
            GovernanceEvent::DefinitionAccepted
        } else {
            GovernanceEvent::DefinitionRejected
        };
        self.audit().governance(
            event,
            &review.server,
            &review.tool,
            Some(crate::audit::GovernanceOrigin {
                client: Some("cli".to_owned()),
                ..Default::default()
            }),
            format!(
                "{} changed; {} sha256 {}",
                describe_fields(&review.changed),
                if accepted { "now pinned" } else { "rejected" },
                review.presented_sha256
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn part(server: &str, tools: &[&str]) -> Arc<ServerCatalog> {
        Arc::new(ServerCatalog::parse(
            server,
            tools
                .iter()
                .map(|name| json!({"name": name, "inputSchema": {"type": "object"}})),
        ))
    }

    #[test]
    fn only_parts_whose_pin_file_someone_else_replaced_are_made_again() {
        let data = tempfile::tempdir().unwrap();
        let state = PinState::new(Some(data.path()), &PinningSettings::default());
        let made = |parts: &[(&str, Arc<ServerCatalog>)]| {
            state.apply(
                parts
                    .iter()
                    .map(|(server, part)| ((*server).to_owned(), Arc::clone(part)))
                    .collect(),
            )
        };
        let a = part("a", &["read"]);
        made(&[("a", a.clone()), ("b", part("b", &["list"]))]);
        // The gateway's own writes (first pins, a refreshed server's new tool) do not count.
        assert!(!state.changed_outside());
        std::thread::sleep(std::time::Duration::from_millis(50));
        made(&[("a", a.clone()), ("b", part("b", &["list", "extra"]))]);
        assert!(!state.changed_outside());
        assert_eq!(state.parts.lock().unwrap().len(), 2);
        // Another process replaces a's file: only a's part is made again.
        std::thread::sleep(std::time::Duration::from_millis(50));
        PinStore::new(data.path())
            .observe(
                "a",
                &[Definition::of(&json!({"name": "other", "inputSchema": {}}))],
            )
            .unwrap();
        assert!(state.changed_outside());
        let parts = state.parts.lock().unwrap();
        assert!(parts.contains_key("b") && !parts.contains_key("a"));
    }
}
