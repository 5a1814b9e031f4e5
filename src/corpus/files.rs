//! Finding the MIDI files of a corpus folder.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Whether `path` has a MIDI extension (`.mid` or `.midi`, any case).
pub fn is_midi(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("mid") || e.eq_ignore_ascii_case("midi"))
}

/// How far [`find_midi`] looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Walk {
    /// Follow symbolic links to files (links to folders are never followed: no cycles).
    pub file_links: bool,
    /// Folders below `root` to descend into (`None`: all).
    pub max_depth: Option<usize>,
}

impl Walk {
    /// How a corpus is read: every level, file links followed.
    pub const CORPUS: Walk = Walk { file_links: true, max_depth: None };
}

/// Every MIDI file under `root`, recursively, sorted. Hidden entries (names starting with `.`)
/// are skipped; symbolic links to files are followed, links to folders are not (no cycles).
/// `root` may also be a single MIDI file.
pub fn midi_files(root: &Path) -> Result<Vec<PathBuf>> {
    find_midi(root, Walk::CORPUS)
}

/// As [`midi_files`], looking only as far as `walk` says.
pub fn find_midi(root: &Path, walk: Walk) -> Result<Vec<PathBuf>> {
    let meta = std::fs::metadata(root).map_err(|e| Error::io(root, e))?;
    if meta.is_file() {
        return Ok(if is_midi(root) { vec![root.to_path_buf()] } else { Vec::new() });
    }
    let mut out = Vec::new();
    let mut stack = vec![(root.to_path_buf(), 0usize)];
    while let Some((dir, depth)) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(&dir, e))?;
            let path = entry.path();
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let Ok(ft) = entry.file_type() else { continue };
            if ft.is_dir() {
                if walk.max_depth.is_none_or(|max| depth < max) {
                    stack.push((path, depth + 1));
                }
            } else if (ft.is_file() || (walk.file_links && ft.is_symlink() && path.is_file()))
                && is_midi(&path)
            {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_midi_files_recursively_in_any_case_and_skips_others() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::create_dir_all(root.join(".hidden")).unwrap();
        for f in ["x.mid", "a/y.MIDI", "a/b/z.MiD", "a/notes.txt", ".hidden/h.mid", "a/.dot.mid"] {
            std::fs::write(root.join(f), b"").unwrap();
        }
        let found: Vec<_> =
            midi_files(root).unwrap().iter().map(|p| p.strip_prefix(root).unwrap().to_path_buf()).collect();
        let want: Vec<PathBuf> = ["a/b/z.MiD", "a/y.MIDI", "x.mid"].iter().map(PathBuf::from).collect();
        assert_eq!(found, want);
    }

    #[test]
    fn a_walk_can_stop_at_a_depth_and_skip_file_links() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("c");
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        for f in ["x.mid", "a/y.mid", "a/b/z.mid"] {
            std::fs::write(root.join(f), b"").unwrap();
        }
        std::fs::write(d.path().join("outside.mid"), b"").unwrap();
        std::os::unix::fs::symlink(d.path().join("outside.mid"), root.join("link.mid")).unwrap();
        let rel = |walk| -> Vec<PathBuf> {
            find_midi(&root, walk)
                .unwrap()
                .iter()
                .map(|p| p.strip_prefix(&root).unwrap().to_path_buf())
                .collect()
        };
        let all: Vec<PathBuf> =
            ["a/b/z.mid", "a/y.mid", "link.mid", "x.mid"].iter().map(PathBuf::from).collect();
        assert_eq!(rel(Walk::CORPUS), all);
        let shallow: Vec<PathBuf> = ["a/y.mid", "x.mid"].iter().map(PathBuf::from).collect();
        assert_eq!(rel(Walk { file_links: false, max_depth: Some(1) }), shallow);
    }

    #[test]
    fn a_missing_folder_is_an_error_naming_it() {
        let e = midi_files(Path::new("/no/such/folder")).unwrap_err().to_string();
        assert!(e.contains("/no/such/folder"), "{e}");
    }
}
