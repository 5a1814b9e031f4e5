//! Raw Standard MIDI File bytes assembled by hand, chunk by chunk and event by event.
//!
//! For tests that must state exactly which bytes a file holds, including files
//! that lie (a chunk length that is wrong, a header that claims more tracks than follow, events
//! cut in half). [`super::write_file`] is the way to write real pieces; nothing here checks
//! that the result is valid MIDI.

/// A variable-length quantity (7 bits per byte, high bit set on all but the last; SMF allows up
/// to 28 bits).
pub fn vlq(mut n: u32) -> Vec<u8> {
    let mut out = vec![(n & 0x7F) as u8];
    n >>= 7;
    while n > 0 {
        out.insert(0, 0x80 | (n & 0x7F) as u8);
        n >>= 7;
    }
    out
}

/// A chunk: 4-byte id, the given (possibly lying) big-endian length, then `data`.
pub fn chunk(id: &[u8; 4], len: u32, data: &[u8]) -> Vec<u8> {
    let mut out = id.to_vec();
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(data);
    out
}

/// An `MThd` chunk: `format`, the track count it claims, raw division bytes.
pub fn header(format: u16, ntracks: u16, division: [u8; 2]) -> Vec<u8> {
    let mut data = format.to_be_bytes().to_vec();
    data.extend_from_slice(&ntracks.to_be_bytes());
    data.extend_from_slice(&division);
    chunk(b"MThd", 6, &data)
}

/// Track events from `(delta, raw event bytes)` pairs, without End of Track.
pub fn events(evs: &[(u32, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (delta, bytes) in evs {
        out.extend(vlq(*delta));
        out.extend_from_slice(bytes);
    }
    out
}

/// End of Track after `delta` ticks.
pub fn eot(delta: u32) -> Vec<u8> {
    [vlq(delta), vec![0xFF, 0x2F, 0x00]].concat()
}

/// A track body: the events, then End of Track `eot_delta` ticks after the last.
pub fn body(evs: &[(u32, &[u8])], eot_delta: u32) -> Vec<u8> {
    [events(evs), eot(eot_delta)].concat()
}

/// An `MTrk` chunk with its true length.
pub fn mtrk(body: &[u8]) -> Vec<u8> {
    chunk(b"MTrk", body.len() as u32, body)
}

/// A whole file: a header claiming `ntracks` tracks with raw `division` bytes, then one honest
/// `MTrk` chunk per body.
pub fn smf_raw(format: u16, ntracks: u16, division: [u8; 2], bodies: &[Vec<u8>]) -> Vec<u8> {
    let mut out = header(format, ntracks, division);
    for b in bodies {
        out.extend(mtrk(b));
    }
    out
}

/// A whole honest file: `tpb` ticks per beat and one track per body.
pub fn smf(format: u16, tpb: u16, bodies: &[Vec<u8>]) -> Vec<u8> {
    smf_raw(format, bodies.len() as u16, tpb.to_be_bytes(), bodies)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vlq_matches_the_standards_examples() {
        // The SMF 1.0 specification's table of variable-length quantities.
        let cases: [(u32, &[u8]); 8] = [
            (0, &[0x00]),
            (0x40, &[0x40]),
            (0x7F, &[0x7F]),
            (0x80, &[0x81, 0x00]),
            (0x2000, &[0xC0, 0x00]),
            (0x3FFF, &[0xFF, 0x7F]),
            (0x4000, &[0x81, 0x80, 0x00]),
            (0x0FFF_FFFF, &[0xFF, 0xFF, 0xFF, 0x7F]),
        ];
        for (n, bytes) in cases {
            assert_eq!(vlq(n), bytes, "{n:#x}");
        }
    }

    #[test]
    fn an_honest_file_reads_with_midly() {
        let t = body(&[(0, &[0x90, 60, 100]), (96, &[0x80, 60, 0])], 0);
        let bytes = smf(1, 96, &[t.clone(), t]);
        let smf = midly::Smf::parse(&bytes).unwrap();
        assert_eq!(smf.tracks.len(), 2);
        assert_eq!(smf.tracks[0].len(), 3);
        assert_eq!(smf.header.timing, midly::Timing::Metrical(96.into()));
    }
}
