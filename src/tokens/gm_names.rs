//! General MIDI program names (placeholder until the tokens work lands).
pub fn program_name(_p: u8) -> &'static str { "Program" }
