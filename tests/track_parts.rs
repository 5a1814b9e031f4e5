//! Tracks of one program kept apart (`--tracks`, issue 25): files with two, three and four
//! tracks of one program (with no, one or two drum kits) go through MIDI bytes, tokens under
//! every scheme, and MIDI bytes again, and come back exactly, track by track; without tracks the
//! same files lose the notes their tracks double. Through the binary: `tokens --tracks`, its
//! refusals, and a Markov chain trained with tracks continuing a doubled-guitar seed.

mod common;

use std::collections::BTreeSet;

use cadenza::midi::{read_bytes, write_to_bytes, Instrument, Note, Piece, TempoChange, DRUM_CHANNEL};
use cadenza::tokens::{Scheme, Tokenizer, TokenizerConfig};
use common::{cadenza, pieces_in, train, Lcg};

const GUITAR: u8 = 25;

/// `same` tracks of the guitar and `kits` drum kits, 8 bars on the 40-tick grid of 480 tpb.
/// The guitars double each other in unison on every other beat (the notes a merge loses) and
/// play lines of their own in between; velocities are bin centres of `tok`.
fn band(tok: &Tokenizer, same: usize, kits: usize, seed: u64) -> Piece {
    let mut rng = Lcg(seed);
    let v = |b: u64| tok.vocab().bin_velocity(b as u8);
    let mut piece = Piece::new(480);
    piece.tempos.push(TempoChange { tick: 0, micros_per_beat: 500_000 });
    let mut guitars: Vec<Vec<Note>> = vec![Vec::new(); same];
    for beat in 0..32u64 {
        let start = beat * 480;
        if beat % 2 == 0 {
            let pitch = 52 + rng.next(12) as u8;
            for g in &mut guitars {
                g.push(Note { start, end: start + 400, pitch, velocity: v(20) });
            }
        } else {
            for (i, g) in guitars.iter_mut().enumerate() {
                let pitch = 60 + 5 * i as u8 + rng.next(5) as u8;
                let len = 40 * (1 + rng.next(10));
                g.push(Note {
                    start: start + 80,
                    end: start + 80 + len,
                    pitch,
                    velocity: v(5 + rng.next(20)),
                });
            }
        }
    }
    for (i, notes) in guitars.into_iter().enumerate() {
        let name = format!("Guitar {i}");
        piece.instruments.push(Instrument { program: GUITAR, channel: i as u8, is_drum: false, name, notes });
    }
    for k in 0..kits {
        let pitch = [36u8, 42][k % 2];
        let notes = (0..32u64)
            .map(|b| Note {
                start: b * 480 + 240 * k as u64,
                end: b * 480 + 240 * k as u64 + 120,
                pitch,
                velocity: v(25),
            })
            .collect();
        piece.instruments.push(Instrument {
            program: 0,
            channel: DRUM_CHANNEL,
            is_drum: true,
            name: format!("Kit {k}"),
            notes,
        });
    }
    piece.normalize();
    piece
}

/// Each instrument of `p` as (is_drum, program, notes), sorted: what "the same tracks" means.
fn tracks(p: &Piece) -> Vec<(bool, u8, Vec<(u64, u64, u8, u8)>)> {
    let mut out: Vec<_> = p
        .instruments
        .iter()
        .filter(|i| !i.notes.is_empty())
        .map(|i| {
            let notes = i.notes.iter().map(|n| (n.start, n.end, n.pitch, n.velocity)).collect();
            (i.is_drum, if i.is_drum { 0 } else { i.program }, notes)
        })
        .collect();
    out.sort();
    out
}

fn through_bytes(p: &Piece) -> Piece {
    read_bytes(&write_to_bytes(p), std::path::Path::new("x.mid"), &Default::default()).unwrap()
}

#[test]
fn tracks_of_one_program_survive_a_round_trip_under_every_scheme() {
    for scheme in Scheme::ALL {
        let tok = Tokenizer::new(TokenizerConfig { scheme, tracks: 4, ..Default::default() }).unwrap();
        let merged = Tokenizer::new(TokenizerConfig { scheme, ..Default::default() }).unwrap();
        for same in [2, 3, 4] {
            for kits in [0, 1, 2] {
                let original = through_bytes(&band(&tok, same, kits, (same * 10 + kits) as u64));
                assert_eq!(original.instruments.len(), same + kits, "the reader keeps the tracks");
                let tokens = tok.encode(&original);
                let back = through_bytes(&tok.decode(&tokens));
                assert_eq!(tracks(&back), tracks(&original), "{scheme}, {same} guitars, {kits} kits");
                let names: BTreeSet<String> = tokens.iter().map(|&t| tok.vocab().name(t)).collect();
                assert!(names.contains(&format!("PROGRAM_{GUITAR}_TRACK_{same}")), "{scheme}: {names:?}");
                assert_eq!(names.contains("DRUMS_TRACK_2"), kits == 2);
                // Merged, the doubled notes are lost.
                let lost = original.note_count() - merged.decode(&merged.encode(&original)).note_count();
                assert!(lost >= 16 * (same - 1), "{scheme}, {same} guitars: {lost} lost");
            }
        }
        // A fifth guitar merges into the fourth: nothing else changes.
        let five = through_bytes(&band(&tok, 5, 1, 7));
        let back = tok.decode(&tok.encode(&five));
        assert_eq!(back.instruments.len(), 5, "{scheme}: four guitars and a kit");
    }
}

#[test]
fn the_command_line_keeps_tracks_and_refuses_bad_settings() {
    let tmp = tempfile::tempdir().unwrap();
    let tok =
        Tokenizer::new(TokenizerConfig { scheme: Scheme::Tsd, tracks: 4, ..Default::default() }).unwrap();
    let file = tmp.path().join("band.mid");
    cadenza::midi::write_file(&band(&tok, 3, 1, 1), &file).unwrap();
    let back = tmp.path().join("back.mid");
    let out = cadenza(tmp.path())
        .args(["tokens", file.to_str().unwrap(), "--tracks", "4", "--roundtrip", back.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("PROGRAM_25_TRACK_3"));
    let read = |f: &std::path::Path| cadenza::midi::read_file(f, &Default::default()).unwrap();
    assert_eq!(tracks(&read(&back)), tracks(&read(&file)));
    for bad in [&["--tracks", "0"][..], &["--tracks", "17"], &["--tracks", "2", "--merge-piano"]] {
        let out = cadenza(tmp.path()).args(["tokens", file.to_str().unwrap()]).args(bad).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{bad:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains("tracks"), "{err}");
    }
}

#[test]
fn a_markov_chain_with_tracks_continues_a_doubled_seed_with_its_parts() {
    let tmp = tempfile::tempdir().unwrap();
    let tok =
        Tokenizer::new(TokenizerConfig { scheme: Scheme::Tsd, tracks: 4, ..Default::default() }).unwrap();
    let corpus = tmp.path().join("corpus");
    std::fs::create_dir_all(&corpus).unwrap();
    for i in 0..12 {
        cadenza::midi::write_file(&band(&tok, 2, 1, 100 + i), &corpus.join(format!("b{i:02}.mid"))).unwrap();
    }
    let ckpt = train(tmp.path(), &corpus, "markov", &["--order", "6", "--tracks", "4"]);
    let seed = tmp.path().join("seed.mid");
    cadenza::midi::write_file(&band(&tok, 2, 1, 999), &seed).unwrap();
    let out = cadenza(tmp.path())
        .args(["generate", ckpt.to_str().unwrap(), "--count", "4", "--length", "600", "--rng-seed", "3"])
        .args(["--seed", seed.to_str().unwrap(), "--seed-beats", "8", "--out"])
        .arg(tmp.path().join("out"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for piece in pieces_in(&tmp.path().join("out")) {
        let guitars = piece.instruments.iter().filter(|i| !i.is_drum && i.program == GUITAR).count();
        let others = piece.instruments.iter().filter(|i| !i.is_drum && i.program != GUITAR).count();
        assert_eq!((guitars, others), (2, 0), "two guitar parts, as the seed: {:?}", piece.instruments.len());
    }
}
