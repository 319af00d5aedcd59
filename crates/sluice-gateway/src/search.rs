//! The search side of a snapshot: the sentence encoder, its vector cache on disk, and building a
//! snapshot's [`SearchIndex`].
//!
//! A snapshot's index is built at once from what the cache holds; when the encoder is there but
//! vectors are missing (a new server, a changed tool, the first run), the snapshot is served
//! lexical-only while [`Gateway::complete_vectors`] computes them on a blocking thread, writes
//! the cache, and rebuilds the snapshot, which then ranks with the encoder too. Segments of
//! unchanged servers are reused from the previous index, vectors and all.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use sluice_catalog::Catalog;
use sluice_embed::{Encoder, SharedEncoder};
use sluice_search::{
    Document, Group, SearchIndex, VectorCache, catalog_documents, server_documents,
};

use crate::Gateway;

/// The vector cache's file name in `<data dir>/cache/`.
pub const VECTOR_CACHE_FILE: &str = "search-vectors.bin";
/// The cache's folder in the data folder.
const CACHE_DIR: &str = "cache";
/// Vectors kept in the cache at most (about 160 MB on disk at 384 dimensions); past it, only
/// the current catalog's are kept.
const MAX_CACHED_VECTORS: usize = 100_000;

/// The encoder and its cache, shared by every snapshot.
pub(crate) struct SearchState {
    encoder: Option<Arc<SharedEncoder>>,
    cache: Mutex<Option<VectorCache>>,
    cache_path: Option<PathBuf>,
    /// Held while vectors are computed and the snapshot rebuilt: one computation at a time, and
    /// a second caller waits for the first instead of searching without vectors.
    completing: tokio::sync::Mutex<()>,
}

impl SearchState {
    pub fn new(encoder: Option<Arc<SharedEncoder>>, data_dir: Option<&Path>) -> SearchState {
        let cache_path = data_dir.map(|dir| dir.join(CACHE_DIR).join(VECTOR_CACHE_FILE));
        let cache = encoder.as_ref().map(|encoder| {
            load_cache(
                encoder.fingerprint(),
                encoder.dimension(),
                cache_path.as_deref(),
            )
        });
        SearchState {
            encoder,
            cache: Mutex::new(cache),
            cache_path,
            completing: tokio::sync::Mutex::new(()),
        }
    }

    /// The encoder, loaded again if it was let go while idle; `None` without one, or when it no
    /// longer loads (said in the log; search is then lexical only).
    pub fn encoder(&self) -> Option<Arc<Encoder>> {
        let shared = self.encoder.as_ref()?;
        match shared.get() {
            Ok(encoder) => Some(encoder),
            Err(error) => {
                tracing::warn!("search: lexical only: the sentence encoder did not load: {error}");
                None
            }
        }
    }

    /// Whether search has an encoder (loaded or not).
    pub fn has_encoder(&self) -> bool {
        self.encoder.is_some()
    }

    /// The index of a catalog and the saved skills (name, description), reusing `previous`'s
    /// segments of the `unchanged` servers without looking at them, the others' when their
    /// documents are the same, and cached vectors.
    pub fn index(
        &self,
        catalog: &Catalog,
        unchanged: &BTreeSet<String>,
        skills: &[(String, String)],
        previous: Option<&SearchIndex>,
    ) -> SearchIndex {
        self.build(catalog, skills, previous, |server| {
            unchanged.contains(server)
        })
    }

    /// An index of `previous`'s tool segments (taken as they are) and `skills` instead of its
    /// skills: a principal's view.
    pub fn with_skills(
        &self,
        previous: &SearchIndex,
        catalog: &Catalog,
        skills: &[(String, String)],
    ) -> SearchIndex {
        self.build(catalog, skills, Some(previous), |_| true)
    }

    /// The index of `catalog`'s servers and `skills`: the segment of a server `unchanged` names
    /// is taken from `previous` when it can be, every other one built.
    fn build(
        &self,
        catalog: &Catalog,
        skills: &[(String, String)],
        previous: Option<&SearchIndex>,
        unchanged: impl Fn(&str) -> bool,
    ) -> SearchIndex {
        let cache = self.cache.lock().ok();
        let cache = cache.as_ref().and_then(|cache| cache.as_ref());
        let mut groups: BTreeMap<String, Group> = catalog
            .server_names()
            .map(|server| {
                let reuse = unchanged(server)
                    && previous.is_some_and(|previous| previous.can_reuse(server, cache.is_some()));
                let group = match reuse {
                    true => Group::Unchanged,
                    false => Group::Documents(server_documents(catalog, server)),
                };
                (server.to_owned(), group)
            })
            .collect();
        if !skills.is_empty() {
            let skills = skills
                .iter()
                .map(|(name, description)| Document::skill(name, description))
                .collect();
            groups.insert(
                sluice_search::SKILLS_GROUP.to_owned(),
                Group::Documents(skills),
            );
        }
        SearchIndex::build_groups(groups, previous, cache)
    }

    /// Compute and store the vectors `index` lacks. Returns false when there was nothing to do.
    fn complete_blocking(&self, index: &SearchIndex) -> bool {
        if !self.has_encoder() || index.has_vectors() {
            return false;
        }
        let missing = match self.cache.lock() {
            Ok(cache) => cache
                .as_ref()
                .map(|cache| index.missing_vectors(cache))
                .unwrap_or_default(),
            Err(_) => Vec::new(),
        };
        let encoder = match missing.is_empty() {
            true => None,
            false => self.encoder(),
        };
        if let Some(encoder) = encoder {
            let started = std::time::Instant::now();
            tracing::info!(
                "search: computing {} tool vectors with {} (cached afterwards)",
                missing.len(),
                encoder.manifest().name
            );
            let mut fresh = VectorCache::new(&encoder.fingerprint(), encoder.dimension());
            sluice_search::embed_into(&mut fresh, &missing, &encoder, worker_threads());
            if let Ok(mut guard) = self.cache.lock()
                && let Some(cache) = guard.as_mut()
            {
                for (key, _) in &missing {
                    if let Some(vector) = fresh.get(key) {
                        cache.insert(*key, vector.to_vec());
                    }
                }
                // Vectors of tools no longer offered are kept (another config may share the data
                // folder) until the cache grows past its cap.
                if cache.len() > MAX_CACHED_VECTORS {
                    cache.retain(&index.vector_keys());
                }
                self.save(cache);
            }
            tracing::info!("search: vectors ready in {:.1?}", started.elapsed());
        }
        !missing.is_empty()
    }

    fn save(&self, cache: &VectorCache) {
        let Some(path) = &self.cache_path else { return };
        if let Some(folder) = path.parent()
            && let Err(error) = std::fs::create_dir_all(folder)
        {
            tracing::warn!("search: cannot create {}: {error}", folder.display());
            return;
        }
        if let Err(error) = cache.save(path) {
            tracing::warn!("search: {error}; vectors are computed again at the next start");
        }
    }
}

fn load_cache(fingerprint: &str, dimension: usize, path: Option<&Path>) -> VectorCache {
    match path {
        Some(path) => {
            let (cache, note) = VectorCache::load(path, fingerprint, dimension);
            if let Some(note) = note {
                tracing::info!("search: vector cache {}: {note}", path.display());
            }
            cache
        }
        None => VectorCache::new(fingerprint, dimension),
    }
}

/// Let go of the encoder's weights after `sluice.search.encoderIdleMs` without a search; the
/// next search loads them again. Runs for the gateway's life.
pub(crate) async fn release_idle_encoder(gateway: Gateway) {
    let idle = std::time::Duration::from_millis(gateway.config().settings.search.encoder_idle_ms);
    let Some(shared) = gateway.inner.search.encoder.clone() else {
        return;
    };
    if idle.is_zero() {
        return;
    }
    let period = (idle / 4).clamp(
        std::time::Duration::from_millis(50),
        std::time::Duration::from_secs(30),
    );
    loop {
        tokio::select! {
            () = tokio::time::sleep(period) => {}
            () = gateway.stopping().cancelled() => return,
        }
        // Not while vectors are being computed: that holds the encoder and is its use.
        let Ok(_completing) = gateway.inner.search.completing.try_lock() else {
            continue;
        };
        if shared.release_if_idle(idle) {
            tracing::info!(
                "search: the sentence encoder's weights were let go after {idle:?} without a search"
            );
            if let Some(release) = &gateway.inner.release_memory {
                release.schedule();
            }
        }
    }
}

/// Threads for embedding a catalog: one per core.
fn worker_threads() -> usize {
    std::thread::available_parallelism()
        .map(|count| count.get())
        .unwrap_or(1)
        .max(1)
}

/// Build a catalog's index with every vector computed (blocking): for one-shot commands
/// (`sluice tools eval`) that rank at once. Vectors come from and go to the cache at `cache`.
pub fn build_search_index(
    catalog: &Catalog,
    encoder: Option<&Encoder>,
    cache: &Path,
) -> SearchIndex {
    let Some(encoder) = encoder else {
        return SearchIndex::build(catalog_documents(catalog), None, None);
    };
    let mut vectors = load_cache(&encoder.fingerprint(), encoder.dimension(), Some(cache));
    let lexical = SearchIndex::build(catalog_documents(catalog), None, Some(&vectors));
    let missing = lexical.missing_vectors(&vectors);
    if !missing.is_empty() {
        tracing::info!(
            "search: computing {} tool vectors (cached afterwards)",
            missing.len()
        );
        sluice_search::embed_into(&mut vectors, &missing, encoder, worker_threads());
        if let Some(folder) = cache.parent() {
            let _ = std::fs::create_dir_all(folder);
        }
        if let Err(error) = vectors.save(cache) {
            tracing::warn!("search: {error}");
        }
    }
    SearchIndex::build(catalog_documents(catalog), Some(&lexical), Some(&vectors))
}

impl Gateway {
    /// [`Gateway::complete_vectors`] as a boxed future: `refresh` spawns it, and it refreshes
    /// again, so its type must be erased to end the cycle.
    pub(crate) fn complete_vectors_task(
        self,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
        Box::pin(async move { self.complete_vectors().await })
    }
}

/// See [`Gateway::complete_vectors`].
pub(crate) async fn complete_vectors(gateway: &Gateway) {
    let state = Arc::clone(&gateway.inner.search);
    if !state.has_encoder() {
        return;
    }
    let _completing = state.completing.lock().await;
    let index = Arc::clone(&gateway.snapshot().await.search);
    let worker = Arc::clone(&state);
    let computed = tokio::task::spawn_blocking(move || worker.complete_blocking(&index))
        .await
        .unwrap_or(false);
    if computed {
        let refreshing: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> =
            Box::pin(gateway.refresh());
        refreshing.await;
    }
}
