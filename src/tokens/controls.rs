//! Control tokens: a piece's key, tempo, note density and instruments, stated in a prefix right
//! after `BOS` so that a model learns music *given* them, and a sampling job can ask for them by
//! writing the prefix itself (issue 25).
//!
//! A configuration lists the controls it states ([`ControlSet`], `--controls
//! key,tempo,density,instruments`; absent when empty, so older digests stay). The vocabulary
//! appends one segment per control after the instrument tokens ([`super::Vocab`]):
//!
//! - `KEY_C_MAJOR` ... `KEY_B_MINOR`: 24 keys, index `tonic + 12 * minor` (as `crate::key::Key`);
//! - `TEMPO_0` ... `TEMPO_9`: the first tempo of the piece, in bins of [`TEMPO_EDGES`] bpm;
//! - `DENSITY_0` ... `DENSITY_73`: notes per beat, in log-spaced bins of [`DENSITY_EDGES`] (a
//!   job asked for `low`, `medium` or `high` takes the tertiles of the model's own distribution
//!   over these bins, i.e. of its training corpus);
//! - `INSTRUMENT_0` ... `INSTRUMENT_127`, `INSTRUMENT_DRUMS`: the programs that play.
//!
//! A prefix is `BOS`, then the stated controls in that order (instruments ascending), then the
//! music; under REMI a `KEY` token is restated after a bar line where the music moves to another
//! key, and a `TEMPO` token where the tempo in force moves to another bin
//! (`crate::controls::encode` finds where): [`ControlValues::prefix`] writes it, [`ControlValues::read`] reads it back. Control
//! tokens carry no music: the decoders skip them (they are never counted as dropped), and the
//! note guard allows them only in the prefix, each kind at most once and in order
//! ([`ControlGate`]), so a sampled sequence never states a control after its first note.
//! *Measuring* a piece's values (the key finder, its tempo map, its notes per beat) is the
//! `crate::controls` module's job, above this one.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::vocab::{Event, Vocab};
use super::{TokenId, BOS};
use crate::error::{Error, Result, TokenizerError};

/// One kind of control.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Control {
    Key,
    Tempo,
    Density,
    Instruments,
}

impl Control {
    /// Every control, in prefix order.
    pub const ALL: [Control; 4] = [Control::Key, Control::Tempo, Control::Density, Control::Instruments];

    /// The control's name on the command line and in checkpoints.
    pub fn name(self) -> &'static str {
        match self {
            Control::Key => "key",
            Control::Tempo => "tempo",
            Control::Density => "density",
            Control::Instruments => "instruments",
        }
    }

    fn bit(self) -> u8 {
        1 << self as u8
    }
}

/// Which controls a configuration states (a small set; empty by default).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ControlSet(u8);

impl ControlSet {
    /// No controls.
    pub const NONE: ControlSet = ControlSet(0);

    /// Whether the set holds `control`.
    pub fn has(self, control: Control) -> bool {
        self.0 & control.bit() != 0
    }

    /// The set with `control` added.
    pub fn with(self, control: Control) -> ControlSet {
        ControlSet(self.0 | control.bit())
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }

    /// The controls of the set, in prefix order.
    pub fn iter(self) -> impl Iterator<Item = Control> {
        Control::ALL.into_iter().filter(move |&c| self.has(c))
    }
}

impl std::fmt::Display for ControlSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.iter().map(Control::name).collect();
        f.write_str(if names.is_empty() { "none" } else { "" })?;
        f.write_str(&names.join(","))
    }
}

impl std::str::FromStr for ControlSet {
    type Err = Error;

    /// Names separated by commas (`key,tempo,density,instruments`), `all`, or `none`.
    fn from_str(s: &str) -> Result<ControlSet> {
        match s.trim() {
            "none" | "" => return Ok(ControlSet::NONE),
            "all" => return Ok(Control::ALL.into_iter().fold(ControlSet::NONE, ControlSet::with)),
            _ => {}
        }
        s.split(',').try_fold(ControlSet::NONE, |set, name| {
            let name = name.trim();
            Control::ALL.into_iter().find(|c| c.name() == name).map(|c| set.with(c)).ok_or_else(|| {
                Error::setting(
                    "controls",
                    format!("{name:?}"),
                    "key, tempo, density or instruments, separated by commas (or all, or none)",
                )
            })
        })
    }
}

impl Serialize for ControlSet {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_seq(self.iter().map(Control::name))
    }
}

impl<'de> Deserialize<'de> for ControlSet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let names = Vec::<String>::deserialize(d)?;
        names.iter().try_fold(ControlSet::NONE, |set, name| {
            Control::ALL
                .into_iter()
                .find(|c| c.name() == name)
                .map(|c| set.with(c))
                .ok_or_else(|| serde::de::Error::custom(format!("unknown control {name:?}")))
        })
    }
}

/// Upper edges (bpm) of the tempo bins but the last: bin `i` holds tempos below
/// `TEMPO_EDGES[i]` and at or above the edge before it.
pub const TEMPO_EDGES: [f64; 9] = [60.0, 72.0, 84.0, 96.0, 108.0, 120.0, 132.0, 144.0, 168.0];

/// Upper edges (notes per beat) of the density bins but the last, a factor 2^(1/12) (6%) apart
/// from 1/4 to 16 notes a beat: fine enough that the thirds of even a uniform corpus (most
/// chorales have 4 to 5 notes a beat) fall in different bins.
pub const DENSITY_EDGES: [f64; 73] = [
    0.25, 0.2649, 0.2806, 0.2973, 0.315, 0.3337, 0.3536, 0.3746, 0.3969, 0.4204, 0.4454, 0.4719, 0.5, 0.5297,
    0.5612, 0.5946, 0.63, 0.6674, 0.7071, 0.7492, 0.7937, 0.8409, 0.8909, 0.9439, 1.0, 1.0595, 1.1225,
    1.1892, 1.2599, 1.3348, 1.4142, 1.4983, 1.5874, 1.6818, 1.7818, 1.8877, 2.0, 2.1189, 2.2449, 2.3784,
    2.5198, 2.6697, 2.8284, 2.9966, 3.1748, 3.3636, 3.5636, 3.7755, 4.0, 4.2379, 4.4898, 4.7568, 5.0397,
    5.3394, 5.6569, 5.9932, 6.3496, 6.7272, 7.1272, 7.551, 8.0, 8.4757, 8.9797, 9.5137, 10.0794, 10.6787,
    11.3137, 11.9865, 12.6992, 13.4543, 14.2544, 15.102, 16.0,
];

/// Number of key tokens.
pub const KEYS: usize = 24;
/// Number of tempo tokens.
pub const TEMPO_BINS: usize = TEMPO_EDGES.len() + 1;
/// Number of density tokens.
pub const DENSITY_BINS: usize = DENSITY_EDGES.len() + 1;
/// Number of instrument tokens: 128 programs and the drums.
pub const INSTRUMENT_TOKENS: usize = 129;

fn bin_of(edges: &[f64], x: f64) -> u8 {
    edges.iter().take_while(|&&e| x >= e).count() as u8
}

/// The tempo bin of `bpm`.
pub fn tempo_bin(bpm: f64) -> u8 {
    bin_of(&TEMPO_EDGES, bpm)
}

/// The density bin of `notes_per_beat`.
pub fn density_bin(notes_per_beat: f64) -> u8 {
    bin_of(&DENSITY_EDGES, notes_per_beat)
}

/// A typical tempo of bin `bin` (the middle of its range; 50 and 180 bpm for the open ends).
pub fn bin_tempo(bin: u8) -> f64 {
    let i = usize::from(bin).min(TEMPO_BINS - 1);
    match i {
        0 => 50.0,
        i if i == TEMPO_BINS - 1 => 180.0,
        i => (TEMPO_EDGES[i - 1] + TEMPO_EDGES[i]) / 2.0,
    }
}

/// A piece's control values; `None` leaves a control unstated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ControlValues {
    /// Key index, `tonic + 12 * minor` (0..24).
    pub key: Option<u8>,
    /// Tempo bin ([`tempo_bin`]).
    pub tempo: Option<u8>,
    /// Density bin ([`density_bin`]).
    pub density: Option<u8>,
    /// Instruments that play: program 0..=127, 128 for drums (ascending, without repeats).
    pub instruments: Option<Vec<u8>>,
}

impl ControlValues {
    /// The control tokens of these values that `vocab` states, in prefix order (a value of a
    /// control the vocabulary lacks is left out).
    pub fn tokens(&self, vocab: &Vocab) -> Vec<TokenId> {
        let mut out = Vec::new();
        out.extend(self.key.and_then(|k| vocab.id(Event::Key(k))));
        out.extend(self.tempo.and_then(|b| vocab.id(Event::Tempo(b))));
        out.extend(self.density.and_then(|b| vocab.id(Event::Density(b))));
        if let Some(list) = &self.instruments {
            let mut list = list.clone();
            list.sort_unstable();
            list.dedup();
            out.extend(list.into_iter().filter_map(|p| vocab.id(Event::Instrument(p))));
        }
        out
    }

    /// `tokens` (a sequence that starts with BOS, or any sequence) with its control prefix
    /// replaced by these values' tokens. A sequence that does not start with BOS is returned
    /// unchanged.
    pub fn prefix(&self, vocab: &Vocab, tokens: &[TokenId]) -> Vec<TokenId> {
        if tokens.first() != Some(&BOS) {
            return tokens.to_vec();
        }
        let body = &tokens[1 + prefix_len(vocab, tokens)..];
        let mut out = Vec::with_capacity(tokens.len() + 4);
        out.push(BOS);
        out.extend(self.tokens(vocab));
        out.extend_from_slice(body);
        out
    }

    /// The values stated by the control prefix of `tokens` (after BOS).
    pub fn read(vocab: &Vocab, tokens: &[TokenId]) -> ControlValues {
        let mut v = ControlValues::default();
        let n = prefix_len(vocab, tokens);
        for &t in tokens.iter().skip(1).take(n) {
            match vocab.event(t) {
                Event::Key(k) => v.key = Some(k),
                Event::Tempo(b) => v.tempo = Some(b),
                Event::Density(b) => v.density = Some(b),
                Event::Instrument(p) => v.instruments.get_or_insert_with(Vec::new).push(p),
                _ => {}
            }
        }
        v
    }
}

/// The kind of a control token, `None` for any other token.
pub fn control_of(vocab: &Vocab, token: TokenId) -> Option<Control> {
    if !vocab.has_controls() {
        return None;
    }
    match vocab.event(token) {
        Event::Key(_) => Some(Control::Key),
        Event::Tempo(_) => Some(Control::Tempo),
        Event::Density(_) => Some(Control::Density),
        Event::Instrument(_) => Some(Control::Instruments),
        _ => None,
    }
}

/// How many control tokens follow the BOS that starts `tokens` (0 without BOS).
pub fn prefix_len(vocab: &Vocab, tokens: &[TokenId]) -> usize {
    if tokens.first() != Some(&BOS) || !vocab.has_controls() {
        return 0;
    }
    tokens[1..].iter().take_while(|&&t| control_of(vocab, t).is_some()).count()
}

/// `tokens` without their control tokens (borrowed when there are none).
pub fn strip<'a>(vocab: &Vocab, tokens: &'a [TokenId]) -> std::borrow::Cow<'a, [TokenId]> {
    if !vocab.has_controls() || !tokens.iter().any(|&t| control_of(vocab, t).is_some()) {
        return std::borrow::Cow::Borrowed(tokens);
    }
    std::borrow::Cow::Owned(tokens.iter().copied().filter(|&t| control_of(vocab, t).is_none()).collect())
}

/// Where a sampled sequence stands with its control prefix: open from BOS until the first token
/// that is not a control; while open, each kind may come once, in prefix order (instruments
/// ascending, several). Under REMI a key, then a tempo, may also be restated right after a bar
/// line (after its TIMESIG, if any), where the music moves to another key or tempo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ControlGate {
    open: bool,
    /// The last control token read in the prefix.
    last: Option<(Control, TokenId)>,
    /// Right after a BAR (and its TIMESIG), before any music: the control restated there, if
    /// any.
    after_bar: Option<Option<Control>>,
}

impl ControlGate {
    /// Read `token`.
    pub fn push(&mut self, vocab: &Vocab, token: TokenId) {
        if token == BOS {
            *self = ControlGate { open: true, last: None, after_bar: None };
            return;
        }
        let control = control_of(vocab, token);
        self.after_bar = match (vocab.event(token), self.after_bar) {
            (Event::Bar, _) => Some(None),
            (Event::TimeSig(..), Some(None)) => Some(None),
            (_, Some(_)) if control.is_some() && !self.open => Some(control),
            _ => None,
        };
        match control {
            Some(c) if self.open => self.last = Some((c, token)),
            _ => self.open = false,
        }
    }

    /// Whether the control token `token` (of kind `control`) may come next.
    pub fn allows(&self, control: Control, token: TokenId) -> bool {
        if let (Some(restated), false) = (self.after_bar, self.open) {
            return match control {
                Control::Key => restated.is_none(),
                Control::Tempo => restated.is_none() || restated == Some(Control::Key),
                _ => false,
            };
        }
        self.open
            && match self.last {
                None => true,
                Some((c, t)) => c < control || (c == control && control == Control::Instruments && t < token),
            }
    }
}

/// A configuration's controls checked against its other settings.
pub(super) fn validate(set: ControlSet, config: &super::TokenizerConfig) -> Result<()> {
    if set.has(Control::Tempo) && !matches!(config.time, super::TimeMode::Beats { .. }) {
        return Err(TokenizerError::setting(
            "controls",
            "tempo",
            "the beats grid (on the seconds grid the tokens fix the timing)",
        )
        .into());
    }
    if set.has(Control::Instruments) && config.programs != super::ProgramMode::Programs {
        return Err(TokenizerError::setting(
            "controls",
            "instruments",
            "a tokenizer that keeps instruments (not one merged piano part)",
        )
        .into());
    }
    Ok(())
}

/// The spelling of key index `k` in token names (`C_MAJOR`, `F#_MINOR`, `BB_MAJOR`).
pub(super) fn key_name(k: u8) -> String {
    const NAMES: [&str; 12] = ["C", "C#", "D", "EB", "E", "F", "F#", "G", "AB", "A", "BB", "B"];
    let mode = if k >= 12 { "MINOR" } else { "MAJOR" };
    format!("{}_{mode}", NAMES[usize::from(k % 12)])
}

/// The key index named `name` (inverse of [`key_name`]).
pub(super) fn parse_key_name(name: &str) -> Option<u8> {
    (0..KEYS as u8).find(|&k| key_name(k) == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::{Scheme, Tokenizer, TokenizerConfig};

    fn controlled(scheme: Scheme) -> Tokenizer {
        let controls = "all".parse().unwrap();
        Tokenizer::new(TokenizerConfig { scheme, controls, ..TokenizerConfig::default() }).unwrap()
    }

    #[test]
    fn sets_parse_print_and_serialize() {
        let set: ControlSet = "density, key".parse().unwrap();
        assert!(set.has(Control::Key) && set.has(Control::Density) && !set.has(Control::Tempo));
        assert_eq!(set.to_string(), "key,density");
        assert_eq!(serde_json::to_string(&set).unwrap(), r#"["key","density"]"#);
        let back: ControlSet = serde_json::from_str(r#"["density","key"]"#).unwrap();
        assert_eq!(back, set);
        assert!(serde_json::from_str::<ControlSet>(r#"["mood"]"#).is_err());
        let err = "key,mood".parse::<ControlSet>().unwrap_err().to_string();
        assert!(err.contains("mood") && err.contains("controls"), "{err}");
        assert_eq!("none".parse::<ControlSet>().unwrap(), ControlSet::NONE);
        assert_eq!("all".parse::<ControlSet>().unwrap().iter().count(), 4);
    }

    #[test]
    fn bins_cover_the_line_and_typical_values_fall_in_their_bin() {
        assert_eq!(tempo_bin(10.0), 0);
        assert_eq!(tempo_bin(60.0), 1);
        assert_eq!(tempo_bin(119.9), 5);
        assert_eq!(tempo_bin(120.0), 6);
        assert_eq!(tempo_bin(400.0), 9);
        for b in 0..TEMPO_BINS as u8 {
            assert_eq!(tempo_bin(bin_tempo(b)), b);
        }
        assert_eq!(density_bin(0.0), 0);
        assert_eq!(density_bin(1.0), 25);
        assert_eq!(density_bin(0.99), 24);
        assert_eq!(density_bin(100.0), 73);
    }

    #[test]
    fn prefixes_are_written_read_and_replaced() {
        for scheme in Scheme::ALL {
            let t = controlled(scheme);
            let v = t.vocab();
            let values = ControlValues {
                key: Some(21),
                tempo: Some(4),
                density: Some(7),
                instruments: Some(vec![40, 0, 128, 40]),
            };
            let body = [v.id(Event::Program(0, 0)).unwrap(), crate::tokens::EOS];
            let tokens = values.prefix(v, &[&[BOS][..], &body].concat());
            assert_eq!(prefix_len(v, &tokens), 6);
            let names: Vec<String> = tokens.iter().map(|&x| v.name(x)).collect();
            assert_eq!(
                &names[..7],
                [
                    "BOS",
                    "KEY_A_MINOR",
                    "TEMPO_4",
                    "DENSITY_7",
                    "INSTRUMENT_0",
                    "INSTRUMENT_40",
                    "INSTRUMENT_DRUMS"
                ]
            );
            let read = ControlValues::read(v, &tokens);
            assert_eq!(read.instruments, Some(vec![0, 40, 128]));
            assert_eq!((read.key, read.tempo, read.density), (Some(21), Some(4), Some(7)));
            // Replacing the prefix keeps the body; an empty set of values removes it.
            let other = ControlValues { key: Some(0), ..ControlValues::default() };
            assert_eq!(other.prefix(v, &tokens), [&[BOS, v.id(Event::Key(0)).unwrap()][..], &body].concat());
            assert_eq!(ControlValues::default().prefix(v, &tokens), [&[BOS][..], &body].concat());
            assert_eq!(strip(v, &tokens).into_owned(), [&[BOS][..], &body].concat());
        }
    }

    #[test]
    fn the_gate_keeps_controls_in_the_prefix_once_each_and_in_order() {
        let t = controlled(Scheme::Tsd);
        let v = t.vocab();
        let id = |e| v.id(e).unwrap();
        let mut g = ControlGate::default();
        assert!(!g.allows(Control::Key, id(Event::Key(3))), "nothing before BOS");
        g.push(v, BOS);
        assert!(g.allows(Control::Key, id(Event::Key(3))));
        g.push(v, id(Event::Tempo(2)));
        assert!(!g.allows(Control::Key, id(Event::Key(3))), "a key after the tempo");
        assert!(!g.allows(Control::Tempo, id(Event::Tempo(3))), "a second tempo");
        assert!(g.allows(Control::Instruments, id(Event::Instrument(5))));
        g.push(v, id(Event::Instrument(5)));
        assert!(!g.allows(Control::Instruments, id(Event::Instrument(5))));
        assert!(g.allows(Control::Instruments, id(Event::Instrument(6))));
        g.push(v, id(Event::Pitch(60)));
        assert!(!g.allows(Control::Instruments, id(Event::Instrument(6))), "closed after music");
        assert!(!g.allows(Control::Key, id(Event::Key(3))), "no key inside the music");
    }

    #[test]
    fn under_remi_a_key_may_be_restated_right_after_a_bar_line() {
        let t = controlled(Scheme::Remi);
        let v = t.vocab();
        let id = |e| v.id(e).unwrap();
        let mut g = ControlGate::default();
        for e in [Event::Bos, Event::Key(0), Event::Bar, Event::Position(0), Event::Pitch(60)] {
            g.push(v, id(e));
        }
        assert!(!g.allows(Control::Key, id(Event::Key(7))));
        g.push(v, id(Event::Bar));
        assert!(g.allows(Control::Key, id(Event::Key(7))));
        assert!(!g.allows(Control::Density, id(Event::Density(7))), "only key and tempo are restated");
        g.push(v, id(Event::TimeSig(3, 4)));
        assert!(g.allows(Control::Key, id(Event::Key(7))), "after the bar's meter too");
        g.push(v, id(Event::Key(7)));
        assert!(!g.allows(Control::Key, id(Event::Key(9))), "once");
        assert!(g.allows(Control::Tempo, id(Event::Tempo(2))), "a tempo after the key");
        g.push(v, id(Event::Tempo(2)));
        assert!(!g.allows(Control::Tempo, id(Event::Tempo(3))) && !g.allows(Control::Key, id(Event::Key(3))));
        g.push(v, id(Event::Position(0)));
        assert!(!g.allows(Control::Tempo, id(Event::Tempo(3))), "closed by the music");
    }

    #[test]
    fn controls_a_grid_cannot_state_are_refused() {
        let set: ControlSet = "tempo".parse().unwrap();
        let secs = TokenizerConfig { controls: set, ..TokenizerConfig::performance_rnn() };
        assert!(secs.validate().unwrap_err().to_string().contains("tempo"));
        let piano = TokenizerConfig {
            controls: "instruments".parse().unwrap(),
            programs: crate::tokens::ProgramMode::MergePiano,
            ..TokenizerConfig::default()
        };
        assert!(piano.validate().unwrap_err().to_string().contains("instruments"));
        for k in 0..KEYS as u8 {
            assert_eq!(parse_key_name(&key_name(k)), Some(k));
        }
    }
}
