//! The index of training music for the copy definition of [`super::notes`]: a suffix automaton
//! over the steps of every training piece (pieces joined by a separator no query contains), so
//! that walking a query's steps through it gives, at every note, the longest run of steps ending
//! there that also occurs in some training piece, and where (matching statistics, linear in the
//! query). The automaton has at most twice as many states as training steps and at most three
//! times as many transitions, so memory and build time grow linearly with the notes.

use std::collections::HashMap;

use super::notes::{steps, NoteKey, Step};

/// Where the automaton is after some steps: a state and the length (in steps) of the longest
/// suffix read so far that occurs in the training music.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Match {
    state: u32,
    /// Steps matched; a copy of `len + 1` notes.
    pub len: u32,
}

impl Match {
    /// The notes of the copy this match stands for (`len + 1`; 1 when nothing matched: a single
    /// note is in every piece and is not a copy).
    pub fn notes(&self) -> usize {
        self.len as usize + 1
    }
}

/// Where a copy comes from: `notes` notes of training piece `piece`, from its note `first`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Source {
    pub piece: usize,
    pub first: usize,
    pub notes: usize,
}

/// One training piece in the index.
#[derive(Debug, Clone)]
struct Entry {
    name: String,
    /// Its notes, in the copy definition's order.
    keys: Vec<NoteKey>,
    /// Position of its first step in the joined step sequence.
    first_step: u32,
}

/// The training music, indexed for copies (see the module documentation).
#[derive(Debug, Clone)]
pub struct CopyIndex {
    /// Step values to the automaton's symbols; symbol 0 is the separator.
    symbols: HashMap<Step, u32>,
    /// Per state: the longest string's length, the suffix link, and the end position (in the
    /// joined step sequence) of the first occurrence of its strings.
    len: Vec<u32>,
    link: Vec<u32>,
    first_end: Vec<u32>,
    /// Per state: its transitions, sorted by symbol.
    next: Vec<Vec<(u32, u32)>>,
    last: u32,
    /// Steps read so far (separators included).
    position: u32,
    pieces: Vec<Entry>,
}

const NONE: u32 = u32::MAX;
const SEPARATOR: u32 = 0;

impl Default for CopyIndex {
    fn default() -> Self {
        Self::new()
    }
}

impl CopyIndex {
    /// An empty index (nothing is a copy).
    pub fn new() -> Self {
        CopyIndex {
            symbols: HashMap::new(),
            len: vec![0],
            link: vec![NONE],
            first_end: vec![0],
            next: vec![Vec::new()],
            last: 0,
            position: 0,
            pieces: Vec::new(),
        }
    }

    /// Add one training piece: its name (shown as a copy's source) and its notes in the copy
    /// definition's order ([`super::note_keys`]).
    pub fn add_piece(&mut self, name: impl Into<String>, keys: Vec<NoteKey>) {
        let first_step = self.position;
        let steps = steps(&keys);
        for s in &steps {
            let fresh = self.symbols.len() as u32 + 1;
            let sym = *self.symbols.entry(*s).or_insert(fresh);
            self.extend(sym);
        }
        if !steps.is_empty() {
            self.extend(SEPARATOR);
        }
        self.pieces.push(Entry { name: name.into(), keys, first_step });
    }

    /// Training pieces indexed.
    pub fn pieces(&self) -> usize {
        self.pieces.len()
    }

    /// Training notes indexed.
    pub fn notes(&self) -> usize {
        self.pieces.iter().map(|p| p.keys.len()).sum()
    }

    /// The name of training piece `i`.
    pub fn piece_name(&self, i: usize) -> &str {
        &self.pieces[i].name
    }

    /// The notes of training piece `i`.
    pub fn piece_notes(&self, i: usize) -> &[NoteKey] {
        &self.pieces[i].keys
    }

    /// Automaton states (for memory figures).
    pub fn states(&self) -> usize {
        self.len.len()
    }

    /// Bytes the index holds, roughly (for memory figures).
    pub fn heap_bytes(&self) -> usize {
        let per_state = 3 * 4 + std::mem::size_of::<Vec<(u32, u32)>>();
        let transitions: usize = self.next.iter().map(|n| n.capacity() * 8).sum();
        let notes: usize = self.pieces.iter().map(|p| p.keys.capacity() * 16 + p.name.len() + 48).sum();
        self.len.capacity() * per_state + transitions + notes + self.symbols.capacity() * 24
    }

    fn transition(&self, state: u32, sym: u32) -> Option<u32> {
        let n = &self.next[state as usize];
        n.binary_search_by_key(&sym, |&(s, _)| s).ok().map(|i| n[i].1)
    }

    fn set_transition(&mut self, state: u32, sym: u32, to: u32) {
        let n = &mut self.next[state as usize];
        match n.binary_search_by_key(&sym, |&(s, _)| s) {
            Ok(i) => n[i].1 = to,
            Err(i) => n.insert(i, (sym, to)),
        }
    }

    fn new_state(&mut self, len: u32, link: u32, first_end: u32, next: Vec<(u32, u32)>) -> u32 {
        self.len.push(len);
        self.link.push(link);
        self.first_end.push(first_end);
        self.next.push(next);
        (self.len.len() - 1) as u32
    }

    /// The suffix automaton's online extension by one symbol.
    fn extend(&mut self, sym: u32) {
        let pos = self.position;
        self.position += 1;
        let cur = self.new_state(self.len[self.last as usize] + 1, 0, pos, Vec::new());
        let mut p = self.last;
        while p != NONE && self.transition(p, sym).is_none() {
            self.set_transition(p, sym, cur);
            p = self.link[p as usize];
        }
        if p != NONE {
            let q = self.transition(p, sym).expect("found above");
            if self.len[p as usize] + 1 == self.len[q as usize] {
                self.link[cur as usize] = q;
            } else {
                let next = self.next[q as usize].clone();
                let clone = self.new_state(
                    self.len[p as usize] + 1,
                    self.link[q as usize],
                    self.first_end[q as usize],
                    next,
                );
                while p != NONE && self.transition(p, sym) == Some(q) {
                    self.set_transition(p, sym, clone);
                    p = self.link[p as usize];
                }
                self.link[q as usize] = clone;
                self.link[cur as usize] = clone;
            }
        }
        self.last = cur;
    }

    /// The match before any note.
    pub fn start(&self) -> Match {
        Match::default()
    }

    /// The match after one more step: the longest suffix of what was read, plus `step`, that
    /// occurs in the training music.
    pub fn advance(&self, m: Match, step: Step) -> Match {
        let Some(&sym) = self.symbols.get(&step) else { return Match::default() };
        let (mut state, mut len) = (m.state, m.len);
        loop {
            if let Some(to) = self.transition(state, sym) {
                return Match { state: to, len: len + 1 };
            }
            if state == 0 {
                return Match::default();
            }
            state = self.link[state as usize];
            len = self.len[state as usize];
        }
    }

    /// The longest copy in `keys`, in notes (0 without notes; 1 when no two notes copy).
    pub fn longest(&self, keys: &[NoteKey]) -> usize {
        self.matches(keys).iter().map(|m| m.notes()).max().unwrap_or(0)
    }

    /// For every note of `keys` (in the copy definition's order), the longest copy ending at it.
    pub fn matches(&self, keys: &[NoteKey]) -> Vec<Match> {
        let mut out = Vec::with_capacity(keys.len());
        let mut m = self.start();
        for (i, k) in keys.iter().enumerate() {
            if i > 0 {
                m = self.advance(m, Step::between(keys[i - 1], *k));
            }
            out.push(m);
        }
        out
    }

    /// Where the copy of `m` comes from (its first occurrence in the training music); `None`
    /// when nothing matched.
    pub fn source(&self, m: Match) -> Option<Source> {
        if m.len == 0 {
            return None;
        }
        let end = self.first_end[m.state as usize];
        let piece = self.pieces.partition_point(|p| p.first_step <= end) - 1;
        let last_step = (end - self.pieces[piece].first_step) as usize;
        // Steps first..=last_step join notes first..=last_step + 1.
        let first = last_step + 1 - m.len as usize;
        Some(Source { piece, first, notes: m.notes() })
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn longest_is_the_longest_match() {
        let key = |onset: u64, pitch: u8| NoteKey { onset, pitch };
        let train: Vec<NoteKey> = (0..8).map(|i| key(i * 12, 60 + (i % 5) as u8)).collect();
        let mut index = CopyIndex::new();
        index.add_piece("train", train.clone());
        assert_eq!(index.longest(&train[2..7]), 5);
        assert_eq!(index.longest(&[]), 0);
        let other = [key(0, 40), key(7, 90), key(9, 20)];
        assert_eq!(index.longest(&other), 1);
    }

    use super::*;
    use rand::{Rng, SeedableRng};

    fn keys(pitches_gaps: &[(u8, u64)]) -> Vec<NoteKey> {
        let mut onset = 0;
        pitches_gaps
            .iter()
            .map(|&(pitch, gap)| {
                onset += gap;
                NoteKey { onset, pitch }
            })
            .collect()
    }

    fn random_keys(rng: &mut impl Rng, n: usize, pitches: u8, gaps: u64) -> Vec<NoteKey> {
        let v: Vec<(u8, u64)> =
            (0..n).map(|_| (60 + rng.random_range(0..pitches), rng.random_range(0..gaps))).collect();
        keys(&v)
    }

    /// The longest copy ending at each note by brute force: compare step runs with every
    /// training piece's.
    fn brute_force(training: &[Vec<NoteKey>], query: &[NoteKey]) -> Vec<usize> {
        let q = steps(query);
        let t: Vec<Vec<Step>> = training.iter().map(|k| steps(k)).collect();
        (0..query.len())
            .map(|i| {
                if i == 0 {
                    return 1;
                }
                let mut best = 0;
                for ts in &t {
                    for j in 0..ts.len() {
                        let mut l = 0;
                        while l < i && l <= j && q[i - 1 - l] == ts[j - l] {
                            l += 1;
                        }
                        best = best.max(l);
                    }
                }
                best + 1
            })
            .collect()
    }

    #[test]
    fn matches_equal_the_brute_force_and_sources_hold_the_copied_steps() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        for round in 0..20 {
            // Few pitches and gaps: many repeats, many clones in the automaton.
            let training: Vec<Vec<NoteKey>> = (0..1 + round % 4)
                .map(|_| {
                    let n = rng.random_range(0..60);
                    random_keys(&mut rng, n, 3, 3)
                })
                .collect();
            let mut index = CopyIndex::new();
            for (i, k) in training.iter().enumerate() {
                index.add_piece(format!("p{i}"), k.clone());
            }
            let query = random_keys(&mut rng, 80, 3, 3);
            let got = index.matches(&query);
            let want = brute_force(&training, &query);
            assert_eq!(got.iter().map(Match::notes).collect::<Vec<_>>(), want, "round {round}");
            let qs = steps(&query);
            for (i, m) in got.iter().enumerate() {
                let Some(src) = index.source(*m) else {
                    assert_eq!(m.len, 0);
                    continue;
                };
                let ts = steps(index.piece_notes(src.piece));
                let copied = &ts[src.first..src.first + m.len as usize];
                assert_eq!(copied, &qs[i - m.len as usize..i], "round {round}, note {i}");
            }
            assert!(index.states() <= 2 * (index.notes() + index.pieces()) + 1);
        }
    }

    #[test]
    fn a_copy_never_spans_two_training_pieces() {
        let a = keys(&[(60, 0), (62, 1), (64, 1)]);
        let b = keys(&[(65, 0), (67, 1), (69, 1)]);
        let mut index = CopyIndex::new();
        index.add_piece("a", a);
        index.add_piece("b", b);
        // 60 62 64 65 67 69 joins the two pieces end to start: steps (+2,1)(+2,1)(+1,1)(+2,1)(+2,1).
        let q = keys(&[(60, 0), (62, 1), (64, 1), (65, 1), (67, 1), (69, 1)]);
        let best = index.matches(&q).iter().map(Match::notes).max().unwrap();
        assert_eq!(best, 3, "two notes of each piece around the join are not a copy of either");
        let empty = CopyIndex::new();
        assert!(empty.matches(&q).iter().all(|m| m.notes() == 1 && empty.source(*m).is_none()));
    }
}
