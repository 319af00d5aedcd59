//! An encoder that is let go while nothing searches and loaded again when something does.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::{Encoder, LoadError};

/// A loaded [`Encoder`] and the folder it came from, shared by a long-running process. The
/// model is the largest thing such a process holds (about 23 MB for all-MiniLM-L6-v2), and a
/// gateway searches in bursts: [`SharedEncoder::release_if_idle`] lets go of it after a quiet
/// spell and [`SharedEncoder::get`] loads it again, from the same folder, when a search comes.
/// What is needed without the weights (the fingerprint that keys cached vectors, the vector
/// length, the name) stays at hand.
#[derive(Debug)]
pub struct SharedEncoder {
    folder: PathBuf,
    fingerprint: String,
    dimension: usize,
    name: String,
    slot: Mutex<Slot>,
}

#[derive(Debug)]
struct Slot {
    encoder: Option<Arc<Encoder>>,
    last_use: Instant,
    loads: u64,
}

impl SharedEncoder {
    /// Share an encoder loaded from `folder`.
    pub fn new(encoder: Encoder, folder: PathBuf) -> SharedEncoder {
        SharedEncoder {
            folder,
            fingerprint: encoder.fingerprint(),
            dimension: encoder.dimension(),
            name: encoder.manifest().name.clone(),
            slot: Mutex::new(Slot {
                encoder: Some(Arc::new(encoder)),
                last_use: Instant::now(),
                loads: 1,
            }),
        }
    }

    /// The encoder, loaded again from its folder if it was let go.
    ///
    /// # Errors
    /// The folder no longer loads (the model was removed or replaced by a broken one).
    pub fn get(&self) -> Result<Arc<Encoder>, LoadError> {
        let mut slot = self.slot.lock().unwrap_or_else(PoisonError::into_inner);
        slot.last_use = Instant::now();
        if let Some(encoder) = &slot.encoder {
            return Ok(Arc::clone(encoder));
        }
        let encoder = Encoder::load(&self.folder)?;
        if encoder.fingerprint() != self.fingerprint {
            return Err(LoadError::Unsupported(format!(
                "the model in {} changed while Sluice was running; restart Sluice to use it",
                self.folder.display()
            )));
        }
        let encoder = Arc::new(encoder);
        slot.encoder = Some(Arc::clone(&encoder));
        slot.loads += 1;
        Ok(encoder)
    }

    /// Let go of the encoder if it has not been asked for in `idle`. A search still running
    /// with it keeps its own reference until it ends. Returns whether it let go.
    pub fn release_if_idle(&self, idle: Duration) -> bool {
        let mut slot = self.slot.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.encoder.is_some() && slot.last_use.elapsed() >= idle {
            slot.encoder = None;
            return true;
        }
        false
    }

    /// Whether the weights are in memory now.
    pub fn is_loaded(&self) -> bool {
        self.slot
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .encoder
            .is_some()
    }

    /// How many times the weights were loaded, the first time included.
    pub fn loads(&self) -> u64 {
        self.slot
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .loads
    }

    /// [`Encoder::fingerprint`], without loading anything.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// [`Encoder::dimension`], without loading anything.
    pub fn dimension(&self) -> usize {
        self.dimension
    }

    /// The model's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}
