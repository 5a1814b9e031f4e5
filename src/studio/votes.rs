//! The blind listening test's trials and votes in SQLite (WAL mode, synchronous FULL, so a vote
//! answered is a vote kept, through a `kill -9` of the server), and the win rates with their
//! Wilson score intervals.
//!
//! A trial is two clips in the order the listener heard them, with their hidden sources (a
//! checkpoint name, or `real` for a test-split piece of the corpus); a vote names the clip preferred (0 or 1) and optionally
//! rates both from 1 to 5.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use crate::error::{Result, StudioError};

/// z for a 95 % interval.
pub const Z95: f64 = 1.959_963_984_540_054;

/// The Wilson score interval of `wins` successes in `n` trials at `z` (`(0, 1)` when `n` is 0).
pub fn wilson(wins: u64, n: u64, z: f64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let n = n as f64;
    let p = wins as f64 / n;
    let z2 = z * z;
    let denom = 1.0 + z2 / n;
    let center = (p + z2 / (2.0 * n)) / denom;
    let margin = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denom;
    ((center - margin).max(0.0), (center + margin).min(1.0))
}

/// One trial: two clips (sample ids) in the order presented, and their sources.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trial {
    pub id: String,
    pub clips: [String; 2],
    pub sources: [String; 2],
}

/// A listener's answer to a trial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vote {
    /// The clip preferred: 0 or 1.
    pub choice: u8,
    /// Optional 1-5 ratings of both clips.
    pub ratings: Option<[u8; 2]>,
}

/// Win rate of `a` against `b` over the votes on trials that pitted them against each other.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairResult {
    pub a: String,
    pub b: String,
    pub votes: u64,
    pub a_wins: u64,
    pub a_win_rate: f64,
    /// 95 % Wilson score interval of `a_win_rate`.
    pub low: f64,
    pub high: f64,
    /// Mean 1-5 rating of each side, over the votes that rated.
    pub a_mean_rating: Option<f64>,
    pub b_mean_rating: Option<f64>,
}

/// The votes database.
pub struct Votes {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for Votes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Votes").field("path", &self.path).finish()
    }
}

impl Votes {
    /// Open (creating) the database at `path`.
    pub fn open(path: &Path) -> Result<Votes> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| crate::Error::io(dir, e))?;
        }
        let db = |e: rusqlite::Error| db_error(path, e);
        let conn = Connection::open(path).map_err(db)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(db)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(db)?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(db)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS trials (
                 id TEXT PRIMARY KEY,
                 clip0 TEXT NOT NULL, clip1 TEXT NOT NULL,
                 source0 TEXT NOT NULL, source1 TEXT NOT NULL,
                 created TEXT NOT NULL DEFAULT (datetime('now')));
             CREATE TABLE IF NOT EXISTS votes (
                 trial TEXT PRIMARY KEY REFERENCES trials(id),
                 choice INTEGER NOT NULL CHECK (choice IN (0, 1)),
                 rating0 INTEGER, rating1 INTEGER,
                 created TEXT NOT NULL DEFAULT (datetime('now')));",
        )
        .map_err(db)?;
        Ok(Votes { path: path.to_path_buf(), conn: Mutex::new(conn) })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn db(&self, e: rusqlite::Error) -> crate::Error {
        db_error(&self.path, e)
    }

    /// Record a new trial.
    pub fn add_trial(&self, trial: &Trial) -> Result<()> {
        self.conn()
            .execute(
                "INSERT INTO trials (id, clip0, clip1, source0, source1) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![trial.id, trial.clips[0], trial.clips[1], trial.sources[0], trial.sources[1]],
            )
            .map_err(|e| self.db(e))?;
        Ok(())
    }

    /// The trial `id`, if there is one.
    pub fn trial(&self, id: &str) -> Result<Option<Trial>> {
        self.conn()
            .query_row(
                "SELECT id, clip0, clip1, source0, source1 FROM trials WHERE id = ?1",
                params![id],
                |r| {
                    Ok(Trial {
                        id: r.get(0)?,
                        clips: [r.get(1)?, r.get(2)?],
                        sources: [r.get(3)?, r.get(4)?],
                    })
                },
            )
            .optional()
            .map_err(|e| self.db(e))
    }

    /// Record the vote on trial `trial` (which must exist and have no vote yet).
    pub fn vote(&self, trial: &str, vote: Vote) -> Result<()> {
        if self.trial(trial)?.is_none() {
            return Err(StudioError::NotFound { what: "trial", name: trial.to_string() }.into());
        }
        let (r0, r1) = match vote.ratings {
            Some([a, b]) => (Some(a), Some(b)),
            None => (None, None),
        };
        let done = self
            .conn()
            .execute(
                "INSERT OR IGNORE INTO votes (trial, choice, rating0, rating1) VALUES (?1, ?2, ?3, ?4)",
                params![trial, vote.choice, r0, r1],
            )
            .map_err(|e| self.db(e))?;
        if done == 0 {
            return Err(StudioError::AlreadyVoted(trial.to_string()).into());
        }
        Ok(())
    }

    /// How many votes are stored.
    pub fn count(&self) -> Result<u64> {
        let n: i64 =
            self.conn().query_row("SELECT COUNT(*) FROM votes", [], |r| r.get(0)).map_err(|e| self.db(e))?;
        Ok(n.max(0) as u64)
    }

    /// Win rates per pair of sources (each pair named once, its sources in name order).
    pub fn results(&self) -> Result<Vec<PairResult>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT t.source0, t.source1, v.choice, v.rating0, v.rating1
                 FROM votes v JOIN trials t ON t.id = v.trial",
            )
            .map_err(|e| self.db(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, u8>(2)?,
                    r.get::<_, Option<u8>>(3)?,
                    r.get::<_, Option<u8>>(4)?,
                ))
            })
            .map_err(|e| self.db(e))?;
        let mut tally = Tally::default();
        for row in rows {
            let (s0, s1, choice, r0, r1) = row.map_err(|e| self.db(e))?;
            tally.add(&s0, &s1, choice, r0.zip(r1));
        }
        Ok(tally.results())
    }
}

/// The votes on one pair of sources: how many, how many `a` won, the ratings of each side.
#[derive(Debug, Default)]
struct PairTally {
    votes: u64,
    a_wins: u64,
    a_ratings: Vec<u8>,
    b_ratings: Vec<u8>,
}

/// Votes counted per pair of sources.
#[derive(Debug, Default)]
struct Tally {
    /// Keyed by (a, b) with a <= b.
    pairs: BTreeMap<(String, String), PairTally>,
}

impl Tally {
    fn add(&mut self, s0: &str, s1: &str, choice: u8, ratings: Option<(u8, u8)>) {
        let swap = s1 < s0;
        let (a, b) = if swap { (s1, s0) } else { (s0, s1) };
        let e = self.pairs.entry((a.to_string(), b.to_string())).or_default();
        e.votes += 1;
        let a_side = if swap { 1 } else { 0 };
        if choice == a_side {
            e.a_wins += 1;
        }
        if let Some((r0, r1)) = ratings {
            let (ra, rb) = if swap { (r1, r0) } else { (r0, r1) };
            e.a_ratings.push(ra);
            e.b_ratings.push(rb);
        }
    }

    fn results(self) -> Vec<PairResult> {
        let mean =
            |v: &[u8]| (!v.is_empty()).then(|| v.iter().map(|&x| f64::from(x)).sum::<f64>() / v.len() as f64);
        self.pairs
            .into_iter()
            .map(|((a, b), t)| {
                let (n, wins) = (t.votes, t.a_wins);
                let (low, high) = wilson(wins, n, Z95);
                PairResult {
                    a,
                    b,
                    votes: n,
                    a_wins: wins,
                    a_win_rate: if n == 0 { 0.0 } else { wins as f64 / n as f64 },
                    low,
                    high,
                    a_mean_rating: mean(&t.a_ratings),
                    b_mean_rating: mean(&t.b_ratings),
                }
            })
            .collect()
    }
}

/// `results` as CSV, with a header line.
pub fn to_csv(results: &[PairResult]) -> String {
    let field = |s: &str| {
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    };
    let opt = |x: Option<f64>| x.map_or(String::new(), |v| format!("{v:.3}"));
    let mut out = String::from("a,b,votes,a_wins,a_win_rate,low95,high95,a_mean_rating,b_mean_rating\n");
    for r in results {
        out.push_str(&format!(
            "{},{},{},{},{:.4},{:.4},{:.4},{},{}\n",
            field(&r.a),
            field(&r.b),
            r.votes,
            r.a_wins,
            r.a_win_rate,
            r.low,
            r.high,
            opt(r.a_mean_rating),
            opt(r.b_mean_rating)
        ));
    }
    out
}

fn db_error(path: &Path, e: rusqlite::Error) -> crate::Error {
    StudioError::Database { path: path.to_path_buf(), reason: e.to_string().replace('\n', " ") }.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_matches_hand_computed_values() {
        let (lo, hi) = wilson(8, 10, 1.96);
        assert!((lo - 0.4902).abs() < 5e-4 && (hi - 0.9433).abs() < 5e-4, "{lo} {hi}");
        let (lo, hi) = wilson(0, 10, 1.96);
        assert!(lo.abs() < 1e-9 && (hi - 0.2775).abs() < 5e-4, "{lo} {hi}");
        let (lo, hi) = wilson(50, 100, 1.96);
        assert!((lo - 0.4038).abs() < 5e-4 && (hi - 0.5962).abs() < 5e-4, "{lo} {hi}");
        assert_eq!(wilson(0, 0, 1.96), (0.0, 1.0));
    }

    fn trial(id: &str, s0: &str, s1: &str) -> Trial {
        Trial { id: id.into(), clips: ["c0".into(), "c1".into()], sources: [s0.into(), s1.into()] }
    }

    #[test]
    fn votes_count_per_pair_whatever_the_order_heard() {
        let dir = tempfile::tempdir().unwrap();
        let votes = Votes::open(&dir.path().join("sub/votes.sqlite")).unwrap();
        votes.add_trial(&trial("t1", "x.markov", "real:a.mid")).unwrap();
        votes.add_trial(&trial("t2", "real:a.mid", "x.markov")).unwrap();
        votes.add_trial(&trial("t3", "x.markov", "real:a.mid")).unwrap();
        votes.vote("t1", Vote { choice: 0, ratings: Some([4, 2]) }).unwrap();
        votes.vote("t2", Vote { choice: 1, ratings: None }).unwrap();
        votes.vote("t3", Vote { choice: 1, ratings: Some([1, 5]) }).unwrap();
        assert!(votes.vote("t3", Vote { choice: 0, ratings: None }).is_err(), "one vote per trial");
        assert!(votes.vote("nope", Vote { choice: 0, ratings: None }).is_err());
        let r = votes.results().unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!((r[0].a.as_str(), r[0].b.as_str()), ("real:a.mid", "x.markov"));
        assert_eq!((r[0].votes, r[0].a_wins), (3, 1));
        assert_eq!(r[0].a_mean_rating, Some(3.5));
        assert_eq!(r[0].b_mean_rating, Some(2.5));
        drop(votes);
        let again = Votes::open(&dir.path().join("sub/votes.sqlite")).unwrap();
        assert_eq!(again.count().unwrap(), 3);
        let csv = to_csv(&again.results().unwrap());
        assert!(csv.starts_with("a,b,votes"));
        assert!(csv.contains("real:a.mid,x.markov,3,1,0.3333"), "{csv}");
    }
}
