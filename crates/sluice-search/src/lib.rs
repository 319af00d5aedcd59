/*!
Tool search: finds the few tools (and saved skills) a task needs among thousands.

An index is built once per catalog snapshot, one *segment* per server (and one for skills), and
rebuilt only for the segments whose definitions changed ([`SearchIndex::build`] reuses the rest).
A query is ranked by two scorers over every item, fused:

- **lexical**: BM25F over every text that describes an item — name (split at case and
  separators), title, description, server, parameter names and descriptions, output fields,
  annotations — with English stems and prefix expansion ([`lexical`]);
- **dense**: the cosine of a sentence encoder's vectors ([`sluice_embed`]) of the query and of each
  item's [`Document::embedding_text`], so a query that paraphrases a task without the tool's own
  words still meets it. Item vectors are computed once per text and model and kept in a
  [`VectorCache`].

The fused score is `DENSE_SHARE * cosine + (1 - DENSE_SHARE) * bm25 / best bm25`. A query that
names a tool exactly (`get_current_time`, `getCurrentTime`, `server.identifier`) puts it first
and skips the encoder. A query that asks for two things (`... and then ...`) is also ranked part
by part, and the parts' best items are interleaved, so both tools surface. Without a model, or
while vectors are missing, ranking is lexical alone.

The crate does no IO except [`VectorCache::load`] and [`VectorCache::save`].
*/
#![deny(missing_docs)]

mod document;
pub mod eval;
mod lexical;
mod synonyms;
mod text;
mod vectors;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use sluice_embed::{Encoder, TextKind};

pub use document::{
    Document, Item, ItemKey, SKILLS_GROUP, catalog_documents, server_documents, text_key,
};
pub use lexical::FieldWeights;
pub use text::{split_words, squash, terms};
pub use vectors::{CacheWriteError, VectorCache, embed_into};

use lexical::{Postings, Statistics};

/// The dense score's share of the fused score (the lexical score has the rest).
pub const DENSE_SHARE: f32 = 0.75;
/// Hits under this share of the best hit's score are not shown.
pub const RELATIVE_FLOOR: f32 = 0.5;
/// Below this fused score, the best hit is reported as a weak match.
pub const WEAK_SCORE: f32 = 0.35;

/// A search request.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// Free text; empty lists items in index order.
    pub text: String,
    /// Only items of this group (a server's name), when set.
    pub group: Option<String>,
    /// At most this many hits.
    pub limit: usize,
    /// How scores are combined (the defaults are what Sluice ships; the evaluation varies them).
    pub tuning: Tuning,
}

/// How a query's scores are combined.
#[derive(Debug, Clone, Copy)]
pub struct Tuning {
    /// The dense score's share of the fused score, when the encoder takes part.
    pub dense_share: f32,
    /// Whether a query asking for several things is also ranked part by part.
    pub split_intents: bool,
    /// Hits scoring under this share of the best one are left out (they only cost the agent
    /// tokens).
    pub relative_floor: f32,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            dense_share: DENSE_SHARE,
            split_intents: true,
            relative_floor: RELATIVE_FLOOR,
        }
    }
}

/// One ranked item.
#[derive(Debug, Clone)]
pub struct Hit<'index> {
    /// The item.
    pub item: &'index Item,
    /// Its fused score (higher is better; 0 for an empty query).
    pub score: f32,
    /// The query named this item exactly.
    pub exact: bool,
}

/// The ranked answer to a [`Query`].
#[derive(Debug, Clone)]
pub struct Ranking<'index> {
    /// Best first.
    pub hits: Vec<Hit<'index>>,
    /// True when even the best hit matches poorly (see [`WEAK_SCORE`]).
    pub weak: bool,
    /// Groups whose items scored best, best first (for "did you mean" suggestions).
    pub closest_groups: Vec<String>,
    /// Whether the encoder took part.
    pub dense: bool,
    /// How many more items match as well as the hits shown do (over the same floor) but were
    /// left out by the limit: what a caller can say to ask for a narrower query.
    pub more: usize,
}

/// One server's (or the skills') part of the index.
#[derive(Debug)]
struct Segment {
    group: String,
    fingerprint: [u8; 32],
    /// What is kept of each document, in the order of the postings and vectors.
    items: Vec<Item>,
    postings: Postings,
    /// Squashed names → documents: the tool's name, its identifier, and both prefixed with
    /// the server.
    exact: HashMap<String, Vec<u32>>,
    /// Cache keys of each document's embedding text.
    vector_keys: Vec<[u8; 32]>,
    /// `documents × dimension` values, when every document's vector was at hand.
    vectors: Option<Vec<f32>>,
    /// Each document's embedding text while `vectors` is missing and the segment was built
    /// with a cache (for [`SearchIndex::missing_vectors`]); empty otherwise.
    embedding_texts: Vec<String>,
}

impl Segment {
    /// Whether a rebuild may take this segment as it is: it has its vectors, or there is no
    /// cache to take them from.
    fn reusable(&self, with_cache: bool) -> bool {
        self.vectors.is_some() || !with_cache
    }

    fn build(
        group: String,
        documents: Vec<Document>,
        fingerprint: [u8; 32],
        weights: &FieldWeights,
        cache: Option<&VectorCache>,
    ) -> Segment {
        let postings = Postings::build(&documents, weights);
        let mut exact: HashMap<String, Vec<u32>> = HashMap::new();
        for (index, document) in documents.iter().enumerate() {
            let mut names = vec![squash(&document.name), squash(&document.identifier)];
            if let Some(server) = document.server() {
                names.push(squash(&format!("{server}{}", document.name)));
                names.push(squash(&format!("{server}{}", document.identifier)));
            }
            names.sort_unstable();
            names.dedup();
            for name in names {
                exact.entry(name).or_default().push(index as u32);
            }
        }
        let mut embedding_texts: Vec<String> =
            documents.iter().map(Document::embedding_text).collect();
        let vector_keys: Vec<[u8; 32]> =
            embedding_texts.iter().map(|text| text_key(text)).collect();
        let vectors = cache.and_then(|cache| gather_vectors(cache, &vector_keys));
        // Kept only while there are vectors to compute: none without a cache (no encoder), none
        // once every vector is here.
        if cache.is_none() || vectors.is_some() {
            embedding_texts = Vec::new();
        }
        let mut items: Vec<Item> = documents.into_iter().map(Item::of).collect();
        items.shrink_to_fit();
        Segment {
            group,
            fingerprint,
            items,
            postings,
            exact,
            vector_keys,
            vectors,
            embedding_texts,
        }
    }
}

/// The statistics of `segments`: updated from `previous`'s by the segments that left and came
/// (a rebuild after one server changed touches that server's terms only), or built afresh.
fn statistics_of(segments: &[Arc<Segment>], previous: Option<&SearchIndex>) -> Statistics {
    let all = segments.iter().map(|segment| &segment.postings);
    let Some(previous) = previous else {
        return Statistics::build(all);
    };
    let held = |among: &[Arc<Segment>], segment: &Arc<Segment>| {
        among.iter().any(|other| Arc::ptr_eq(other, segment))
    };
    let removed = previous
        .segments
        .iter()
        .filter(|segment| !held(segments, segment))
        .map(|segment| &segment.postings);
    let added = segments
        .iter()
        .filter(|segment| !held(&previous.segments, segment))
        .map(|segment| &segment.postings);
    Statistics::update(&previous.statistics, removed, added, all)
}

/// A segment to build, and the slot it fills.
struct SegmentWork {
    slot: usize,
    group: String,
    documents: Vec<Document>,
    fingerprint: [u8; 32],
}

/// Build segments on up to one thread per core, largest first so the threads finish together.
fn build_segments(
    mut work: Vec<SegmentWork>,
    weights: &FieldWeights,
    cache: Option<&VectorCache>,
) -> Vec<(usize, Segment)> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |count| count.get())
        .min(work.len())
        .max(1);
    let build = |work: SegmentWork| {
        let segment = Segment::build(work.group, work.documents, work.fingerprint, weights, cache);
        (work.slot, segment)
    };
    if threads == 1 {
        return work.into_iter().map(build).collect();
    }
    work.sort_by_key(|item| std::cmp::Reverse(item.documents.len()));
    let mut shares: Vec<Vec<SegmentWork>> = (0..threads).map(|_| Vec::new()).collect();
    let mut loads = vec![0usize; threads];
    for item in work {
        let lightest = (0..threads)
            .min_by_key(|&thread| loads[thread])
            .unwrap_or(0);
        loads[lightest] += item.documents.len();
        shares[lightest].push(item);
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = shares
            .into_iter()
            .map(|share| scope.spawn(move || share.into_iter().map(build).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|handle| match handle.join() {
                Ok(built) => built,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    })
}

fn gather_vectors(cache: &VectorCache, keys: &[[u8; 32]]) -> Option<Vec<f32>> {
    let mut values = Vec::with_capacity(keys.len() * cache.dimension());
    for key in keys {
        values.extend_from_slice(cache.get(key)?);
    }
    Some(values)
}

fn fingerprint(documents: &[Document]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for document in documents {
        document.content_hash(&mut hasher);
    }
    hasher.finalize().into()
}

/// The search index of one catalog snapshot (and the skills).
#[derive(Debug, Default)]
pub struct SearchIndex {
    segments: Vec<Arc<Segment>>,
    /// Index of each segment's first document in the flat score arrays.
    offsets: Vec<usize>,
    statistics: Statistics,
    /// The vector length, when every segment has vectors.
    dimension: Option<usize>,
}

/// One group's documents for [`SearchIndex::build_groups`].
#[derive(Debug)]
pub enum Group {
    /// The documents, compared with the previous index's segment by content.
    Documents(Vec<Document>),
    /// The group is known to be unchanged since the previous index, which
    /// [`SearchIndex::can_reuse`] said it can reuse as it is: taken without building anything.
    Unchanged,
}

impl SearchIndex {
    /// Build the index of these groups of documents. Segments of `previous` whose documents
    /// are unchanged are reused as they are (with their vectors); the others are built, taking
    /// vectors from `cache` when it holds every one of the segment's.
    pub fn build(
        groups: BTreeMap<String, Vec<Document>>,
        previous: Option<&SearchIndex>,
        cache: Option<&VectorCache>,
    ) -> SearchIndex {
        let groups = groups
            .into_iter()
            .map(|(group, documents)| (group, Group::Documents(documents)))
            .collect();
        SearchIndex::build_groups(groups, previous, cache)
    }

    /// Whether [`SearchIndex::build_groups`] can take this index's segment of `group` as it is
    /// when the group has not changed: it exists, and has its vectors when there is a cache.
    pub fn can_reuse(&self, group: &str, with_cache: bool) -> bool {
        self.segments
            .iter()
            .any(|segment| segment.group == group && segment.reusable(with_cache))
    }

    /// [`SearchIndex::build`], where a group the caller knows to be unchanged costs nothing:
    /// no documents made, hashed or compared. A [`Group::Unchanged`] that `previous` cannot
    /// supply (see [`SearchIndex::can_reuse`]) is left out.
    pub fn build_groups(
        groups: BTreeMap<String, Group>,
        previous: Option<&SearchIndex>,
        cache: Option<&VectorCache>,
    ) -> SearchIndex {
        let weights = FieldWeights::default();
        let reusable: HashMap<&str, &Arc<Segment>> = previous
            .map(|previous| {
                previous
                    .segments
                    .iter()
                    .map(|segment| (segment.group.as_str(), segment))
                    .collect()
            })
            .unwrap_or_default();
        let dimension = cache.map(VectorCache::dimension);
        // Segments to build, spread over the cores; unchanged ones are taken as they are.
        let mut slots: Vec<Option<Arc<Segment>>> = Vec::with_capacity(groups.len());
        let mut to_build: Vec<SegmentWork> = Vec::new();
        for (group, documents) in groups {
            let documents = match documents {
                Group::Documents(documents) => documents,
                Group::Unchanged => {
                    if let Some(segment) = reusable.get(group.as_str()) {
                        slots.push(Some(Arc::clone(segment)));
                    }
                    continue;
                }
            };
            let fingerprint = fingerprint(&documents);
            match reusable.get(group.as_str()) {
                Some(segment)
                    if segment.fingerprint == fingerprint && segment.reusable(cache.is_some()) =>
                {
                    slots.push(Some(Arc::clone(segment)));
                }
                _ => {
                    to_build.push(SegmentWork {
                        slot: slots.len(),
                        group,
                        documents,
                        fingerprint,
                    });
                    slots.push(None);
                }
            }
        }
        for (slot, segment) in build_segments(to_build, &weights, cache) {
            slots[slot] = Some(Arc::new(segment));
        }
        let segments: Vec<Arc<Segment>> = slots.into_iter().flatten().collect();
        let mut offsets = Vec::with_capacity(segments.len());
        let mut total = 0;
        for segment in &segments {
            offsets.push(total);
            total += segment.items.len();
        }
        let all_vectors = segments.iter().all(|segment| {
            segment.vectors.as_ref().is_some_and(|vectors| {
                dimension.is_some_and(|dimension| vectors.len() == segment.items.len() * dimension)
            })
        });
        let statistics = statistics_of(&segments, previous);
        SearchIndex {
            statistics,
            offsets,
            segments,
            dimension: dimension.filter(|_| all_vectors),
        }
    }

    /// How many items the index holds.
    pub fn len(&self) -> usize {
        self.statistics.documents as usize
    }

    /// True when the index holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True when every item has a vector, so queries use the encoder.
    pub fn has_vectors(&self) -> bool {
        self.dimension.is_some()
    }

    /// The embedding texts whose vectors `cache` lacks, with their keys (what to embed before
    /// the next build can use the encoder). Only segments built with a cache keep their texts
    /// for this: an index whose vectors are to be computed is built with the cache that will
    /// hold them (empty at first), not with `None`.
    pub fn missing_vectors(&self, cache: &VectorCache) -> Vec<([u8; 32], String)> {
        let mut missing = Vec::new();
        for segment in &self.segments {
            for (text, key) in segment.embedding_texts.iter().zip(&segment.vector_keys) {
                if cache.get(key).is_none() {
                    missing.push((*key, text.clone()));
                }
            }
        }
        missing.sort_unstable_by_key(|(key, _)| *key);
        missing.dedup_by_key(|(key, _)| *key);
        missing
    }

    /// Keys of every item's vector (to prune a cache to what the index uses).
    pub fn vector_keys(&self) -> std::collections::HashSet<[u8; 32]> {
        self.segments
            .iter()
            .flat_map(|segment| segment.vector_keys.iter().copied())
            .collect()
    }

    /// Every item, segment by segment.
    pub fn items(&self) -> impl Iterator<Item = &Item> {
        self.segments
            .iter()
            .flat_map(|segment| segment.items.iter())
    }

    /// Rank items for a query. `encoder` is used when the index has vectors of its model.
    pub fn search<'index>(
        &'index self,
        query: &Query,
        encoder: Option<&Encoder>,
    ) -> Ranking<'index> {
        let selected: Vec<usize> = (0..self.segments.len())
            .filter(|&index| {
                query
                    .group
                    .as_deref()
                    .is_none_or(|group| self.segments[index].group == group)
            })
            .collect();
        let limit = query.limit.max(1);
        if terms(&query.text).is_empty() && squash(&query.text).is_empty() {
            // Listing: tools first, skills after them.
            let mut listed = selected.clone();
            listed.sort_by_key(|&index| self.segments[index].group == SKILLS_GROUP);
            let total: usize = listed
                .iter()
                .map(|&index| self.segments[index].items.len())
                .sum();
            let hits: Vec<Hit<'index>> = listed
                .iter()
                .flat_map(|&index| self.segments[index].items.iter())
                .take(limit)
                .map(|item| Hit {
                    item,
                    score: 0.0,
                    exact: false,
                })
                .collect();
            return Ranking {
                more: total - hits.len(),
                hits,
                weak: false,
                closest_groups: Vec::new(),
                dense: false,
            };
        }
        let exact = self.exact_matches(&selected, &query.text);
        let encoder = encoder
            .filter(|encoder| exact.is_empty() && self.dimension == Some(encoder.dimension()));
        let parts = if query.tuning.split_intents {
            intents(&query.text)
        } else {
            vec![query.text.clone()]
        };
        let parts: Vec<Part> = parts.iter().map(|text| Part::new(text)).collect();
        let vectors = encoder.map(|encoder| part_vectors(encoder, &parts));
        let mut rankings: Vec<Vec<(usize, f32)>> = Vec::with_capacity(parts.len());
        // Items of the whole query over the floor, shown or not.
        let mut matching = 0;
        for (index, part) in parts.iter().enumerate() {
            let vector = vectors.as_ref().and_then(|vectors| vectors.get(index));
            let mut ranking = self.rank_part(&selected, part, vector, query.tuning.dense_share);
            if index == 0 {
                let best = ranking
                    .iter()
                    .fold(0.0f32, |best, &(_, score)| best.max(score));
                let floor = best * query.tuning.relative_floor;
                matching = ranking.iter().filter(|&&(_, score)| score >= floor).count();
            }
            keep_best(&mut ranking, (limit + exact.len()).max(CLOSEST_POOL));
            rankings.push(ranking);
        }
        let merged = interleave(&rankings, limit + exact.len());
        let best = merged.first().map_or(0.0, |&(_, score)| score);
        let closest_groups = self.closest_groups(rankings.first().map_or(&[], Vec::as_slice));
        let mut hits: Vec<Hit<'index>> = exact
            .iter()
            .map(|&flat| Hit {
                item: self.item(flat),
                score: best.max(1.0),
                exact: true,
            })
            .collect();
        let floor = best * query.tuning.relative_floor;
        for (flat, score) in merged {
            if hits.len() >= limit {
                break;
            }
            if score >= floor && !exact.contains(&flat) {
                hits.push(Hit {
                    item: self.item(flat),
                    score,
                    exact: false,
                });
            }
        }
        hits.truncate(limit);
        Ranking {
            more: matching.saturating_sub(hits.len()),
            weak: exact.is_empty() && best < WEAK_SCORE,
            hits,
            closest_groups,
            dense: encoder.is_some(),
        }
    }

    fn item(&self, flat: usize) -> &Item {
        let segment = self.offsets.partition_point(|&offset| offset <= flat) - 1;
        &self.segments[segment].items[flat - self.offsets[segment]]
    }

    fn exact_matches(&self, selected: &[usize], text: &str) -> Vec<usize> {
        let key = squash(text.trim());
        if key.is_empty() || text.split_whitespace().count() > 1 {
            return Vec::new();
        }
        let mut found = Vec::new();
        for &index in selected {
            if let Some(documents) = self.segments[index].exact.get(&key) {
                found.extend(
                    documents
                        .iter()
                        .map(|&document| self.offsets[index] + document as usize),
                );
            }
        }
        found
    }

    /// Every selected item's fused score for one part of a query, unordered (items scoring
    /// zero left out); `vector` is the part's dense vector, when the encoder takes part.
    fn rank_part(
        &self,
        selected: &[usize],
        part: &Part,
        vector: Option<&Vec<f32>>,
        dense_share: f32,
    ) -> Vec<(usize, f32)> {
        let total = self.len();
        let mut lexical = vec![0.0f32; total];
        let expanded = self.statistics.expand(&part.terms, &part.related);
        for &index in selected {
            let segment = &self.segments[index];
            let start = self.offsets[index];
            let scores = &mut lexical[start..start + segment.items.len()];
            self.statistics
                .score_into(&segment.postings, &expanded, scores);
        }
        let best_lexical = lexical.iter().copied().fold(0.0f32, f32::max);
        let (dense_share, lexical_share) = match vector {
            Some(_) => (dense_share, 1.0 - dense_share),
            None => (0.0, 1.0),
        };
        let mut fused: Vec<(usize, f32)> = Vec::new();
        let dense = vector.map(|vector| self.dense_scores(selected, vector));
        for &index in selected {
            let start = self.offsets[index];
            for flat in start..start + self.segments[index].items.len() {
                let mut score = if best_lexical > 0.0 {
                    lexical_share * lexical[flat] / best_lexical
                } else {
                    0.0
                };
                if let Some(dense) = &dense {
                    score += dense_share * dense[flat];
                }
                if score > 0.0 {
                    fused.push((flat, score));
                }
            }
        }
        fused
    }

    /// The cosine of the query vector with every selected item's vector (0 elsewhere).
    fn dense_scores(&self, selected: &[usize], query_vector: &[f32]) -> Vec<f32> {
        let mut scores = vec![0.0f32; self.len()];
        let dimension = query_vector.len();
        for &index in selected {
            let segment = &self.segments[index];
            let Some(vectors) = &segment.vectors else {
                continue;
            };
            let start = self.offsets[index];
            for (document, vector) in vectors.chunks_exact(dimension).enumerate() {
                scores[start + document] = dot(query_vector, vector);
            }
        }
        scores
    }

    fn closest_groups(&self, ranking: &[(usize, f32)]) -> Vec<String> {
        let mut groups: Vec<String> = Vec::new();
        for &(flat, _) in ranking.iter().take(CLOSEST_POOL) {
            let group = self.item(flat).group();
            if group != SKILLS_GROUP && !groups.iter().any(|known| known == group) {
                groups.push(group.to_owned());
                if groups.len() == 3 {
                    break;
                }
            }
        }
        groups
    }
}

/// Hits whose groups make up the closest servers of a weak match (and the least each part's
/// ranking keeps).
const CLOSEST_POOL: usize = 50;

/// Keep the `count` best of `ranking`, best first (ties by index order): a selection, then a
/// sort of only what is kept, so a query over 10,000 items sorts dozens.
fn keep_best(ranking: &mut Vec<(usize, f32)>, count: usize) {
    let order = |left: &(usize, f32), right: &(usize, f32)| {
        right.1.total_cmp(&left.1).then(left.0.cmp(&right.0))
    };
    if ranking.len() > count {
        ranking.select_nth_unstable_by(count, order);
        ranking.truncate(count);
    }
    ranking.sort_unstable_by(order);
}

/// The dot product, in sixteen lanes so the compiler vectorizes it, compiled for AVX-512 and
/// AVX2 besides the baseline (a query over 10,000 tools takes 3.8 million of these products).
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx2+fma",
    "x86_64+avx2+fma",
    "aarch64+neon"
))]
fn dot(left: &[f32], right: &[f32]) -> f32 {
    const LANES: usize = 16;
    let (left_chunks, left_tail) = left.as_chunks::<LANES>();
    let (right_chunks, right_tail) = right.as_chunks::<LANES>();
    let mut lanes = [0.0f32; LANES];
    for (a, b) in left_chunks.iter().zip(right_chunks) {
        for lane in 0..LANES {
            lanes[lane] += a[lane] * b[lane];
        }
    }
    let tail: f32 = left_tail.iter().zip(right_tail).map(|(a, b)| a * b).sum();
    lanes.iter().sum::<f32>() + tail
}

/// The whole query, and when it asks for several things in a row, each part with at least two
/// words (`find the PR for this branch and then comment on it`).
fn intents(text: &str) -> Vec<String> {
    const CONNECTORS: [&str; 8] = [
        " and then ",
        ", then ",
        " then ",
        "; ",
        " and also ",
        " after that ",
        " afterwards ",
        ", and ",
    ];
    let mut parts = vec![text.to_lowercase()];
    for connector in CONNECTORS {
        parts = parts
            .iter()
            .flat_map(|part| part.split(connector).map(str::to_owned).collect::<Vec<_>>())
            .collect();
    }
    let parts: Vec<String> = parts
        .into_iter()
        .filter(|part| terms(part).len() >= 2)
        .collect();
    let mut result = vec![text.to_owned()];
    if parts.len() > 1 {
        result.extend(parts);
    }
    result
}

/// One part of a query (the whole, or one of its intents), analysed.
struct Part {
    terms: Vec<String>,
    /// Terms of what the part's words also mean (the thesaurus).
    related: Vec<String>,
    /// What the encoder reads: the text, and its meanings (it knows `azure devops` better
    /// than `ADO`).
    dense_text: String,
}

impl Part {
    fn new(text: &str) -> Part {
        let meanings = synonyms::Thesaurus::builtin().meanings(text);
        let related = meanings.iter().flat_map(|meaning| terms(meaning)).collect();
        let dense_text = if meanings.is_empty() {
            text.to_owned()
        } else {
            format!("{text} ({})", meanings.join(", "))
        };
        Part {
            terms: terms(text),
            related,
            dense_text,
        }
    }
}

/// The dense vector of each part: the intents' in one pass of the encoder, and the whole
/// query's as the mean of its intents' (as good for the whole as its own vector on the tuning
/// queries, better for two-tool tasks, and it halves the encoder's work on the longest queries).
fn part_vectors(encoder: &Encoder, parts: &[Part]) -> Vec<Vec<f32>> {
    let intents = if parts.len() > 1 { &parts[1..] } else { parts };
    let texts: Vec<&str> = intents
        .iter()
        .map(|part| part.dense_text.as_str())
        .collect();
    let mut vectors = encoder.embed_batch(&texts, TextKind::Query);
    if parts.len() > 1 {
        let mut whole = vec![0.0f32; encoder.dimension()];
        for vector in &vectors {
            for (sum, value) in whole.iter_mut().zip(vector) {
                *sum += value;
            }
        }
        sluice_embed::normalize(&mut whole);
        vectors.insert(0, whole);
    }
    vectors
}

/// Merge rankings: the whole query's best first, then the best not yet taken of each part in
/// turn, and so on, until `limit` items.
fn interleave(rankings: &[Vec<(usize, f32)>], limit: usize) -> Vec<(usize, f32)> {
    let mut merged: Vec<(usize, f32)> = Vec::with_capacity(limit);
    let mut cursors = vec![0usize; rankings.len()];
    let mut progressed = true;
    while merged.len() < limit && progressed {
        progressed = false;
        for (ranking, cursor) in rankings.iter().zip(cursors.iter_mut()) {
            while let Some(&(flat, score)) = ranking.get(*cursor) {
                *cursor += 1;
                if !merged.iter().any(|&(taken, _)| taken == flat) {
                    merged.push((flat, score));
                    progressed = true;
                    break;
                }
            }
            if merged.len() >= limit {
                break;
            }
        }
    }
    merged
}

#[cfg(test)]
mod tests;
