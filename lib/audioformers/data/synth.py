"""Render MIDI notes with a General-MIDI soundfont, in-process and deterministically.

Two backends behind one function, :func:`render_events`:

* ``fluidsynth`` (PyPI ``pyfluidsynth`` + Debian ``libfluidsynth3`` and ``fluid-soundfont-gm``):
  the FluidR3 GM soundfont, sampled from real instruments;
* ``tinysoundfont`` (PyPI only: ``pip install --no-deps tinysoundfont`` and ``pretty_midi``, which
  ships the small TimGM6mb soundfont): the fallback where the Debian packages cannot be installed.

Reverb and chorus are switched off and the float output is read directly (no dither), so two
renders of the same notes are identical.
"""
from __future__ import annotations

import ctypes
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

FLUIDR3_PATH = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
FORCE_FALLBACK_ENV = "AUDIOFORMERS_PYPI_FALLBACK"  # set to "1" to use the PyPI-only sources


@dataclass(frozen=True)
class Note:
    """One note: start and end in seconds, MIDI pitch, velocity and GM program (channel 9 = drums)."""

    start: float
    end: float
    pitch: int
    velocity: int = 100
    program: int = 0
    drums: bool = False


def fallback_forced() -> bool:
    """True when the environment asks for the PyPI-only sources."""
    return os.environ.get(FORCE_FALLBACK_ENV, "") not in ("", "0")


def fluidsynth_available() -> bool:
    """True when pyfluidsynth imports and the FluidR3 soundfont is installed."""
    if fallback_forced() or not FLUIDR3_PATH.exists():
        return False
    try:
        import fluidsynth  # noqa: F401
    except (ImportError, OSError):
        return False
    return True


def timgm_path() -> Path | None:
    """The TimGM6mb soundfont shipped with ``pretty_midi``, or None."""
    try:
        import pretty_midi
    except ImportError:
        return None
    path = Path(pretty_midi.__file__).parent / "TimGM6mb.sf2"
    return path if path.exists() else None


def tinysoundfont_available() -> bool:
    """True when the PyPI-only renderer (tinysoundfont + TimGM6mb) can run."""
    try:
        import tinysoundfont  # noqa: F401
    except ImportError:
        return False
    return timgm_path() is not None


def backend() -> str:
    """Name of the renderer in use: ``"fluidsynth"`` or ``"tinysoundfont"``; error if neither.

    With the FluidR3 soundfont installed but FluidSynth unusable (libfluidsynth3 missing) this is an
    error, not a silent switch to the smaller fallback soundfont.
    """
    if fluidsynth_available():
        return "fluidsynth"
    if not fallback_forced() and FLUIDR3_PATH.exists():
        try:
            import fluidsynth  # noqa: F401
        except (ImportError, OSError) as err:
            raise RuntimeError(
                f"{FLUIDR3_PATH} (Debian package fluid-soundfont-gm) is installed but FluidSynth cannot "
                f"be loaded ({err}): install the Debian package libfluidsynth3 "
                "(sudo apt-get install libfluidsynth3) and the PyPI package pyfluidsynth, or set "
                f"{FORCE_FALLBACK_ENV}=1 to use the PyPI-only soundfont.") from err
    if tinysoundfont_available():
        return "tinysoundfont"
    raise RuntimeError(
        "No soundfont renderer: install the Debian packages fluid-soundfont-gm and libfluidsynth3 "
        "(sudo apt-get install fluid-soundfont-gm libfluidsynth3) with `pip install pyfluidsynth`, "
        "or the PyPI-only fallback: `pip install pretty_midi && pip install --no-deps tinysoundfont`."
    )


def soundfont_info() -> dict[str, str]:
    """Package, file and licence of the soundfont in use (for dataset metadata)."""
    if backend() == "fluidsynth":
        return {"package": "fluid-soundfont-gm (Debian)", "file": str(FLUIDR3_PATH),
                "licence": "MIT", "attribution": "FluidR3 GM soundfont by Frank Wen"}
    return {"package": "pretty_midi (PyPI)", "file": "TimGM6mb.sf2", "licence": "GPL-2",
            "attribution": "TimGM6mb soundfont by Tim Brechbill, shipped with pretty_midi"}


# --- fluidsynth -------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def _fluid_write_float():
    import fluidsynth

    return fluidsynth.cfunc(
        "fluid_synth_write_float", ctypes.c_int,
        ("synth", ctypes.c_void_p, 1), ("len", ctypes.c_int, 1),
        ("lout", ctypes.c_void_p, 1), ("loff", ctypes.c_int, 1), ("lincr", ctypes.c_int, 1),
        ("rout", ctypes.c_void_p, 1), ("roff", ctypes.c_int, 1), ("rincr", ctypes.c_int, 1),
    )


class _FluidRenderer:
    def __init__(self, sample_rate: int):
        import fluidsynth

        self.synth = fluidsynth.Synth(
            gain=1.0, samplerate=float(sample_rate),
            **{"synth.reverb.active": 0, "synth.chorus.active": 0, "synth.cpu-cores": 1},
        )
        self.sfid = self.synth.sfload(str(FLUIDR3_PATH))
        self.write = _fluid_write_float()
        # the very first note after loading renders slightly differently: warm up once
        self.program(0, 0, False)
        self.noteon(0, 60, 100)
        self.render(1024)
        self.reset()

    def program(self, chan: int, program: int, drums: bool) -> None:
        self.synth.program_select(chan, self.sfid, 128 if drums else 0, 0 if drums else program)

    def noteon(self, chan: int, pitch: int, velocity: int) -> None:
        self.synth.noteon(chan, pitch, velocity)

    def noteoff(self, chan: int, pitch: int) -> None:
        self.synth.noteoff(chan, pitch)

    def render(self, n: int) -> np.ndarray:
        left = np.zeros(n, np.float32)
        right = np.zeros(n, np.float32)
        if n:
            self.write(self.synth.synth, n, left.ctypes.data, 0, 1, right.ctypes.data, 0, 1)
        return 0.5 * (left + right)

    def reset(self) -> None:
        self.synth.system_reset()  # also resets every channel's program: select again
        for chan in range(16):
            self.synth.all_sounds_off(chan)
        for _ in range(200):  # render until the killed voices have really gone (exact silence)
            if not self.render(1024).any():
                break


# --- tinysoundfont ----------------------------------------------------------------------------

class _TinyRenderer:
    def __init__(self, sample_rate: int):
        import tinysoundfont

        self.synth = tinysoundfont.Synth(gain=-6.0, samplerate=sample_rate)
        self.sfid = self.synth.sfload(str(timgm_path()))

    def program(self, chan: int, program: int, drums: bool) -> None:
        self.synth.program_select(chan, self.sfid, 128 if drums else 0, 0 if drums else program,
                                  is_drums=drums)

    def noteon(self, chan: int, pitch: int, velocity: int) -> None:
        self.synth.noteon(chan, pitch, velocity)

    def noteoff(self, chan: int, pitch: int) -> None:
        self.synth.noteoff(chan, pitch)

    def render(self, n: int) -> np.ndarray:
        if n == 0:
            return np.zeros(0, np.float32)
        stereo = np.frombuffer(self.synth.generate(n), dtype=np.float32).reshape(n, 2)
        return stereo.mean(axis=1).astype(np.float32)

    def reset(self) -> None:
        self.synth.sounds_off()
        self.render(64)


@lru_cache(maxsize=4)
def _cached_renderer(name: str, sample_rate: int):
    return _FluidRenderer(sample_rate) if name == "fluidsynth" else _TinyRenderer(sample_rate)


def _renderer(sample_rate: int):
    """A soundfont renderer, loaded once per backend and rate, reset to silence before use."""
    synth = _cached_renderer(backend(), sample_rate)
    synth.reset()
    return synth


def render_events(notes: list[Note], seconds: float, sample_rate: int = 16000) -> np.ndarray:
    """Render ``notes`` into a mono float32 signal of ``seconds``, starting from silence.

    Each distinct (program, drums) pair gets its own MIDI channel (at most 16).
    """
    total = int(round(seconds * sample_rate))
    # fluidsynth renders in blocks of 64 samples and applies events at block starts: keep every
    # event and the rendered length on a block boundary so each call starts from the same state.
    block = 64
    rendered = -(-total // block) * block

    def at(t: float) -> int:
        return min(int(round(t * sample_rate / block)) * block, rendered)

    channels: dict[tuple[int, bool], int] = {}
    for note in notes:
        key = (note.program, note.drums)
        if key not in channels:
            channels[key] = 9 if note.drums else [c for c in range(16) if c != 9][len(
                [k for k in channels if not k[1]])]
    events = []  # (sample, order, kind, chan, pitch, velocity); note-offs before note-ons
    for note in notes:
        chan = channels[(note.program, note.drums)]
        events.append((at(note.start), 1, chan, note.pitch, note.velocity))
        events.append((at(note.end), 0, chan, note.pitch, 0))
    events.sort()
    synth = _renderer(sample_rate)
    # fluidsynth keeps some per-sample state from the first time a sample is played (not audible,
    # but not bit-exact): render twice and keep the second, which no longer depends on history.
    for _ in range(2 if isinstance(synth, _FluidRenderer) else 1):
        audio = _play(synth, channels, events, rendered)
        synth.reset()
    return np.clip(audio[:total], -1.0, 1.0).astype(np.float32)


def _play(synth, channels: dict[tuple[int, bool], int], events: list, rendered: int) -> np.ndarray:
    for (program, drums), chan in sorted(channels.items(), key=lambda kv: kv[1]):
        synth.program(chan, program, drums)
    out, pos = [], 0
    for sample, is_on, chan, pitch, velocity in events:
        out.append(synth.render(sample - pos))
        pos = sample
        if is_on:
            synth.noteon(chan, pitch, velocity)
        else:
            synth.noteoff(chan, pitch)
    out.append(synth.render(rendered - pos))
    return np.concatenate(out)
