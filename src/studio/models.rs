//! The studio's loaded checkpoints, kept between requests: a small LRU cache (by default the 4
//! most recently used), so that a request does not reload a checkpoint the previous one used.
//! An entry is keyed by the file's path, length and modification time, so a checkpoint replaced
//! on disk is loaded afresh. Each model sits behind its own mutex: requests on one model take
//! turns, requests on different models run side by side.
//!
//! [`Copies`] keeps, beside them, the index of each checkpoint's training split that a copy
//! limit (`max_copy`) checks samples against, built on first use and kept, keyed by the
//! checkpoint file as the models are.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use crate::copies::CopyIndex;
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

impl Key {
    /// The version of the file at `path` now.
    fn of(path: &Path) -> Result<Key> {
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        Ok(Key { path: path.to_path_buf(), len: meta.len(), modified: meta.modified().ok() })
    }
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
        let key = Key::of(path)?;
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

/// The copy indexes of the training splits of checkpoints, most recently used first, at most as
/// many as [`Models`] keeps loaded.
pub struct Copies {
    capacity: usize,
    entries: Mutex<Vec<(Key, Arc<CopyIndex>)>>,
}

impl std::fmt::Debug for Copies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Copies").field("capacity", &self.capacity).finish_non_exhaustive()
    }
}

impl Copies {
    /// An empty cache of at most `capacity` (at least 1) indexes.
    pub fn new(capacity: usize) -> Copies {
        Copies { capacity: capacity.max(1), entries: Mutex::new(Vec::new()) }
    }

    /// The index of the training split of `loaded`, the checkpoint at `path` (named `name` in
    /// errors), built now ([`crate::generate::training_copies`], from the corpus the checkpoint
    /// records) or kept from before (then `true`). A checkpoint that records no corpus, or whose
    /// corpus is gone or cannot be loaded, is an [`Error::Setting`] on `max_copy` (the studio
    /// answers it with 422: the request is well formed, this checkpoint cannot serve it).
    pub fn get(&self, path: &Path, name: &str, loaded: &LoadedModel) -> Result<(Arc<CopyIndex>, bool)> {
        let key = Key::of(path)?;
        // Building holds the cache's lock: two requests for one checkpoint build its index once.
        let mut entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(i) = entries.iter().position(|(k, _)| *k == key) {
            let entry = entries.remove(i);
            let index = Arc::clone(&entry.1);
            entries.insert(0, entry);
            return Ok((index, true));
        }
        let unusable = |why: String| {
            Error::setting(
                COPY_FIELD,
                format!("set for {name}, {why}"),
                "left out for this checkpoint (a copy limit checks samples against the training music)",
            )
        };
        let root = match &loaded.header.corpus {
            None => return Err(unusable("which records no training corpus".into())),
            Some(c) => PathBuf::from(&c.root),
        };
        if !root.is_dir() {
            return Err(unusable(format!("whose training corpus {} is not on this machine", root.display())));
        }
        let index =
            crate::generate::training_copies(loaded, None, &crate::progress::Silent).map_err(|e| {
                unusable(format!("whose training corpus {} cannot be indexed: {e}", root.display()))
            })?;
        let index = Arc::new(index);
        entries.retain(|(k, _)| k.path != key.path);
        entries.insert(0, (key, Arc::clone(&index)));
        entries.truncate(self.capacity);
        Ok((index, false))
    }
}

/// The request field a copy limit is asked with; an [`Error::Setting`] of this name is the
/// studio's 422 (see [`Copies::get`]).
pub const COPY_FIELD: &str = "max_copy";

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

    #[test]
    fn a_copy_limit_needs_the_training_corpus_on_this_machine() {
        let dir = tempfile::tempdir().unwrap();
        let path = checkpoint(dir.path(), "m.markov");
        let mut loaded = saved::load(&path, "cpu").unwrap();
        let copies = Copies::new(2);
        let said = |e: Error| match e {
            Error::Setting { name, value, .. } => {
                assert_eq!(name, COPY_FIELD);
                value
            }
            other => panic!("not a max_copy setting: {other}"),
        };
        let none = said(copies.get(&path, "m.markov", &loaded).unwrap_err());
        assert!(none.contains("m.markov") && none.contains("records no training corpus"), "{none}");
        let gone = dir.path().join("gone");
        loaded.header.corpus =
            Some(crate::corpus::CorpusSummary { root: gone.display().to_string(), ..Default::default() });
        let text = copies.get(&path, "m.markov", &loaded).unwrap_err().to_string();
        assert!(
            text.starts_with("max_copy must be left out") && text.contains("not on this machine"),
            "{text}"
        );
        assert!(text.contains(&gone.display().to_string()), "{text}");
    }
}
