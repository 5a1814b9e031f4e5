//! The studio's files: generated samples (`<id>.mid`, their rendered `<id>.wav`, and
//! `<id>.meta.json`) and uploaded seeds (`uploads/<id>.mid`), all named by opaque random ids.
//!
//! An id is 32 lowercase hexadecimal digits (128 random bits); [`check_id`] accepts nothing
//! else, so no id can name a path outside the store's folders. Every file is written atomically.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, StudioError};

/// Length of an id in hexadecimal digits.
pub const ID_LEN: usize = 32;

/// A fresh random id.
pub fn new_id() -> String {
    let n: u128 = rand::random();
    format!("{n:032x}")
}

/// `id` if it is of the store's form, else [`StudioError::BadId`].
pub fn check_id<'a>(id: &'a str, what: &'static str) -> Result<&'a str> {
    let ok = id.len() == ID_LEN && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if ok {
        Ok(id)
    } else {
        Err(StudioError::BadId { what }.into())
    }
}

/// What the studio knows of a sample besides its notes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleMeta {
    /// Checkpoint file name, or `real:<corpus piece>` for a real piece's clip.
    pub source: String,
    /// Tokens of the primer (0: unprimed) and of the continuation.
    pub primer_tokens: usize,
    pub new_tokens: usize,
    pub rng_seed: u64,
    /// Where the primer ends, in beats from the start (`None`: no primer in the notes).
    #[serde(default)]
    pub primer_beats: Option<f64>,
    /// The copy limit it was sampled under (`max_copy`, in notes; `None`: none, or a blind
    /// trial's clip, whose metadata must not tell it apart).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_copy: Option<usize>,
    /// Under a copy limit, its longest copy of the training music, in notes: generated, the
    /// longest anywhere in the piece (seed included); edited, the longest ending at a new note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub longest_copy: Option<usize>,
}

/// The folder of samples and uploads.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    /// Open (creating) the store at `dir`.
    pub fn open(dir: &Path) -> Result<Store> {
        std::fs::create_dir_all(dir.join("uploads")).map_err(|e| Error::io(dir, e))?;
        Ok(Store { dir: dir.to_path_buf() })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The path of sample `id`'s file with extension `ext` (`mid`, `wav`, `meta.json`).
    pub fn sample_path(&self, id: &str, ext: &str) -> Result<PathBuf> {
        let id = check_id(id, "sample")?;
        Ok(self.dir.join(format!("{id}.{ext}")))
    }

    /// The path of uploaded seed `id`.
    pub fn upload_path(&self, id: &str) -> Result<PathBuf> {
        let id = check_id(id, "upload")?;
        Ok(self.dir.join("uploads").join(format!("{id}.mid")))
    }

    /// Store a sample's MIDI bytes and metadata under a new id.
    pub fn add_sample(&self, midi: &[u8], meta: &SampleMeta) -> Result<String> {
        self.add_sample_with(midi, meta, &[])
    }

    /// [`Store::add_sample`] with more files of the sample, `(extension, bytes)` (an edit's
    /// `edit.json`); they are written before the MIDI file, so a sample is complete once its
    /// MIDI file is there.
    pub fn add_sample_with(&self, midi: &[u8], meta: &SampleMeta, extra: &[(&str, &[u8])]) -> Result<String> {
        let id = new_id();
        for (ext, bytes) in extra {
            crate::atomic::write(&self.sample_path(&id, ext)?, bytes)?;
        }
        let json =
            serde_json::to_vec(meta).map_err(|source| Error::Json { what: "sample metadata", source })?;
        crate::atomic::write(&self.sample_path(&id, "meta.json")?, &json)?;
        crate::atomic::write(&self.sample_path(&id, "mid")?, midi)?;
        Ok(id)
    }

    /// Sample `id`'s file with extension `ext`, if it has one.
    pub fn sample_extra(&self, id: &str, ext: &str) -> Result<Option<Vec<u8>>> {
        let path = self.sample_path(id, ext)?;
        match std::fs::read(&path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(&path, e)),
        }
    }

    /// Store an uploaded seed (already checked to be a readable MIDI file) under a new id.
    pub fn add_upload(&self, midi: &[u8]) -> Result<String> {
        let id = new_id();
        crate::atomic::write(&self.upload_path(&id)?, midi)?;
        Ok(id)
    }

    /// Sample `id`'s MIDI bytes ([`StudioError::NotFound`] if there is none).
    pub fn sample_midi(&self, id: &str) -> Result<Vec<u8>> {
        let path = self.sample_path(id, "mid")?;
        read_existing(&path, "sample", id)
    }

    /// Uploaded seed `id`'s MIDI bytes ([`StudioError::NotFound`] if there is none).
    pub fn upload_midi(&self, id: &str) -> Result<Vec<u8>> {
        let path = self.upload_path(id)?;
        read_existing(&path, "upload", id)
    }

    /// Sample `id`'s metadata.
    pub fn sample_meta(&self, id: &str) -> Result<SampleMeta> {
        let path = self.sample_path(id, "meta.json")?;
        let bytes = read_existing(&path, "sample", id)?;
        serde_json::from_slice(&bytes)
            .map_err(|e| StudioError::BadField { field: "sample metadata", problem: e.to_string() }.into())
    }
}

fn read_existing(path: &Path, what: &'static str, id: &str) -> Result<Vec<u8>> {
    match std::fs::read(path) {
        Ok(b) => Ok(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(StudioError::NotFound { what, name: id.to_string() }.into())
        }
        Err(e) => Err(Error::io(path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_32_hex_digits_and_differ() {
        let a = new_id();
        let b = new_id();
        assert_ne!(a, b);
        assert!(check_id(&a, "sample").is_ok());
        assert_eq!(a.len(), ID_LEN);
    }

    #[test]
    fn only_the_strict_pattern_passes() {
        for bad in [
            "",
            "../../etc/passwd",
            "%2e%2e%2f",
            "/etc/passwd",
            "0123456789abcdef0123456789abcdeF",
            "0123456789abcdef0123456789abcde",
            "0123456789abcdef0123456789abcdef0",
            "0123456789abcdef/123456789abcdef",
            "0123456789abcdef.123456789abcdef",
        ] {
            assert!(check_id(bad, "sample").is_err(), "{bad:?} passed");
        }
        assert!(check_id("0123456789abcdef0123456789abcdef", "sample").is_ok());
    }

    #[test]
    fn samples_round_trip_and_unknown_ids_are_not_found() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let meta = SampleMeta {
            source: "a.markov".into(),
            primer_tokens: 1,
            new_tokens: 5,
            rng_seed: 3,
            primer_beats: Some(4.0),
            max_copy: None,
            longest_copy: None,
        };
        let id = store.add_sample(b"MThd", &meta).unwrap();
        assert_eq!(store.sample_midi(&id).unwrap(), b"MThd");
        assert_eq!(store.sample_meta(&id).unwrap(), meta);
        let json = std::fs::read_to_string(store.sample_path(&id, "meta.json").unwrap()).unwrap();
        assert!(!json.contains("copy"), "no copy fields without a limit: {json}");
        let limited = SampleMeta { max_copy: Some(6), longest_copy: Some(4), ..meta.clone() };
        let id = store.add_sample(b"MThd", &limited).unwrap();
        assert_eq!(store.sample_meta(&id).unwrap(), limited);
        assert_eq!(store.sample_extra(&id, "edit.json").unwrap(), None);
        let edited = store.add_sample_with(b"MThd", &meta, &[("edit.json", b"{}")]).unwrap();
        assert_eq!(store.sample_extra(&edited, "edit.json").unwrap().as_deref(), Some(&b"{}"[..]));
        let missing = new_id();
        assert!(matches!(store.sample_midi(&missing), Err(Error::Studio(StudioError::NotFound { .. }))));
        assert!(matches!(store.upload_midi(&missing), Err(Error::Studio(StudioError::NotFound { .. }))));
        let up = store.add_upload(b"MThd").unwrap();
        assert_eq!(store.upload_midi(&up).unwrap(), b"MThd");
    }
}
