"""Where the offline datasets' raw material lives, and how it is read.

Every Debian source is described by a :class:`DebianSource` (package, folder, licence,
attribution). :func:`require` turns a missing package into an error that names the package
and the command that installs it.
"""
from __future__ import annotations

from dataclasses import dataclass
from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from .synth import fallback_forced


@dataclass(frozen=True)
class DebianSource:
    """A Debian package that ships recordings: where, under what licence, and whom to credit."""

    package: str
    root: Path
    licence: str
    attribution: str

    def available(self) -> bool:
        """True when the package's folder exists (and the PyPI fallback is not forced)."""
        return not fallback_forced() and self.root.is_dir()

    def as_dict(self) -> dict[str, str]:
        return {"package": self.package, "licence": self.licence, "attribution": self.attribution}


ASTERISK_MUSIC = DebianSource(
    "asterisk-moh-opsound-wav", Path("/usr/share/asterisk/moh"), "CC-BY-SA-3.0",
    "Music on hold by opsound.org artists (Macroform, Manolo Camp, Reno Project), via Asterisk")
ASTERISK_SPEECH = DebianSource(
    "asterisk-core-sounds-en-wav", Path("/usr/share/asterisk/sounds/en"), "CC-BY-SA-3.0",
    "Asterisk core sound prompts (English, voice of Allison Smith), Digium / Sangoma")
HYDROGEN = DebianSource(
    "hydrogen-drumkits", Path("/usr/share/hydrogen/data/drumkits"),
    "per kit (GPL-2+, CC-BY, CC-BY-SA, CC0): see each drumkit.xml",
    "Hydrogen drum kits; authors and licences per kit are listed in metadata.json")
MINETEST = DebianSource(
    "minetest-data", Path("/usr/share/games/minetest/games/minetest_game/mods"), "CC-BY-SA-3.0",
    "Minetest Game sounds by the Minetest contributors (see the package's copyright file)")
LINCITY = DebianSource(
    "lincity-ng-data", Path("/usr/share/games/lincity-ng/sounds"), "GPL-2+",
    "LinCity-NG sounds by the LinCity-NG team")
FREECIV = DebianSource(
    "freeciv-data", Path("/usr/share/freeciv/stdsounds"), "GPL-2+", "Freeciv standard sounds")
FREEDESKTOP = DebianSource(
    "sound-theme-freedesktop", Path("/usr/share/sounds/freedesktop/stereo"),
    "CC-BY-SA / GPL-2+ (per file)", "freedesktop.org sound theme contributors")


def install_hint(packages: list[str]) -> str:
    """The command that installs ``packages`` (Debian / Ubuntu / Colab)."""
    return "sudo apt-get install " + " ".join(packages)


def require(source: DebianSource, what: str) -> None:
    """Raise a clear error when ``source`` is not installed."""
    if not source.available():
        raise FileNotFoundError(
            f"{what} needs the Debian package '{source.package}' ({source.root} not found"
            f"{' or the PyPI fallback is forced' if fallback_forced() else ''}). "
            f"Install it with: {install_hint([source.package])} "
            "(or run data_scripts/install_debian_packages.sh)."
        )


def read_mono(path: Path, sample_rate: int | None = None) -> np.ndarray:
    """Read ``path`` as float32 mono, resampled to ``sample_rate`` (polyphase) if given."""
    audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    audio = audio.mean(axis=1)
    if sample_rate is not None and rate != sample_rate:
        audio = resample(audio, rate, sample_rate)
    return audio.astype(np.float32)


def read_rate(path: Path) -> int:
    return int(sf.info(str(path)).samplerate)


def resample(audio: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Polyphase resampling (``scipy.signal.resample_poly``, Kaiser window)."""
    if rate_in == rate_out:
        return audio.astype(np.float32)
    g = gcd(int(rate_in), int(rate_out))
    return resample_poly(audio, rate_out // g, rate_in // g).astype(np.float32)


def peak_normalise(audio: np.ndarray, peak: float = 0.99) -> np.ndarray:
    """Scale so that the largest magnitude is ``peak`` (silence stays silence)."""
    top = float(np.max(np.abs(audio))) if audio.size else 0.0
    return (audio * (peak / top)).astype(np.float32) if top > 0 else audio.astype(np.float32)


def rms(audio: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if audio.size else 0.0


def to_int16(audio: np.ndarray) -> np.ndarray:
    """float in [-1, 1] -> int16 PCM (rounded, clipped)."""
    return np.clip(np.round(audio * 32767.0), -32768, 32767).astype(np.int16)


def from_int16(audio: np.ndarray) -> np.ndarray:
    """int16 PCM -> float32 in [-1, 1]."""
    return (audio.astype(np.float32) / 32767.0).clip(-1.0, 1.0)


def fit_length(audio: np.ndarray, length: int) -> np.ndarray:
    """Crop or zero-pad to ``length`` samples."""
    out = np.zeros(length, np.float32)
    out[: min(length, len(audio))] = audio[:length]
    return out


def music21_chorales(count: int, sample_rate: int, seconds_per_quarter: float = 0.6) -> list[
        tuple[str, np.ndarray]]:
    """Render the first ``count`` Bach chorales of music21's corpus (PyPI-only music)."""
    try:
        from music21 import corpus
    except ImportError as err:
        raise ImportError("The PyPI fallback needs music21: pip install music21") from err
    from .synth import Note, render_events

    paths = sorted(str(p) for p in corpus.getComposer("bach") if str(p).endswith((".mxl", ".xml")))
    out = []
    programs = (19, 0, 48, 71)  # church organ, piano, strings, clarinet
    for path in paths:
        if len(out) >= count:
            break
        score = corpus.parse(path)
        notes = []
        program = programs[len(out) % len(programs)]
        for element in score.flatten().notes:
            start = float(element.offset) * seconds_per_quarter
            end = start + max(float(element.quarterLength), 0.25) * seconds_per_quarter
            for pitch in getattr(element, "pitches", ()):
                notes.append(Note(start, end, int(pitch.midi), 80, program))
        if not notes:
            continue
        seconds = max(n.end for n in notes) + 1.0
        out.append((Path(path).name, render_events(notes, seconds, sample_rate)))
    return out
