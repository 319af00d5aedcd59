//! Who a client acts for: the gateway's owner, or one principal of `sluice serve --http`.
//!
//! A [`Tenant`] holds what is a principal's own: its folder in the data folder
//! (`principals/<id>/`, with its `workspace/` and `skills/`), its search index (the shared tool
//! segments plus its own skills) and its limits (`sluice.limits.perPrincipal`: executions at
//! once, executions per minute, tool calls per minute), shared by all of its connections. The
//! owner's tenant (stdio, `sluice exec`, HTTP without authentication) uses the data folder itself
//! and has no per-principal limits. What is shared by every tenant: the downstream connections,
//! the catalog and the warm workers (which have run no code; they serve the owner only, since a
//! worker is confined to one workspace when it starts).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use sluice_config::PrincipalLimitSettings;
use sluice_search::SearchIndex;

/// The folder of the principals' folders, in the data folder.
pub const PRINCIPALS_DIR: &str = "principals";

/// Who a client acts for. Cheap to clone.
#[derive(Clone)]
pub struct Tenant {
    inner: Arc<TenantInner>,
}

impl std::fmt::Debug for Tenant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tenant")
            .field("principal", &self.inner.principal)
            .field("data_dir", &self.inner.data_dir)
            .finish_non_exhaustive()
    }
}

struct TenantInner {
    /// The principal's key (`jwt:<sub>`, `token:<name>`); `None` for the owner.
    principal: Option<Arc<str>>,
    /// Holds `workspace/` and `skills/`: the data folder itself for the owner.
    data_dir: Option<PathBuf>,
    limits: Option<PrincipalLimits>,
    /// Bumped when a skill is saved: the principal's search index is rebuilt.
    skills_generation: AtomicU64,
    /// The principal's search index: (snapshot version, skills generation, index).
    index: Mutex<Option<(u64, u64, Arc<SearchIndex>)>>,
}

/// A limit of a principal was reached.
#[derive(Debug, Clone, PartialEq)]
pub struct LimitRefusal {
    /// Which.
    pub limit: PrincipalLimit,
    /// When a retry can succeed (at least one second).
    pub retry_after: Duration,
    /// The limit's value.
    pub value: u64,
}

/// The per-principal limits (`sluice.limits.perPrincipal`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalLimit {
    /// `concurrentExecutions`.
    ConcurrentExecutions,
    /// `executionsPerMinute`.
    ExecutionsPerMinute,
    /// `toolCallsPerMinute`.
    ToolCallsPerMinute,
}

impl std::fmt::Display for LimitRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let seconds = self.retry_after.as_secs().max(1);
        let (what, key) = match self.limit {
            PrincipalLimit::ConcurrentExecutions => (
                format!("runs {} executions at once", self.value),
                "concurrentExecutions",
            ),
            PrincipalLimit::ExecutionsPerMinute => (
                format!("started {} executions in the last minute", self.value),
                "executionsPerMinute",
            ),
            PrincipalLimit::ToolCallsPerMinute => (
                format!("made {} tool calls in the last minute", self.value),
                "toolCallsPerMinute",
            ),
        };
        write!(
            f,
            "this principal already {what}, its limit (sluice.limits.perPrincipal.{key}); retry \
             in {seconds} s"
        )
    }
}

impl Tenant {
    /// The gateway owner's tenant: the data folder itself, no per-principal limits.
    pub(crate) fn owner(data_dir: Option<PathBuf>) -> Tenant {
        Tenant::new(None, data_dir, None)
    }

    /// A principal's tenant, its folder made under `data_dir` if there is one.
    pub(crate) fn principal(
        key: &str,
        data_dir: Option<&Path>,
        limits: &PrincipalLimitSettings,
    ) -> std::io::Result<Tenant> {
        let folder = data_dir.map(|data_dir| data_dir.join(PRINCIPALS_DIR).join(folder_name(key)));
        if let Some(folder) = &folder {
            for sub in [crate::WORKSPACE_DIR, sluice_skills::SKILLS_DIR] {
                std::fs::create_dir_all(folder.join(sub))?;
            }
        }
        Ok(Tenant::new(
            Some(Arc::from(key)),
            folder,
            Some(PrincipalLimits::new(limits)),
        ))
    }

    fn new(
        principal: Option<Arc<str>>,
        data_dir: Option<PathBuf>,
        limits: Option<PrincipalLimits>,
    ) -> Tenant {
        Tenant {
            inner: Arc::new(TenantInner {
                principal,
                data_dir,
                limits,
                skills_generation: AtomicU64::new(0),
                index: Mutex::new(None),
            }),
        }
    }

    /// The principal's key; `None` for the owner.
    pub fn principal_key(&self) -> Option<&str> {
        self.inner.principal.as_deref()
    }

    /// Whether this is the owner's tenant (the data folder itself).
    pub fn is_owner(&self) -> bool {
        self.inner.principal.is_none()
    }

    /// The folder holding this tenant's `workspace/` and `skills/`.
    pub fn data_dir(&self) -> Option<&Path> {
        self.inner.data_dir.as_deref()
    }

    /// This tenant's workspace folder (`./workspace/` in agent code).
    pub fn workspace_dir(&self) -> Option<PathBuf> {
        self.data_dir().map(|dir| dir.join(crate::WORKSPACE_DIR))
    }

    /// Start an execution: `Err` when the principal runs its most at once or started its most
    /// this minute. The guard counts it as running until it drops.
    pub(crate) fn begin_execution(&self) -> Result<ExecutionPermit, LimitRefusal> {
        match &self.inner.limits {
            None => Ok(ExecutionPermit(None)),
            Some(limits) => limits
                .begin_execution()
                .map(|()| ExecutionPermit(Some(self.clone()))),
        }
    }

    /// Whether an execution would be let in now, without taking it (for a refusal before the
    /// request is read further: HTTP 429).
    pub fn check_execution(&self) -> Result<(), LimitRefusal> {
        match &self.inner.limits {
            None => Ok(()),
            Some(limits) => limits.check_execution(),
        }
    }

    /// Take one tool call of the principal's rate.
    pub(crate) fn take_tool_call(&self) -> Result<(), LimitRefusal> {
        match &self.inner.limits {
            None => Ok(()),
            Some(limits) => limits
                .tool_calls
                .take(Instant::now(), PrincipalLimit::ToolCallsPerMinute),
        }
    }

    pub(crate) fn skills_changed(&self) {
        self.inner.skills_generation.fetch_add(1, Ordering::SeqCst);
    }

    /// The principal's search index for snapshot `version`, made by `build` when there is none
    /// for it (or its skills changed).
    pub(crate) fn index(
        &self,
        version: u64,
        build: impl FnOnce() -> SearchIndex,
    ) -> Arc<SearchIndex> {
        let generation = self.inner.skills_generation.load(Ordering::SeqCst);
        let mut slot = self
            .inner
            .index
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some((built_for, built_generation, index)) = slot.as_ref()
            && *built_for == version
            && *built_generation == generation
        {
            return index.clone();
        }
        let index = Arc::new(build());
        *slot = Some((version, generation, index.clone()));
        index
    }
}

/// A running execution of a principal, counted until it drops.
pub(crate) struct ExecutionPermit(Option<Tenant>);

impl Drop for ExecutionPermit {
    fn drop(&mut self) {
        if let Some(limits) = self
            .0
            .as_ref()
            .and_then(|tenant| tenant.inner.limits.as_ref())
        {
            limits.running.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// The folder name of a principal: its key's readable characters (at most 40) and a hash of the
/// whole key, so two keys never share a folder and no key can name a path.
pub fn folder_name(key: &str) -> String {
    let readable: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(40)
        .collect();
    let digest = Sha256::digest(key.as_bytes());
    let hash: String = digest
        .iter()
        .take(8)
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("{readable}-{hash}")
}

struct PrincipalLimits {
    concurrent: usize,
    running: AtomicUsize,
    executions: Bucket,
    tool_calls: Bucket,
}

impl PrincipalLimits {
    fn new(settings: &PrincipalLimitSettings) -> PrincipalLimits {
        PrincipalLimits {
            concurrent: settings.concurrent_executions,
            running: AtomicUsize::new(0),
            executions: Bucket::per_minute(settings.executions_per_minute),
            tool_calls: Bucket::per_minute(settings.tool_calls_per_minute),
        }
    }

    fn check_execution(&self) -> Result<(), LimitRefusal> {
        if self.concurrent > 0 && self.running.load(Ordering::SeqCst) >= self.concurrent {
            return Err(self.too_many_running());
        }
        self.executions
            .check(Instant::now(), PrincipalLimit::ExecutionsPerMinute)
    }

    fn begin_execution(&self) -> Result<(), LimitRefusal> {
        let running = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        if self.concurrent > 0 && running > self.concurrent {
            self.running.fetch_sub(1, Ordering::SeqCst);
            return Err(self.too_many_running());
        }
        if let Err(refusal) = self
            .executions
            .take(Instant::now(), PrincipalLimit::ExecutionsPerMinute)
        {
            self.running.fetch_sub(1, Ordering::SeqCst);
            return Err(refusal);
        }
        Ok(())
    }

    fn too_many_running(&self) -> LimitRefusal {
        LimitRefusal {
            limit: PrincipalLimit::ConcurrentExecutions,
            retry_after: Duration::from_secs(1),
            value: self.concurrent as u64,
        }
    }
}

/// A token bucket of a per-minute rate: it holds up to a minute's worth and refills
/// continuously. Without a rate (0) it never refuses.
struct Bucket {
    per_minute: u32,
    state: Mutex<(f64, Instant)>,
}

impl Bucket {
    fn per_minute(per_minute: u32) -> Bucket {
        Bucket {
            per_minute,
            state: Mutex::new((f64::from(per_minute), Instant::now())),
        }
    }

    fn refill(&self, state: &mut (f64, Instant), now: Instant) {
        let rate = f64::from(self.per_minute) / 60.0;
        let elapsed = now.saturating_duration_since(state.1).as_secs_f64();
        state.0 = (state.0 + elapsed * rate).min(f64::from(self.per_minute));
        state.1 = now;
    }

    fn refusal(&self, tokens: f64, limit: PrincipalLimit) -> LimitRefusal {
        let rate = f64::from(self.per_minute) / 60.0;
        let wait = ((1.0 - tokens) / rate).max(0.0).ceil().max(1.0);
        LimitRefusal {
            limit,
            retry_after: Duration::from_secs(wait as u64),
            value: u64::from(self.per_minute),
        }
    }

    fn check(&self, now: Instant, limit: PrincipalLimit) -> Result<(), LimitRefusal> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        self.refill(&mut state, now);
        if state.0 >= 1.0 {
            Ok(())
        } else {
            Err(self.refusal(state.0, limit))
        }
    }

    fn take(&self, now: Instant, limit: PrincipalLimit) -> Result<(), LimitRefusal> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        self.refill(&mut state, now);
        if state.0 >= 1.0 {
            state.0 -= 1.0;
            Ok(())
        } else {
            Err(self.refusal(state.0, limit))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_names_are_distinct_and_safe() {
        let a = folder_name("jwt:agent");
        assert!(a.starts_with("jwt-agent-"), "{a}");
        assert_ne!(folder_name("jwt:a/b"), folder_name("jwt:a-b"));
        for key in ["jwt:../..", "token:.", "jwt:a\0b", &"x".repeat(500)] {
            let name = folder_name(key);
            assert!(!name.contains(['/', '.', '\0']), "{name}");
            assert!(name.len() <= 40 + 17, "{name}");
        }
    }

    #[test]
    fn a_minute_bucket_refuses_then_says_when() {
        let bucket = Bucket::per_minute(2);
        let start = Instant::now();
        let limit = PrincipalLimit::ExecutionsPerMinute;
        assert!(bucket.take(start, limit).is_ok());
        assert!(bucket.take(start, limit).is_ok());
        let refusal = bucket.take(start, limit).unwrap_err();
        assert_eq!(refusal.retry_after, Duration::from_secs(30));
        assert!(refusal.to_string().contains("retry in 30 s"), "{refusal}");
        assert!(bucket.check(start + Duration::from_secs(31), limit).is_ok());
        assert!(Bucket::per_minute(0).take(start, limit).is_ok());
    }

    #[test]
    fn concurrent_executions_are_counted_until_the_permit_drops() {
        let settings = PrincipalLimitSettings {
            concurrent_executions: 1,
            executions_per_minute: 0,
            tool_calls_per_minute: 0,
        };
        let tenant = Tenant::principal("token:a", None, &settings).unwrap();
        let permit = tenant.begin_execution().unwrap();
        let refusal = tenant.begin_execution().err().unwrap();
        assert_eq!(refusal.limit, PrincipalLimit::ConcurrentExecutions);
        assert!(tenant.check_execution().is_err());
        drop(permit);
        assert!(tenant.check_execution().is_ok());
        assert!(tenant.begin_execution().is_ok());
    }
}
