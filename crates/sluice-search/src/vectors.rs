//! Item vectors, cached by the SHA-256 of the text they were computed from, in memory and in one
//! file, so a catalog is embedded once per model and a restart only reads vectors back.
//!
//! File format (little-endian): the magic `SLUICEV1`, the model fingerprint (u32 length, UTF-8),
//! the dimension (u32), then records of a 32-byte key and `dimension` f32 values. A file of
//! another model, another dimension, or cut short is ignored from the first bad byte on (the
//! vectors are computed again); the file is rewritten whole, through a temporary file and a
//! rename, so a crash never leaves half a record behind.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

const MAGIC: &[u8; 8] = b"SLUICEV1";

/// Vectors of one model, by text hash.
#[derive(Debug, Clone)]
pub struct VectorCache {
    fingerprint: String,
    dimension: usize,
    vectors: HashMap<[u8; 32], Box<[f32]>>,
}

/// Why the cache file could not be written.
#[derive(Debug, thiserror::Error)]
#[error("could not write the search vector cache {path}: {source}")]
pub struct CacheWriteError {
    /// The file.
    pub path: std::path::PathBuf,
    /// Why.
    pub source: std::io::Error,
}

impl VectorCache {
    /// An empty cache for a model.
    pub fn new(fingerprint: &str, dimension: usize) -> VectorCache {
        VectorCache {
            fingerprint: fingerprint.to_owned(),
            dimension,
            vectors: HashMap::new(),
        }
    }

    /// The cache in `path`, or an empty one when the file is missing, of another model, or
    /// damaged (then the returned note says why, for a log line).
    pub fn load(path: &Path, fingerprint: &str, dimension: usize) -> (VectorCache, Option<String>) {
        match std::fs::read(path) {
            Ok(bytes) => VectorCache::from_bytes(&bytes, fingerprint, dimension),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                (VectorCache::new(fingerprint, dimension), None)
            }
            Err(error) => (
                VectorCache::new(fingerprint, dimension),
                Some(format!("cannot read {}: {error}", path.display())),
            ),
        }
    }

    /// The cache a file's bytes hold (what [`VectorCache::load`] decodes; any bytes are safe).
    pub fn from_bytes(
        bytes: &[u8],
        fingerprint: &str,
        dimension: usize,
    ) -> (VectorCache, Option<String>) {
        let mut cache = VectorCache::new(fingerprint, dimension);
        let note = cache.decode(bytes).err();
        (cache, note)
    }

    fn decode(&mut self, bytes: &[u8]) -> Result<(), String> {
        let mut reader = Reader { bytes, at: 0 };
        if reader.take(MAGIC.len()) != Some(MAGIC.as_slice()) {
            return Err("not a vector cache file".to_owned());
        }
        let fingerprint_length = reader.u32().ok_or("cut short")? as usize;
        let fingerprint = reader.take(fingerprint_length).ok_or("cut short")?;
        if fingerprint != self.fingerprint.as_bytes() {
            return Err("written for another model; recomputing".to_owned());
        }
        if reader.u32().ok_or("cut short")? as usize != self.dimension {
            return Err("written with another dimension; recomputing".to_owned());
        }
        let record = 32 + 4 * self.dimension;
        while reader.remaining() >= record {
            let Some(key) = reader
                .take(32)
                .and_then(|key| <[u8; 32]>::try_from(key).ok())
            else {
                break;
            };
            let values: Box<[f32]> = reader
                .take(4 * self.dimension)
                .unwrap_or_default()
                .chunks_exact(4)
                .map(|bytes| f32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
                .collect();
            self.vectors.insert(key, values);
        }
        if reader.remaining() != 0 {
            return Err("cut short; the last record was dropped".to_owned());
        }
        Ok(())
    }

    /// Write the whole cache to `path` (its folder must exist).
    pub fn save(&self, path: &Path) -> Result<(), CacheWriteError> {
        let error = |source| CacheWriteError {
            path: path.to_owned(),
            source,
        };
        let mut bytes = Vec::with_capacity(16 + self.vectors.len() * (32 + 4 * self.dimension));
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&(self.fingerprint.len() as u32).to_le_bytes());
        bytes.extend_from_slice(self.fingerprint.as_bytes());
        bytes.extend_from_slice(&(self.dimension as u32).to_le_bytes());
        let mut keys: Vec<&[u8; 32]> = self.vectors.keys().collect();
        keys.sort_unstable();
        for key in keys {
            bytes.extend_from_slice(key);
            for value in self.vectors[key].iter() {
                bytes.extend_from_slice(&value.to_le_bytes());
            }
        }
        let temporary = path.with_extension("tmp");
        let mut file = std::fs::File::create(&temporary).map_err(error)?;
        file.write_all(&bytes).map_err(error)?;
        file.sync_all().map_err(error)?;
        std::fs::rename(&temporary, path).map_err(error)
    }

    /// The model fingerprint the vectors belong to.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The vector length.
    pub fn dimension(&self) -> usize {
        self.dimension
    }

    /// How many vectors are cached.
    pub fn len(&self) -> usize {
        self.vectors.len()
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.vectors.is_empty()
    }

    /// The vector of a text hash.
    pub fn get(&self, key: &[u8; 32]) -> Option<&[f32]> {
        self.vectors.get(key).map(AsRef::as_ref)
    }

    /// Keep a vector (of the cache's dimension; others are ignored).
    pub fn insert(&mut self, key: [u8; 32], vector: Vec<f32>) {
        if vector.len() == self.dimension {
            self.vectors.insert(key, vector.into_boxed_slice());
        }
    }

    /// Drop every vector whose key is not in `keep` (after the catalog changed).
    pub fn retain(&mut self, keep: &std::collections::HashSet<[u8; 32]>) {
        self.vectors.retain(|key, _| keep.contains(key));
    }
}

/// Compute the vectors of `texts` (keyed as [`crate::SearchIndex::missing_vectors`] gives them)
/// on `threads` threads and keep them in `cache`.
pub fn embed_into(
    cache: &mut VectorCache,
    texts: &[([u8; 32], String)],
    encoder: &sluice_embed::Encoder,
    threads: usize,
) {
    let borrowed: Vec<&str> = texts.iter().map(|(_, text)| text.as_str()).collect();
    let vectors = encoder.embed_many(&borrowed, sluice_embed::TextKind::Document, threads);
    for ((key, _), vector) in texts.iter().zip(vectors) {
        cache.insert(*key, vector);
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, count: usize) -> Option<&'a [u8]> {
        let slice = self.bytes.get(self.at..self.at.checked_add(count)?)?;
        self.at += count;
        Some(slice)
    }

    fn u32(&mut self) -> Option<u32> {
        let bytes = self.take(4)?;
        Some(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    fn remaining(&self) -> usize {
        self.bytes.len() - self.at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_other_models_and_damage() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("vectors.bin");
        let mut cache = VectorCache::new("model-a", 2);
        cache.insert([1; 32], vec![0.5, -0.5]);
        cache.insert([2; 32], vec![1.0, 0.0]);
        cache.insert([3; 32], vec![1.0]);
        cache.save(&path).unwrap();

        let (loaded, note) = VectorCache::load(&path, "model-a", 2);
        assert_eq!(note, None);
        assert_eq!(loaded.len(), 2);
        assert_eq!(loaded.get(&[1; 32]), Some([0.5, -0.5].as_slice()));

        let (other, note) = VectorCache::load(&path, "model-b", 2);
        assert!(other.is_empty());
        assert!(note.unwrap().contains("another model"));

        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
        let (cut, note) = VectorCache::load(&path, "model-a", 2);
        assert_eq!(cut.len(), 1);
        assert!(note.unwrap().contains("cut short"));

        let (missing, note) = VectorCache::load(&folder.path().join("none"), "model-a", 2);
        assert!(missing.is_empty() && note.is_none());
    }
}
