"""A task where time scales decide the label: the tempo of four hits of the same drum sound (chapter 5).

Every clip (1 s at 16 kHz) holds four copies of one short drum hit (the first 80 ms of a drums-mini
one-shot, faded out), never overlapping, over a faint noise floor. The label is the inter-onset interval
(IOI): 100, 175 or 250 ms. Each hit is shifted by up to ±10 ms and scaled by its own gain
(−6..0 dB), and the group starts anywhere it fits, so neither one patch position nor the loudness decides
the class: the model must measure spacings of 4–10 patches (25 ms each) between events.

Because every clip is the same four hits over noise, the *bag* of its 25 ms patches carries (almost) no
label information: a model that averages its patches' features without their positions is near chance.
The classical predictor that sees the energy envelope in time order (:func:`baselines`) shows what the
arrangement gives.

The task pools every kit of drums-mini (Hydrogen's 14 kits, whatever split drums-mini gives them) and splits
them again by kit, holding out :data:`TEST_KITS`: 8 kits from 6 authors, with no author on both sides (the
same author's kits share sounds and recording habits, so they are not independent sources). Training clips
use hits of the 6 training kits, test clips hits of the held-out kits, the same number from each kit and every
class in turn within it (``sources`` names the kit: the test sources of the paired intervals, per seed and
kit). The same arguments give the same clips (seeded NumPy generator; no other randomness).

Notebook: chapters/05_wavelet_audio_transformer.ipynb
"""

from __future__ import annotations

import numpy as np

from audioformers import data
from audioformers.audio.audio_io import check_audio
from audioformers.core.checks import check_float, check_int

VERSION = 3  # bump when the clips change: cached runs on older clips are not reused
SAMPLE_RATE = 16000
CLIP_SAMPLES = 16000
HIT_SECONDS = 0.08
FADE_SECONDS = 0.01
IOIS: dict[str, float] = {"ioi 100 ms": 0.100, "ioi 175 ms": 0.175, "ioi 250 ms": 0.250}
CLASSES = list(IOIS)
HITS = 4
JITTER_SECONDS = 0.01  # per-hit shift, uniform in ±this
NOISE_RMS = 0.002      # the noise floor under the hits
#: The held-out (test) kits, chosen by author before any run: drums-mini's test and validation kits, the kits of
#: the same authors (ArtemioLabs: HardElectro1, ElectricEmpireKit; Glen MacArthur: The Black Pearl, Gimme A Hand)
#: and two more small kits. Training keeps ForzeeStereo, BJA_Pacific, circAfrique v4 and emillo's three kits.
TEST_KITS = ("HardElectro1", "ElectricEmpireKit", "The Black Pearl 1.0", "Gimme A Hand 1.0", "rumpf_kit_z01_h2",
             "ColomboAcousticDrumkit", "Audiophob", "VariBreaks")
SPLITS = ("train", "test")


def hits_from(audio: np.ndarray, min_rms: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """The first 80 ms of each one-shot (N, T), faded out over the last 10 ms and peak-normalised.

    Returns (hits (M, 1280), index of the one-shot each came from); one-shots quieter than ``min_rms``
    in those 80 ms are skipped.
    """
    audio = check_audio(audio, name="audio", ndim=2).astype(np.float32, copy=False)
    min_rms = check_float("min_rms", min_rms, minimum=0.0)
    if audio.ndim != 2 or audio.shape[1] < int(HIT_SECONDS * SAMPLE_RATE):
        raise ValueError(f"audio must be (clips, >= {int(HIT_SECONDS * SAMPLE_RATE)} samples), got {audio.shape}")
    n = int(HIT_SECONDS * SAMPLE_RATE)
    fade = int(FADE_SECONDS * SAMPLE_RATE)
    envelope = np.ones(n, np.float32)
    envelope[-fade:] = np.linspace(1.0, 0.0, fade, dtype=np.float32)
    hits = audio[:, :n] * envelope  # (N, n)
    rms = np.sqrt(np.mean(hits.astype(np.float64) ** 2, axis=1))
    keep = np.flatnonzero(rms >= min_rms)
    hits = hits[keep]
    hits /= np.abs(hits).max(1, keepdims=True)
    return hits.astype(np.float32), keep


def render(hit: np.ndarray, ioi: float, start: float, jitter: np.ndarray, gains: np.ndarray) -> np.ndarray:
    """One clip without noise: ``hit`` at ``start + k * ioi + jitter[k]`` seconds (k = 0..3), scaled by ``gains[k]``."""
    if not 0 < ioi < 1:
        raise ValueError(f"ioi must be in seconds, between 0 and 1, got {ioi!r}")
    jitter, gains = np.asarray(jitter, dtype=np.float64), np.asarray(gains, dtype=np.float32)
    if jitter.shape != (HITS,) or gains.shape != (HITS,):
        raise ValueError(f"jitter and gains must hold {HITS} values each, got {jitter.shape} and {gains.shape}")
    clip = np.zeros(CLIP_SAMPLES, np.float32)
    for k in range(HITS):
        onset = start + k * ioi + jitter[k]
        first = int(round(onset * SAMPLE_RATE))
        if first < 0 or first + len(hit) > CLIP_SAMPLES:
            raise ValueError(f"a hit at {onset:.3f} s does not fit in the clip")
        clip[first:first + len(hit)] += gains[k] * hit
    return clip


def kit_hits(split: str) -> tuple[np.ndarray, np.ndarray]:
    """The hits (:func:`hits_from`) of every drums-mini one-shot of the ``split``'s kits (``train``: the kits not in
    :data:`TEST_KITS`; ``test``: those), and the kit each comes from."""
    if split not in SPLITS:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    hits, kits = [], []
    for part in ("train", "val", "test"):  # drums-mini's own splits, pooled and split again by kit
        drums = data.load_clips("drums-mini", part)
        h, origin = hits_from(drums.audio)
        hits.append(h)
        kits.append(np.asarray(drums.sources)[origin])
    hits_all, kits_all = np.concatenate(hits), np.concatenate(kits)
    held_out = np.isin(kits_all, TEST_KITS)
    keep = held_out if split == "test" else ~held_out
    if not keep.any():
        raise ValueError(f"drums-mini has no one-shot loud enough in the {split} kits")
    return hits_all[keep], kits_all[keep]


def make_split(split: str, num_clips: int, seed: int = 0) -> data.ClipSet:
    """``num_clips`` clips from the drum kits of ``split`` (``train``, or ``test``: :data:`TEST_KITS`).

    Classes in turn (clip ``i`` has class ``i mod 3``). Training clips draw their hit from all training kits;
    test clips come in blocks of three (one per class) from one kit, the kits in turn, so every held-out kit
    has the same number of clips and each class equally often (``num_clips`` a multiple of ``3 × kits``)."""
    if split not in SPLITS:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if not (isinstance(num_clips, (int, np.integer)) and not isinstance(num_clips, bool)
            and num_clips >= len(CLASSES)):
        raise ValueError(f"num_clips must be an integer of at least {len(CLASSES)}, got {num_clips!r}")
    seed = check_int("seed", seed, minimum=0)
    hits, kits = kit_hits(split)
    rng = np.random.default_rng([seed, {"train": 0, "test": 2}[split]])
    audio = np.zeros((num_clips, CLIP_SAMPLES), np.float32)
    labels = np.arange(num_clips) % len(CLASSES)
    if split == "train":
        which = rng.integers(0, len(hits), num_clips)
    else:
        names = [k for k in TEST_KITS if k in set(kits.tolist())]
        block_kit = (np.arange(num_clips) // len(CLASSES)) % len(names)
        members = [np.flatnonzero(kits == name) for name in names]
        which = np.array([members[k][rng.integers(0, len(members[k]))] for k in block_kit])
    jitters = rng.uniform(-JITTER_SECONDS, JITTER_SECONDS, (num_clips, HITS))
    gains = (10 ** (rng.uniform(-6.0, 0.0, (num_clips, HITS)) / 20)).astype(np.float32)
    room = HIT_SECONDS + 2 * JITTER_SECONDS + 0.005
    starts = np.array([rng.uniform(JITTER_SECONDS + 0.005, 1.0 - room - (HITS - 1) * IOIS[CLASSES[y]]) for y in labels])
    noise = rng.standard_normal((num_clips, CLIP_SAMPLES)).astype(np.float32) * NOISE_RMS
    for i in range(num_clips):
        audio[i] = render(hits[which[i]], IOIS[CLASSES[labels[i]]], starts[i], jitters[i], gains[i]) + noise[i]
    return data.ClipSet(audio=audio, labels=labels.astype(np.int64), classes=list(CLASSES),
                        sources=np.asarray(kits[which]), sample_rate=SAMPLE_RATE)


def patch_envelope(audio: np.ndarray, patch_samples: int = 400) -> np.ndarray:
    """Log RMS of each non-overlapping patch: (N, T) -> (N, T // patch_samples)."""
    audio = check_audio(audio, name="audio", ndim=2).astype(np.float64, copy=False)
    patch_samples = check_int("patch_samples", patch_samples, minimum=1)
    if audio.shape[1] < patch_samples:
        raise ValueError(f"audio ({audio.shape[1]} samples) is shorter than one patch (patch_samples={patch_samples})")
    n = audio.shape[1] // patch_samples
    patches = audio[:, : n * patch_samples].reshape(len(audio), n, patch_samples)
    return np.log(np.sqrt((patches ** 2).mean(-1)) + 1e-4)


def baselines(train: data.ClipSet, test: data.ClipSet) -> dict[str, float]:
    """Test accuracy of three trivial/classical predictors.

    * ``prior``: the most frequent training label;
    * ``bag_of_patches``: logistic regression on the sorted patch log-RMS values (order thrown away);
    * ``envelope``: logistic regression on the patch log-RMS envelope in time order (a classical onset-pattern
      predictor: it sees the arrangement directly).
    """
    from sklearn.linear_model import LogisticRegression

    prior = float(np.mean(test.labels == np.bincount(train.labels).argmax()))
    env_train, env_test = patch_envelope(train.audio), patch_envelope(test.audio)
    out = {"prior": prior}
    for name, f_train, f_test in (("bag_of_patches", np.sort(env_train, 1), np.sort(env_test, 1)),
                                  ("envelope", env_train, env_test)):
        model = LogisticRegression(max_iter=2000, C=1.0).fit(f_train, train.labels)
        out[name] = float(np.mean(model.predict(f_test) == test.labels))
    return out
