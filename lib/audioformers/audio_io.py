"""Audio file I/O through ``soundfile`` (no FFmpeg needed) and input validation.

Every public function of the package that takes audio checks it with :func:`check_audio`,
so bad input fails early with a message that names the problem.

Notebook: ``chapters/02_raw_audio_mulaw.ipynb``.
"""

from __future__ import annotations

from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly


class AudioError(ValueError):
    """Raised for audio that cannot be used: empty, non-finite, wrong shape or range."""


def check_audio(
    waveform: np.ndarray,
    *,
    name: str = "waveform",
    ndim: int | tuple[int, ...] | None = 1,
    unit_range: bool = False,
) -> np.ndarray:
    """Validate audio and return it as a float array.

    Raises :class:`AudioError` when it is empty, has NaN/inf, has the wrong rank, or (with
    ``unit_range``) holds values outside [-1, 1].
    """
    array = np.asarray(waveform)
    if array.dtype.kind not in "fiu":
        raise AudioError(f"{name} must be numeric, got dtype {array.dtype}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if array.ndim not in allowed:
            raise AudioError(f"{name} must have rank {' or '.join(map(str, allowed))}, got shape {array.shape}")
    if array.size == 0:
        raise AudioError(f"{name} is empty (shape {array.shape})")
    if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
        bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
        raise AudioError(f"{name} contains {bad} non-finite values (NaN or inf)")
    if unit_range:
        peak = float(np.max(np.abs(array)))
        if peak > 1.0:
            raise AudioError(f"{name} has values outside [-1, 1] (peak {peak:.3g}); normalise or clip it first")
    return array


def check_sample_rate(sample_rate: int, name: str = "sample_rate") -> int:
    """A positive integer sample rate, or :class:`AudioError`."""
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) or sample_rate <= 0:
        raise AudioError(f"{name} must be a positive integer in Hz, got {sample_rate!r}")
    return int(sample_rate)


def resample(waveform: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Band-limited polyphase resampling (scipy) of a 1-D signal; float32 out."""
    check_audio(waveform)
    orig_sr, target_sr = check_sample_rate(orig_sr, "orig_sr"), check_sample_rate(target_sr, "target_sr")
    if orig_sr == target_sr:
        return np.asarray(waveform, dtype=np.float32)
    g = gcd(orig_sr, target_sr)
    return resample_poly(np.asarray(waveform, dtype=np.float64), target_sr // g, orig_sr // g).astype(np.float32)


def load_audio(path: str | Path, sample_rate: int | None = None) -> tuple[np.ndarray, int]:
    """Read a wav/flac/ogg file as mono float32 in [-1, 1], resampled to ``sample_rate`` if given.

    Returns ``(waveform, sample_rate)``. Errors name the file: missing, unreadable, empty, non-finite.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"audio file not found: {path}")
    if path.is_dir():
        raise AudioError(f"expected an audio file, got a directory: {path}")
    try:
        data, file_sr = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as err:
        raise AudioError(f"cannot read {path} as audio ({err}); supported formats: wav, flac, ogg") from err
    if data.shape[0] == 0:
        raise AudioError(f"audio file {path} contains no samples")
    mono = data.mean(axis=1)
    check_audio(mono, name=str(path))
    if sample_rate is not None and sample_rate != file_sr:
        mono = resample(mono, file_sr, sample_rate)
        file_sr = sample_rate
    return mono.astype(np.float32), int(file_sr)


def save_audio(path: str | Path, waveform: np.ndarray, sample_rate: int, subtype: str = "PCM_16") -> Path:
    """Write mono audio atomically (temporary file, then rename). Values must lie in [-1, 1]."""
    path = Path(path)
    check_audio(waveform, unit_range=True)
    check_sample_rate(sample_rate)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial")
    sf.write(str(tmp), np.asarray(waveform, dtype=np.float32), sample_rate, subtype=subtype, format=path.suffix.lstrip(".").upper() or "WAV")
    tmp.replace(path)
    return path


def peak_normalise(waveform: np.ndarray, peak: float = 0.99) -> np.ndarray:
    """Scale so that max |x| equals ``peak``; silent input raises :class:`AudioError`."""
    array = check_audio(waveform, ndim=None).astype(np.float32)
    top = float(np.max(np.abs(array)))
    if top == 0.0:
        raise AudioError("cannot normalise silent audio (all zeros)")
    return array * (peak / top)
