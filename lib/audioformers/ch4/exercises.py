"""Self-checks for chapter 4 (textless audio language modelling): k-means codes, NT-Xent, codebook perplexity,
a paired bootstrap interval for comparing two probes on the same test clips.

Each ``check_<exercise>(student_fn)`` compares the student's function with :mod:`audioformers.models.tokenizer` /
:mod:`audioformers.models.contrastive` on seeded random inputs and prints ``✓ ...`` or says what is wrong.

Notebook: chapters/04_textless_audio_lm.ipynb (section "Exercises").
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from audioformers.models import contrastive, tokenizer
from audioformers.core.checks import check_int, check_tokens
from audioformers.core.selfcheck import Exercise, Forbidden, Mistake, run_trials

CHAPTER = 4

# What would replace each exercise's algorithm: patched to raise while the student's function runs.
ASSIGN_FORBIDDEN = Forbidden("find the nearest centres yourself", (
    "sklearn.metrics.pairwise_distances_argmin", "sklearn.metrics.pairwise_distances_argmin_min", "sklearn.cluster.KMeans",
    "scipy.cluster.vq.vq", "audioformers.models.tokenizer.assign_codes"), " (squared distances (N, K), then argmin over K)")
NTX_FORBIDDEN = Forbidden("write the NT-Xent loss yourself", ("audioformers.models.contrastive.nt_xent",))
PERPLEXITY_FORBIDDEN = Forbidden("compute the perplexity yourself", ("audioformers.models.tokenizer.code_usage",))
BOOTSTRAP_FORBIDDEN = Forbidden("write the paired bootstrap yourself", ("scipy.stats.bootstrap",))


# ------------------------------------------------------------------------------ 1. nearest-centre code assignment
def solution_assign_codes(vectors: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Index of the nearest centre (Euclidean) for each vector: ``(N, D)``, ``(K, D)`` -> ``(N,)`` int64."""
    distances = ((vectors[:, None, :] - centres[None, :, :]) ** 2).sum(-1)  # (N, K)
    return distances.argmin(axis=1).astype(np.int64)  # (N,)


def _code_cases(seed: int) -> list[tuple[tuple, str]]:
    rng = np.random.default_rng(seed)
    cases = []
    for n, k, d in ((200, 16, 64), (50, 3, 8), (30, 40, 4)):
        centres = rng.standard_normal((k, d)).astype(np.float32)
        vectors = (centres[rng.integers(0, k, n)] + 0.8 * rng.standard_normal((n, d))).astype(np.float32)
        cases.append(((vectors, centres), f"vectors ({n}, {d}), centres ({k}, {d})"))
    return cases


ASSIGN_MISTAKES = [
    Mistake(lambda x, c: ((x[:, None] - c[None]) ** 2).sum(-1).argmax(1), "you picked the farthest centre (argmax): a code is the nearest centre (argmin)"),
    Mistake(lambda x, c: ((x[:, None] - c[None]) ** 2).sum(-1), "you return the distance matrix (N, K); return the index of the nearest centre for each vector (N,)"),
    Mistake(lambda x, c: (x @ c.T).argmax(1), "you used the largest dot product; the nearest centre in Euclidean distance also depends on the centres' norms: ||x - c||² = ||x||² - 2 x·c + ||c||²"),
    Mistake(lambda x, c: ((x[:, None] - c[None]) ** 2).sum(-1).argmin(0),
            "you took argmin over the vectors (axis 0), which gives one index per centre; take it over the centres (axis 1)"),
    Mistake(lambda x, c: tokenizer.assign_codes(x, c), ASSIGN_FORBIDDEN.message("audioformers.models.tokenizer.assign_codes")),
]


def check_assign_codes(student_fn: Callable[[np.ndarray, np.ndarray], np.ndarray], raise_on_failure: bool = True) -> bool:
    """Self-check of ``assign_codes(vectors, centres) -> (N,) int`` against :func:`audioformers.models.tokenizer.assign_codes`."""
    return run_trials("assign_codes", student_fn, tokenizer.assign_codes, _code_cases(41), mistakes=ASSIGN_MISTAKES,
                      raise_on_failure=raise_on_failure, forbidden=ASSIGN_FORBIDDEN, integer=True, rtol=0, atol=0)


# ------------------------------------------------------------------------------ 2. NT-Xent (SimCLR) loss
def solution_nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.2) -> torch.Tensor:
    """NT-Xent of two views ``(B, D)``: each of the 2B embeddings must pick its partner among the other 2B - 1."""
    b = z1.shape[0]
    views = torch.cat([F.normalize(z1, dim=1), F.normalize(z2, dim=1)])  # (2B, D): each view a unit vector
    sim = views @ views.T / temperature  # (2B, 2B) cosine similarities / temperature
    sim.fill_diagonal_(float("-inf"))  # an embedding is not its own candidate
    partner = (torch.arange(2 * b) + b) % (2 * b)  # (2B,) index of each row's other view
    return F.cross_entropy(sim, partner)


def _ntx_cases(seed: int) -> list[tuple[tuple, str]]:
    gen = torch.Generator().manual_seed(seed)
    cases = []
    for b, d, t in ((8, 16, 0.2), (5, 32, 0.5), (16, 8, 0.1)):
        z1 = torch.randn(b, d, generator=gen)
        z2 = z1 + 0.5 * torch.randn(b, d, generator=gen)
        cases.append(((3.0 * z1, z2, t), f"two views ({b}, {d}), temperature {t}"))
    return cases


def _ntx_unnormalised(z1, z2, t):
    b = z1.shape[0]
    z = torch.cat([z1, z2])
    sim = (z @ z.T / t).masked_fill(torch.eye(2 * b, dtype=torch.bool), float("-inf"))
    return F.cross_entropy(sim, torch.cat([torch.arange(b, 2 * b), torch.arange(b)]))


def _ntx_self_included(z1, z2, t):
    b = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    return F.cross_entropy(z @ z.T / t, torch.cat([torch.arange(b, 2 * b), torch.arange(b)]))


def _ntx_one_direction(z1, z2, t):
    a, b = F.normalize(z1, dim=1), F.normalize(z2, dim=1)
    return F.cross_entropy(a @ b.T / t, torch.arange(len(z1)))


NTX_MISTAKES = [
    Mistake(lambda z1, z2, t: solution_nt_xent(z1, z2, 1.0), "the temperature is missing: divide the similarities by it"),
    Mistake(lambda z1, z2, t: _ntx_unnormalised(z1, z2, t),
            "you used raw dot products: normalise the embeddings to unit length first (cosine similarity)"),
    Mistake(lambda z1, z2, t: _ntx_self_included(z1, z2, t),
            "each embedding is compared with itself too: mask the diagonal (set it to -inf) so the 2B - 1 others are the candidates"),
    Mistake(lambda z1, z2, t: _ntx_one_direction(z1, z2, t),
            "you only compare view 1 with view 2 (B x B): NT-Xent uses all 2B embeddings, so other samples of the same view are negatives too"),
    Mistake(lambda z1, z2, t: contrastive.nt_xent(z1, z2, t), NTX_FORBIDDEN.message("audioformers.models.contrastive.nt_xent")),
]


def check_nt_xent(student_fn: Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor], raise_on_failure: bool = True) -> bool:
    """Self-check of ``nt_xent(z1, z2, temperature) -> scalar`` against :func:`audioformers.models.contrastive.nt_xent`."""
    return run_trials("nt_xent", student_fn, contrastive.nt_xent, _ntx_cases(42), mistakes=NTX_MISTAKES,
                      raise_on_failure=raise_on_failure, forbidden=NTX_FORBIDDEN, rtol=1e-4, atol=1e-5)


# ------------------------------------------------------------------------------ 3. codebook perplexity
def solution_code_perplexity(codes: np.ndarray, num_codes: int) -> float:
    """``exp(entropy)`` (natural log) of how often each of ``num_codes`` codes is used: 1 .. num_codes."""
    # the argument checks of the package's own functions (not part of the exercise)
    num_codes = check_int("num_codes", num_codes, minimum=1)
    codes = check_tokens("codes", codes, num_codes).cpu().numpy()
    counts = np.bincount(codes.ravel(), minlength=num_codes)
    p = counts[counts > 0] / counts.sum()
    return float(np.exp(-(p * np.log(p)).sum()))


def _perplexity_cases(seed: int) -> list[tuple[tuple, str]]:
    rng = np.random.default_rng(seed)
    skewed = rng.choice(16, size=500, p=np.r_[0.5, np.full(15, 0.5 / 15)])
    return [((rng.integers(0, 16, 1000), 16), "1000 codes uniform over 16"),
            ((skewed, 16), "500 codes, half of them code 0"),
            ((rng.integers(0, 4, (20, 30)), 64), "codes (20, 30) using 4 of 64")]


def _code_probabilities(codes: np.ndarray, num_codes: int) -> np.ndarray:
    counts = np.bincount(np.asarray(codes).ravel(), minlength=num_codes)
    return counts[counts > 0] / counts.sum()  # the non-zero probabilities


PERPLEXITY_MISTAKES = [
    Mistake(lambda c, k: float(-(_code_probabilities(c, k) * np.log(_code_probabilities(c, k))).sum()),
            "you return the entropy (in nats); the perplexity is exp(entropy)"),
    Mistake(lambda c, k: float(-(_code_probabilities(c, k) * np.log2(_code_probabilities(c, k))).sum()),
            "you return the entropy in bits; the perplexity is 2 ** (entropy in bits) = exp(entropy in nats)"),
    Mistake(lambda c, k: float(len(np.unique(c))), "you count the codes used; perplexity weighs them by how often they are used: exp(entropy)"),
    Mistake(lambda c, k: float(np.exp(-(_code_probabilities(c, k) * np.log2(_code_probabilities(c, k))).sum())),
            "you mixed bases: entropy in bits (log2) but exp() to undo it; use log and exp, or log2 and 2 **"),
    Mistake(lambda c, k: tokenizer.code_usage(c, k)[1], PERPLEXITY_FORBIDDEN.message("audioformers.models.tokenizer.code_usage")),
]


def check_code_perplexity(student_fn: Callable[[np.ndarray, int], float], raise_on_failure: bool = True) -> bool:
    """Self-check of ``code_perplexity(codes, num_codes) -> float`` against :func:`audioformers.models.tokenizer.code_usage`."""
    return run_trials("code_perplexity", student_fn, lambda c, k: tokenizer.code_usage(c, k)[1], _perplexity_cases(43),
                      mistakes=PERPLEXITY_MISTAKES, raise_on_failure=raise_on_failure, forbidden=PERPLEXITY_FORBIDDEN, rtol=1e-6, atol=1e-9)


# ------------------------------------------------------------------------------ 4. paired bootstrap interval
def solution_paired_bootstrap(correct_a: np.ndarray, correct_b: np.ndarray, num_resamples: int = 2000, seed: int = 0) -> np.ndarray:
    """95% percentile-bootstrap interval ``[low, high]`` of accuracy(a) - accuracy(b) on the same N test items.

    The resamples are drawn in one call, ``np.random.default_rng(seed).integers(0, N, size=(num_resamples, N))``,
    and each row of item indices scores *both* models (paired): per-item difficulty cancels in the difference.
    """
    n = len(correct_a)
    items = np.random.default_rng(seed).integers(0, n, size=(num_resamples, n))  # (R, N) resampled test sets
    differences = correct_a[items].mean(axis=1) - correct_b[items].mean(axis=1)  # (R,)
    return np.percentile(differences, [2.5, 97.5])  # (2,)


def _reference_paired_bootstrap(correct_a: np.ndarray, correct_b: np.ndarray, num_resamples: int = 2000, seed: int = 0) -> np.ndarray:
    a, b = np.asarray(correct_a, dtype=np.float64), np.asarray(correct_b, dtype=np.float64)
    items = np.random.default_rng(seed).integers(0, len(a), size=(num_resamples, len(a)))
    differences = np.array([a[row].mean() - b[row].mean() for row in items])  # one resampled test set at a time
    return np.quantile(differences, [0.025, 0.975])


def _bootstrap_cases(seed: int) -> list[tuple[tuple, str]]:
    rng = np.random.default_rng(seed)
    cases = []
    for n, p_a, p_b, r in ((200, 0.62, 0.55, 2000), (57, 0.7, 0.7, 500), (400, 0.4, 0.48, 1000)):
        difficulty = rng.random(n)  # shared per-item difficulty: the two models' errors are correlated
        correct_a = (rng.random(n) * 0.5 + difficulty * 0.5 < p_a).astype(np.float64)
        correct_b = (rng.random(n) * 0.5 + difficulty * 0.5 < p_b).astype(np.float64)
        cases.append(((correct_a, correct_b, r, int(rng.integers(100))), f"{n} items, accuracies about {p_a} and {p_b}, {r} resamples"))
    return cases


def _bootstrap_differences(a, b, r, seed):
    items = np.random.default_rng(seed).integers(0, len(a), size=(r, len(a)))
    return a[items].mean(axis=1) - b[items].mean(axis=1)


def _unpaired(a, b, r, seed):
    rng = np.random.default_rng(seed)
    items_a, items_b = rng.integers(0, len(a), size=(r, len(a))), rng.integers(0, len(b), size=(r, len(b)))
    return np.percentile(a[items_a].mean(axis=1) - b[items_b].mean(axis=1), [2.5, 97.5])


BOOTSTRAP_MISTAKES = [
    Mistake(_unpaired, "you resampled the two models' test items independently: pair them — one resampled set of items "
                       "scored by both models (a[items] and b[items]); pairing cancels per-item difficulty and narrows the interval"),
    Mistake(lambda a, b, r, s: np.percentile(_bootstrap_differences(a, b, r, s), [5, 95]),
            "that is a 90% interval (5th to 95th percentile): a 95% interval takes the 2.5th and 97.5th percentiles"),
    Mistake(lambda a, b, r, s: np.percentile(-_bootstrap_differences(a, b, r, s), [2.5, 97.5]),
            "the difference is upside down: accuracy(a) - accuracy(b), you computed b - a"),
    Mistake(lambda a, b, r, s: (lambda d: np.array([d.mean() - 1.96 * d.std(), d.mean() + 1.96 * d.std()]))(_bootstrap_differences(a, b, r, s)),
            "you used mean ± 1.96 standard deviations (a normal approximation): the percentile bootstrap reads the "
            "2.5th and 97.5th percentiles of the resampled differences"),
    Mistake(lambda a, b, r, s: (lambda d: np.array([d.mean() - 1.96 * d.std(ddof=1), d.mean() + 1.96 * d.std(ddof=1)]))(_bootstrap_differences(a, b, r, s)),
            "you used mean ± 1.96 standard deviations (a normal approximation): the percentile bootstrap reads the "
            "2.5th and 97.5th percentiles of the resampled differences"),
    Mistake(lambda a, b, r, s: np.percentile(_bootstrap_differences(a, np.zeros_like(b), r, s), [2.5, 97.5]),
            "that is the interval of model a's accuracy alone: bootstrap the difference accuracy(a) - accuracy(b)"),
]


def check_paired_bootstrap(student_fn: Callable[[np.ndarray, np.ndarray, int, int], np.ndarray], raise_on_failure: bool = True) -> bool:
    """Self-check of ``paired_bootstrap(correct_a, correct_b, num_resamples, seed) -> [low, high]`` (95%, percentile)."""
    return run_trials("paired_bootstrap", student_fn, _reference_paired_bootstrap, _bootstrap_cases(44), mistakes=BOOTSTRAP_MISTAKES,
                      raise_on_failure=raise_on_failure, forbidden=BOOTSTRAP_FORBIDDEN, rtol=1e-9, atol=1e-12)


EXERCISES = {
    "assign_codes": Exercise(CHAPTER, "assign_codes", "k-means codes: the nearest centre of each patch embedding",
                             check_assign_codes, solution_assign_codes,
                             '''def assign_codes(vectors, centres):
    """Index of the nearest centre (Euclidean) for each vector: (N, D), (K, D) -> (N,) integers."""
    raise NotImplementedError("write assign_codes")

exercises.ch4.check_assign_codes(assign_codes)''', ASSIGN_MISTAKES),
    "nt_xent": Exercise(CHAPTER, "nt_xent", "The NT-Xent (SimCLR) contrastive loss",
                        check_nt_xent, solution_nt_xent,
                        '''def nt_xent(z1, z2, temperature=0.2):
    """Two views (B, D) -> scalar loss: each of the 2B embeddings must pick its partner among the other 2B - 1."""
    raise NotImplementedError("write nt_xent")

exercises.ch4.check_nt_xent(nt_xent)''', NTX_MISTAKES),
    "code_perplexity": Exercise(CHAPTER, "code_perplexity", "Codebook perplexity: how many codes are really used",
                                check_code_perplexity, solution_code_perplexity,
                                '''def code_perplexity(codes, num_codes):
    """exp(entropy) of the code histogram: 1 if one code is always used, num_codes if all are used equally."""
    raise NotImplementedError("write code_perplexity")

exercises.ch4.check_code_perplexity(code_perplexity)''', PERPLEXITY_MISTAKES),
    "paired_bootstrap": Exercise(CHAPTER, "paired_bootstrap", "A paired bootstrap interval: is probe a really better than probe b?",
                                 check_paired_bootstrap, solution_paired_bootstrap,
                                 '''def paired_bootstrap(correct_a, correct_b, num_resamples=2000, seed=0):
    """95% percentile-bootstrap interval [low, high] of accuracy(a) - accuracy(b), from two 0/1 arrays (N,) that
    score two models on the same N test items. Draw all resamples in one call:
    np.random.default_rng(seed).integers(0, N, size=(num_resamples, N))."""
    raise NotImplementedError("write paired_bootstrap")

exercises.ch4.check_paired_bootstrap(paired_bootstrap)''', BOOTSTRAP_MISTAKES),
}
