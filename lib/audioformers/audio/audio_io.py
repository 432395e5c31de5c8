"""Audio file I/O through ``soundfile`` (no FFmpeg needed) and input validation.

Every public function of the package that takes audio checks it with :func:`check_audio`,
so bad input fails early with a message that names the problem.

Notebook: ``chapters/02_raw_audio_mulaw.ipynb``.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import soundfile as sf


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
    """A positive whole number of Hz (an int, a numpy integer or a float such as ``16e3``), as int.

    Anything else (``-8000``, ``0``, ``8000.5``, NaN, ``True``, a string) is an :class:`AudioError`
    that names the argument.
    """
    if isinstance(sample_rate, (bool, np.bool_)) or not isinstance(sample_rate, (int, float, np.integer,
                                                                                  np.floating)):
        raise AudioError(f"{name} must be a positive whole number of Hz, got {sample_rate!r} "
                         f"({type(sample_rate).__name__})")
    if not np.isfinite(sample_rate) or sample_rate <= 0 or float(sample_rate) != int(sample_rate):
        raise AudioError(f"{name} must be a positive whole number of Hz, got {sample_rate!r}")
    return int(sample_rate)


def soxr_resample(audio: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Resample a 1-D or (frames, channels) float signal with soxr ("HQ"); float32 out.

    soxr's high-quality filter keeps the pass band flat to 0.01 dB up to 90 % of the lower Nyquist
    frequency and rejects everything above it by more than 130 dB (tested with tones in
    ``test_audio_io.py``); scipy's ``resample_poly`` default let tones just above the new Nyquist
    frequency through at -14 to -31 dB.
    """
    import soxr

    rate_in, rate_out = check_sample_rate(rate_in, "rate_in"), check_sample_rate(rate_out, "rate_out")
    audio = np.asarray(audio)
    if audio.ndim not in (1, 2) or (audio.ndim == 2 and audio.shape[1] == 0):
        raise AudioError(f"audio must be 1-D or (frames, channels) with at least one channel, got shape {audio.shape}")
    if audio.size and audio.dtype.kind in "fc" and not np.isfinite(audio).all():
        raise AudioError("audio contains NaN or infinite values: resampling would spread them over the signal")
    if rate_in == rate_out or audio.shape[0] == 0:
        return audio.astype(np.float32)
    return soxr.resample(np.ascontiguousarray(audio, dtype=np.float64), rate_in, rate_out,
                         quality="HQ").astype(np.float32)


def resample(waveform: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Band-limited resampling (soxr, > 130 dB rejection above the new Nyquist) of a 1-D signal."""
    check_audio(waveform)
    orig_sr, target_sr = check_sample_rate(orig_sr, "orig_sr"), check_sample_rate(target_sr, "target_sr")
    return soxr_resample(waveform, orig_sr, target_sr)


def _declared_wav_frames(path: Path, frame_bytes: int) -> int | None:
    """Frames that a RIFF/WAVE header says its ``data`` chunk holds (None: not a plain WAV, or a size
    left unknown by a streaming writer)."""
    with path.open("rb") as handle:
        head = handle.read(12)
        if len(head) < 12 or head[:4] not in (b"RIFF", b"RIFX") or head[8:12] != b"WAVE":
            return None
        order = "little" if head[:4] == b"RIFF" else "big"
        while True:
            chunk = handle.read(8)
            if len(chunk) < 8:
                return None
            size = int.from_bytes(chunk[4:], order)
            if chunk[:4] == b"data":
                if size in (0, 0xFFFFFFFF, 0x7FFFFFFF) or frame_bytes <= 0:
                    return None  # unknown length (streamed): nothing to compare with
                return size // frame_bytes
            handle.seek(size + (size & 1), 1)


_PCM_BYTES = {"PCM_U8": 1, "PCM_S8": 1, "PCM_16": 2, "PCM_24": 3, "PCM_32": 4, "FLOAT": 4, "DOUBLE": 8,
              "ULAW": 1, "ALAW": 1}


def read_file(path: str | Path) -> tuple[np.ndarray, int]:
    """Read an audio file as float32 ``(frames, channels)`` and its sample rate.

    Errors name the file: missing, a directory, unreadable, **truncated** (a WAV whose header
    promises more samples than the file holds, or a file that ends before its stated length),
    or holding no samples.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"audio file not found: {path}")
    if path.is_dir():
        raise AudioError(f"expected an audio file, got a directory: {path}")
    try:
        with sf.SoundFile(str(path)) as handle:
            rate, channels, stated, subtype = handle.samplerate, handle.channels, handle.frames, handle.subtype
            data = handle.read(dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as err:
        raise AudioError(f"cannot read {path} as audio ({err}): the file is damaged or truncated, "
                         "or not one of the supported formats wav, flac, ogg") from err
    declared = _declared_wav_frames(path, _PCM_BYTES.get(subtype, 0) * channels)
    if declared is not None and declared > data.shape[0]:
        raise AudioError(f"{path} is truncated: its header promises {declared} samples "
                         f"({declared / rate:.3f} s) but it holds {data.shape[0]} "
                         f"({data.shape[0] / rate:.3f} s); was the copy or download interrupted?")
    if stated > 0 and data.shape[0] < stated:
        raise AudioError(f"{path} is truncated: {stated} samples stated, {data.shape[0]} readable")
    if data.shape[0] == 0:
        raise AudioError(f"audio file {path} contains no samples")
    if not np.isfinite(data).all():  # a float file can hold NaN or inf: never returned as samples
        bad = int(data.size - np.count_nonzero(np.isfinite(data)))
        raise AudioError(f"{path} holds {bad} non-finite samples (NaN or inf)")
    return data, int(rate)


def load_audio(path: str | Path, sample_rate: int | None = None) -> tuple[np.ndarray, int]:
    """Read a wav/flac/ogg file as mono float32 in [-1, 1], resampled to ``sample_rate`` if given.

    Returns ``(waveform, sample_rate)``. Errors name the file: missing, unreadable, truncated, empty,
    non-finite. A file whose samples go beyond full scale (a float file with overs) is **clipped** to
    [-1, 1] with a warning that names the file, the peak and how many samples were clipped. The
    small overshoot that band-limited resampling can add to a full-scale signal is clipped silently.
    """
    if sample_rate is not None:
        sample_rate = check_sample_rate(sample_rate, "sample_rate")
    path = Path(path)
    data, file_sr = read_file(path)
    mono = data.mean(axis=1)
    check_audio(mono, name=str(path))
    peak = float(np.max(np.abs(mono)))
    if peak > 1.0:
        over = int(np.count_nonzero(np.abs(mono) > 1.0))
        warnings.warn(f"{path}: {over} samples beyond full scale (peak {peak:.3g}) were clipped to [-1, 1]",
                      stacklevel=2)
        mono = np.clip(mono, -1.0, 1.0)
    if sample_rate is not None and sample_rate != file_sr:
        mono = np.clip(soxr_resample(mono, file_sr, sample_rate), -1.0, 1.0)
        file_sr = sample_rate
    return mono.astype(np.float32), int(file_sr)


def save_audio(path: str | Path, waveform: np.ndarray, sample_rate: int, subtype: str = "PCM_16") -> Path:
    """Write mono audio atomically (temporary file, then rename). Values must lie in [-1, 1]."""
    path = Path(path)
    check_audio(waveform, unit_range=True)
    sample_rate = check_sample_rate(sample_rate)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial")
    sf.write(str(tmp), np.asarray(waveform, dtype=np.float32), sample_rate, subtype=subtype, format=path.suffix.lstrip(".").upper() or "WAV")
    tmp.replace(path)
    return path


def peak_normalise(waveform: np.ndarray, peak: float = 0.99) -> np.ndarray:
    """Scale so that max |x| equals ``peak``; silent input raises :class:`AudioError`."""
    array = check_audio(waveform, ndim=None).astype(np.float32)
    from audioformers.core.checks import check_float

    peak = check_float("peak", peak, minimum=0.0, strict_minimum=True)
    top = float(np.max(np.abs(array)))
    if top == 0.0:
        raise AudioError("cannot normalise silent audio (all zeros)")
    return array * (peak / top)
