//! Offline rendering to a WAV file, faster than real time: nodi's `Player` drives a custom
//! `Timer` that, instead of sleeping, renders the elapsed time into the synth it shares (through
//! `Rc<RefCell<..>>`) with the `Connection` that receives the events.

use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use nodi::{Connection, MidiEvent, Player, Timer};

use super::{silence, Clock, PlayOutcome, Progress, Song, Synth};
use crate::error::Result;
use crate::progress::SharedProgress;

/// Sample rate of rendered WAV files.
pub const WAV_SAMPLE_RATE: u32 = 44_100;

/// Frames rendered per synth call.
const CHUNK: usize = 1024;

/// Longest fade-out at the very end of a render, so a cut-off note does not click.
const FADE_SECS: f64 = 0.02;

/// How to render.
#[derive(Debug, Clone)]
pub struct RenderOptions {
    /// Tempo factor (2.0: twice as fast); must be positive.
    pub speed: f64,
    /// Seconds rendered after the last event, for notes and reverb to ring out.
    pub tail: f64,
    /// Told the rendering position; `None`: nothing is reported.
    pub progress: Option<SharedProgress>,
    /// Rendering stops (and [`render`] returns `None`) once this is set (Ctrl-C).
    pub stop: Option<Arc<AtomicBool>>,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions { speed: 1.0, tail: 1.5, progress: None, stop: None }
    }
}

/// Rendered audio: 16-bit stereo, interleaved left/right.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// Frames per second.
    pub sample_rate: u32,
    /// `[l0, r0, l1, r1, ...]`.
    pub samples: Vec<i16>,
    /// Seconds of music (at the chosen speed), before the tail.
    pub music_secs: f64,
    /// Seconds of tail after the music.
    pub tail_secs: f64,
}

impl Rendered {
    /// Number of stereo frames.
    pub fn frames(&self) -> usize {
        self.samples.len() / 2
    }

    /// Length in seconds.
    pub fn duration_secs(&self) -> f64 {
        self.frames() as f64 / f64::from(self.sample_rate.max(1))
    }
}

/// State shared by the timer and the connection.
struct Offline<'s> {
    synth: &'s mut Synth,
    clock: Clock,
    /// Song position in seconds (at the chosen speed) rendered up to.
    pos: f64,
    samples: Vec<i16>,
    left: Vec<f32>,
    right: Vec<f32>,
    progress: Progress,
    total: f64,
}

impl Offline<'_> {
    fn frames(&self) -> usize {
        self.samples.len() / 2
    }

    /// Render audio up to `secs` from the start.
    fn render_to(&mut self, secs: f64) {
        let target = (secs * f64::from(self.synth.sample_rate())).round().max(0.0) as usize;
        while self.frames() < target {
            let n = (target - self.frames()).min(CHUNK);
            let (l, r) = (&mut self.left[..n], &mut self.right[..n]);
            self.synth.render(l, r);
            self.samples.reserve(2 * n);
            for (a, b) in l.iter().zip(r.iter()) {
                self.samples.push(to_i16(*a));
                self.samples.push(to_i16(*b));
            }
        }
        self.progress.set(secs, self.total);
    }
}

fn to_i16(x: f32) -> i16 {
    (x * 32767.0).round().clamp(-32768.0, 32767.0) as i16
}

/// The timer: "sleeping" renders the slept time.
struct OfflineTimer<'s>(Rc<RefCell<Offline<'s>>>);

impl Timer for OfflineTimer<'_> {
    fn sleep_duration(&mut self, n_ticks: u32) -> Duration {
        Duration::from_secs_f64(self.0.borrow().clock.seconds(n_ticks))
    }

    fn change_tempo(&mut self, tempo: u32) {
        self.0.borrow_mut().clock.change_tempo(tempo);
    }

    fn sleep(&mut self, n_ticks: u32) {
        let mut o = self.0.borrow_mut();
        o.pos += o.clock.seconds(n_ticks);
        let pos = o.pos;
        o.render_to(pos);
    }
}

/// The connection: events go straight into the shared synth.
struct OfflineSynth<'s> {
    shared: Rc<RefCell<Offline<'s>>>,
    stop: Option<Arc<AtomicBool>>,
}

impl Connection for OfflineSynth<'_> {
    fn play(&mut self, event: MidiEvent) -> bool {
        if self.stop.as_ref().is_some_and(|s| s.load(Ordering::SeqCst)) {
            return false;
        }
        self.shared.borrow_mut().synth.send(event);
        true
    }
}

/// Render `song` through `synth` (at the synth's sample rate): the music, then a CC123 (all notes
/// off, so held notes release), then `opts.tail` seconds of release, the last few milliseconds
/// faded out. Returns `None` if stopped through `opts.stop`.
pub fn render(song: &Song, synth: &mut Synth, opts: &RenderOptions) -> Option<Rendered> {
    let speed = if opts.speed > 0.0 && opts.speed.is_finite() { opts.speed } else { 1.0 };
    let tail = if opts.tail > 0.0 && opts.tail.is_finite() { opts.tail } else { 0.0 };
    let music_secs = song.duration_secs(speed);
    let rate = f64::from(synth.sample_rate());
    let name = song.path().file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let offline = Offline {
        synth,
        clock: song.clock(speed),
        pos: 0.0,
        // Reserve for up to an hour; longer renders grow as they go.
        samples: Vec::with_capacity(2 * ((music_secs + tail).min(3600.0) * rate) as usize + 2 * CHUNK),
        left: vec![0.0; CHUNK],
        right: vec![0.0; CHUNK],
        progress: Progress::new(opts.progress.clone(), &format!("rendering {name}"), music_secs + tail),
        total: music_secs + tail,
    };
    let shared = Rc::new(RefCell::new(offline));
    let con = OfflineSynth { shared: Rc::clone(&shared), stop: opts.stop.clone() };
    let mut player = Player::new(OfflineTimer(Rc::clone(&shared)), con);
    let played_through = player.play(song.sheet());
    let stopped = opts.stop.as_ref().is_some_and(|s| s.load(Ordering::SeqCst));
    drop(player);
    let mut o = match Rc::try_unwrap(shared) {
        Ok(cell) => cell.into_inner(),
        Err(_) => unreachable!("the player and its timer were dropped"),
    };
    o.progress.finish();
    if !played_through || stopped {
        return None;
    }
    o.render_to(music_secs);
    silence(o.synth, false);
    o.render_to(music_secs + tail);
    fade_out(&mut o.samples, (FADE_SECS.min(tail) * rate) as usize);
    Some(Rendered { sample_rate: o.synth.sample_rate(), samples: o.samples, music_secs, tail_secs: tail })
}

/// Linear fade over the last `frames` stereo frames.
fn fade_out(samples: &mut [i16], frames: usize) {
    let total = samples.len() / 2;
    let frames = frames.min(total);
    for i in 0..frames {
        let gain = (frames - i) as f32 / (frames + 1) as f32;
        let f = total - frames + i;
        for s in &mut samples[2 * f..2 * f + 2] {
            *s = (f32::from(*s) * gain).round() as i16;
        }
    }
}

/// Encode `audio` as a 16-bit stereo PCM WAV file and write it atomically to `path`.
pub fn write_wav(path: &Path, audio: &Rendered) -> Result<()> {
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: audio.sample_rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let wav_err = |e: hound::Error| super::failure(path.display(), format!("cannot encode WAV: {e}"));
    let mut cursor = std::io::Cursor::new(Vec::with_capacity(44 + 2 * audio.samples.len()));
    {
        let mut w = hound::WavWriter::new(&mut cursor, spec).map_err(wav_err)?;
        let n = u32::try_from(audio.samples.len())
            .map_err(|_| super::failure(path.display(), "too long for a WAV file"))?;
        let mut w16 = w.get_i16_writer(n);
        for &s in &audio.samples {
            w16.write_sample(s);
        }
        w16.flush().map_err(wav_err)?;
        w.finalize().map_err(wav_err)?;
    }
    crate::atomic::write(path, &cursor.into_inner())
}

/// Render `song` and write it to `out` (nothing is written if stopped).
pub fn render_to_wav(
    song: &Song,
    synth: &mut Synth,
    out: &Path,
    opts: &RenderOptions,
) -> Result<PlayOutcome> {
    // A WAV file holds at most 4 GiB of samples (4 bytes per stereo frame).
    let secs = song.duration_secs(opts.speed) + opts.tail.max(0.0);
    let max_secs = f64::from(u32::MAX - 1024) / 4.0 / f64::from(synth.sample_rate());
    if secs > max_secs {
        return Err(super::failure(
            out.display(),
            format!("{secs:.0} s is too long for a WAV file (at most {max_secs:.0} s)"),
        ));
    }
    match render(song, synth, opts) {
        Some(audio) => {
            write_wav(out, &audio)?;
            Ok(PlayOutcome::Rendered {
                path: out.to_path_buf(),
                seconds: audio.music_secs,
                tail: audio.tail_secs,
            })
        }
        None => Ok(PlayOutcome::Stopped { seconds: 0.0 }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::play::test_midi;
    use std::f64::consts::PI;

    fn song(bytes: &[u8]) -> Song {
        Song::from_bytes(Path::new("test.mid"), bytes).unwrap()
    }

    fn render_song(bytes: &[u8], tail: f64) -> Option<(Rendered, Synth)> {
        let sf = crate::play::tests::soundfont()?;
        let mut synth = Synth::new(&sf, WAV_SAMPLE_RATE).unwrap();
        let opts = RenderOptions { speed: 1.0, tail, progress: None, stop: None };
        let audio = render(&song(bytes), &mut synth, &opts).unwrap();
        Some((audio, synth))
    }

    /// Mono mix of frames `[from, to)` seconds, as floats.
    fn mono(a: &Rendered, from: f64, to: f64) -> Vec<f64> {
        let sr = f64::from(a.sample_rate);
        let (i0, i1) = ((from * sr) as usize, ((to * sr) as usize).min(a.frames()));
        (i0..i1).map(|i| (f64::from(a.samples[2 * i]) + f64::from(a.samples[2 * i + 1])) / 65536.0).collect()
    }

    fn rms(x: &[f64]) -> f64 {
        (x.iter().map(|v| v * v).sum::<f64>() / x.len().max(1) as f64).sqrt()
    }

    /// `x` times a Hann window.
    fn hann(x: &[f64]) -> Vec<f64> {
        let n = x.len() as f64;
        x.iter().enumerate().map(|(i, v)| v * (0.5 - 0.5 * (2.0 * PI * i as f64 / n).cos())).collect()
    }

    /// Power of `x` at `freq` Hz, by the Goertzel recurrence (window `x` first).
    fn power_at(x: &[f64], sr: f64, freq: f64) -> f64 {
        let coeff = 2.0 * (2.0 * PI * freq / sr).cos();
        let (mut s1, mut s2) = (0.0, 0.0);
        for v in x {
            let s = v + coeff * s1 - s2;
            s2 = s1;
            s1 = s;
        }
        s1 * s1 + s2 * s2 - coeff * s1 * s2
    }

    /// Coarse spectrum: power at 50, 55, ..., 5000 Hz, averaged over Hann-windowed 0.1 s
    /// windows of `x`.
    fn coarse_spectrum(x: &[f64], sr: f64) -> Vec<(f64, f64)> {
        let win = (sr / 10.0) as usize;
        let windows: Vec<Vec<f64>> = x.chunks_exact(win).map(hann).collect();
        (10..=1000)
            .map(|k| {
                let f = 5.0 * f64::from(k);
                (f, windows.iter().map(|w| power_at(w, sr, f)).sum::<f64>() / windows.len() as f64)
            })
            .collect()
    }

    fn peak(spec: &[(f64, f64)]) -> f64 {
        spec.iter().copied().fold((0.0, f64::MIN), |a, b| if b.1 > a.1 { b } else { a }).0
    }

    /// 1 - cosine similarity of two spectra's (square-root) magnitudes.
    fn spectral_distance(a: &[(f64, f64)], b: &[(f64, f64)]) -> f64 {
        let dot: f64 = a.iter().zip(b).map(|(x, y)| (x.1 * y.1).sqrt()).sum();
        let na: f64 = a.iter().map(|x| x.1).sum::<f64>().sqrt();
        let nb: f64 = b.iter().map(|x| x.1).sum::<f64>().sqrt();
        1.0 - dot / (na * nb)
    }

    /// A4 (MIDI 69) for 1 s on the default program (acoustic grand piano), 480 tpb, 120 bpm.
    fn a4() -> Vec<u8> {
        test_midi::single_track(480, &[], &[(0, 0, 69, 960)], 0)
    }

    #[test]
    fn a4_peaks_at_440_hz_and_is_silent_after_the_tail() {
        let Some((audio, _)) = render_song(&a4(), 1.5) else {
            return;
        };
        let sr = f64::from(audio.sample_rate);
        assert_eq!(audio.frames(), (2.5 * sr) as usize);
        let note = mono(&audio, 0.0, 1.0);
        // Coarse scan over 50 Hz - 5 kHz: the strongest component is near 440 Hz...
        let coarse = coarse_spectrum(&note, sr);
        let p = peak(&coarse);
        assert!((400.0..=480.0).contains(&p), "coarse peak at {p} Hz");
        // ...and a 1 Hz scan over 400 - 480 Hz on the whole second puts it at 440 Hz.
        let windowed = hann(&note);
        let fine: Vec<(f64, f64)> =
            (400..=480).map(|f| (f64::from(f), power_at(&windowed, sr, f64::from(f)))).collect();
        let p = peak(&fine);
        assert!((p - 440.0).abs() <= 1.0, "fine peak at {p} Hz");
        // Energy where the note is; near silence at the end of the tail.
        let loud = rms(&mono(&audio, 0.05, 0.95));
        let end = rms(&mono(&audio, 2.2, 2.45));
        let release = rms(&mono(&audio, 1.0, 1.5));
        eprintln!("note rms {loud}, release rms {release}, end rms {end}");
        assert!(loud > 0.003, "note rms {loud}");
        assert!(end < loud * 0.01, "end of tail rms {end} vs note {loud}");
        // Nothing before the note starts to release is quiet: the first 10 ms already sound.
        assert!(rms(&mono(&audio, 0.0, 0.01)) > 0.0);
    }

    #[test]
    fn wav_length_matches_the_tempo_map_plus_tail() {
        // Format 1, 480 tpb, tempo changes at beats 2, 4 and 5:
        // 2 beats at 120 bpm (1.0 s) + 2 at 240 bpm (0.5 s) + 1 at 60 bpm (1.0 s)
        // + 3 at 90 bpm (2.0 s) = 4.5 s of music, + 0.5 s tail = 5.0 s.
        let tempos = [(0, 500_000), (960, 250_000), (1920, 1_000_000), (2400, 666_667)];
        let notes: Vec<test_midi::N> = (0..8).map(|b| (b * 480, 0, 60 + b as u8, b * 480 + 480)).collect();
        let bytes = test_midi::multi_track(480, &tempos, &[(0, &notes)]);
        let Some(sf) = crate::play::tests::soundfont() else {
            return;
        };
        let mut synth = Synth::new(&sf, WAV_SAMPLE_RATE).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.wav");
        let opts = RenderOptions { speed: 1.0, tail: 0.5, progress: None, stop: None };
        let outcome = render_to_wav(&song(&bytes), &mut synth, &out, &opts).unwrap();
        assert!(matches!(outcome, PlayOutcome::Rendered { .. }), "{outcome:?}");
        let expected = 1.0 + 0.5 + 1.0 + 3.0 * 0.666_667 + 0.5;
        let reader = hound::WavReader::open(&out).unwrap();
        let spec = reader.spec();
        assert_eq!((spec.channels, spec.sample_rate, spec.bits_per_sample), (2, 44_100, 16));
        assert_eq!(spec.sample_format, hound::SampleFormat::Int);
        let secs = f64::from(reader.duration()) / 44_100.0;
        assert!((secs - expected).abs() <= 0.01 * expected, "{secs} s, expected {expected} s");
        // The file was written atomically: no temporary file is left beside it.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        // Twice the speed: half the music, the same tail.
        let opts = RenderOptions { speed: 2.0, ..opts };
        let fast = render(&song(&bytes), &mut Synth::new(&sf, WAV_SAMPLE_RATE).unwrap(), &opts).unwrap();
        let want = (expected - 0.5) / 2.0 + 0.5;
        assert!((fast.duration_secs() - want).abs() <= 0.01 * want, "{} vs {want}", fast.duration_secs());
    }

    #[test]
    fn instruments_use_their_programs() {
        // The same A major triad (A3 C#4 E4, 1 s) as piano (program 0), as flute (program 73),
        // and as both at once on two channels.
        let chord =
            |ch: u8| -> Vec<test_midi::N> { [57u8, 61, 64].iter().map(|&k| (0, ch, k, 960)).collect() };
        let (piano_notes, flute_notes) = (chord(0), chord(1));
        let piano = test_midi::multi_track(480, &[], &[(0, &piano_notes)]);
        let flute = test_midi::multi_track(480, &[], &[(73, &flute_notes)]);
        let both = test_midi::multi_track(480, &[], &[(0, &piano_notes), (73, &flute_notes)]);
        let Some((p, _)) = render_song(&piano, 0.3) else {
            return;
        };
        let (f, _) = render_song(&flute, 0.3).unwrap();
        let (b, synth) = render_song(&both, 0.3).unwrap();
        let mut programs = [0u8; 16];
        programs[1] = 73;
        assert_eq!(synth.programs(), programs);

        let sr = f64::from(p.sample_rate);
        let spec = |a: &Rendered| coarse_spectrum(&mono(a, 0.1, 0.9), sr);
        let (sp, sf, sb) = (spec(&p), spec(&f), spec(&b));
        let (d_pf, d_bp, d_bf) =
            (spectral_distance(&sp, &sf), spectral_distance(&sb, &sp), spectral_distance(&sb, &sf));
        eprintln!("spectral distances: piano/flute {d_pf}, both/piano {d_bp}, both/flute {d_bf}");
        assert!(d_pf > 0.05, "piano and flute spectra too alike: {d_pf}");
        assert!(d_bp > 0.01, "{d_bp}");

        // The synth is linear: the two-instrument render is the sum of the single ones (up to
        // rounding), and far from twice either of them.
        let dist = |x: &dyn Fn(usize) -> f64| {
            (0..b.samples.len()).map(|i| (f64::from(b.samples[i]) - x(i)).powi(2)).sum::<f64>().sqrt()
        };
        let to_sum = dist(&|i| f64::from(p.samples[i]) + f64::from(f.samples[i]));
        let to_2p = dist(&|i| 2.0 * f64::from(p.samples[i]));
        let to_2f = dist(&|i| 2.0 * f64::from(f.samples[i]));
        let to_p = dist(&|i| f64::from(p.samples[i]));
        let to_f = dist(&|i| f64::from(f.samples[i]));
        let norm = dist(&|_| 0.0);
        eprintln!("|b| {norm}: to p+f {to_sum}, to p {to_p}, to f {to_f}, to 2p {to_2p}, to 2f {to_2f}");
        assert!(to_p > 0.1 * norm && to_f > 0.1 * norm, "the two-instrument render equals a single one");
        assert!(to_sum * 20.0 < to_2p.min(to_2f).min(to_p).min(to_f), "not the sum of its parts");
    }

    #[test]
    fn a_raised_stop_flag_renders_nothing() {
        let Some(sf) = crate::play::tests::soundfont() else {
            return;
        };
        let mut synth = Synth::new(&sf, WAV_SAMPLE_RATE).unwrap();
        let opts = RenderOptions {
            speed: 1.0,
            tail: 0.1,
            progress: None,
            stop: Some(Arc::new(AtomicBool::new(true))),
        };
        assert!(render(&song(&a4()), &mut synth, &opts).is_none());
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("x.wav");
        let r = render_to_wav(&song(&a4()), &mut synth, &out, &opts).unwrap();
        assert!(matches!(r, PlayOutcome::Stopped { .. }));
        assert!(!out.exists());
    }

    #[test]
    fn too_long_for_wav_is_an_error() {
        // 1 tick per beat at the slowest tempo (16.78 s per beat): 2000 beats = 33 554 s, more
        // than the ~24 347 s a 44.1 kHz 16-bit stereo WAV can hold.
        let bytes = test_midi::single_track(1, &[(0, 0xFF_FFFF)], &[(0, 0, 60, 2000)], 0);
        let Some(sf) = crate::play::tests::soundfont() else { return };
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("long.wav");
        let mut synth = Synth::new(&sf, WAV_SAMPLE_RATE).unwrap();
        let e = render_to_wav(&song(&bytes), &mut synth, &out, &RenderOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("long.wav") && e.contains("too long"), "{e}");
        assert!(!out.exists());
    }

    #[test]
    fn fade_out_ramps_to_zero() {
        let mut s = vec![1000i16; 20];
        fade_out(&mut s, 4);
        assert_eq!(&s[..12], &[1000; 12]);
        assert_eq!(s[12], s[13]);
        assert!(s[12] < 1000 && s[18] < s[16] && s[16] < s[14] && s[14] < s[12] && s[18] > 0);
    }
}
