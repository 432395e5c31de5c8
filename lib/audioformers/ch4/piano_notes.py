"""Claim 4c on real piano: too few codes merge two alternating piano chords, more codes separate them -- measured
on every test piece of piano-mini (Bach chorales rendered on a grand piano, one excerpt per piece) instead of one
synthetic clip of two notes.

From each piece we take the two quarter-note segments (0.6 s: the dataset's quarter) whose pitch-class profiles
differ most, alternate them (A B A B ..., ``repeats`` times each), add white noise 30 dB below (as the synthetic
clip: a repeated segment repeats exactly, a recording never does), and pass the clip through the chapter's
tokenizer with k-means of each dictionary size on the clip's own bottleneck vectors
(:func:`audioformers.ch4.features.codes_for_each_k`). Per clip and K: the fraction of patches whose code both
segments use (:func:`audioformers.ch4.features.note_code_table`). The claim *holds* on a clip when that fraction
at the smallest K exceeds the one at the largest K by at least :data:`MARGIN`.

The record is ``results/ch4/two-notes-piano.<profile>.json``; claim 4c reads it (a t interval over the clips of
the fall from the smallest to the largest K, and the count of clips where the claim holds). Command line::

    python -m audioformers.ch4.piano_notes --profile book

Notebook: chapters/04_textless_audio_lm.ipynb (section 4, "How many codes?")
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from audioformers.ch4.config import CHAPTER, SAMPLE_RATE

KS = (2, 4, 16, 64, 256)
SEGMENT_SECONDS = 0.6  # piano-mini's quarter note (its builder's seconds_per_quarter)
REPEATS = 8
SNR_DB = 30.0
MARGIN = 0.10  # the claim holds on a clip when the shared fraction falls by at least 10 points from min K to max K
RECORD = "two-notes-piano"


def pitch_class_profile(segment: np.ndarray, sample_rate: int = SAMPLE_RATE, low_hz: float = 60.0,
                        high_hz: float = 2000.0) -> np.ndarray:
    """Unit-norm 12-bin pitch-class profile of ``segment``: Hann-windowed magnitude spectrum between ``low_hz``
    and ``high_hz``, each bin added to the pitch class of its frequency (A4 = 440 Hz)."""
    from audioformers.audio.audio_io import check_audio

    x = check_audio(segment, ndim=1).astype(np.float64)
    if len(x) < 64:
        raise ValueError(f"segment must hold at least 64 samples, got {len(x)}")
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    freqs = np.fft.rfftfreq(len(x), 1.0 / sample_rate)
    keep = (freqs >= low_hz) & (freqs <= high_hz)
    classes = np.round(12 * np.log2(freqs[keep] / 440.0) + 69).astype(int) % 12
    profile = np.bincount(classes, weights=spectrum[keep], minlength=12)
    norm = np.linalg.norm(profile)
    return profile / norm if norm > 0 else profile


def most_different_pair(clip: np.ndarray, segment_seconds: float = SEGMENT_SECONDS,
                        sample_rate: int = SAMPLE_RATE) -> tuple[int, int, float]:
    """Start indices (in segments) of the two segments of ``clip`` whose pitch-class profiles are furthest apart
    (cosine distance), among segments at least half as loud as the median one, and that distance."""
    from audioformers.audio.audio_io import check_audio

    clip = check_audio(clip, ndim=1)
    n = int(round(segment_seconds * sample_rate))
    count = len(clip) // n
    if count < 2:
        raise ValueError(f"clip must hold at least two {segment_seconds} s segments, got {len(clip) / sample_rate:.2f} s")
    segments = clip[:count * n].reshape(count, n)
    rms = np.sqrt((segments.astype(np.float64) ** 2).mean(axis=1))
    loud = np.flatnonzero(rms >= 0.5 * np.median(rms))
    profiles = np.stack([pitch_class_profile(segments[i], sample_rate) for i in loud])
    distance = 1.0 - profiles @ profiles.T
    i, j = np.unravel_index(int(np.argmax(distance)), distance.shape)
    a, b = sorted((int(loud[i]), int(loud[j])))
    return a, b, float(distance[i, j])


def alternating_clip(clip: np.ndarray, first: int, second: int, repeats: int = REPEATS,
                     segment_seconds: float = SEGMENT_SECONDS, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Segments ``first`` and ``second`` of ``clip`` alternating, ``repeats`` times each (A B A B ...)."""
    from audioformers.core.checks import check_int

    repeats = check_int("repeats", repeats, minimum=1)
    n = int(round(segment_seconds * sample_rate))
    for name, index in (("first", first), ("second", second)):
        check_int(name, index, minimum=0, maximum=len(clip) // n - 1)
    a, b = clip[first * n:(first + 1) * n], clip[second * n:(second + 1) * n]
    return np.concatenate([a, b] * repeats).astype(np.float32)


def clip_table(tok, clip: np.ndarray, ks=KS, seed: int = 0, repeats: int = REPEATS, snr_db: float = SNR_DB) -> dict:
    """The two-segment table of one piece: the pair chosen, and per K the codes used and shared."""
    from audioformers.ch4 import features

    first, second, distance = most_different_pair(clip)
    waveform = features.add_noise(alternating_clip(clip, first, second, repeats), snr_db=snr_db, seed=seed)
    codes_by_k = features.codes_for_each_k(tok, waveform, ks, seed=seed)
    num_patches = len(next(iter(codes_by_k.values())))
    segment_of_patch = features.patch_note_index(num_patches, tok.patch_frames, SEGMENT_SECONDS)
    which = np.minimum(segment_of_patch, 2 * repeats - 1) % 2  # 0: first segment, 1: second
    table = features.note_code_table(codes_by_k, which)
    shared = [row["shared_patch_fraction"] for row in sorted(table, key=lambda r: r["K"])]
    return {"segments": [first, second], "profile_distance": distance, "table": table,
            "fall": shared[0] - shared[-1], "holds": bool(shared[0] - shared[-1] >= MARGIN)}


def max_clips(profile: str) -> int | None:
    """How many test pieces a profile uses: 5 at ``smoke`` (the claim's minimum), all of them otherwise."""
    from audioformers.core.profiles import pick

    return pick(smoke=5, book=None, paper=None, profile=profile)


def run(tok, profile: str, ks=KS, seed: int = 0, device: str = "cpu", tokenizer_note: str = "") -> dict:
    """Every test piece of piano-mini (:func:`max_clips`) through :func:`clip_table`; writes
    ``results/ch4/two-notes-piano``."""
    from audioformers import data
    from audioformers.core.results import write_results

    t = time.perf_counter()
    clips = data.load_wave_mini("piano-mini", "test")[:max_clips(profile)]
    rows = [clip_table(tok, clip, ks, seed) for clip in clips]
    metrics = {"clips": rows, "num_clips": len(rows), "holds": int(sum(r["holds"] for r in rows)),
               "falls": [r["fall"] for r in rows], "margin": MARGIN,
               "what": "two quarter-note segments of a real (rendered) chorale, alternating; k-means per clip"}
    write_results(CHAPTER, RECORD, metrics, config=piano_config(ks, seed, tokenizer_note, max_clips(profile)), seed=seed,
                  profile=profile, device=device, wall_time_s=time.perf_counter() - t)
    return metrics


def piano_config(ks=KS, seed: int = 0, tokenizer_note: str = "", clips: int | None = None) -> dict:
    """The config ``results/ch4/two-notes-piano`` records (checked: whole ``seed`` >= 0, every K a whole number
    >= 2, ``tokenizer_note`` a string)."""
    from audioformers.core.checks import check_int

    check_int("seed", seed, minimum=0)
    if isinstance(ks, (str, bytes)) or not hasattr(ks, "__iter__"):
        raise TypeError(f"ks must be a sequence of whole numbers >= 2, got {type(ks).__name__}")
    ks = [check_int(f"ks[{i}]", k, minimum=2) for i, k in enumerate(ks)]
    if not ks:
        raise ValueError("ks must hold at least one dictionary size")
    if not isinstance(tokenizer_note, str):
        raise TypeError(f"tokenizer_note must be a string, got {type(tokenizer_note).__name__}")
    if clips is not None:
        check_int("clips", clips, minimum=2)
    return {"dataset": "piano-mini", "split": "test", "ks": list(ks), "segment_seconds": SEGMENT_SECONDS,
            "repeats": REPEATS, "snr_db": SNR_DB, "margin": MARGIN, "seed": seed, "tokenizer": tokenizer_note,
            "max_clips": clips}


def tokenizer_note(profile: str) -> str:
    from audioformers.ch4 import config

    return f"the chapter's tokenizer ({config.fold_datasets(profile)[0]}, seed 0)"


def load_or_run(tok, profile: str, device: str = "cpu") -> dict:
    """The stored ``two-notes-piano`` record when its config is this profile's (:func:`audioformers.core.results.
    reuse_or_run`), else run with the chapter's tokenizer ``tok`` (about 30 s on one core)."""
    from audioformers.core.profiles import validate_profile
    from audioformers.core.results import reuse_or_run

    profile = validate_profile(profile)
    note = tokenizer_note(profile)
    return reuse_or_run(CHAPTER, RECORD, profile, piano_config(KS, 0, note, max_clips(profile)),
                        lambda: run(tok, profile, device=str(device), tokenizer_note=note))


def main(argv: list[str] | None = None) -> None:
    from audioformers.ch4 import config, features
    from audioformers.core.profiles import get_profile, validate_profile

    parser = argparse.ArgumentParser(description="Claim 4c on every test piece of piano-mini")
    parser.add_argument("--profile", default=None)
    args = parser.parse_args(argv)
    profile = validate_profile(args.profile or get_profile())
    dataset = config.fold_datasets(profile)[0]
    tok, _ = features.load_or_build_tokenizer(dataset, seed=0, profile=profile, device="cpu")
    metrics = run(tok, profile, tokenizer_note=tokenizer_note(profile))
    for r in metrics["clips"]:
        print(f"segments {r['segments']}: " + ", ".join(f"K={row['K']} {row['shared_patch_fraction']:.0%}"
                                                       for row in sorted(r["table"], key=lambda x: x["K"]))
              + f" -> {'holds' if r['holds'] else 'does not hold'}")
    print(f"holds on {metrics['holds']} of {metrics['num_clips']} clips")


if __name__ == "__main__":
    main()
