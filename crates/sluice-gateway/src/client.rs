//! Client connections and their sessions.
//!
//! A [`Client`] is one MCP connection (the MCP server makes one per connection). It enforces the
//! per-client limits (`sluice.limits`: executions at once, executions in all) and owns the
//! client's sessions: an execution with a `session` id runs in that session's worker, which keeps
//! its JavaScript globals between executions. Sessions belong to the client that created them:
//! another client using the same id gets its own, separate session.
//!
//! A session ends when it has been idle for `sluice.sessions.idleTimeoutMs`, when the client
//! opens one more than `maxSessions` (the least recently used idle one ends), after
//! `maxExecutions`, when an execution hits a limit that leaves the worker's state lost (timeout,
//! memory, crash), and when the client goes away. An execution in an ended session fails with a
//! clear error only when the end was forced by a limit; a later execution with the same id simply
//! starts a new, empty session.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use sluice_worker_protocol::{ErrorKind, Language, SessionEnd, SessionEvent};
use tokio::sync::Mutex;

use crate::execute::Run;
use crate::present::{FileError, FileListing, SearchError, SearchRequest, SearchResponse};
use crate::privacy::SharedVault;
use crate::report::{ExecuteRequest, ExecutionReport, Origin, error_report};
use crate::skills::{SaveSkillError, SavedSkill};
use crate::worker::WorkerProcess;
use crate::{Gateway, Tenant};

/// Longest session id; ids are `[A-Za-z0-9_.-]`.
pub const MAX_SESSION_ID_CHARS: usize = 64;

/// One client connection. Cheap to clone; the sessions end when the last clone is dropped.
#[derive(Clone)]
pub struct Client {
    inner: Arc<ClientInner>,
}

struct ClientInner {
    gateway: Gateway,
    origin_client: Arc<str>,
    /// Whom it acts for: its folders, skills and per-principal limits.
    tenant: Tenant,
    running: AtomicUsize,
    executions: AtomicU64,
    sessions: Mutex<HashMap<String, Arc<Mutex<Session>>>>,
    /// Workers that served this client's executions outside sessions, kept for its next ones
    /// (`sluice.workers.reusePerClient`); each execution gets a brand-new runtime in them. They
    /// never serve another client, and are killed as they drop with the connection.
    spares: std::sync::Mutex<Vec<WorkerProcess>>,
    /// The vault of the connection's direct tool calls (`sluice.direct`): a token the agent
    /// read in one direct result means the same value in its next direct call.
    direct_vault: SharedVault,
}

impl Drop for ClientInner {
    /// The connection is gone: its sessions end (their workers are killed as they drop).
    fn drop(&mut self) {
        self.gateway.inner.policy.forget_client(&self.origin_client);
        for id in self.sessions.get_mut().keys() {
            let origin = Origin {
                client: self.origin_client.clone(),
                session: Some(id.clone()),
                tenant: self.tenant.clone(),
            };
            self.gateway.audit().session(
                &origin,
                SessionEvent::Ended,
                Some(SessionEnd::ClientDisconnected),
            );
        }
    }
}

/// One session: its worker (between executions) and its vault.
struct Session {
    worker: Option<WorkerProcess>,
    vault: SharedVault,
    executions: u64,
    last_used: Instant,
    /// Set when the session ended while an execution was waiting for it.
    ended: bool,
}

impl Client {
    /// The gateway's name for this connection (as in the audit log).
    pub fn id(&self) -> &str {
        &self.inner.origin_client
    }

    /// Whom this connection acts for.
    pub fn tenant(&self) -> &Tenant {
        &self.inner.tenant
    }

    pub(crate) fn gateway(&self) -> &Gateway {
        &self.inner.gateway
    }

    pub(crate) fn origin_client(&self) -> std::sync::Arc<str> {
        self.inner.origin_client.clone()
    }

    pub(crate) fn direct_vault(&self) -> SharedVault {
        self.inner.direct_vault.clone()
    }

    /// [`Gateway::list_files`] with this client's own `workspace/` and `skills/`.
    pub async fn list_files(&self, path: &str) -> Result<FileListing, FileError> {
        crate::files::list_files(&self.inner.gateway, &self.inner.tenant, path).await
    }

    /// [`Gateway::read_file`] with this client's own `workspace/` and `skills/`.
    pub async fn read_file(&self, path: &str) -> Result<String, FileError> {
        crate::files::read_file(&self.inner.gateway, &self.inner.tenant, path).await
    }

    /// [`Gateway::search`] over the tools and this client's own skills.
    pub async fn search(&self, request: &SearchRequest) -> Result<SearchResponse, SearchError> {
        self.search_traced(request, None).await
    }

    /// [`Client::search`] whose span (with traces on) continues `trace`, the W3C trace context
    /// of the agent's request, when it is valid.
    pub async fn search_traced(
        &self,
        request: &SearchRequest,
        trace: Option<&crate::TraceContext>,
    ) -> Result<SearchResponse, SearchError> {
        let span = self
            .inner
            .gateway
            .telemetry()
            .map(|telemetry| telemetry.search(trace, &self.inner.origin_client));
        let response =
            crate::skills::search(&self.inner.gateway, &self.inner.tenant, request).await;
        if let Some(span) = span {
            span.end(
                response
                    .as_ref()
                    .ok()
                    .map(|response| sluice_telemetry::SearchEnd {
                        hits: response.tools.len(),
                        skills: response.skills.len(),
                        weak: response.weak,
                    }),
            );
        }
        response
    }

    /// [`Gateway::save_skill`] into this client's own skills, recorded as saved by it.
    pub async fn save_skill(
        &self,
        name: &str,
        description: &str,
        code: &str,
        language: Language,
    ) -> Result<SavedSkill, SaveSkillError> {
        crate::skills::save_skill(
            &self.inner.gateway,
            &self.inner.tenant,
            name,
            description,
            code,
            language,
            Some(self.id()),
        )
        .await
    }

    /// Run agent code for this client: in the request's session if it names one, else fresh.
    pub async fn execute(&self, request: ExecuteRequest) -> ExecutionReport {
        let inner = &self.inner;
        let limits = &inner.gateway.config().settings.limits;
        let origin = Origin {
            client: inner.origin_client.clone(),
            session: request.session.clone(),
            tenant: inner.tenant.clone(),
        };
        if let Some(session) = &request.session
            && let Err(message) = check_session_id(session)
        {
            return refused(
                &inner.gateway,
                &origin,
                &request,
                ErrorKind::InvalidSession,
                message,
            );
        }
        let running = inner.running.fetch_add(1, Ordering::SeqCst) + 1;
        let _running = RunningGuard(&inner.running);
        if running > limits.concurrent_executions {
            return refused(
                &inner.gateway,
                &origin,
                &request,
                ErrorKind::ConcurrencyLimit,
                format!(
                    "this client already runs {} executions at once, the limit \
                     (sluice.limits.concurrentExecutions); wait for one to finish, or do more in \
                     one execution with Promise.all",
                    limits.concurrent_executions
                ),
            );
        }
        let executed = inner.executions.fetch_add(1, Ordering::SeqCst) + 1;
        if executed > limits.executions_per_client {
            return refused(
                &inner.gateway,
                &origin,
                &request,
                ErrorKind::ExecutionLimit,
                format!(
                    "this client has run {} executions, the limit of one connection \
                     (sluice.limits.executionsPerClient); reconnect to start over",
                    limits.executions_per_client
                ),
            );
        }
        // The principal's limits, over all its connections.
        let _permit = match inner.tenant.begin_execution() {
            Ok(permit) => permit,
            Err(refusal) => {
                let retry_after_ms = refusal.retry_after.as_millis() as u64;
                let mut report = refused(
                    &inner.gateway,
                    &origin,
                    &request,
                    ErrorKind::PrincipalLimit,
                    refusal.to_string(),
                );
                report.retry_after_ms = Some(retry_after_ms);
                return report;
            }
        };
        match request.session.clone() {
            None => self.execute_fresh(origin, request).await,
            Some(id) => self.execute_in_session(id, origin, request).await,
        }
    }

    /// An execution outside any session: in a worker this client used before when one is
    /// spare (a brand-new runtime in it), else a warm or new one; a vault of its own.
    async fn execute_fresh(&self, origin: Origin, request: ExecuteRequest) -> ExecutionReport {
        let gateway = &self.inner.gateway;
        let keep = gateway.config().settings.workers.reuse_per_client;
        let vault = crate::privacy::new_vault();
        let run = Run {
            origin: &origin,
            request,
            vault: &vault,
            worker: self.spare(keep),
            keep_state: false,
            reuse: keep > 0,
        };
        let (report, worker) = gateway.run(run).await;
        if let Some(worker) = worker {
            let mut spares = self
                .inner
                .spares
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if spares.len() < keep {
                spares.push(worker);
            }
            // Else it drops here, which kills it.
        }
        report
    }

    /// A worker for this client's next fresh execution: its longest idle spare whose new
    /// runtime is made (it said `Tidied`); else, while the client may keep more spares than it
    /// has, a warm worker that is ready (it becomes a spare too); else its longest idle spare
    /// (the execution starts when that one's runtime is made, which began when its last
    /// execution was answered); else none, and the execution takes a warm worker or starts one.
    ///
    /// Back-to-back executions answered one at a time would otherwise always find their one
    /// spare still making its runtime: with two, one is made while the other runs. A warm
    /// worker is taken only when it is ready and the client has room, so the pool starts a
    /// replacement once per added spare, not per execution.
    fn spare(&self, keep: usize) -> Option<WorkerProcess> {
        let mut spares = self
            .inner
            .spares
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // A dead one is dropped, which reaps it.
        spares.retain_mut(WorkerProcess::is_alive);
        if let Some(ready) = spares.iter_mut().position(WorkerProcess::is_tidied) {
            return Some(spares.remove(ready));
        }
        if spares.len() < keep && self.inner.tenant.is_owner() {
            let gateway = &self.inner.gateway;
            if let Some(warm) = gateway.warm().take_ready(gateway) {
                return Some(warm);
            }
        }
        (!spares.is_empty()).then(|| spares.remove(0))
    }

    async fn execute_in_session(
        &self,
        id: String,
        origin: Origin,
        request: ExecuteRequest,
    ) -> ExecutionReport {
        let inner = &self.inner;
        let gateway = &inner.gateway;
        let settings = &gateway.config().settings.sessions;
        let session = match self.session(&id).await {
            Ok(session) => session,
            Err(message) => {
                return refused(gateway, &origin, &request, ErrorKind::SessionLimit, message);
            }
        };
        let Ok(mut state) = session.clone().try_lock_owned() else {
            return refused(
                gateway,
                &origin,
                &request,
                ErrorKind::SessionBusy,
                format!(
                    "session \"{id}\" is running another execution; wait for it to finish, or \
                     use another session id"
                ),
            );
        };
        if state.ended {
            // Evicted between the lookup and the lock: start over with a new session.
            drop(state);
            return Box::pin(self.execute_in_session(id, origin, request)).await;
        }
        if state.executions >= settings.max_executions {
            state.ended = true;
            if let Some(worker) = state.worker.take() {
                worker.stop().await;
            }
            self.forget(&id, &session).await;
            gateway.audit().session(
                &origin,
                SessionEvent::Ended,
                Some(SessionEnd::MaxExecutions),
            );
            return refused(
                gateway,
                &origin,
                &request,
                ErrorKind::SessionLimit,
                format!(
                    "session \"{id}\" has run {} executions, the limit \
                     (sluice.sessions.maxExecutions), and is now ended; the next execution with \
                     this id starts a new, empty session",
                    settings.max_executions
                ),
            );
        }
        state.executions += 1;
        state.last_used = Instant::now();
        let vault = state.vault.clone();
        let run = Run {
            origin: &origin,
            request,
            vault: &vault,
            worker: state.worker.take(),
            keep_state: true,
            reuse: false,
        };
        let (mut report, worker) = gateway.run(run).await;
        state.last_used = Instant::now();
        match worker {
            Some(worker) => state.worker = Some(worker),
            None => {
                state.ended = true;
                self.forget(&id, &session).await;
                let reason = report
                    .error
                    .as_ref()
                    .map_or(SessionEnd::WorkerLost, |error| {
                        SessionEnd::Failed(error.kind.clone())
                    });
                gateway
                    .audit()
                    .session(&origin, SessionEvent::Ended, Some(reason));
                if let Some(error) = &mut report.error {
                    error.message.push_str(&format!(
                        " [session \"{id}\" ended: its variables are lost; the next execution \
                         with this id starts a new, empty session]"
                    ));
                }
            }
        }
        report
    }

    /// The session `id`, created if new. Opening one more than `maxSessions` ends the least
    /// recently used idle session; when all are busy, the new one is refused.
    async fn session(&self, id: &str) -> Result<Arc<Mutex<Session>>, String> {
        let inner = &self.inner;
        let gateway = &inner.gateway;
        let max_sessions = gateway.config().settings.sessions.max_sessions;
        let mut sessions = inner.sessions.lock().await;
        if let Some(session) = sessions.get(id) {
            return Ok(session.clone());
        }
        let mut evicted = None;
        if sessions.len() >= max_sessions {
            let mut idle: Vec<(Instant, String)> = sessions
                .iter()
                .filter_map(|(id, session)| {
                    session
                        .try_lock()
                        .ok()
                        .map(|state| (state.last_used, id.clone()))
                })
                .collect();
            idle.sort();
            let Some((_, oldest)) = idle.into_iter().next() else {
                return Err(format!(
                    "this client has {max_sessions} sessions, all running, the limit \
                     (sluice.sessions.maxSessions); wait for one to finish or reuse a session id"
                ));
            };
            evicted = sessions.remove(&oldest);
            if evicted.is_some() {
                let origin = Origin {
                    client: inner.origin_client.clone(),
                    session: Some(oldest),
                    tenant: inner.tenant.clone(),
                };
                gateway.audit().session(
                    &origin,
                    SessionEvent::Ended,
                    Some(SessionEnd::MaxSessions),
                );
            }
        }
        let session = Arc::new(Mutex::new(Session {
            worker: None,
            vault: crate::privacy::new_vault(),
            executions: 0,
            last_used: Instant::now(),
            ended: false,
        }));
        sessions.insert(id.to_owned(), session.clone());
        let origin = Origin {
            client: inner.origin_client.clone(),
            session: Some(id.to_owned()),
            tenant: inner.tenant.clone(),
        };
        gateway
            .audit()
            .session(&origin, SessionEvent::Created, None);
        // Its worker is stopped after the map is released: stopping can take seconds, and every
        // other session of this client needs the map meanwhile.
        drop(sessions);
        if let Some(evicted) = evicted {
            end_session(evicted).await;
        }
        Ok(session)
    }

    /// Drop `id` from the map if it still maps to `session`.
    async fn forget(&self, id: &str, session: &Arc<Mutex<Session>>) {
        let mut sessions = self.inner.sessions.lock().await;
        if sessions
            .get(id)
            .is_some_and(|current| Arc::ptr_eq(current, session))
        {
            sessions.remove(id);
        }
    }
}

/// Stop a session's worker (waiting for a running execution to finish first) and mark it ended.
async fn end_session(session: Arc<Mutex<Session>>) {
    let mut state = session.lock().await;
    state.ended = true;
    if let Some(worker) = state.worker.take() {
        worker.stop().await;
    }
}

/// Every so often, end the sessions idle for longer than `idle`. Stops with the client.
async fn evict_idle_sessions(client: Weak<ClientInner>, idle: Duration) {
    let period = (idle / 4).clamp(Duration::from_millis(50), Duration::from_secs(30));
    loop {
        tokio::time::sleep(period).await;
        let Some(inner) = client.upgrade() else {
            return;
        };
        let expired: Vec<(String, Arc<Mutex<Session>>)> = {
            let mut sessions = inner.sessions.lock().await;
            let expired_ids: Vec<String> = sessions
                .iter()
                .filter(|(_, session)| {
                    session
                        .try_lock()
                        .is_ok_and(|state| state.last_used.elapsed() >= idle)
                })
                .map(|(id, _)| id.clone())
                .collect();
            expired_ids
                .into_iter()
                .filter_map(|id| sessions.remove(&id).map(|session| (id, session)))
                .collect()
        };
        for (id, session) in expired {
            end_session(session).await;
            let origin = Origin {
                client: inner.origin_client.clone(),
                session: Some(id),
                tenant: inner.tenant.clone(),
            };
            inner
                .gateway
                .audit()
                .session(&origin, SessionEvent::Ended, Some(SessionEnd::Idle));
        }
    }
}

/// Session ids: 1 to 64 of `[A-Za-z0-9_.-]`.
fn check_session_id(id: &str) -> Result<(), String> {
    let valid = !id.is_empty()
        && id.chars().count() <= MAX_SESSION_ID_CHARS
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if valid {
        Ok(())
    } else {
        Err(format!(
            "session id \"{}\" is not valid: use 1 to {MAX_SESSION_ID_CHARS} letters, digits, \
             '_', '.' or '-', such as \"leads-import\"",
            id.chars().take(80).collect::<String>()
        ))
    }
}

/// An execution refused before it ran, reported and audited like any other.
fn refused(
    gateway: &Gateway,
    origin: &Origin,
    request: &ExecuteRequest,
    kind: ErrorKind,
    message: String,
) -> ExecutionReport {
    let execution_id = crate::report::new_execution_id();
    // Traced too: an operator sees the refusals among the executions.
    if let Some(telemetry) = gateway.telemetry() {
        let limits_hit: Vec<sluice_worker_protocol::Limit> = kind.limit().into_iter().collect();
        telemetry
            .execution(
                request.trace.as_ref(),
                sluice_telemetry::ExecutionStart {
                    client: &origin.client,
                    session: origin.session.as_deref(),
                    execution_id: &execution_id,
                    language: request.language,
                },
            )
            .end(sluice_telemetry::ExecutionEnd::before_running(
                &kind,
                &limits_hit,
            ));
    }
    let report = error_report(kind, message);
    gateway
        .audit()
        .refused(&execution_id, origin, request, &report);
    report
}

/// Counts an execution as running for as long as it lives.
struct RunningGuard<'a>(&'a AtomicUsize);

impl Drop for RunningGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// See [`Gateway::client`].
pub(crate) fn connect(gateway: &Gateway, name: &str, tenant: Tenant) -> Client {
    let id = format!("{name}-{}", crate::privacy::random_tag());
    let inner = Arc::new(ClientInner {
        gateway: gateway.clone(),
        origin_client: Arc::from(id.as_str()),
        tenant,
        running: AtomicUsize::new(0),
        executions: AtomicU64::new(0),
        sessions: Mutex::new(HashMap::new()),
        spares: std::sync::Mutex::new(Vec::new()),
        direct_vault: crate::privacy::new_vault(),
    });
    let idle = Duration::from_millis(gateway.config().settings.sessions.idle_timeout_ms);
    tokio::spawn(evict_idle_sessions(Arc::downgrade(&inner), idle));
    Client { inner }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids() {
        assert!(check_session_id("leads-import_2.a").is_ok());
        assert!(check_session_id("").is_err());
        assert!(check_session_id("../x").is_err());
        assert!(check_session_id("a b").is_err());
        assert!(check_session_id(&"a".repeat(65)).is_err());
        assert!(check_session_id(&"a".repeat(64)).is_ok());
    }
}
