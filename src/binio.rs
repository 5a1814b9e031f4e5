//! The one framing of cadenza's own binary files (checkpoints, token caches, Markov payloads):
//! a bounds-checked little-endian [`Writer`] and [`Reader`].
//!
//! ```text
//! magic (8 bytes) | u32 format version | body | u32 CRC-32 of everything before it
//! ```
//!
//! The reader checks the magic and the version on [`Reader::open`], every read against the
//! bytes left, and the checksum: a read past the end is [`FormatProblem::Truncated`]; any other
//! problem in bytes whose checksum does not match is reported as [`FormatProblem::Checksum`]
//! (the likelier cause), so callers validating their fields with [`Reader::invalid`] get the
//! right message either way. Nothing panics and nothing allocates more than the bytes hold.

use crate::error::{FormatError, FormatProblem};

/// One binary format: its name in errors, its magic and the newest version this build reads
/// (and the version it writes).
#[derive(Debug, Clone, Copy)]
pub struct Format {
    pub name: &'static str,
    pub magic: &'static [u8; 8],
    pub version: u32,
}

impl Format {
    /// An error about bytes of this format.
    pub fn error(&self, problem: FormatProblem) -> FormatError {
        FormatError { format: self.name, problem }
    }
}

/// Builds the bytes of a file of one [`Format`].
#[derive(Debug)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// A file of `format`, its magic and version written.
    pub fn new(format: &Format) -> Writer {
        Writer::with_capacity(format, 64)
    }

    /// As [`Writer::new`], with room for `capacity` bytes.
    pub fn with_capacity(format: &Format, capacity: usize) -> Writer {
        let mut buf = Vec::with_capacity(capacity + 16);
        buf.extend_from_slice(format.magic);
        buf.extend_from_slice(&format.version.to_le_bytes());
        Writer { buf }
    }

    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    pub fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn f64(&mut self, v: f64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    /// Raw bytes (the reader must know their length).
    pub fn bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }
    /// A `u64` length, then the bytes.
    pub fn section(&mut self, b: &[u8]) {
        self.u64(b.len() as u64);
        self.bytes(b);
    }

    /// The finished file: everything written, then its CRC-32.
    pub fn finish(mut self) -> Vec<u8> {
        let crc = crc32fast::hash(&self.buf);
        self.buf.extend_from_slice(&crc.to_le_bytes());
        self.buf
    }
}

/// Reads the body of a file of one [`Format`], field by field.
#[derive(Debug)]
pub struct Reader<'a> {
    format: Format,
    body: &'a [u8],
    pos: usize,
    version: u32,
    crc_ok: bool,
}

impl<'a> Reader<'a> {
    /// Check `bytes`' magic and version; the reader then stands at the start of the body.
    pub fn open(format: &Format, bytes: &'a [u8]) -> Result<Reader<'a>, FormatError> {
        Reader::open_with(format, bytes, true)
    }

    /// As [`Reader::open`], for bytes whose CRC-32 the caller has already checked (a memory map,
    /// hashed with streaming reads so that hashing does not bring every page of the map into the
    /// process): the checksum is not computed again.
    pub fn open_verified(format: &Format, bytes: &'a [u8]) -> Result<Reader<'a>, FormatError> {
        Reader::open_with(format, bytes, false)
    }

    fn open_with(format: &Format, bytes: &'a [u8], check_crc: bool) -> Result<Reader<'a>, FormatError> {
        let fail = |p| Err(format.error(p));
        if bytes.len() < 8 || &bytes[..8] != format.magic {
            return fail(FormatProblem::BadMagic(format.name));
        }
        let Some(v) = bytes.get(8..12) else { return fail(FormatProblem::Truncated) };
        let version = u32::from_le_bytes(v.try_into().expect("4 bytes"));
        if version > format.version {
            return fail(FormatProblem::NewerVersion { found: version, newest: format.version });
        }
        if version == 0 {
            return fail(FormatProblem::InvalidVersion(0));
        }
        if bytes.len() < 16 {
            return fail(FormatProblem::Truncated);
        }
        let (body, crc) = bytes.split_at(bytes.len() - 4);
        let crc_ok = !check_crc || crc32fast::hash(body).to_le_bytes() == crc;
        Ok(Reader { format: *format, body, pos: 12, version, crc_ok })
    }

    /// The file's format version.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// Bytes left in the body.
    pub fn left(&self) -> usize {
        self.body.len() - self.pos
    }

    /// The error for `problem` in these bytes (a checksum mismatch when the bytes are damaged).
    fn error(&self, problem: FormatProblem) -> FormatError {
        let problem = match problem {
            FormatProblem::Truncated => FormatProblem::Truncated,
            _ if !self.crc_ok => FormatProblem::Checksum,
            p => p,
        };
        self.format.error(problem)
    }

    /// A field that was read but does not hold a valid value.
    pub fn invalid(&self, field: &'static str, problem: impl Into<String>) -> FormatError {
        self.error(FormatProblem::Invalid { field, problem: problem.into() })
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], FormatError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.body.len());
        let end = end.ok_or_else(|| self.error(FormatProblem::Truncated))?;
        let out = &self.body[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], FormatError> {
        Ok(self.take(N)?.try_into().expect("N bytes"))
    }

    pub fn u8(&mut self) -> Result<u8, FormatError> {
        Ok(self.array::<1>()?[0])
    }
    pub fn u16(&mut self) -> Result<u16, FormatError> {
        self.array().map(u16::from_le_bytes)
    }
    pub fn u32(&mut self) -> Result<u32, FormatError> {
        self.array().map(u32::from_le_bytes)
    }
    pub fn u64(&mut self) -> Result<u64, FormatError> {
        self.array().map(u64::from_le_bytes)
    }
    pub fn f64(&mut self) -> Result<f64, FormatError> {
        self.array().map(f64::from_le_bytes)
    }
    /// A section written by [`Writer::section`], at most `max` bytes long.
    pub fn section(&mut self, max: u64) -> Result<&'a [u8], FormatError> {
        let len = self.u64()?;
        if len > max || len > self.left() as u64 {
            return Err(self.error(FormatProblem::Truncated));
        }
        self.take(len as usize)
    }

    /// Check that the body was read to its end and that the checksum matches.
    pub fn finish(self) -> Result<(), FormatError> {
        if self.left() != 0 {
            return Err(self.error(FormatProblem::TrailingBytes(self.left())));
        }
        if !self.crc_ok {
            return Err(self.format.error(FormatProblem::Checksum));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEST: Format = Format { name: "test file", magic: b"CDZTEST\0", version: 2 };

    fn bytes() -> Vec<u8> {
        let mut w = Writer::new(&TEST);
        w.u8(7);
        w.u16(0x1234);
        w.u32(0xdead_beef);
        w.u64(u64::MAX - 1);
        w.f64(-1.5);
        w.section(b"hello");
        w.finish()
    }

    #[test]
    fn round_trip() {
        let b = bytes();
        let mut r = Reader::open(&TEST, &b).unwrap();
        assert_eq!(r.version(), 2);
        assert_eq!(r.u8().unwrap(), 7);
        assert_eq!(r.u16().unwrap(), 0x1234);
        assert_eq!(r.u32().unwrap(), 0xdead_beef);
        assert_eq!(r.u64().unwrap(), u64::MAX - 1);
        assert_eq!(r.f64().unwrap(), -1.5);
        assert_eq!(r.section(100).unwrap(), b"hello");
        r.finish().unwrap();
    }

    fn read_all(b: &[u8]) -> Result<(), FormatError> {
        let mut r = Reader::open(&TEST, b)?;
        r.u8()?;
        r.u16()?;
        r.u32()?;
        r.u64()?;
        r.f64()?;
        r.section(100)?;
        r.finish()
    }

    #[test]
    fn every_truncation_and_flip_is_an_error() {
        let b = bytes();
        for cut in 0..b.len() {
            assert!(read_all(&b[..cut]).is_err(), "cut {cut}");
        }
        for i in 0..b.len() {
            let mut c = b.clone();
            c[i] ^= 0x20;
            assert!(read_all(&c).is_err(), "flip {i}");
        }
    }

    #[test]
    fn problems_are_named() {
        let b = bytes();
        let problem = |b: &[u8]| read_all(b).unwrap_err().problem;
        assert_eq!(problem(b"MThd\0\0\0\x06xxxxxxxx"), FormatProblem::BadMagic("test file"));
        let mut newer = b.clone();
        newer[8..12].copy_from_slice(&3u32.to_le_bytes());
        assert_eq!(problem(&newer), FormatProblem::NewerVersion { found: 3, newest: 2 });
        let mut flipped = b.clone();
        flipped[14] ^= 1;
        assert_eq!(problem(&flipped), FormatProblem::Checksum);
        let mut long = b[..b.len() - 4].to_vec();
        long.push(0);
        let crc = crc32fast::hash(&long);
        long.extend_from_slice(&crc.to_le_bytes());
        assert_eq!(problem(&long), FormatProblem::TrailingBytes(1));
        assert_eq!(problem(&b[..b.len() - 9]), FormatProblem::Truncated);
        let e = read_all(&flipped).unwrap_err().to_string();
        assert_eq!(e, "bad test file: corrupted (checksum mismatch)");
    }
}
