"""Self-checks for chapter 4 (textless audio language modelling): k-means codes, NT-Xent, codebook perplexity.

Each ``check_<exercise>(student_fn)`` compares the student's function with :mod:`audioformers.tokenizer` /
:mod:`audioformers.contrastive` on seeded random inputs and prints ``✓ ...`` or says what is wrong.

Notebook: chapters/04_textless_audio_lm.ipynb (section "Exercises").
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from .. import contrastive, tokenizer
from ._checking import Exercise, Mistake, run_trials

CHAPTER = 4


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
]


def check_assign_codes(student_fn: Callable[[np.ndarray, np.ndarray], np.ndarray], raise_on_failure: bool = True) -> bool:
    """Self-check of ``assign_codes(vectors, centres) -> (N,) int`` against :func:`audioformers.tokenizer.assign_codes`."""
    return run_trials("assign_codes", student_fn, tokenizer.assign_codes, _code_cases(41), mistakes=ASSIGN_MISTAKES,
                      raise_on_failure=raise_on_failure, integer=True, rtol=0, atol=0)


# ------------------------------------------------------------------------------ 2. NT-Xent (SimCLR) loss
def solution_nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.2) -> torch.Tensor:
    """NT-Xent of two views ``(B, D)``: each of the 2B embeddings must pick its partner among the other 2B - 1."""
    b = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=1)  # (2B, D) unit vectors
    sim = z @ z.T / temperature  # (2B, 2B) cosine similarities / temperature
    sim.fill_diagonal_(float("-inf"))  # an embedding is not its own candidate
    partner = torch.cat([torch.arange(b, 2 * b), torch.arange(b)])  # (2B,) index of each row's other view
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
    Mistake(lambda z1, z2, t: contrastive.nt_xent(z1, z2, 1.0), "the temperature is missing: divide the similarities by it"),
    Mistake(lambda z1, z2, t: _ntx_unnormalised(z1, z2, t),
            "you used raw dot products: normalise the embeddings to unit length first (cosine similarity)"),
    Mistake(lambda z1, z2, t: _ntx_self_included(z1, z2, t),
            "each embedding is compared with itself too: mask the diagonal (set it to -inf) so the 2B - 1 others are the candidates"),
    Mistake(lambda z1, z2, t: _ntx_one_direction(z1, z2, t),
            "you only compare view 1 with view 2 (B x B): NT-Xent uses all 2B embeddings, so other samples of the same view are negatives too"),
]


def check_nt_xent(student_fn: Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor], raise_on_failure: bool = True) -> bool:
    """Self-check of ``nt_xent(z1, z2, temperature) -> scalar`` against :func:`audioformers.contrastive.nt_xent`."""
    return run_trials("nt_xent", student_fn, contrastive.nt_xent, _ntx_cases(42), mistakes=NTX_MISTAKES,
                      raise_on_failure=raise_on_failure, rtol=1e-4, atol=1e-5)


# ------------------------------------------------------------------------------ 3. codebook perplexity
def solution_code_perplexity(codes: np.ndarray, num_codes: int) -> float:
    """``exp(entropy)`` (natural log) of how often each of ``num_codes`` codes is used: 1 .. num_codes."""
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
]


def check_code_perplexity(student_fn: Callable[[np.ndarray, int], float], raise_on_failure: bool = True) -> bool:
    """Self-check of ``code_perplexity(codes, num_codes) -> float`` against :func:`audioformers.tokenizer.code_usage`."""
    return run_trials("code_perplexity", student_fn, lambda c, k: tokenizer.code_usage(c, k)[1], _perplexity_cases(43),
                      mistakes=PERPLEXITY_MISTAKES, raise_on_failure=raise_on_failure, rtol=1e-6, atol=1e-9)


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
}
