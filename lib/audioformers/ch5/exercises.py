"""Self-checks for chapter 5 (wavelet audio transformers): 25 ms patches, Haar multi-scale pooling, macro mAP,
pooling over time with a padding mask.

Each ``check_<exercise>(student_fn)`` compares the student's function with :mod:`audioformers.models.wavelet_transformer`
/ :mod:`audioformers.evaluation.metrics` on seeded random inputs and prints ``✓ ...`` or says what is wrong.

Notebook: chapters/05_wavelet_audio_transformer.ipynb (section "Exercises").
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from audioformers.evaluation import metrics
from audioformers.models import wavelet_transformer
from audioformers.core.selfcheck import Exercise, Forbidden, Mistake, run_trials

CHAPTER = 5

# What would replace each exercise's algorithm: patched to raise while the student's function runs (PyWavelets,
# which chapter 5's exercise 2 asks for, is allowed).
HAAR_FORBIDDEN = Forbidden("write the Haar pooling yourself", (
    "audioformers.models.wavelet_transformer.haar_multiscale", "audioformers.models.wavelet_transformer.block_average"))
MAP_FORBIDDEN = Forbidden("compute the average precision yourself", (
    "sklearn.metrics.average_precision_score", "torchmetrics.functional.average_precision",
    "torchmetrics.functional.classification.multilabel_average_precision", "audioformers.evaluation.metrics.average_precision",
    "audioformers.evaluation.metrics.tagging_metrics"), " (rank the clips by score, average the precision at each positive)")
MASK_POOL_FORBIDDEN = Forbidden("write the masked mean yourself", ("audioformers.models.wavelet_transformer.masked_time_mean",))


# ------------------------------------------------------------------------------ 1. waveform -> patches
def solution_patchify(waveform: torch.Tensor, patch_samples: int = 400) -> torch.Tensor:
    """``(B, S)`` audio -> ``(B, P, patch_samples)`` consecutive non-overlapping patches; a ragged tail is dropped."""
    b, s = waveform.shape
    p = s // patch_samples
    return waveform[:, : p * patch_samples].reshape(b, p, patch_samples)  # (B, P, patch)


def _reference_patchify(waveform: torch.Tensor, patch_samples: int) -> torch.Tensor:
    front = wavelet_transformer.PatchFrontEnd(patch_samples, hidden=1, d_model=1)
    captured = {}
    front.wide.register_forward_hook(lambda module, inputs, output: captured.update(patches=inputs[0]))
    with torch.no_grad():
        front(waveform)  # the model's own patching, as the wide layer sees it
    return captured["patches"]  # (B, P, patch)


def _patch_cases(seed: int) -> list[tuple[tuple, str]]:
    gen = torch.Generator().manual_seed(seed)
    return [((torch.randn(2, 16000, generator=gen), 400), "2 clips of 16000 samples (1 s at 16 kHz), 400-sample (25 ms) patches"),
            ((torch.randn(3, 1000, generator=gen), 64), "3 clips of 1000 samples, 64-sample patches (a ragged tail)")]


PATCH_MISTAKES = [
    Mistake(lambda x, n: x[:, : x.shape[1] // n * n].reshape(x.shape[0], n, -1).transpose(1, 2),
            "your patches interleave samples (each holds every P-th sample): reshape to (B, P, patch_samples) directly, so a patch is consecutive samples"),
    Mistake(lambda x, n: x[:, : x.shape[1] // n * n].reshape(x.shape[0], n, -1),
            "axes mixed up: you return (B, patch_samples, P) with interleaved samples; a patch is patch_samples consecutive samples, shape (B, P, patch_samples)"),
    Mistake(lambda x, n: x.unfold(1, n, n // 2), "your patches overlap: they must be non-overlapping (hop = patch_samples)"),
]


def check_patchify(student_fn: Callable[[torch.Tensor, int], torch.Tensor], raise_on_failure: bool = True) -> bool:
    """Self-check of ``patchify(waveform, patch_samples) -> (B, P, patch_samples)`` against the model's front end."""
    return run_trials("patchify", student_fn, _reference_patchify, _patch_cases(51), mistakes=PATCH_MISTAKES,
                      raise_on_failure=raise_on_failure, axes=("clip", "patch", "sample"), rtol=0, atol=0)


# ------------------------------------------------------------------------------ 2. Haar multi-scale pooling
def solution_haar_multiscale(x: torch.Tensor) -> torch.Tensor:
    """``(B, T, C)`` -> ``(B, T, C)``: channel group ``g`` replaced by its block means over windows 1, 2, 4, ..., T.

    The channels are split as ``torch.tensor_split(x, G, dim=2)`` (``np.array_split`` on axis 2) into ``G`` groups,
    one per window (``G = log2(T) + 1`` for a power-of-two ``T``): groups of equal size, the first ``C % G`` groups
    one channel larger (``C = 10``, ``G = 5``: 2 each; ``C = 64``, ``T = 32``, ``G = 6``: 11, 11, 11, 11, 10, 10).
    The self-check uses power-of-two lengths, so a solution built on ``pywt.wavedec`` (chapter 5's exercise) passes too.
    """
    b, t, c = x.shape
    windows, w = [], 1
    while w < t:
        windows.append(w)
        w *= 2
    windows.append(t)  # the last group: one global average
    pooled_groups = []
    for group, window in zip(torch.tensor_split(x, len(windows), dim=2), windows):  # each (B, T, C_g)
        blocks = [group[:, i : i + window].mean(dim=1, keepdim=True).expand(-1, min(window, t - i), -1)
                  for i in range(0, t, window)]  # each (B, len, C_g)
        pooled_groups.append(torch.cat(blocks, dim=1))  # (B, T, C_g)
    return torch.cat(pooled_groups, dim=-1)  # (B, T, C): the groups side by side again


def _haar_cases(seed: int) -> list[tuple[tuple, str]]:
    gen = torch.Generator().manual_seed(seed)
    return [((torch.randn(2, 16, 10, generator=gen),), "x of shape (B=2, T=16, C=10)"),
            ((torch.randn(1, 32, 64, generator=gen),), "x of shape (B=1, T=32, C=64)")]


def _haar_with(x: torch.Tensor, reduce, split=torch.tensor_split) -> torch.Tensor:
    """The Haar pooling with a different block statistic or channel split, for the known mistakes."""
    b, t, c = x.shape
    windows = wavelet_transformer.haar_window_sizes(t)
    out = []
    for group, window in zip(split(x, len(windows), dim=2), windows):
        out.append(torch.cat([reduce(group[:, i : i + window]).expand(-1, min(window, t - i), -1) for i in range(0, t, window)], 1))
    return torch.cat(out, dim=2)


def _haar_tiled(x: torch.Tensor) -> torch.Tensor:
    t = x.shape[1]
    windows = wavelet_transformer.haar_window_sizes(t)
    groups = torch.tensor_split(x, len(windows), dim=2)
    means = [torch.cat([g[:, i : i + w].mean(1, keepdim=True) for i in range(0, t, w)], 1) for g, w in zip(groups, windows)]
    return torch.cat([m.repeat(1, w, 1)[:, :t] for m, w in zip(means, windows)], dim=2)


HAAR_MISTAKES = [
    Mistake(lambda x: _haar_with(x, lambda blk: blk.sum(1, keepdim=True)),
            "you summed each block: the Haar approximation here is the block mean (divide by the number of positions in the block)"),
    Mistake(lambda x: _haar_tiled(x),
            "your block means are tiled (.repeat) instead of each held over its own block (.repeat_interleave): "
            "position t must carry the mean of the block that contains t"),
    Mistake(lambda x: solution_haar_multiscale(x.transpose(1, 2)).transpose(1, 2) if x.shape[1] >= len(wavelet_transformer.haar_window_sizes(x.shape[2])) else x,
            "time and channel axes mixed up: split the channels (last axis) into groups and average over time (axis 1)"),
    Mistake(lambda x: x.mean(dim=1, keepdim=True).expand_as(x), "you averaged every channel over all of time: only the last group is a global average; group g averages over 2**g positions"),
    Mistake(lambda x: _haar_with(x, lambda blk: blk.mean(1, keepdim=True), split=torch.chunk),
            "your channel groups are not the check's: torch.chunk makes groups of ceil(C / G) channels (the last one "
            "smaller); split with torch.tensor_split(x, G, dim=2) (or np.array_split), G groups of equal size, the "
            "first C % G of them one channel larger (C = 64, G = 6: 11, 11, 11, 11, 10, 10)"),
    Mistake(lambda x: wavelet_transformer.haar_multiscale(x), HAAR_FORBIDDEN.message("audioformers.models.wavelet_transformer.haar_multiscale")),
]


def check_haar_multiscale(student_fn: Callable[[torch.Tensor], torch.Tensor], raise_on_failure: bool = True) -> bool:
    """Self-check of ``haar_multiscale(x) -> (B, T, C)`` against :func:`audioformers.models.wavelet_transformer.haar_multiscale`."""
    return run_trials("haar_multiscale", student_fn, wavelet_transformer.haar_multiscale, _haar_cases(52), mistakes=HAAR_MISTAKES,
                      raise_on_failure=raise_on_failure, forbidden=HAAR_FORBIDDEN, axes=("batch", "time", "channel"), rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------------------ 3. macro mean average precision
def solution_macro_map(targets: np.ndarray, scores: np.ndarray) -> float:
    """Mean over classes (with at least one positive) of the average precision of ranking clips by score."""
    aps = []
    for y, s in zip(targets.T, scores.T):  # one class at a time
        if y.sum() == 0:
            continue  # AP is undefined without a positive
        order = np.argsort(-s, kind="mergesort")
        hits = y[order]
        precision_at_hit = np.cumsum(hits)[hits == 1] / (np.flatnonzero(hits == 1) + 1)
        aps.append(precision_at_hit.mean())
    return float(np.mean(aps))


def _map_cases(seed: int) -> list[tuple[tuple, str]]:
    rng = np.random.default_rng(seed)
    cases = []
    for n, c in ((60, 5), (200, 12), (30, 4)):
        targets = (rng.random((n, c)) < 0.25).astype(np.float32)
        targets[:, -1] = 0  # one class without positives
        scores = targets * 0.7 + rng.random((n, c))  # informative, continuous (no ties)
        cases.append(((targets, scores), f"targets/scores ({n} clips, {c} classes; the last class has no positive)"))
    return cases


def _ap(y: np.ndarray, s: np.ndarray) -> float:
    """Average precision of one ranking (NaN without a positive): the known mistakes call no package metric."""
    hits = y[np.argsort(-s, kind="mergesort")]
    return float(np.mean(np.cumsum(hits)[hits == 1] / (np.flatnonzero(hits == 1) + 1))) if hits.sum() else float("nan")


def _per_class_ap(targets: np.ndarray, scores: np.ndarray) -> np.ndarray:
    return np.array([_ap(targets[:, c], scores[:, c]) for c in range(targets.shape[1])])


MAP_MISTAKES = [
    Mistake(lambda y, s: _ap(y.ravel(), s.ravel()),
            "you pooled all classes into one ranking (micro AP): macro mAP computes AP per class, then averages"),
    Mistake(lambda y, s: float(np.nan_to_num(_per_class_ap(y, s)).mean()),
            "a class without positives counted as AP 0: leave such classes out of the average (their AP is undefined)"),
    Mistake(lambda y, s: float(np.mean(((s > 0.5) == (y == 1))[:, y.sum(0) > 0])),
            "that is an accuracy at a 0.5 threshold; AP ranks clips by score with no threshold"),
    Mistake(lambda y, s: float(np.mean([metrics.roc_auc(y[:, c], s[:, c]) for c in range(y.shape[1]) if 0 < y[:, c].sum() < len(y)])),
            "that is the ROC AUC; mAP averages precision at each positive's rank"),
    Mistake(lambda y, s: metrics.tagging_metrics(y, s)["mAP"], MAP_FORBIDDEN.message("audioformers.evaluation.metrics.tagging_metrics")),
]


def check_macro_map(student_fn: Callable[[np.ndarray, np.ndarray], float], raise_on_failure: bool = True) -> bool:
    """Self-check of ``macro_map(targets, scores) -> float`` against :func:`audioformers.evaluation.metrics.tagging_metrics`."""
    return run_trials("macro_map", student_fn, lambda y, s: metrics.tagging_metrics(y, s)["mAP"], _map_cases(53),
                      mistakes=MAP_MISTAKES, raise_on_failure=raise_on_failure, forbidden=MAP_FORBIDDEN, rtol=1e-6, atol=1e-9)


# ------------------------------------------------------------------------------ 4. masked pooling over time
def solution_masked_time_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``(B, T, C)`` embeddings and a boolean ``(B, T)`` mask (True = a real patch, False = padding) -> ``(B, C)``:
    the mean over each clip's real positions only; a clip without any real position gives zeros."""
    weights = mask.to(x.dtype)[:, :, None]  # (B, T, 1)
    count = weights.sum(dim=1).clamp_min(1.0)  # (B, 1) real positions per clip (at least 1: no 0 / 0)
    return (x * weights).sum(dim=1) / count  # (B, C)


def _mask_cases(seed: int) -> list[tuple[tuple, str]]:
    gen = torch.Generator().manual_seed(seed)
    cases = []
    for b, t, c, lengths in ((3, 10, 4, (10, 6, 3)), (4, 40, 16, (40, 25, 1, 0))):
        mask = torch.arange(t)[None, :] < torch.tensor(lengths)[:, None]  # (B, T): clip i has lengths[i] real patches
        cases.append(((torch.randn(b, t, c, generator=gen), mask), f"x ({b}, {t}, {c}), clips with {', '.join(map(str, lengths))} real positions"))
    return cases


MASK_POOL_MISTAKES = [
    Mistake(lambda x, m: x.mean(dim=1), "you averaged over every position, padding included: use only the positions where mask is True"),
    Mistake(lambda x, m: (x * m[:, :, None]).sum(1) / x.shape[1],
            "you zeroed the padding but divided by all T positions: divide by the number of real positions of each clip"),
    Mistake(lambda x, m: solution_masked_time_mean(x, ~m),
            "inverted mask: True marks a real patch (keep it), False the padding (as the model's embed(mask=...))"),
    Mistake(lambda x, m: (x * m[:, :, None]).sum(1) / m.sum(1, keepdim=True),
            "a clip without any real position gives 0 / 0 = NaN: divide by max(count, 1) so such a clip pools to zeros"),
    Mistake(lambda x, m: wavelet_transformer.masked_time_mean(x, m),
            MASK_POOL_FORBIDDEN.message("audioformers.models.wavelet_transformer.masked_time_mean")),
]


def check_masked_time_mean(student_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], raise_on_failure: bool = True) -> bool:
    """Self-check of ``masked_time_mean(x, mask) -> (B, C)`` against :func:`audioformers.models.wavelet_transformer.masked_time_mean`."""
    return run_trials("masked_time_mean", student_fn, wavelet_transformer.masked_time_mean, _mask_cases(54),
                      mistakes=MASK_POOL_MISTAKES, raise_on_failure=raise_on_failure, forbidden=MASK_POOL_FORBIDDEN,
                      axes=("clip", "channel"), rtol=1e-5, atol=1e-6)


EXERCISES = {
    "patchify": Exercise(CHAPTER, "patchify", "One second of audio as 40 patches of 25 ms",
                         check_patchify, solution_patchify,
                         '''def patchify(waveform, patch_samples=400):
    """(B, S) audio -> (B, P, patch_samples) consecutive, non-overlapping patches (drop a ragged tail)."""
    raise NotImplementedError("write patchify")

exercises.ch5.check_patchify(patchify)''', PATCH_MISTAKES),
    "haar_multiscale": Exercise(CHAPTER, "haar_multiscale", "Parameter-free Haar multi-scale pooling",
                                check_haar_multiscale, solution_haar_multiscale,
                                '''def haar_multiscale(x):
    """(B, T, C) -> (B, T, C): split the C channels into G = log2(T) + 1 groups, one per window 1, 2, 4, ..., T, as
    torch.tensor_split(x, G, dim=2) or np.array_split(..., G, axis=2) does (equal groups, the first C % G of them one
    channel larger); group g holds, at each position, the mean of its block of 2**g positions."""
    raise NotImplementedError("write haar_multiscale")

exercises.ch5.check_haar_multiscale(haar_multiscale)''', HAAR_MISTAKES),
    "macro_map": Exercise(CHAPTER, "macro_map", "Macro mean average precision for multi-label tagging",
                          check_macro_map, solution_macro_map,
                          '''def macro_map(targets, scores):
    """Average precision per class (classes with a positive only), averaged over classes."""
    raise NotImplementedError("write macro_map")

exercises.ch5.check_macro_map(macro_map)''', MAP_MISTAKES),
    "masked_time_mean": Exercise(CHAPTER, "masked_time_mean", "Pooling a padded batch: the mean over real patches only",
                                 check_masked_time_mean, solution_masked_time_mean,
                                 '''def masked_time_mean(x, mask):
    """(B, T, C) embeddings and a boolean (B, T) mask (True = a real patch, False = padding) -> (B, C) clip embeddings."""
    raise NotImplementedError("write masked_time_mean")

exercises.ch5.check_masked_time_mean(masked_time_mean)''', MASK_POOL_MISTAKES),
}
