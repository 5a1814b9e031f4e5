//! The studio's loaded checkpoints, kept between requests: a small LRU cache (by default the 4
//! most recently used), so that a request does not reload a checkpoint the previous one used.
//! An entry is keyed by the file's path, length and modification time, so a checkpoint replaced
//! on disk is loaded afresh. Each model sits behind its own mutex: requests on one model take
//! turns, requests on different models run side by side.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use crate::error::{Error, Result};
use crate::models::saved::{self, LoadedModel};

/// Checkpoints kept loaded by default.
pub const DEFAULT_CAPACITY: usize = 4;

/// What identifies one version of a checkpoint file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Key {
    path: PathBuf,
    len: u64,
    modified: Option<SystemTime>,
}

/// A bounded cache of loaded checkpoints, most recently used first.
pub struct Models {
    capacity: usize,
    device: String,
    entries: Mutex<Vec<(Key, Arc<Mutex<LoadedModel>>)>>,
}

impl std::fmt::Debug for Models {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Models").field("capacity", &self.capacity).field("loaded", &self.loaded()).finish()
    }
}

impl Models {
    /// An empty cache of at most `capacity` (at least 1) models, loaded on `device`.
    pub fn new(capacity: usize, device: &str) -> Models {
        Models { capacity: capacity.max(1), device: device.to_string(), entries: Mutex::new(Vec::new()) }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<(Key, Arc<Mutex<LoadedModel>>)>> {
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The paths loaded now, most recently used first.
    pub fn loaded(&self) -> Vec<PathBuf> {
        self.lock().iter().map(|(k, _)| k.path.clone()).collect()
    }

    /// The checkpoint at `path`, loaded now or kept from before (then `true`), and marked most
    /// recently used; the least recently used one is dropped when the cache is full.
    pub fn get(&self, path: &Path) -> Result<(Arc<Mutex<LoadedModel>>, bool)> {
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        let key = Key { path: path.to_path_buf(), len: meta.len(), modified: meta.modified().ok() };
        let mut entries = self.lock();
        if let Some(i) = entries.iter().position(|(k, _)| *k == key) {
            let entry = entries.remove(i);
            let model = Arc::clone(&entry.1);
            entries.insert(0, entry);
            return Ok((model, true));
        }
        // Loading holds the cache's lock: two requests for one new model load it once.
        let model = Arc::new(Mutex::new(saved::load(path, &self.device)?));
        entries.retain(|(k, _)| k.path != key.path);
        entries.insert(0, (key, Arc::clone(&model)));
        entries.truncate(self.capacity);
        Ok((model, false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::markov::{MarkovConfig, MarkovModel};
    use crate::models::saved::{Model, Record};
    use crate::tokens::{Tokenizer, TokenizerConfig};

    fn save(path: &Path, order: usize) {
        let tokenizer = Tokenizer::new(TokenizerConfig::default()).unwrap();
        let seqs = vec![vec![1, 40, 41, 42, 40, 41, 2], vec![1, 41, 42, 40, 2]];
        let config = MarkovConfig { order, ..Default::default() };
        let m = MarkovModel::fit(&config, tokenizer.vocab_size(), &seqs, None).unwrap();
        saved::save(path, &Model::Markov(m), &tokenizer, Record::default()).unwrap();
    }

    fn checkpoint(dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(name);
        save(&path, 2);
        path
    }

    #[test]
    fn keeps_the_most_recently_used_and_reloads_changed_files() {
        let dir = tempfile::tempdir().unwrap();
        let paths: Vec<PathBuf> = (0..3).map(|i| checkpoint(dir.path(), &format!("m{i}.markov"))).collect();
        let cache = Models::new(2, "cpu");
        assert!(!cache.get(&paths[0]).unwrap().1);
        assert!(cache.get(&paths[0]).unwrap().1, "the second request finds it loaded");
        assert!(!cache.get(&paths[1]).unwrap().1);
        assert!(cache.get(&paths[0]).unwrap().1);
        assert!(!cache.get(&paths[2]).unwrap().1); // m1, the least recently used, goes
        assert_eq!(cache.loaded(), [paths[2].clone(), paths[0].clone()]);
        assert!(!cache.get(&paths[1]).unwrap().1);
        // A checkpoint rewritten on disk (another length) is loaded afresh, not kept twice.
        std::thread::sleep(std::time::Duration::from_millis(20));
        save(&paths[1], 4);
        assert!(!cache.get(&paths[1]).unwrap().1);
        assert_eq!(cache.loaded().iter().filter(|p| **p == paths[1]).count(), 1);
        assert!(cache.get(&dir.path().join("missing.markov")).is_err());
    }
}
