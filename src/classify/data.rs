//! Labelled corpora: a folder with one subfolder per label, each holding MIDI files (searched
//! recursively). Every file is read in parallel into a [`Roll`], assigned to train / valid /
//! test by the corpus's own content-hash split ([`SplitRatios::assign`]), so all windows of a
//! piece stay in its split; unusable files are skipped and counted, as [`crate::corpus`] does.
//! [`Batcher`] draws class-balanced training batches of random windows.

use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::error::ClassifyError;
use super::roll::{Roll, RollConfig};
use crate::corpus::{
    self, files, music_key, MusicKey, Skipped, Split, SplitKey, SplitRatios, MAX_FILE_BYTES,
};
use crate::error::{Error, Result};
use crate::midi;
use crate::progress::{report, Progress};
use crate::tokens::Tokenizer;

/// One usable piece of a labelled corpus.
#[derive(Debug, Clone)]
pub struct LabelledPiece {
    /// Path relative to the corpus root.
    pub path: PathBuf,
    /// Index into [`LabelledSet::labels`].
    pub label: usize,
    pub split: Split,
    /// The blake3 hash of the file's bytes.
    pub hash: [u8; 32],
    /// The hash of its quantized notes ([`music_key`]).
    pub music_key: MusicKey,
    pub roll: Roll,
}

/// A labelled corpus, read.
#[derive(Debug, Clone)]
pub struct LabelledSet {
    pub root: PathBuf,
    /// Label names (the subfolder names), sorted.
    pub labels: Vec<String>,
    /// Usable pieces, sorted by path.
    pub pieces: Vec<LabelledPiece>,
    pub skipped: Vec<Skipped>,
    /// What the splits were assigned by.
    pub split_key: SplitKey,
    /// A digest of the content hashes of the pieces with their labels.
    pub content_hash: String,
}

impl LabelledSet {
    /// Read every label folder under `root` with `roll`'s grid, each piece assigned to its split
    /// by `split_key`.
    ///
    /// Errors: fewer than two label folders, a label folder without MIDI files, a label none of
    /// whose files is usable. Files directly under `root` belong to no label and are skipped.
    pub fn load(
        root: &Path,
        roll: &RollConfig,
        split_key: SplitKey,
        progress: Option<&dyn Progress>,
    ) -> Result<LabelledSet> {
        let tokenizer = roll.tokenizer()?;
        let mut labels = Vec::new();
        let mut loose = Vec::new();
        let entries = std::fs::read_dir(root).map_err(|e| Error::io(root, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(root, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let path = entry.path();
            if path.is_dir() {
                labels.push(name);
            } else if files::is_midi(&path) {
                loose
                    .push(Skipped { path: PathBuf::from(&name), reason: "not inside a label folder".into() });
            }
        }
        labels.sort();
        let mut jobs: Vec<(usize, PathBuf)> = Vec::new();
        for (i, label) in labels.iter().enumerate() {
            let found = files::midi_files(&root.join(label))?;
            if found.is_empty() {
                return Err(ClassifyError::EmptyLabel { path: root.join(label), label: label.clone() }.into());
            }
            jobs.extend(found.into_iter().map(|p| (i, p)));
        }
        if labels.len() < 2 {
            return Err(ClassifyError::TooFewLabels { path: root.into(), found: labels.len(), labels }.into());
        }
        let total = jobs.len() as u64;
        let done = std::sync::atomic::AtomicU64::new(0);
        let read: Vec<(usize, PathBuf, ReadResult)> = jobs
            .par_iter()
            .map(|(label, path)| {
                let r = read_roll(path, &tokenizer);
                let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                report(progress, n, total, "reading MIDI");
                let rel = path.strip_prefix(root).unwrap_or(path).to_path_buf();
                (*label, rel, r)
            })
            .collect();
        let ratios = SplitRatios::default();
        let mut pieces = Vec::new();
        let mut skipped = loose;
        for (label, path, r) in read {
            match r {
                Ok((hash, music_key, roll)) => {
                    let split = corpus::assign_split(&ratios, split_key, &hash, &music_key);
                    pieces.push(LabelledPiece { path, label, split, hash, music_key, roll })
                }
                Err(reason) => skipped.push(Skipped { path, reason }),
            }
        }
        for (i, label) in labels.iter().enumerate() {
            if !pieces.iter().any(|p| p.label == i) {
                let mine: Vec<&Skipped> = skipped.iter().filter(|s| s.path.starts_with(label)).collect();
                let first =
                    mine.first().map_or_else(String::new, |s| format!("{}: {}", s.path.display(), s.reason));
                return Err(ClassifyError::NothingReadable {
                    path: root.join(label),
                    label: label.clone(),
                    files: mine.len(),
                    first,
                }
                .into());
            }
        }
        pieces.sort_by(|a, b| a.path.cmp(&b.path));
        skipped.sort_by(|a, b| a.path.cmp(&b.path));
        let mut h = blake3::Hasher::new();
        for p in &pieces {
            h.update(&p.hash);
            h.update(labels[p.label].as_bytes());
        }
        let content_hash = h.finalize().to_hex()[..16].to_string();
        Ok(LabelledSet { root: root.into(), labels, pieces, skipped, split_key, content_hash })
    }

    /// Pieces whose music (their [`MusicKey`]) another piece of the set, earlier in path order,
    /// has too: byte-different copies. Under [`SplitKey::Music`] each shares its original's
    /// split; under [`SplitKey::FileBytes`] it may not.
    pub fn musical_duplicates(&self) -> usize {
        corpus::repeated_keys(self.pieces.iter().map(|p| &p.music_key))
    }

    /// The pieces of one split.
    pub fn split(&self, split: Split) -> impl Iterator<Item = &LabelledPiece> {
        self.pieces.iter().filter(move |p| p.split == split)
    }

    /// Pieces per label in `split`.
    pub fn counts(&self, split: Split) -> Vec<usize> {
        let mut n = vec![0; self.labels.len()];
        for p in self.split(split) {
            n[p.label] += 1;
        }
        n
    }

    /// Error unless every label has a piece in `split`.
    pub fn require_every_label(&self, split: Split) -> Result<()> {
        for (label, n) in self.labels.iter().zip(self.counts(split)) {
            if n == 0 {
                return Err(ClassifyError::EmptySplit {
                    path: self.root.join(label),
                    label: label.clone(),
                    split: split.to_string(),
                    pieces: self.pieces.iter().filter(|p| &self.labels[p.label] == label).count(),
                }
                .into());
            }
        }
        Ok(())
    }
}

/// A file's content hash and roll, or why it is unusable.
type ReadResult = std::result::Result<([u8; 32], MusicKey, Roll), String>;

/// Read one file into a roll, or say why it is unusable.
fn read_roll(path: &Path, tokenizer: &Tokenizer) -> ReadResult {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(format!("file is {} bytes, larger than the {MAX_FILE_BYTES} byte limit", meta.len()));
    }
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let hash = *blake3::hash(&bytes).as_bytes();
    let piece = match midi::read_bytes(&bytes, path, &tokenizer.read_options()) {
        Ok(p) => p,
        Err(Error::InvalidMidi { problem, .. }) => return Err(format!("invalid MIDI file: {problem}")),
        Err(e) => return Err(e.to_string()),
    };
    let roll = Roll::of(&piece, tokenizer);
    if roll.notes.is_empty() {
        return Err("no notes in the roll's pitch range".into());
    }
    Ok((hash, music_key(&piece), roll))
}

/// Class-balanced batches of random training windows: row `i` of a batch is drawn from label
/// `(i + offset) % labels` (offset random per batch), a piece of that label uniformly, a start
/// uniformly on a beat, and a transposition uniformly in `-transpose..=transpose`. Everything
/// follows from the seed and the step, so a run is reproducible.
pub struct Batcher<'a> {
    cfg: RollConfig,
    /// Per label, its training pieces.
    by_label: Vec<Vec<&'a Roll>>,
    transpose: u8,
    seed: u64,
}

impl<'a> Batcher<'a> {
    /// Batches over the train split of `set`; every label must have a training piece.
    pub fn new(set: &'a LabelledSet, cfg: RollConfig, transpose: u8, seed: u64) -> Result<Batcher<'a>> {
        set.require_every_label(Split::Train)?;
        let mut by_label = vec![Vec::new(); set.labels.len()];
        for p in set.split(Split::Train) {
            by_label[p.label].push(&p.roll);
        }
        Ok(Batcher { cfg, by_label, transpose, seed })
    }

    /// The windows (`batch x window_len` values) and their labels for optimizer step `step`.
    pub fn batch(&self, step: u64, batch: usize) -> (Vec<f32>, Vec<i64>) {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ step.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let n = self.by_label.len();
        let len = self.cfg.window_len();
        let mut x = vec![0.0f32; batch * len];
        let mut y = Vec::with_capacity(batch);
        let offset = rng.random_range(0..n);
        for (i, row) in x.chunks_mut(len).enumerate() {
            let label = (i + offset) % n;
            let pieces = &self.by_label[label];
            let roll = pieces[rng.random_range(0..pieces.len())];
            let beat = rng.random_range(0..=roll.max_start_beat(&self.cfg));
            let t = self.transpose as i8;
            let shift = if t > 0 { rng.random_range(-t..=t) } else { 0 };
            roll.window_into(&self.cfg, beat * u32::from(self.cfg.steps_per_beat), shift, row);
            y.push(label as i64);
        }
        (x, y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::midi::{write_file, Instrument, Note, Piece};

    /// Eight rising quarter notes from `pitch`, at `tpb` ticks per beat, with `velocity`, on an
    /// instrument named `name`.
    fn write_as(path: &Path, pitch: u8, tpb: u16, velocity: u8, name: &str) {
        let mut p = Piece::new(tpb);
        let beat = u64::from(tpb);
        let notes = (0..8)
            .map(|i| Note { start: i * beat, end: i * beat + beat * 5 / 6, pitch: pitch + i as u8, velocity })
            .collect();
        p.instruments.push(Instrument { program: 0, channel: 0, is_drum: false, name: name.into(), notes });
        p.normalize();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        write_file(&p, path).unwrap();
    }

    fn write(path: &Path, pitch: u8) {
        write_as(path, pitch, 480, 70, "x");
    }

    #[test]
    fn labels_are_subfolders_and_bad_files_are_skipped() {
        let d = tempfile::tempdir().unwrap();
        for i in 0..6u8 {
            write(&d.path().join(format!("low/p{i}.mid")), 40 + i);
            write(&d.path().join(format!("high/deep/p{i}.mid")), 80 + i);
        }
        std::fs::write(d.path().join("high/broken.mid"), b"MThd").unwrap();
        write(&d.path().join("loose.mid"), 60);
        let set = LabelledSet::load(d.path(), &RollConfig::default(), SplitKey::Music, None).unwrap();
        assert_eq!(set.labels, vec!["high", "low"]);
        assert_eq!(set.pieces.len(), 12);
        assert_eq!(set.skipped.len(), 2, "{:?}", set.skipped);
        assert!(set
            .pieces
            .iter()
            .all(|p| set.labels[p.label] == p.path.iter().next().unwrap().to_str().unwrap()));
    }

    /// `path` with the notes of `write(_, pitch)` but another resolution, velocity and track
    /// name: other bytes, the same music.
    fn write_copy(path: &Path, pitch: u8) {
        write_as(path, pitch, 240, 99, "copy");
    }

    #[test]
    fn copies_of_one_piece_share_a_split_under_the_music_key() {
        let d = tempfile::tempdir().unwrap();
        for i in 0..30u8 {
            for label in ["a", "b"] {
                let pitch = 30 + i + if label == "b" { 30 } else { 0 };
                write(&d.path().join(format!("{label}/p{i:02}.mid")), pitch);
                write_copy(&d.path().join(format!("{label}/p{i:02}-copy.mid")), pitch);
            }
        }
        let cfg = RollConfig::default();
        let pairs = |set: &LabelledSet| -> Vec<(Split, Split)> {
            set.pieces.chunks(2).map(|c| (c[0].split, c[1].split)).collect()
        };
        let music = LabelledSet::load(d.path(), &cfg, SplitKey::Music, None).unwrap();
        assert_eq!((music.pieces.len(), music.musical_duplicates()), (120, 60));
        assert_eq!(music.split_key, SplitKey::Music);
        // Path order puts `pNN-copy.mid` just before `pNN.mid`.
        for (c, p) in music.pieces.chunks(2).map(|c| (&c[0], &c[1])) {
            assert!(c.path.to_string_lossy().ends_with("-copy.mid"), "{}", c.path.display());
            assert_eq!(p.music_key, c.music_key);
            assert_ne!(p.hash, c.hash);
            assert_eq!(p.split, c.split, "{}", p.path.display());
            assert_eq!(p.split, SplitRatios::default().assign(&p.music_key));
        }
        // By file bytes the copies scatter (what the music key prevents), over the same pieces.
        let bytes = LabelledSet::load(d.path(), &cfg, SplitKey::FileBytes, None).unwrap();
        assert_eq!(bytes.musical_duplicates(), 60);
        assert_eq!(bytes.content_hash, music.content_hash);
        let straddling = pairs(&bytes).iter().filter(|(a, b)| a != b).count();
        assert!(straddling > 10, "{straddling} of 60 pairs straddle splits");
        assert!(bytes.pieces.iter().all(|p| p.split == SplitRatios::default().assign(&p.hash)));
    }

    #[test]
    fn too_few_labels_and_empty_or_unreadable_labels_are_errors() {
        let d = tempfile::tempdir().unwrap();
        write(&d.path().join("only/a.mid"), 60);
        let e = LabelledSet::load(d.path(), &RollConfig::default(), SplitKey::Music, None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("at least two label folders") && e.contains("found 1 (only)"), "{e}");
        std::fs::create_dir_all(d.path().join("empty")).unwrap();
        let e = LabelledSet::load(d.path(), &RollConfig::default(), SplitKey::Music, None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("label folder `empty` holds no MIDI files"), "{e}");
        std::fs::write(d.path().join("empty/x.mid"), b"not midi").unwrap();
        let e = LabelledSet::load(d.path(), &RollConfig::default(), SplitKey::Music, None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("none of the 1 MIDI file(s) of label `empty` is usable") && e.contains("x.mid"),
            "{e}"
        );
    }

    #[test]
    fn batches_are_balanced_and_reproducible() {
        let d = tempfile::tempdir().unwrap();
        for i in 0..30u8 {
            write(&d.path().join(format!("a/p{i}.mid")), 40 + i);
            write(&d.path().join(format!("b/p{i}.mid")), 70 + i);
        }
        let cfg = RollConfig { window_beats: 4, ..RollConfig::default() };
        let set = LabelledSet::load(d.path(), &cfg, SplitKey::Music, None).unwrap();
        let b = Batcher::new(&set, cfg, 3, 7).unwrap();
        let (x, y) = b.batch(5, 8);
        assert_eq!(x.len(), 8 * cfg.window_len());
        assert_eq!(y.iter().filter(|&&l| l == 0).count(), 4);
        assert_eq!(b.batch(5, 8), (x.clone(), y));
        assert_ne!(b.batch(6, 8).0, x);
    }
}
