/*!
The gateway: the trusted half of Sluice.

It owns the downstream connection pool, keeps the catalog and the generated tree in step with what
the servers offer, answers searches and file reads over the tree, and runs agent code by spawning
confined worker processes and serving their tool calls.

Architecture invariant: this crate never links the JS engine and never parses agent code. Code is
handed to a worker as an opaque string; everything the worker sends back is decoded as untrusted
input (see [`sluice_worker_protocol`]).

```text
Gateway::start(config, options) ──> Pool (sluice-downstream) ──> MCP servers
        │ catalog refresh on every pool generation
        ▼
   Snapshot { catalog, tree, statuses }  ──> search (+ skills) / list_files / read_file
        │                                                     (+ workspace/, skills/ on disk)
   Client (one per connection: limits, sessions)
        │
   execute(code) ──> confined worker ──ToolCall──> tool policy ──> untokenize (flows) ──> validate ──> rate
                          ▲                                                             │
                          │                                                    Pool::call_tool
                          └──────── tokenize (sluice-pii, vault of the execution or session) ◄┘
   every execution, tool call, release and session event ──> audit log (sluice-audit)
```

Tool policy (`sluice.tools`, [`sluice_policy`]): denied tools are left out of every snapshot
(tree, bindings, search); every call is checked first, a denied tool failing with the `ToolError`
kind `denied` naming the rule; an `ask` tool's call waits for a person's answer through the
client's elicitation (`approval_denied` when declined or unanswered, `approval_required` when
no one can be asked). The config file is read
again when it changes, and a new policy rebuilds the snapshot.

Pinned definitions (`sluice.pinning`, [`sluice_pins`]): a tool whose server presents a definition
other than the one pinned the first time it was seen is held back the same way (its calls fail
with `definition_changed` naming the fields) until `sluice tools review` accepts it; the pin
folder is watched. Direct tools (`sluice.direct`): [`Gateway::direct_tools`] and
[`Client::call_direct`], calls through the same policy, privacy and audit path.

Privacy: every tool result (value, error message and content) is tokenized before the worker
sees it; tokens in tool-call arguments become real values only where `sluice.privacy` allows the
flow (else the call fails with the `ToolError` kind `policy_denied`); the execution's output,
result and error message are scanned once more before they go back to the agent. Every release
is written to the audit log and logged under the `tracing` target `sluice::audit` (type, source,
destination; never the value), and counted in [`ExecutionStats`].
*/
#![deny(missing_docs)]

mod audit;
mod client;
mod direct;
mod execute;
mod files;
#[doc(hidden)]
pub mod governance;
mod memory;
mod pins;
mod present;
mod privacy;
mod rates;
mod recent;
mod report;
mod search;
mod skills;
mod snapshot;
mod tenant;
mod tool_call;
mod warm;
mod worker;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::RwLock;

use sluice_config::Config;
use sluice_downstream::{Pool, ServerStatus};

use memory::MemoryRelease;
use privacy::PrivacyState;

pub use client::{Client, MAX_SESSION_ID_CHARS};
pub use direct::{DIRECT_SEPARATOR, DirectDefinition, DirectOutcome, direct_name};
pub use execute::WATCHDOG_GRACE;
pub use files::MAX_READ_BYTES;
pub use present::{
    DEFAULT_SEARCH_LIMIT, FileError, FileListing, SearchEntry, SearchError, SearchRequest,
    SearchResponse, SkillEntry, Unavailable,
};
pub use report::{
    ExecuteRequest, ExecutionProgress, ExecutionReport, ExecutionStats, ReportedProgress,
};
pub use search::{VECTOR_CACHE_FILE, build_search_index};
pub use skills::{SaveSkillError, SavedSkill};
pub use sluice_downstream::{AcceptDefaults, ElicitFuture, Elicitor, SharedElicitor};
pub use sluice_telemetry::{Telemetry, TraceContext};
pub use sluice_worker_protocol::{ErrorKind, ExecutionError, Language, ToolErrorKind};
pub use snapshot::Snapshot;
pub use tenant::{LimitRefusal, PRINCIPALS_DIR, PrincipalLimit, Tenant, folder_name};
pub use worker::WorkerCommand;

/// The workspace's folder in the data folder, and its name in the tree and in agent code
/// (`./workspace/`).
const WORKSPACE_DIR: &str = "workspace";

/// The running gateway. Cheap to clone.
#[derive(Clone)]
pub struct Gateway {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    pool: Pool,
    snapshot: RwLock<Arc<Snapshot>>,
    worker: Option<WorkerCommand>,
    privacy: PrivacyState,
    data_dir: Option<PathBuf>,
    workspace: Option<PathBuf>,
    audit: audit::Auditor,
    /// With `GatewayOptions::metrics`: what the audit points count (`audit.rs` records both).
    metrics: Option<Arc<sluice_metrics::Metrics>>,
    /// With `GatewayOptions::metrics`: the last executions' output, for the page.
    recent: Option<Arc<recent::RecentOutputs>>,
    /// With `GatewayOptions::telemetry`: the tracer of the spans (`sluice-telemetry`). Without
    /// it no span is built.
    telemetry: Option<Arc<Telemetry>>,
    rates: rates::RateLimiter,
    search: Arc<search::SearchState>,
    refresher: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Workers started ahead of demand.
    warm: warm::WarmPool,
    /// Worker processes started since the gateway started (each confined, each a process).
    workers_started: std::sync::atomic::AtomicU64,
    /// Cancelled by [`Gateway::stop_executions`]: every execution in flight ends at once and
    /// new ones are refused.
    stopping: tokio_util::sync::CancellationToken,
    /// The owner's tenant: the data folder itself.
    owner: Tenant,
    /// Each principal's tenant, made at its first request.
    tenants: std::sync::Mutex<std::collections::HashMap<String, Tenant>>,
    /// Hands a replaced catalog's memory back to the OS.
    release_memory: Option<MemoryRelease>,
    /// The tool policy (`sluice.tools`).
    policy: governance::PolicyState,
    /// Pinned tool definitions (`sluice.pinning`).
    pins: pins::PinState,
    /// Bumped whenever the direct tools offered change.
    direct_changes: tokio::sync::watch::Sender<u64>,
}

/// Worker processes of a gateway: see [`Gateway::worker_counts`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerCounts {
    /// Started since the gateway started.
    pub started: u64,
    /// Waiting warm now.
    pub warm: usize,
}

/// How to start a [`Gateway`] besides its config.
#[derive(Debug, Clone, Default)]
pub struct GatewayOptions {
    /// How to start worker processes; without it, code execution is unavailable.
    pub worker: Option<WorkerCommand>,
    /// The data folder: `workspace/` (agent code's `./workspace/`), `skills/` and `audit/`.
    /// Without it there is no workspace, no skills and no audit log (embedding and tests).
    /// The search vector cache lives in its `cache/`.
    pub data_dir: Option<PathBuf>,
    /// The sentence encoder search ranks with; without it, search is lexical only.
    pub encoder: Option<Arc<sluice_embed::SharedEncoder>>,
    /// Hands freed heap back to the OS; called (on a blocking thread) a moment after the
    /// catalog was rebuilt, once for a burst of rebuilds. The binary passes
    /// `sluice_sandbox::release_free_heap`; without it, nothing is called.
    pub release_memory: Option<fn()>,
    /// Keep the metrics of [`Gateway::metrics_text`] (`sluice serve --metrics`). Without it
    /// nothing is counted.
    pub metrics: bool,
    /// Export traces of executions, tool calls, searches and worker starts
    /// (`sluice.telemetry`, see [`Telemetry::from_settings`]). Without it no span is built.
    pub telemetry: Option<Arc<Telemetry>>,
}

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A folder under the data folder could not be created.
    #[error("could not create {path}: {source}; choose another data folder with --data-dir")]
    DataDir {
        /// The folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The audit log could not be opened.
    #[error(
        "could not open the audit log: {0}; fix the data folder or set sluice.audit.enabled to false"
    )]
    Audit(#[from] sluice_audit::AuditError),
    /// The metrics could not be set up (a bug).
    #[error("{0}; run without --metrics")]
    Metrics(#[from] sluice_metrics::MetricsError),
}

impl Gateway {
    /// Start connecting to every configured server and return at once. Fails only when the data
    /// folder or the audit log cannot be set up.
    pub fn start(config: Config, options: GatewayOptions) -> Result<Gateway, StartError> {
        let GatewayOptions {
            worker,
            data_dir,
            encoder,
            release_memory,
            metrics,
            telemetry,
        } = options;
        let search = Arc::new(search::SearchState::new(encoder, data_dir.as_deref()));
        let (workspace, audit) = match &data_dir {
            Some(data_dir) => {
                let workspace = data_dir.join(WORKSPACE_DIR);
                std::fs::create_dir_all(&workspace).map_err(|source| StartError::DataDir {
                    path: workspace.clone(),
                    source,
                })?;
                let audit = audit::Auditor::open(data_dir, &config.settings.audit)?;
                (Some(workspace), audit)
            }
            None => (None, audit::Auditor::off()),
        };
        let metrics = if metrics {
            let servers = config.servers.keys().chain(config.unusable.keys());
            Some(Arc::new(sluice_metrics::Metrics::new(
                servers.map(String::as_str),
            )?))
        } else {
            None
        };
        let recent = metrics
            .is_some()
            .then(|| Arc::new(recent::RecentOutputs::default()));
        let audit = audit.with_metrics(metrics.clone(), recent.clone());
        for (id, configured) in &config.renamed {
            tracing::info!(
                "server \"{}\" is `{id}` in code (servers/{id}/): its name is not a folder name",
                configured.escape_debug()
            );
        }
        let rates = rates::RateLimiter::new(&config.settings.limits);
        // OAuth tokens of HTTP servers live in the data folder, where `sluice auth login` puts
        // them (in memory only without one).
        let tokens = sluice_downstream::TokenStore::new(
            data_dir
                .as_ref()
                .map(|dir| dir.join(sluice_downstream::OAUTH_DIR)),
        );
        let pool = Pool::start_with_tokens(&config, tokens);
        let privacy = PrivacyState::from_settings(&config.settings.privacy);
        if let PrivacyState::Broken(problem) = &privacy {
            tracing::error!("privacy protection could not start, code execution is off: {problem}");
        }
        privacy.warm_up();
        let warm = warm::WarmPool::new(&config.settings.workers);
        let data_dir_for_owner = data_dir.clone();
        let policy = governance::PolicyState::new(config.settings.tools.clone());
        let pins = pins::PinState::new(data_dir.as_deref(), &config.settings.pinning);
        let gateway = Gateway {
            inner: Arc::new(Inner {
                config,
                pool,
                snapshot: RwLock::new(Arc::new(Snapshot::empty())),
                worker,
                privacy,
                data_dir,
                workspace,
                audit,
                metrics,
                recent,
                telemetry,
                rates,
                search,
                refresher: std::sync::Mutex::new(None),
                warm,
                workers_started: std::sync::atomic::AtomicU64::new(0),
                stopping: tokio_util::sync::CancellationToken::new(),
                owner: Tenant::owner(data_dir_for_owner),
                tenants: std::sync::Mutex::default(),
                release_memory: release_memory.map(MemoryRelease::new),
                policy,
                pins,
                direct_changes: tokio::sync::watch::Sender::new(0),
            }),
        };
        tokio::spawn(warm::WarmPool::shrink_when_idle(gateway.clone()));
        if let Some(path) = gateway.inner.config.path.clone() {
            tokio::spawn(governance::watch_config(gateway.clone(), path));
        }
        if gateway.pin_store().is_some() {
            tokio::spawn(pins::watch_pins(gateway.clone()));
        }
        tokio::spawn(search::release_idle_encoder(gateway.clone()));
        gateway.inner.warm.fill(&gateway);
        let refresher = tokio::spawn(refresh_on_change(gateway.clone()));
        if let Ok(mut slot) = gateway.inner.refresher.lock() {
            *slot = Some(refresher);
        }
        Ok(gateway)
    }

    /// Wait until every server has connected or failed once, calling `on_settled` for each, then
    /// rebuild the catalog so it holds every server that made it.
    pub async fn wait_connected(&self, on_settled: impl FnMut(&ServerStatus)) {
        self.inner.pool.wait_connected(on_settled).await;
        self.refresh().await;
    }

    /// The current catalog, tree and server states.
    pub async fn snapshot(&self) -> Arc<Snapshot> {
        self.inner.snapshot.read().await.clone()
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Whether `execute` can run code (a worker command is configured).
    pub fn can_execute(&self) -> bool {
        self.inner.worker.is_some()
    }

    /// Run agent code in a fresh worker and report what it did. Personal data is tokenized with a
    /// vault of this execution only. The execution belongs to no client connection (it counts
    /// against no client limit) and is audited as client `local`.
    pub async fn execute(&self, request: ExecuteRequest) -> ExecutionReport {
        execute::execute_local(self, request).await
    }

    /// A new client connection named `name` (shown in the audit log with a unique suffix),
    /// acting for the owner.
    pub fn client(&self, name: &str) -> Client {
        client::connect(self, name, self.owner().clone())
    }

    /// A new client connection named `name` acting for `tenant` (see [`Gateway::tenant`]).
    pub fn client_of(&self, name: &str, tenant: &Tenant) -> Client {
        client::connect(self, name, tenant.clone())
    }

    /// The owner's tenant: the data folder itself, no per-principal limits.
    pub fn owner(&self) -> &Tenant {
        &self.inner.owner
    }

    /// The tenant of the principal `key` (one per key for the gateway's life): its own
    /// workspace and skills under `principals/` in the data folder, and its own limits
    /// (`sluice.limits.perPrincipal`), shared by all its connections.
    pub fn tenant(&self, key: &str) -> Result<Tenant, StartError> {
        let mut tenants = self
            .inner
            .tenants
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(tenant) = tenants.get(key) {
            return Ok(tenant.clone());
        }
        let tenant = Tenant::principal(
            key,
            self.data_dir(),
            &self.config().settings.limits.per_principal,
        )
        .map_err(|source| StartError::DataDir {
            path: self
                .data_dir()
                .map(|dir| dir.join(PRINCIPALS_DIR).join(folder_name(key)))
                .unwrap_or_default(),
            source,
        })?;
        tenants.insert(key.to_owned(), tenant.clone());
        Ok(tenant)
    }

    /// List a folder: the API tree, `workspace/...` or `skills/...` (`""` is the root). Names
    /// under `workspace/` and `skills/` are scanned for personal data.
    pub async fn list_files(&self, path: &str) -> Result<FileListing, FileError> {
        files::list_files(self, self.owner(), path).await
    }

    /// Read one file: of the API tree, `workspace/...` or `skills/...`. Files over
    /// [`MAX_READ_BYTES`] are cut with a notice. Files under `workspace/` and `skills/` are
    /// scanned for personal data (before the cut).
    pub async fn read_file(&self, path: &str) -> Result<String, FileError> {
        files::read_file(self, self.owner(), path).await
    }

    /// Check `code`, written in `language`, in a worker and save it as the skill `name` (the
    /// previous version is kept). `saved_by` (the client) is recorded with the skill and shown
    /// wherever the skill is.
    pub async fn save_skill(
        &self,
        name: &str,
        description: &str,
        code: &str,
        language: Language,
        saved_by: Option<&str>,
    ) -> Result<SavedSkill, SaveSkillError> {
        skills::save_skill(
            self,
            self.owner(),
            name,
            description,
            code,
            language,
            saved_by,
        )
        .await
    }

    /// Search tools and saved skills, ranked together by the snapshot's index.
    pub async fn search(&self, request: &SearchRequest) -> Result<SearchResponse, SearchError> {
        skills::search(self, self.owner(), request).await
    }

    /// Compute the vectors the current snapshot's index lacks and rebuild the snapshot so that
    /// search uses the encoder. Does nothing without an encoder or when nothing is missing.
    pub async fn complete_vectors(&self) {
        search::complete_vectors(self).await
    }

    /// Rebuild the snapshot from the pool now.
    pub async fn refresh(&self) {
        let tools = self.inner.pool.tools().await;
        let mut statuses = self.inner.pool.statuses().await;
        // Servers the config could not start (an unset variable) are down, and say why.
        statuses.extend(self.inner.config.unusable.iter().map(|(name, reason)| {
            sluice_downstream::ServerStatus {
                name: name.clone(),
                state: sluice_downstream::ServerState::Down {
                    reason: reason.clone(),
                    retrying: false,
                },
                tools: 0,
                for_duration: std::time::Duration::ZERO,
                restarts: 0,
            }
        }));
        statuses.sort_by(|left, right| left.name.cmp(&right.name));
        let previous = self.inner.snapshot.read().await.clone();
        let search = Arc::clone(&self.inner.search);
        let skills = self.owner().skill_summaries();
        let policy = self.inner.policy.current();
        let (tools, held, newly_held) = self.inner.pins.apply(tools);
        self.audit_held(newly_held);
        let (tools, withheld) = self.inner.policy.apply(&policy, tools);
        let mut snapshot = Snapshot::build_indexed(
            previous.version + 1,
            tools,
            statuses,
            Some(&previous),
            |catalog, unchanged| search.index(catalog, unchanged, &skills, Some(&previous.search)),
        );
        snapshot.policy = policy;
        snapshot.withheld = withheld;
        snapshot.held = held;
        snapshot.direct = Arc::new(direct::definitions(
            &self.inner.config.settings.direct,
            &snapshot,
        ));
        if snapshot.direct != previous.direct {
            self.inner
                .direct_changes
                .send_modify(|version| *version += 1);
        }
        let needs_vectors = search.has_encoder() && !snapshot.search.has_vectors();
        // A server that came or went frees (or left behind) a whole part: memory is released
        // after it. A connected server's refreshed list counts toward a release by its tools.
        let servers_changed = previous
            .catalog
            .server_names()
            .ne(snapshot.catalog.server_names());
        let mut changed_tools = 0;
        // What was repaired or dropped is said once, when a server's list is read, not again at
        // every rebuild that reuses it.
        for server in snapshot.catalog.server_names() {
            let Some(part) = snapshot.catalog.part(server) else {
                continue;
            };
            if previous
                .catalog
                .part(server)
                .is_some_and(|before| Arc::ptr_eq(before, part))
            {
                continue;
            }
            changed_tools += part.tools().len();
            for problem in direct::missing(&self.inner.config.settings.direct, &snapshot, server) {
                tracing::warn!("{problem}");
            }
            for rejected in part.rejected() {
                tracing::warn!(server = %rejected.server, "tool definition dropped: {}", rejected.reason);
            }
            for tool in part.tools() {
                for warning in &tool.warnings {
                    tracing::warn!(server = %tool.server, tool = %tool.name, "{warning}");
                }
            }
        }
        let catalog_tools = snapshot.catalog.len();
        *self.inner.snapshot.write().await = Arc::new(snapshot);
        if let Some(release) = &self.inner.release_memory {
            if servers_changed {
                release.schedule();
            } else {
                release.catalog_changed(changed_tools, catalog_tools);
            }
        }
        if needs_vectors {
            tokio::spawn(self.clone().complete_vectors_task());
        }
    }

    /// Stop every execution in flight (their workers are killed; they end with `Cancelled`) and
    /// refuse new ones: the first step of shutting down, so that nothing waits on agent code.
    pub fn stop_executions(&self) {
        self.inner.stopping.cancel();
    }

    /// Cancelled once [`Gateway::stop_executions`] was called.
    pub(crate) fn stopping(&self) -> &tokio_util::sync::CancellationToken {
        &self.inner.stopping
    }

    /// Stop refreshing, close every downstream connection and stop their processes.
    pub async fn shutdown(&self) {
        let refresher = self
            .inner
            .refresher
            .lock()
            .ok()
            .and_then(|mut slot| slot.take());
        if let Some(refresher) = refresher {
            refresher.abort();
        }
        self.inner.warm.stop_all().await;
        self.inner.pool.shutdown().await;
    }

    /// Worker processes started so far, and how many wait warm now: for benchmarks and tests
    /// of the pool.
    pub fn worker_counts(&self) -> WorkerCounts {
        WorkerCounts {
            started: self
                .inner
                .workers_started
                .load(std::sync::atomic::Ordering::Relaxed),
            warm: self.inner.warm.ready_count(),
        }
    }

    pub(crate) fn warm(&self) -> &warm::WarmPool {
        &self.inner.warm
    }

    /// Count one worker process started.
    pub(crate) fn count_worker_started(&self) {
        self.inner
            .workers_started
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    pub(crate) fn privacy(&self) -> &PrivacyState {
        &self.inner.privacy
    }

    pub(crate) fn worker_command(&self) -> Option<&WorkerCommand> {
        self.inner.worker.as_ref()
    }

    /// The data folder, when there is one.
    pub fn data_dir(&self) -> Option<&Path> {
        self.inner.data_dir.as_deref()
    }

    /// The workspace folder (`./workspace/` in agent code), when there is a data folder.
    pub fn workspace_dir(&self) -> Option<&Path> {
        self.inner.workspace.as_deref()
    }

    /// The metrics in the Prometheus text format (`/metrics`), with the gauges read now;
    /// `None` without `GatewayOptions::metrics`.
    pub async fn metrics_text(&self) -> Option<String> {
        let metrics = self.inner.metrics.as_ref()?;
        let snapshot = self.snapshot().await;
        let servers = snapshot
            .statuses
            .iter()
            .map(|status| sluice_metrics::ServerGauge {
                name: &status.name,
                state: match status.state {
                    sluice_downstream::ServerState::Connecting => {
                        sluice_metrics::ServerStateLabel::Connecting
                    }
                    sluice_downstream::ServerState::Ready { .. } => {
                        sluice_metrics::ServerStateLabel::Ready
                    }
                    sluice_downstream::ServerState::NeedsLogin { .. } => {
                        sluice_metrics::ServerStateLabel::NeedsLogin
                    }
                    sluice_downstream::ServerState::Down { .. } => {
                        sluice_metrics::ServerStateLabel::Down
                    }
                },
                tools: snapshot
                    .catalog
                    .part(&status.name)
                    .map_or(0, |part| part.tools().len() as u64),
            })
            .collect();
        Some(metrics.encode(&sluice_metrics::Gauges {
            warm_workers: self.inner.warm.ready_count() as u64,
            servers,
        }))
    }

    /// The output an execution returned (personal data tokenized, cut at 8 KiB), while it is
    /// one of the last 500 of this gateway; only with `GatewayOptions::metrics`.
    pub fn recent_output(&self, execution_id: &str) -> Option<String> {
        self.inner.recent.as_ref()?.get(execution_id)
    }

    /// Whether spans are made (`GatewayOptions::telemetry`): a caller passes the agent's trace
    /// context ([`ExecuteRequest::trace`]) only then.
    pub fn traces_on(&self) -> bool {
        self.inner.telemetry.is_some()
    }

    pub(crate) fn telemetry(&self) -> Option<&Telemetry> {
        self.inner.telemetry.as_deref()
    }

    pub(crate) fn metrics(&self) -> Option<&sluice_metrics::Metrics> {
        self.inner.metrics.as_deref()
    }

    pub(crate) fn audit(&self) -> &audit::Auditor {
        &self.inner.audit
    }

    pub(crate) fn rates(&self) -> &rates::RateLimiter {
        &self.inner.rates
    }

    pub(crate) fn pool(&self) -> &Pool {
        &self.inner.pool
    }
}

/// Rebuild the snapshot whenever the pool's tools change (connects, refreshes, crashes).
async fn refresh_on_change(gateway: Gateway) {
    let mut changes = gateway.inner.pool.subscribe();
    while changes.changed().await.is_ok() {
        gateway.refresh().await;
    }
}
