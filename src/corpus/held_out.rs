//! Keeping held-out music out of another corpus: which files of a folder (a pretraining corpus)
//! are, by their music or their bytes, a valid or test piece of other corpora under either split
//! key, so that a model pretrained on the folder and scored on those corpora is scored on music
//! it never saw (issue 26).
//!
//! A held-out piece is one that lands in the valid or test split of its corpus under the music
//! key *or* under the file-bytes key (checkpoints of both kinds are scored there). A file of the
//! folder leaks when its [`MusicKey`] or its file hash equals a held-out piece's.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::files::midi_files;
use super::split::{Split, SplitKey, SplitRatios};
use super::{assign_split, read_limited, split_hashes_of_file, MusicKey};
use crate::error::Result;

/// How a leaking file matched a held-out piece.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Matched {
    /// The same file bytes.
    Bytes,
    /// Other bytes, the same music ([`MusicKey`]).
    Music,
}

/// A file of the folder that is a held-out piece of another corpus.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Leak {
    /// The file in the folder.
    pub file: PathBuf,
    /// The held-out piece it repeats.
    pub held_out: PathBuf,
    pub matched: Matched,
}

/// The held-out pieces of `corpora` (valid or test under either split key, `ratios` as the
/// corpora are split), by file hash and by music key. Unreadable files are left out (they are in
/// no split).
fn held_out_keys(
    corpora: &[PathBuf],
    ratios: &SplitRatios,
) -> Result<(HashMap<[u8; 32], PathBuf>, HashMap<MusicKey, PathBuf>)> {
    let mut by_bytes = HashMap::new();
    let mut by_music = HashMap::new();
    for root in corpora {
        let files = midi_files(root)?;
        let found: Vec<(PathBuf, [u8; 32], MusicKey)> = files
            .par_iter()
            .filter_map(|f| {
                let bytes = read_limited(f).ok()?;
                let (hash, music) = split_hashes_of_file(&bytes, f)?;
                Some((f.clone(), hash, music))
            })
            .collect();
        for (path, hash, music) in found {
            let held = [SplitKey::Music, SplitKey::FileBytes]
                .into_iter()
                .any(|key| assign_split(ratios, key, &hash, &music) != Split::Train);
            if held {
                by_bytes.entry(hash).or_insert_with(|| path.clone());
                by_music.entry(music).or_insert(path);
            }
        }
    }
    Ok((by_bytes, by_music))
}

/// The files under `folder` that repeat a held-out piece of `corpora` (see the module doc), in
/// path order. Unreadable files of `folder` are not listed (no corpus reads them).
pub fn leaks(folder: &Path, corpora: &[PathBuf], ratios: &SplitRatios) -> Result<Vec<Leak>> {
    let (by_bytes, by_music) = held_out_keys(corpora, ratios)?;
    let files = midi_files(folder)?;
    let mut out: Vec<Leak> = files
        .par_iter()
        .filter_map(|f| {
            let bytes = read_limited(f).ok()?;
            let (hash, music) = split_hashes_of_file(&bytes, f)?;
            let (held_out, matched) = match by_bytes.get(&hash) {
                Some(p) => (p, Matched::Bytes),
                None => (by_music.get(&music)?, Matched::Music),
            };
            Some(Leak { file: f.clone(), held_out: held_out.clone(), matched })
        })
        .collect();
    out.sort_by(|a, b| a.file.cmp(&b.file));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::midi::{write_file, Instrument, Note, Piece};

    fn tune(seed: u64, tpb: u16) -> Piece {
        let mut p = Piece::new(tpb);
        let t = u64::from(tpb);
        let notes = (0..12u64)
            .map(|i| Note {
                start: i * t,
                end: i * t + t / 2,
                pitch: 50 + ((i * seed + seed) % 24) as u8,
                velocity: 64,
            })
            .collect();
        p.instruments.push(Instrument { notes, ..Default::default() });
        p
    }

    #[test]
    fn every_held_out_piece_is_found_by_bytes_or_music_and_no_training_piece() {
        let dir = tempfile::tempdir().unwrap();
        let (bach, base) = (dir.path().join("bach"), dir.path().join("base"));
        std::fs::create_dir_all(&bach).unwrap();
        std::fs::create_dir_all(&base).unwrap();
        for s in 1..=60u64 {
            write_file(&tune(s, 480), &bach.join(format!("t{s:02}.mid"))).unwrap();
        }
        let ratios = SplitRatios::default();
        // The base holds every piece twice: the same bytes, and the same music at another
        // resolution (other bytes).
        for s in 1..=60u64 {
            std::fs::copy(bach.join(format!("t{s:02}.mid")), base.join(format!("same{s:02}.mid"))).unwrap();
            write_file(&tune(s, 96), &base.join(format!("other{s:02}.mid"))).unwrap();
        }
        let found = leaks(&base, &[bach.clone()], &ratios).unwrap();
        // Brute force: a piece is held out when either key puts it outside train.
        let mut held = Vec::new();
        for s in 1..=60u64 {
            let path = bach.join(format!("t{s:02}.mid"));
            let bytes = std::fs::read(&path).unwrap();
            let (hash, music) = split_hashes_of_file(&bytes, &path).unwrap();
            let splits =
                [SplitKey::Music, SplitKey::FileBytes].map(|k| assign_split(&ratios, k, &hash, &music));
            if splits.iter().any(|s| *s != Split::Train) {
                held.push(s);
            }
        }
        assert!(held.len() >= 6 && held.len() < 40, "{held:?}");
        let mut want: Vec<(String, Matched)> = held
            .iter()
            .flat_map(|s| {
                [(format!("other{s:02}.mid"), Matched::Music), (format!("same{s:02}.mid"), Matched::Bytes)]
            })
            .collect();
        want.sort();
        let mut got: Vec<(String, Matched)> = found
            .iter()
            .map(|l| (l.file.file_name().unwrap().to_string_lossy().into_owned(), l.matched))
            .collect();
        got.sort();
        assert_eq!(got, want);
        assert!(found.iter().all(|l| l.held_out.starts_with(&bach)));
    }
}
