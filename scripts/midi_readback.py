#!/usr/bin/env python3
"""Read MIDI files with two independent Python readers and print their notes as JSON.

Usage: midi_readback.py FILE...

Prints one JSON object: {"files": [{"path", "ticks_per_beat", "mido": [...], "pretty_midi": [...]}]}
where every note is {"pitch", "velocity", "start_tick", "end_tick", "start_s", "end_s",
"program", "is_drum"}.

- "mido": events parsed by mido; notes paired here, per track and channel, first in first out
  (note-on with velocity 0 is a note-off; notes never turned off end at the end of their track);
  programs tracked per track and channel from 0; channel 10 is drums (program 0). Seconds come
  from a tempo map of the set_tempo events of all tracks, integrated with mido.tick2second.
- "pretty_midi": pretty_midi.PrettyMIDI's own notes (its own pairing rules); ticks from
  PrettyMIDI.time_to_tick.

Used by tests/midi_python_readback.rs to check cadenza's MIDI writer and reader.
"""

import json
import sys
from collections import defaultdict, deque

import mido
import pretty_midi

DRUM_CHANNEL = 9


def tempo_segments(mid):
    """[(tick, seconds at tick, tempo)] from the set_tempo events of all tracks (last wins)."""
    changes = []
    order = 0
    for track in mid.tracks:
        tick = 0
        for msg in track:
            tick += msg.time
            if msg.type == "set_tempo":
                changes.append((tick, order, msg.tempo))
                order += 1
    changes.sort()
    segments = [(0, 0.0, 500000)]
    for tick, _, tempo in changes:
        t0, s0, tempo0 = segments[-1]
        if tick == t0:
            segments[-1] = (t0, s0, tempo)
        else:
            seconds = s0 + mido.tick2second(tick - t0, mid.ticks_per_beat, tempo0)
            segments.append((tick, seconds, tempo))
    return segments


def seconds_at(segments, tpb, tick):
    seg = segments[0]
    for s in segments:
        if s[0] <= tick:
            seg = s
        else:
            break
    t0, s0, tempo = seg
    return s0 + mido.tick2second(tick - t0, tpb, tempo)


def mido_notes(path):
    mid = mido.MidiFile(path)
    tpb = mid.ticks_per_beat
    segments = tempo_segments(mid)
    notes = []
    for track in mid.tracks:
        tick = 0
        programs = [0] * 16
        open_notes = defaultdict(deque)  # (channel, pitch) -> deque of (start, velocity, program)
        closed = []
        for msg in track:
            tick += msg.time
            if msg.type == "program_change":
                programs[msg.channel] = msg.program
            elif msg.type == "note_on" and msg.velocity > 0:
                program = 0 if msg.channel == DRUM_CHANNEL else programs[msg.channel]
                open_notes[(msg.channel, msg.note)].append((tick, msg.velocity, program))
            elif msg.type in ("note_on", "note_off"):
                queue = open_notes[(msg.channel, msg.note)]
                if queue:
                    start, velocity, program = queue.popleft()
                    closed.append((msg.channel, msg.note, start, max(tick, start + 1), velocity, program))
        for (channel, pitch), queue in open_notes.items():
            for start, velocity, program in queue:
                closed.append((channel, pitch, start, max(tick, start + 1), velocity, program))
        for channel, pitch, start, end, velocity, program in closed:
            notes.append(
                {
                    "pitch": pitch,
                    "velocity": velocity,
                    "start_tick": start,
                    "end_tick": end,
                    "start_s": seconds_at(segments, tpb, start),
                    "end_s": seconds_at(segments, tpb, end),
                    "program": program,
                    "is_drum": channel == DRUM_CHANNEL,
                }
            )
    return tpb, notes


def pretty_midi_notes(path):
    pm = pretty_midi.PrettyMIDI(path)
    notes = []
    for inst in pm.instruments:
        for n in inst.notes:
            notes.append(
                {
                    "pitch": int(n.pitch),
                    "velocity": int(n.velocity),
                    "start_tick": int(pm.time_to_tick(n.start)),
                    "end_tick": int(pm.time_to_tick(n.end)),
                    "start_s": float(n.start),
                    "end_s": float(n.end),
                    "program": int(inst.program),
                    "is_drum": bool(inst.is_drum),
                }
            )
    return notes


def main(paths):
    files = []
    for path in paths:
        tpb, notes = mido_notes(path)
        files.append(
            {"path": path, "ticks_per_beat": tpb, "mido": notes, "pretty_midi": pretty_midi_notes(path)}
        )
    json.dump({"files": files}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
