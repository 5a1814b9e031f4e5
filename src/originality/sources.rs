//! Building the [`CopyIndex`] of training music, from whatever holds it: a corpus folder of MIDI
//! files ([`index_folder`]: every file, recursively, found as a corpus finds them; unreadable
//! files skipped and listed), a token store ([`index_store`]: its pieces decoded with its own
//! tokenizer, so they are as that tokenizer keeps them: on its grid, in its pitch range), or
//! pieces already in memory ([`index_pieces`]). Files are read and decoded in parallel; the
//! automaton is built on one thread, in path order, so the index does not depend on the threads.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;

use crate::copies::{note_keys, CopyIndex, NoteKey};
use crate::corpus::{files, read_limited, Pieces, Skipped};
use crate::error::{CorpusError, Error, Result};
use crate::midi::{self, Piece, ReadOptions};
use crate::progress::{report, Progress};
use crate::store::TokenStore;

/// An index of a corpus or a store, and the files that could not go into it.
#[derive(Debug, Clone)]
pub struct Indexed {
    pub index: CopyIndex,
    /// Files that could not be read, with why, in path order (for a store: those its build
    /// skipped).
    pub skipped: Vec<Skipped>,
}

/// The notes of every readable MIDI file of a folder, before indexing.
#[derive(Debug, Clone, Default)]
pub struct FolderNotes {
    /// `(path relative to the folder, its notes)` in path order.
    pub pieces: Vec<(String, Vec<NoteKey>)>,
    /// Files that could not be read, with why, in path order.
    pub skipped: Vec<Skipped>,
}

/// Pieces between progress reports while the automaton grows.
const REPORT_EVERY: usize = 256;

/// The index of `pieces` (a name, shown as a copy's source, and the piece), in their order. An
/// empty iterator gives an empty index, in which nothing is a copy.
pub fn index_pieces<'a>(pieces: impl IntoIterator<Item = (String, &'a Piece)>) -> CopyIndex {
    index_keys(pieces.into_iter().map(|(name, piece)| (name, note_keys(piece))))
}

/// The index of pieces given by their notes in the copy definition's order
/// ([`crate::copies::note_keys`]).
pub fn index_keys(pieces: impl IntoIterator<Item = (String, Vec<NoteKey>)>) -> CopyIndex {
    let mut index = CopyIndex::new();
    for (name, keys) in pieces {
        index.add_piece(name, keys);
    }
    index
}

/// Read every MIDI file under `root` (recursively, or `root` itself if it is a MIDI file) into
/// its notes, telling `progress` how many files have been read. A folder without any MIDI file
/// is an error; unreadable files are listed in [`FolderNotes::skipped`].
pub fn folder_notes(root: &Path, progress: Option<&dyn Progress>) -> Result<FolderNotes> {
    let paths = files::midi_files(root)?;
    if paths.is_empty() {
        return Err(Error::Corpus { path: root.to_path_buf(), problem: CorpusError::NoMidiFiles });
    }
    let total = paths.len() as u64;
    let done = AtomicU64::new(0);
    report(progress, 0, total, "reading MIDI");
    let read: Vec<(String, std::result::Result<Vec<NoteKey>, String>)> = paths
        .par_iter()
        .map(|path| {
            let keys = read_limited(path).and_then(|bytes| {
                match midi::read_bytes(&bytes, path, &ReadOptions::default()) {
                    Ok(piece) => Ok(note_keys(&piece)),
                    Err(Error::InvalidMidi { problem, .. }) => Err(problem.to_string()),
                    Err(e) => Err(e.to_string()),
                }
            });
            report(progress, done.fetch_add(1, Ordering::Relaxed) + 1, total, "reading MIDI");
            (name_in(root, path), keys)
        })
        .collect();
    let mut out = FolderNotes::default();
    for (name, keys) in read {
        match keys {
            Ok(keys) => out.pieces.push((name, keys)),
            Err(reason) => out.skipped.push(Skipped { path: name.into(), reason }),
        }
    }
    Ok(out)
}

/// The index of every MIDI file under `root` (see [`folder_notes`]); an error naming the folder
/// when it holds no MIDI file, or no readable piece with two pitched notes.
pub fn index_folder(root: &Path, progress: Option<&dyn Progress>) -> Result<Indexed> {
    let notes = folder_notes(root, progress)?;
    let index = build(root, notes.pieces, notes.skipped.len(), progress)?;
    Ok(Indexed { index, skipped: notes.skipped })
}

/// The index of every piece of `store` (all splits), decoded with the store's tokenizer; an
/// error naming the store when no piece has two pitched notes.
pub fn index_store(store: &TokenStore, progress: Option<&dyn Progress>) -> Result<Indexed> {
    let total = store.pieces().count() as u64;
    report(progress, 0, total, "decoding");
    let pieces = store.copy_notes(None);
    report(progress, total, total, "decoding");
    let index = build(&store.dir, pieces, store.skipped.len(), progress)?;
    Ok(Indexed { index, skipped: store.skipped.clone() })
}

/// `path`'s name for reports: relative to `root`, or its file name when it is `root`.
fn name_in(root: &Path, path: &Path) -> String {
    match path.strip_prefix(root) {
        Ok(rel) if !rel.as_os_str().is_empty() => rel.display().to_string(),
        _ => {
            path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
        }
    }
}

/// The index of `pieces`, reporting to `progress`; an error about `path` unless some piece has
/// two notes (a step) to match.
fn build(
    path: &Path,
    pieces: Vec<(String, Vec<NoteKey>)>,
    skipped: usize,
    progress: Option<&dyn Progress>,
) -> Result<CopyIndex> {
    if !pieces.iter().any(|(_, keys)| keys.len() >= 2) {
        let problem = CorpusError::NoNotes { pieces: pieces.len(), skipped };
        return Err(Error::Corpus { path: path.to_path_buf(), problem });
    }
    let total = pieces.len() as u64;
    let mut index = CopyIndex::new();
    for (i, (name, keys)) in pieces.into_iter().enumerate() {
        index.add_piece(name, keys);
        if (i + 1) % REPORT_EVERY == 0 || i + 1 == total as usize {
            report(progress, i as u64 + 1, total, "indexing");
        }
    }
    Ok(index)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::midi::{write_file, Instrument, Note};

    fn piece(pitches: &[u8]) -> Piece {
        let mut p = Piece::new(96);
        let notes = pitches
            .iter()
            .enumerate()
            .map(|(i, &pitch)| Note { start: i as u64 * 48, end: i as u64 * 48 + 40, pitch, velocity: 80 })
            .collect();
        p.instruments.push(Instrument { notes, ..Instrument::default() });
        p
    }

    #[test]
    fn a_folder_is_indexed_recursively_in_path_order_and_bad_files_are_skipped() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("sub")).unwrap();
        write_file(&piece(&[60, 62, 64, 65]), &d.path().join("b.mid")).unwrap();
        write_file(&piece(&[67, 65]), &d.path().join("sub/a.mid")).unwrap();
        std::fs::write(d.path().join("broken.mid"), b"MThd nope").unwrap();
        std::fs::write(d.path().join("notes.txt"), b"not midi").unwrap();
        let calls = AtomicU64::new(0);
        let hook = |_: u64, _: u64, _: &str| {
            calls.fetch_add(1, Ordering::Relaxed);
        };
        let got = index_folder(d.path(), Some(&hook)).unwrap();
        assert!(calls.load(Ordering::Relaxed) >= 4, "progress was reported");
        let names: Vec<&str> = (0..got.index.pieces()).map(|i| got.index.piece_name(i)).collect();
        assert_eq!(names, ["b.mid", "sub/a.mid"]);
        assert_eq!(got.index.notes(), 6);
        assert_eq!(got.skipped.len(), 1);
        assert_eq!(got.skipped[0].path, Path::new("broken.mid"));
        // A single file is a corpus of one, named by its file name.
        let one = index_folder(&d.path().join("b.mid"), None).unwrap();
        assert_eq!(one.index.piece_name(0), "b.mid");
    }

    #[test]
    fn an_empty_or_missing_or_noteless_folder_is_an_error_naming_it() {
        let d = tempfile::tempdir().unwrap();
        let e = index_folder(d.path(), None).unwrap_err();
        assert!(matches!(e, Error::Corpus { problem: CorpusError::NoMidiFiles, .. }), "{e}");
        assert!(index_folder(&d.path().join("missing"), None).unwrap_err().to_string().contains("missing"));
        write_file(&piece(&[60]), &d.path().join("one-note.mid")).unwrap();
        std::fs::write(d.path().join("broken.mid"), b"MThd nope").unwrap();
        let e = index_folder(d.path(), None).unwrap_err();
        assert!(
            matches!(e, Error::Corpus { problem: CorpusError::NoNotes { pieces: 1, skipped: 1 }, .. }),
            "{e}"
        );
        assert!(e.to_string().starts_with(&d.path().display().to_string()), "{e}");
    }

    #[test]
    fn a_store_is_indexed_from_its_decoded_pieces_as_the_folder_is() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("corpus");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        // Eighth notes: on every tokenizer's beat grid, so decoding keeps their onsets.
        write_file(&piece(&[60, 62, 64, 65, 67, 60, 72]), &root.join("b.mid")).unwrap();
        write_file(&piece(&[67, 65, 64, 62]), &root.join("sub/a.mid")).unwrap();
        std::fs::write(root.join("broken.mid"), b"MThd nope").unwrap();
        let tokenizer = crate::Tokenizer::new(crate::TokenizerConfig::default()).unwrap();
        let out = d.path().join("store");
        crate::store::build(&root, &tokenizer, &out, &crate::store::BuildOptions::default(), None).unwrap();
        let store = TokenStore::open(&out).unwrap();
        let from_store = index_store(&store, None).unwrap();
        let from_folder = index_folder(&root, None).unwrap();
        assert_eq!(from_store.skipped.len(), 1);
        assert_eq!(from_store.index.pieces(), from_folder.index.pieces());
        for i in 0..from_folder.index.pieces() {
            assert_eq!(from_store.index.piece_name(i), from_folder.index.piece_name(i));
            assert_eq!(from_store.index.piece_notes(i), from_folder.index.piece_notes(i));
        }
    }

    #[test]
    fn pieces_in_memory_are_indexed_under_their_names() {
        let (a, b) = (piece(&[60, 62, 64]), piece(&[70, 72]));
        let index = index_pieces([("a".to_string(), &a), ("b".to_string(), &b)]);
        assert_eq!((index.pieces(), index.notes(), index.piece_name(1)), (2, 5, "b"));
        assert_eq!(index_pieces(std::iter::empty()).pieces(), 0);
    }
}
