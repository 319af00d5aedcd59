//! The tool policy (`sluice.tools`, decided by [`sluice_policy`]) in the gateway: denied tools
//! are left out of each snapshot (so of the tree, the bindings and search), and every tool call
//! is checked before anything else happens to it.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use serde_json::Value;
use sluice_catalog::ServerCatalog;
use sluice_policy::{Action, ToolHints, ToolPolicy};
use sluice_worker_protocol::{ToolErrorKind, ToolOutcome};

use crate::Snapshot;

/// Denied tools of a snapshot, by server then tool: why, in words (the rule).
pub(crate) type Withheld = HashMap<String, HashMap<String, String>>;

/// Tools approved for the rest of a connection: `(server, tool)`.
type Approved = std::collections::HashSet<(String, String)>;

/// The gateway's current policy, and the parts it made from the pool's, so that a rebuild where
/// neither the server's tools nor the policy changed reuses the same part (and what was built
/// from it: search segment, validators).
pub(crate) struct PolicyState {
    policy: RwLock<Arc<ToolPolicy>>,
    /// By server: the pool's part, what the policy left of it, and what it withheld.
    parts: Mutex<HashMap<String, Filtered>>,
    /// Approvals a person gave for the rest of their client connection ("accept for this
    /// session"): by connection, the `(server, tool)` pairs. Forgotten when the connection ends.
    remembered: Mutex<HashMap<Arc<str>, Approved>>,
}

struct Filtered {
    source: Arc<ServerCatalog>,
    kept: Arc<ServerCatalog>,
    withheld: HashMap<String, String>,
}

impl PolicyState {
    pub(crate) fn new(policy: ToolPolicy) -> PolicyState {
        PolicyState {
            policy: RwLock::new(Arc::new(policy)),
            parts: Mutex::new(HashMap::new()),
            remembered: Mutex::new(HashMap::new()),
        }
    }

    fn is_remembered(&self, client: &str, server: &str, tool: &str) -> bool {
        self.remembered
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(client)
            .is_some_and(|tools| tools.contains(&(server.to_owned(), tool.to_owned())))
    }

    fn remember(&self, client: &Arc<str>, server: &str, tool: &str) {
        self.remembered
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(Arc::clone(client))
            .or_default()
            .insert((server.to_owned(), tool.to_owned()));
    }

    /// The connection ended: its remembered approvals go with it.
    pub(crate) fn forget_client(&self, client: &str) {
        self.remembered
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(client);
    }

    /// The policy now.
    pub(crate) fn current(&self) -> Arc<ToolPolicy> {
        Arc::clone(&self.policy.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Put `policy` in place; true when it differs from the one before (the snapshot must then
    /// be rebuilt).
    pub(crate) fn replace(&self, policy: ToolPolicy) -> bool {
        let mut current = self.policy.write().unwrap_or_else(PoisonError::into_inner);
        if **current == policy {
            return false;
        }
        *current = Arc::new(policy);
        self.parts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        true
    }

    /// The pool's parts with the denied tools left out, and the denied tools with why.
    pub(crate) fn apply(
        &self,
        policy: &ToolPolicy,
        parts: BTreeMap<String, Arc<ServerCatalog>>,
    ) -> (BTreeMap<String, Arc<ServerCatalog>>, Withheld) {
        if policy.is_empty() {
            return (parts, Withheld::new());
        }
        let mut cache = self.parts.lock().unwrap_or_else(PoisonError::into_inner);
        cache.retain(|server, _| parts.contains_key(server));
        let mut withheld = Withheld::new();
        let kept = parts
            .into_iter()
            .map(|(server, source)| {
                let filtered = match cache.get(&server) {
                    Some(filtered) if Arc::ptr_eq(&filtered.source, &source) => filtered,
                    _ => {
                        let made = filter(policy, &server, source);
                        cache.insert(server.clone(), made);
                        // Just inserted.
                        match cache.get(&server) {
                            Some(filtered) => filtered,
                            None => return (server, Arc::new(ServerCatalog::default())),
                        }
                    }
                };
                if !filtered.withheld.is_empty() {
                    withheld.insert(server.clone(), filtered.withheld.clone());
                }
                (server, Arc::clone(&filtered.kept))
            })
            .collect();
        (kept, withheld)
    }
}

fn filter(policy: &ToolPolicy, server: &str, source: Arc<ServerCatalog>) -> Filtered {
    let mut withheld = HashMap::new();
    for tool in source.tools() {
        let decision = policy.decide(server, &tool.name, hints(tool.annotations.as_ref()));
        if decision.action == Action::Deny {
            withheld.insert(tool.name.clone(), decision.describe());
        }
    }
    let kept = if withheld.is_empty() {
        Arc::clone(&source)
    } else {
        tracing::info!(
            server,
            denied = withheld.len(),
            "tools left out by the tool policy (sluice.tools)"
        );
        Arc::new(source.filtered(|tool| !withheld.contains_key(&tool.name)))
    };
    Filtered {
        source,
        kept,
        withheld,
    }
}

/// The annotations the policy reads.
pub(crate) fn hints(annotations: Option<&Value>) -> ToolHints {
    let flag = |name: &str| {
        annotations
            .and_then(|annotations| annotations.get(name))
            .and_then(Value::as_bool)
            == Some(true)
    };
    ToolHints {
        read_only: flag("readOnlyHint"),
        destructive: flag("destructiveHint"),
    }
}

/// What the policy says about one call.
pub(crate) enum Check {
    /// Go on.
    Allowed,
    /// Fail with this.
    Refused(ToolOutcome),
    /// A person must approve it; the rule, in words.
    Ask(String),
}

/// The first check of a tool call.
pub(crate) fn check(snapshot: &Snapshot, server: &str, tool: &str) -> Check {
    if let Some(message) = snapshot.held.get(server).and_then(|tools| tools.get(tool)) {
        return Check::Refused(crate::pins::definition_changed(message));
    }
    if snapshot.policy.is_empty() {
        return Check::Allowed;
    }
    if let Some(why) = snapshot
        .withheld
        .get(server)
        .and_then(|tools| tools.get(tool))
    {
        return Check::Refused(denied(server, tool, why));
    }
    let Some(entry) = snapshot.catalog.tool(server, tool) else {
        return Check::Allowed;
    };
    let decision = snapshot
        .policy
        .decide(server, tool, hints(entry.annotations.as_ref()));
    match decision.action {
        Action::Allow => Check::Allowed,
        Action::Deny => Check::Refused(denied(server, tool, &decision.describe())),
        Action::Ask => Check::Ask(decision.describe()),
    }
}

/// How much of the arguments an approval request shows.
const MAX_SHOWN_ARGUMENTS: usize = 2_000;

/// The call a person is asked to approve.
pub(crate) struct Question<'a> {
    pub(crate) server: &'a str,
    pub(crate) tool: &'a str,
    /// As the code sent them: personal data in them is still tokenized.
    pub(crate) arguments: &'a Value,
    /// Which rule asks.
    pub(crate) why: &'a str,
    /// How long to wait for the answer; none within it is a refusal.
    pub(crate) wait: std::time::Duration,
}

/// Ask the person, through the agent's client (MCP elicitation), to approve the call; `None`
/// when they accept.
pub(crate) async fn ask(
    elicitor: Option<&sluice_downstream::SharedElicitor>,
    remembered: (&PolicyState, &Arc<str>),
    audit: (&crate::audit::Auditor, &crate::audit::GovernanceOrigin),
    question: &Question<'_>,
) -> Option<ToolOutcome> {
    let Question { server, tool, .. } = *question;
    let refusal = ask_person(elicitor, remembered, audit, question).await;
    if let Some((outcome, answer)) = refusal {
        if let Some(answer) = answer {
            let (auditor, origin) = audit;
            auditor.governance(
                sluice_audit::GovernanceEvent::ApprovalRefused,
                server,
                tool,
                Some(origin.clone()),
                answer,
            );
        }
        return Some(outcome);
    }
    None
}

/// [`ask`]; a refusal comes with the person's answer in words when a question was asked (to
/// audit), `None` when none could be.
async fn ask_person(
    elicitor: Option<&sluice_downstream::SharedElicitor>,
    remembered: (&PolicyState, &Arc<str>),
    audit: (&crate::audit::Auditor, &crate::audit::GovernanceOrigin),
    question: &Question<'_>,
) -> Option<(ToolOutcome, Option<String>)> {
    let Question {
        server,
        tool,
        arguments,
        why,
        wait,
    } = *question;
    let (state, client) = remembered;
    let (auditor, origin) = audit;
    if state.is_remembered(client, server, tool) {
        return None;
    }
    let Some(elicitor) = elicitor.filter(|elicitor| elicitor.asks_a_person()) else {
        return Some((
            ToolOutcome::failure(
                ToolErrorKind::ApprovalRequired,
                format!(
                    "needs a person's approval ({why}), and the agent's client cannot ask one (it \
                 did not declare the MCP elicitation capability); use a client that supports \
                 elicitation, or ask the person running Sluice to allow {server}.{tool} in \
                 sluice.tools"
                ),
                false,
            ),
            None,
        ));
    };
    let mut shown = serde_json::to_string_pretty(arguments).unwrap_or_default();
    if shown.len() > MAX_SHOWN_ARGUMENTS {
        let mut cut = MAX_SHOWN_ARGUMENTS;
        while !shown.is_char_boundary(cut) {
            cut -= 1;
        }
        shown.truncate(cut);
        shown.push_str(" ...");
    }
    let message = format!(
        "Agent code wants to call the tool \"{tool}\" of the server \"{server}\" ({why}) with \
         these arguments:\n{shown}\nAccept to run this call, decline to refuse it."
    );
    let request = serde_json::json!({
        "mode": "form",
        "message": message,
        "requestedSchema": {"type": "object", "properties": {
            "remember": {
                "type": "boolean",
                "title": "Accept for this session",
                "description": format!("Run {server}.{tool} without asking again until this client disconnects"),
                "default": false,
            }
        }},
    });
    let request = match serde_json::from_value(request) {
        Ok(request) => request,
        Err(error) => {
            return Some((
                approval_denied(
                    server,
                    tool,
                    &format!("the approval request could not be made: {error}"),
                ),
                None,
            ));
        }
    };
    auditor.governance(
        sluice_audit::GovernanceEvent::ApprovalAsked,
        server,
        tool,
        Some(origin.clone()),
        format!(
            "{why}; arguments {} bytes, sha256 {}",
            shown.len(),
            sluice_audit::sha256_hex(shown.as_bytes())
        ),
    );
    let refused = |why: String| Some((approval_denied(server, tool, &why), Some(why)));
    match tokio::time::timeout(wait, elicitor.elicit(request)).await {
        Ok(Ok(answer)) => match answer.action {
            rmcp::model::ElicitationAction::Accept => {
                let remember = answer
                    .content
                    .as_ref()
                    .and_then(|content| content.get("remember"))
                    .and_then(Value::as_bool)
                    == Some(true);
                if remember {
                    state.remember(client, server, tool);
                }
                auditor.governance(
                    sluice_audit::GovernanceEvent::ApprovalAccepted,
                    server,
                    tool,
                    Some(origin.clone()),
                    if remember {
                        "accepted for the rest of the client connection".to_owned()
                    } else {
                        "accepted".to_owned()
                    },
                );
                None
            }
            rmcp::model::ElicitationAction::Decline => refused("the person declined it".to_owned()),
            _ => refused("the person dismissed the request".to_owned()),
        },
        Ok(Err(error)) => refused(error),
        Err(_) => refused(format!("no answer within {} s", wait.as_secs_f64())),
    }
}

fn approval_denied(server: &str, tool: &str, why: &str) -> ToolOutcome {
    ToolOutcome::failure(
        ToolErrorKind::ApprovalDenied,
        format!("the call of {server}.{tool} was not approved: {why}; it did not run"),
        false,
    )
}

fn denied(server: &str, tool: &str, why: &str) -> ToolOutcome {
    ToolOutcome::failure(
        ToolErrorKind::Denied,
        format!(
            "denied by the tool policy: {why}; code cannot call {server}.{tool} (the person \
             running Sluice can change sluice.tools in the config)"
        ),
        false,
    )
}

/// How often the config file is looked at for a changed tool policy.
pub(crate) const CONFIG_CHECK: std::time::Duration = std::time::Duration::from_secs(1);

/// The file's change marks: its modification time and size.
fn stamp(path: &std::path::Path) -> Option<(std::time::SystemTime, u64)> {
    let metadata = std::fs::metadata(path).ok()?;
    Some((metadata.modified().ok()?, metadata.len()))
}

/// Read the config file again whenever it changes, and put its tool policy in place without a
/// restart (the snapshot is rebuilt: newly denied tools leave the tree and search, and calls in
/// flight are checked against the new policy from their next call). A file that no longer
/// parses keeps the policy there is, with a warning. Other settings need a restart.
pub(crate) async fn watch_config(gateway: crate::Gateway, path: std::path::PathBuf) {
    let mut seen = stamp(&path);
    loop {
        tokio::select! {
            () = tokio::time::sleep(CONFIG_CHECK) => {}
            () = gateway.stopping().cancelled() => break,
        }
        let now = stamp(&path);
        if now == seen || now.is_none() {
            continue;
        }
        seen = now;
        let config = match tokio::task::spawn_blocking({
            let path = path.clone();
            move || sluice_config::load(&path)
        })
        .await
        {
            Ok(Ok(config)) => config,
            Ok(Err(error)) => {
                tracing::warn!(
                    "the config file changed but cannot be read, the tool policy stays as it was: {error}"
                );
                continue;
            }
            Err(_) => continue,
        };
        if gateway.inner.policy.replace(config.settings.tools) {
            tracing::info!(path = %path.display(), "tool policy (sluice.tools) reloaded");
            gateway.refresh().await;
        }
    }
}

/// What `cargo bench -p sluice-gateway --bench policy_check` measures: the first step of every
/// tool call from code, on a snapshot made with a policy. Not an API.
#[doc(hidden)]
pub mod bench {
    use super::*;

    /// `snapshot`'s servers again, with `policy` applied as a rebuild applies it.
    pub fn with_policy(snapshot: &Snapshot, policy: ToolPolicy) -> Snapshot {
        let parts: BTreeMap<String, Arc<ServerCatalog>> = snapshot
            .catalog
            .server_names()
            .filter_map(|server| {
                let part = snapshot.catalog.part(server)?;
                Some((server.to_owned(), Arc::clone(part)))
            })
            .collect();
        let state = PolicyState::new(policy);
        let current = state.current();
        let (parts, withheld) = state.apply(&current, parts);
        let mut made = Snapshot::build_indexed(
            snapshot.version + 1,
            parts,
            Vec::new(),
            None,
            |catalog, _| {
                sluice_search::SearchIndex::build(
                    sluice_search::catalog_documents(catalog),
                    None,
                    None,
                )
            },
        );
        made.policy = current;
        made.withheld = withheld;
        made
    }

    /// The policy's check of one call: 0 allowed, 1 refused, 2 ask.
    pub fn check(snapshot: &Snapshot, server: &str, tool: &str) -> u8 {
        match super::check(snapshot, server, tool) {
            Check::Allowed => 0,
            Check::Refused(_) => 1,
            Check::Ask(_) => 2,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn part() -> Arc<ServerCatalog> {
        Arc::new(ServerCatalog::parse(
            "fs",
            [
                json!({"name": "read_file", "inputSchema": {"type": "object"},
                       "annotations": {"readOnlyHint": true}}),
                json!({"name": "write_file", "inputSchema": {"type": "object"},
                       "annotations": {"destructiveHint": true}}),
            ],
        ))
    }

    fn policy(entries: &[(&str, &str)]) -> ToolPolicy {
        match ToolPolicy::new(entries.iter().copied(), &["fs"]) {
            Ok(policy) => policy,
            Err(error) => panic!("{error}"),
        }
    }

    #[test]
    fn denied_tools_are_left_out_and_an_unchanged_part_is_reused() {
        let state = PolicyState::new(policy(&[("fs.*", "denyDestructive")]));
        let source = part();
        let parts = BTreeMap::from([("fs".to_owned(), Arc::clone(&source))]);
        let current = state.current();
        let (first, withheld) = state.apply(&current, parts.clone());
        let names: Vec<&str> = first["fs"]
            .tools()
            .iter()
            .map(|tool| tool.name.as_str())
            .collect();
        assert_eq!(names, ["read_file"]);
        assert!(withheld["fs"]["write_file"].contains("annotated destructiveHint"));
        // The same source and policy give the same part (what was built from it is reused).
        let (second, _) = state.apply(&current, parts.clone());
        assert!(Arc::ptr_eq(&first["fs"], &second["fs"]));
        // The same policy again changes nothing; another one makes a new part.
        assert!(!state.replace(policy(&[("fs.*", "denyDestructive")])));
        assert!(state.replace(policy(&[("fs.write_file", "ask")])));
        let (third, withheld) = state.apply(&state.current(), parts);
        assert_eq!(third["fs"].tools().len(), 2);
        assert!(withheld.is_empty());
        // Without a policy the pool's part is used as it is.
        let (open, _) = PolicyState::new(ToolPolicy::allow_all()).apply(
            &ToolPolicy::allow_all(),
            BTreeMap::from([("fs".to_owned(), Arc::clone(&source))]),
        );
        assert!(Arc::ptr_eq(&open["fs"], &source));
    }

    #[test]
    fn calls_are_refused_by_kind() {
        let state = PolicyState::new(policy(&[("fs.*", "readOnly"), ("fs.read_file", "ask")]));
        let current = state.current();
        let (parts, withheld) = state.apply(&current, BTreeMap::from([("fs".to_owned(), part())]));
        let mut snapshot = Snapshot::build_indexed(1, parts, Vec::new(), None, |catalog, _| {
            sluice_search::SearchIndex::build(sluice_search::catalog_documents(catalog), None, None)
        });
        snapshot.policy = current;
        snapshot.withheld = withheld;
        let kind = |tool: &str| match check(&snapshot, "fs", tool) {
            Check::Allowed => "allowed".to_owned(),
            Check::Refused(ToolOutcome::Error { kind, .. }) => kind.as_str().to_owned(),
            Check::Refused(ToolOutcome::Ok { .. }) => "ok".to_owned(),
            Check::Ask(why) => format!("ask {why}"),
        };
        assert_eq!(kind("write_file"), "denied");
        assert_eq!(
            kind("read_file"),
            "ask rule \"fs.read_file\": \"ask\" in sluice.tools"
        );
        // Not the policy's business: the call path says the tool is unknown.
        assert_eq!(kind("nope"), "allowed");
    }
}
