"""Where the offline datasets' raw material lives, and how it is read.

Every Debian source is described by a :class:`DebianSource`: the package, the folder **that package
itself installs** (as listed by ``dpkg -L``; never a link made by another package or by
``update-alternatives``), licence and attribution. :func:`require` turns a missing package into an
error that names the package and the command that installs it; :meth:`DebianSource.check` also
refuses a package that is present but empty or partial.
"""
from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from audioformers.audio.audio_io import check_audio
from audioformers.data.synth import fallback_forced

AUDIO_SUFFIXES = (".wav", ".ogg", ".oga", ".flac")


class SourceError(FileNotFoundError):
    """A Debian source that is missing, empty or partial; the message names the package."""


@dataclass(frozen=True)
class DebianSource:
    """A Debian package that ships recordings: where, under what licence, and whom to credit.

    ``root`` is a folder the package installs itself; ``suffixes`` are the kinds of files the
    builders read from it (their names and sizes enter the build hash).
    """

    package: str
    root: Path
    licence: str
    attribution: str
    suffixes: tuple[str, ...] = AUDIO_SUFFIXES
    pattern: str = "**/*"

    def available(self) -> bool:
        """True when the package's folder exists (and the PyPI fallback is not forced)."""
        return not fallback_forced() and self.root.is_dir()

    def as_dict(self) -> dict[str, str]:
        return {"package": self.package, "licence": self.licence, "attribution": self.attribution}

    def files(self, pattern: str | None = None) -> list[Path]:
        """The files under ``root`` matching ``pattern`` (default: the source's) with one of
        ``suffixes``, sorted."""
        if not self.available():
            return []
        return sorted(p for p in self.root.glob(pattern or self.pattern)
                      if p.suffix.lower() in self.suffixes and p.is_file())

    def inventory(self) -> list[tuple[str, int]]:
        """(name relative to ``root``, size in bytes) of every file the builders may read."""
        return [(p.relative_to(self.root).as_posix(), p.stat().st_size) for p in self.files()]

    def packaged_files(self) -> list[Path] | None:
        """The files of ``suffixes`` under ``root`` that ``dpkg -L`` lists, or None without dpkg."""
        listed = _dpkg_list(self.package)
        if listed is None:
            return None
        root = self.root.as_posix().rstrip("/") + "/"
        return sorted(Path(p) for p in listed
                      if p.startswith(root) and Path(p).suffix.lower() in self.suffixes
                      and Path(p).match(self.pattern))

    def check(self, what: str) -> list[Path]:
        """The package's files, or :class:`SourceError` when it is missing, empty or partial.

        Partial means: fewer files on disk than ``dpkg -L`` lists (checked where dpkg knows the
        package).
        """
        require(self, what)
        found = self.files()
        if not found:
            raise SourceError(f"{what}: the Debian package '{self.package}' is installed but "
                              f"{self.root} holds no {'/'.join(self.suffixes)} files; reinstall it: "
                              f"{install_hint([self.package], reinstall=True)}")
        listed = self.packaged_files()
        if listed:
            missing = [p for p in listed if not p.is_file()]
            if missing:
                raise SourceError(
                    f"{what}: the Debian package '{self.package}' is partial: {len(missing)} of its "
                    f"{len(listed)} files are missing (first: {missing[0]}); reinstall it: "
                    f"{install_hint([self.package], reinstall=True)}")
        return found


@lru_cache(maxsize=None)
def _dpkg_list(package: str) -> tuple[str, ...] | None:
    """``dpkg -L package`` as a tuple of paths; None where dpkg is absent or does not know it."""
    if shutil.which("dpkg") is None:
        return None
    result = subprocess.run(["dpkg", "-L", package], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        return None
    return tuple(line.strip() for line in result.stdout.splitlines() if line.strip())


def dpkg_owners(paths: list[Path]) -> dict[str, set[str]] | None:
    """``dpkg -S``: the packages owning each path (an empty set: owned by none), or None without dpkg.

    dpkg matches the path as written, not through links, so a file reached through a link that
    another package or ``update-alternatives`` made is owned by none.
    """
    if shutil.which("dpkg") is None:
        return None
    owners: dict[str, set[str]] = {str(p): set() for p in paths}
    names = list(owners)
    for start in range(0, len(names), 500):
        result = subprocess.run(["dpkg", "-S", *names[start:start + 500]], capture_output=True,
                                text=True, check=False)
        for line in result.stdout.splitlines():
            if line.startswith("diversion ") or ": " not in line:
                continue
            packages, path = line.split(": ", 1)
            if path in owners:
                owners[path].update(p.strip().split(":")[0] for p in packages.split(","))
    return owners


ASTERISK_MUSIC = DebianSource(
    "asterisk-moh-opsound-wav", Path("/usr/share/asterisk/moh"), "CC-BY-SA-3.0",
    "Music on hold by opsound.org artists (Macroform, Manolo Camp, Reno Project), via Asterisk")
# The package installs its files in en_US_f_Allison/; /usr/share/asterisk/sounds/en is only an
# alternatives link made by asterisk-core-sounds-en, which --no-install-recommends leaves out.
ASTERISK_SPEECH = DebianSource(
    "asterisk-core-sounds-en-wav", Path("/usr/share/asterisk/sounds/en_US_f_Allison"), "CC-BY-SA-3.0",
    "Asterisk core sound prompts (English, voice of Allison Smith), Digium / Sangoma")
HYDROGEN = DebianSource(
    "hydrogen-drumkits", Path("/usr/share/hydrogen/data/drumkits"),
    "per kit (GPL-2+, CC-BY, CC-BY-SA, CC0): see each drumkit.xml",
    "Hydrogen drum kits; authors and licences per kit are listed in metadata.json",
    suffixes=AUDIO_SUFFIXES + (".xml",))
MINETEST = DebianSource(
    "minetest-data", Path("/usr/share/games/minetest/games/minetest_game/mods"), "CC-BY-SA-3.0",
    "Minetest Game sounds by the Minetest contributors (see the package's copyright file)")
LINCITY = DebianSource(
    "lincity-ng-data", Path("/usr/share/games/lincity-ng/sounds"), "GPL-2+",
    "LinCity-NG sounds by the LinCity-NG team")
FREEDESKTOP = DebianSource(
    "sound-theme-freedesktop", Path("/usr/share/sounds/freedesktop/stereo"),
    "CC-BY-SA / GPL-2+ (per file)", "freedesktop.org sound theme contributors")
FLUIDR3 = DebianSource(
    "fluid-soundfont-gm", Path("/usr/share/sounds/sf2"), "MIT", "FluidR3 GM soundfont by Frank Wen",
    suffixes=(".sf2",), pattern="FluidR3_GM.sf2")

WESNOTH_MUSIC = DebianSource(
    "wesnoth-1.16-music", Path("/usr/share/games/wesnoth/1.16/data/core/music"), "GPL-2+",
    "The Battle for Wesnoth's orchestral soundtrack by its composers (see the package's copyright file)",
    suffixes=(".ogg",))

# every Debian source, in the order data_scripts/install_debian_packages.sh verifies them
SOURCES: tuple[DebianSource, ...] = (ASTERISK_MUSIC, ASTERISK_SPEECH, HYDROGEN, MINETEST, LINCITY,
                                     FREEDESKTOP, FLUIDR3, WESNOTH_MUSIC)


def install_hint(packages: list[str], reinstall: bool = False) -> str:
    """The command that installs ``packages`` (Debian / Ubuntu / Colab)."""
    return ("sudo apt-get install " + ("--reinstall " if reinstall else "") + " ".join(packages))


def require(source: DebianSource, what: str) -> None:
    """Raise a clear error when ``source`` is not installed."""
    if not source.available():
        raise SourceError(
            f"{what} needs the Debian package '{source.package}' ({source.root} not found"
            f"{' or the PyPI fallback is forced' if fallback_forced() else ''}). "
            f"Install it with: {install_hint([source.package])} "
            "(or run data_scripts/install_debian_packages.sh)."
        )


def read_mono(path: Path, sample_rate: int | None = None) -> np.ndarray:
    """Read ``path`` as float32 mono (a truncated file is an error), resampled if ``sample_rate``."""
    from audioformers.audio.audio_io import read_file

    audio, rate = read_file(path)
    audio = audio.mean(axis=1)
    if sample_rate is not None and rate != sample_rate:
        audio = resample(audio, rate, sample_rate)
    return audio.astype(np.float32)


def read_excerpt(path: Path, seconds: float, sample_rate: int, skip_seconds: float = 0.0) -> np.ndarray:
    """Float32 mono: ``seconds`` of ``path`` from ``skip_seconds`` on, resampled to ``sample_rate``
    (decodes only that part; a file shorter than the excerpt gives what there is)."""
    import soundfile as sf

    if not seconds > 0 or not skip_seconds >= 0:
        raise ValueError(f"seconds must be > 0 and skip_seconds >= 0, got {seconds!r}, {skip_seconds!r}")
    rate = read_rate(path)
    audio, _ = sf.read(str(path), start=int(skip_seconds * rate), frames=int(seconds * rate), dtype="float32",
                       always_2d=True)
    if not np.isfinite(audio).all():
        raise ValueError(f"{path} holds non-finite samples (NaN or inf) in the excerpt asked for")
    audio = audio.mean(axis=1)
    if len(audio) and rate != sample_rate:
        audio = resample(audio, rate, sample_rate)
    return audio.astype(np.float32)


def read_rate(path: Path) -> int:
    import soundfile as sf

    return int(sf.info(str(path)).samplerate)


def resample(audio: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Band-limited resampling with soxr (>= 100 dB rejection above the new Nyquist frequency)."""
    from audioformers.audio.audio_io import soxr_resample

    return soxr_resample(audio, rate_in, rate_out)  # soxr_resample checks both rates (naming them)


def peak_normalise(audio: np.ndarray, peak: float = 0.99) -> np.ndarray:
    """Scale so that the largest magnitude is ``peak`` (silence stays silence); empty or NaN audio is an error."""
    from audioformers.core.checks import check_float

    audio = check_audio(audio, name="audio", ndim=None)
    peak = check_float("peak", peak, minimum=0.0, strict_minimum=True)
    top = float(np.max(np.abs(audio)))
    return (audio * (peak / top)).astype(np.float32) if top > 0 else audio.astype(np.float32)


def rms(audio: np.ndarray) -> float:
    """Root-mean-square level; empty or NaN audio is an error."""
    audio = check_audio(audio, name="audio", ndim=None)
    return float(np.sqrt(np.mean(np.square(audio, dtype=np.float64))))


def to_int16(audio: np.ndarray) -> np.ndarray:
    """float in [-1, 1] -> int16 PCM (rounded, clipped); empty or NaN audio is an error."""
    audio = check_audio(audio, name="audio", ndim=None)
    return np.clip(np.round(audio * 32767.0), -32768, 32767).astype(np.int16)


def from_int16(audio: np.ndarray) -> np.ndarray:
    """int16 PCM -> float32 in [-1, 1]; empty or NaN audio is an error."""
    audio = check_audio(audio, name="audio", ndim=None)
    return (audio.astype(np.float32) / 32767.0).clip(-1.0, 1.0)


def fit_length(audio: np.ndarray, length: int) -> np.ndarray:
    """Crop or zero-pad to ``length`` samples."""
    out = np.zeros(length, np.float32)
    out[: min(length, len(audio))] = audio[:length]
    return out


def music21_chorales(count: int, sample_rate: int, seconds_per_quarter: float = 0.6,
                     programs: tuple[int, ...] = (19, 0, 48, 71), max_seconds: float | None = None
                     ) -> list[tuple[str, np.ndarray]]:
    """Render the first ``count`` Bach chorales of music21's corpus (PyPI-only music), chorale ``i`` on the
    General-MIDI program ``programs[i % len(programs)]`` (default: church organ, piano, strings, clarinet).

    ``max_seconds``: render only the notes that start before it, into at most that many seconds."""
    try:
        from music21 import corpus
    except ImportError as err:
        raise ImportError("The PyPI fallback needs music21: pip install music21") from err
    from audioformers.data.synth import Note, render_events

    paths = sorted(str(p) for p in corpus.getComposer("bach") if str(p).endswith((".mxl", ".xml")))
    out = []
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
        if max_seconds is not None:
            notes = [n for n in notes if n.start < max_seconds]
        if not notes:
            continue
        seconds = max(n.end for n in notes) + 1.0
        if max_seconds is not None:
            seconds = min(seconds, max_seconds)
        out.append((Path(path).name, render_events(notes, seconds, sample_rate)))
    return out
