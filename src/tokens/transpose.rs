//! Transposition for data augmentation.
//!
//! Stand-in with the final signature (the tokens work item replaces this file): shifts the
//! NOTE_ON/NOTE_OFF tokens of pitched instruments and leaves a note whose shifted pitch the
//! vocabulary cannot express unchanged.

use super::vocab::{Event, Vocab};
use super::TokenId;

/// `tokens` with the NOTE_ON/NOTE_OFF tokens of pitched instruments shifted by `semitones`.
/// Notes after `DRUMS` stay put until a `PROGRAM_p`; every other token is copied unchanged, so
/// the result has the length of `tokens`.
pub fn transpose_tokens(vocab: &Vocab, tokens: &[TokenId], semitones: i8) -> Vec<TokenId> {
    let shift = |p: u8| u8::try_from(i16::from(p) + i16::from(semitones)).ok();
    let mut drums = false;
    tokens
        .iter()
        .map(|&token| {
            let moved = match vocab.event(token) {
                Event::Drums => {
                    drums = true;
                    None
                }
                Event::Program(_) => {
                    drums = false;
                    None
                }
                Event::NoteOn(p) if !drums => shift(p).and_then(|q| vocab.id(Event::NoteOn(q))),
                Event::NoteOff(p) if !drums => shift(p).and_then(|q| vocab.id(Event::NoteOff(q))),
                _ => None,
            };
            moved.unwrap_or(token)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::TokenizerConfig;

    #[test]
    fn shifts_pitched_notes_only() {
        let v = Vocab::new(&TokenizerConfig::default());
        let on = |p| v.id(Event::NoteOn(p)).unwrap();
        let toks = [on(60), v.id(Event::Drums).unwrap(), on(36), v.id(Event::Program(0)).unwrap(), on(62)];
        let out = transpose_tokens(&v, &toks, 2);
        assert_eq!(out, vec![on(62), toks[1], on(36), toks[3], on(64)]);
    }
}
