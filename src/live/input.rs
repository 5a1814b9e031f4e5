//! Bytes from a MIDI keyboard into the few messages a live session acts on. A port may hand
//! over messages whole (JACK, ALSA through midir) or as a raw stream with running status; both
//! go through one [`Parser`], which also skips what a keyboard sends beside notes: controllers,
//! program changes, pitch bend, system exclusive dumps and real-time bytes (clock, active
//! sensing), none of which may leave a note held.

/// What a live session acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message {
    /// A key pressed (velocity 1-127).
    NoteOn { channel: u8, pitch: u8, velocity: u8 },
    /// A key released (a note-off, or a note-on of velocity 0).
    NoteOff { channel: u8, pitch: u8 },
    /// Controller 120 (all sound off) or 123 (all notes off): every key of the channel released.
    AllOff { channel: u8 },
}

/// A MIDI byte-stream parser with running status.
#[derive(Debug, Clone, Default)]
pub struct Parser {
    /// The channel-voice status in force (running status).
    running: Option<u8>,
    /// Data bytes of the message under way.
    data: [u8; 2],
    len: usize,
    /// Data bytes still to skip (system common messages).
    skip: usize,
    /// Inside a system exclusive message.
    sysex: bool,
}

/// Data bytes a channel-voice status takes.
fn data_len(status: u8) -> usize {
    match status & 0xf0 {
        0xc0 | 0xd0 => 1,
        _ => 2,
    }
}

impl Parser {
    /// A parser with no running status.
    pub fn new() -> Self {
        Parser::default()
    }

    /// Read `bytes`, appending the complete messages found to `out`. Messages may be split
    /// across calls.
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<Message>) {
        for &b in bytes {
            self.byte(b, out);
        }
    }

    fn byte(&mut self, b: u8, out: &mut Vec<Message>) {
        if b >= 0xf8 {
            return; // real-time bytes may come anywhere, even inside other messages
        }
        if b >= 0x80 {
            self.sysex = b == 0xf0;
            self.len = 0;
            self.skip = 0;
            match b {
                0x80..=0xef => self.running = Some(b),
                0xf0 | 0xf7 => {}
                _ => {
                    // System common: cancels running status; skip its data.
                    self.running = None;
                    self.skip = match b {
                        0xf1 | 0xf3 => 1,
                        0xf2 => 2,
                        _ => 0,
                    };
                }
            }
            return;
        }
        if self.sysex {
            return;
        }
        if self.skip > 0 {
            self.skip -= 1;
            return;
        }
        let Some(status) = self.running else { return };
        self.data[self.len] = b;
        self.len += 1;
        if self.len < data_len(status) {
            return;
        }
        self.len = 0;
        let channel = status & 0x0f;
        let [d1, d2] = self.data;
        match status & 0xf0 {
            0x90 if d2 > 0 => out.push(Message::NoteOn { channel, pitch: d1, velocity: d2 }),
            0x80 | 0x90 => out.push(Message::NoteOff { channel, pitch: d1 }),
            0xb0 if d1 == 120 || d1 == 123 => out.push(Message::AllOff { channel }),
            _ => {}
        }
    }
}

/// The bytes of a note-on (velocity 0 is sent as a note-off).
pub fn note_on(channel: u8, pitch: u8, velocity: u8) -> [u8; 3] {
    if velocity == 0 {
        note_off(channel, pitch)
    } else {
        [0x90 | (channel & 0x0f), pitch & 0x7f, velocity & 0x7f]
    }
}

/// The bytes of a note-off.
pub fn note_off(channel: u8, pitch: u8) -> [u8; 3] {
    [0x80 | (channel & 0x0f), pitch & 0x7f, 0]
}

/// The bytes of controller 123, all notes off, on `channel`.
pub fn all_notes_off(channel: u8) -> [u8; 3] {
    [0xb0 | (channel & 0x0f), 123, 0]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8]) -> Vec<Message> {
        let mut out = Vec::new();
        Parser::new().feed(bytes, &mut out);
        out
    }

    #[test]
    fn running_status_and_zero_velocity_note_ons() {
        // Note-on status once, then two notes by running status, the second released by a
        // note-on of velocity 0.
        let got = parse(&[0x91, 60, 100, 64, 90, 60, 0, 0x81, 64, 0]);
        assert_eq!(
            got,
            [
                Message::NoteOn { channel: 1, pitch: 60, velocity: 100 },
                Message::NoteOn { channel: 1, pitch: 64, velocity: 90 },
                Message::NoteOff { channel: 1, pitch: 60 },
                Message::NoteOff { channel: 1, pitch: 64 },
            ]
        );
    }

    #[test]
    fn controllers_sysex_and_real_time_bytes_are_skipped() {
        let got = parse(&[
            0xb0, 64, 127, // sustain pedal
            0xf0, 0x7e, 0x00, 0x90, 0x10, 0xf7, // sysex holding what looks like a note-on
            0x90, 60, 0xf8, 100, // a clock byte inside a note-on
            0xc0, 5, // program change
            0xe0, 0, 64, // pitch bend
            0xf2, 0x10, 0x20, // song position (system common: data skipped, running status off)
            60, 0, // no running status: ignored
            0xb0, 123, 0, // all notes off
        ]);
        assert_eq!(
            got,
            [Message::NoteOn { channel: 0, pitch: 60, velocity: 100 }, Message::AllOff { channel: 0 }]
        );
    }

    #[test]
    fn messages_may_be_split_across_reads() {
        let mut p = Parser::new();
        let mut out = Vec::new();
        p.feed(&[0x90, 60], &mut out);
        assert!(out.is_empty());
        p.feed(&[100], &mut out);
        p.feed(&[62], &mut out);
        p.feed(&[0], &mut out);
        assert_eq!(
            out,
            [
                Message::NoteOn { channel: 0, pitch: 60, velocity: 100 },
                Message::NoteOff { channel: 0, pitch: 62 }
            ]
        );
        assert_eq!(note_on(3, 61, 0), note_off(3, 61));
    }
}
