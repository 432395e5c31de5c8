"""Self-checks for chapter 3 (WaveNet vs transformer): causal mask, receptive field, bits per sample.

Each ``check_<exercise>(student_fn)`` compares the student's function with the package (``torch``'s
``is_causal`` attention, :class:`audioformers.wavenet.WaveNetConfig`, :func:`audioformers.nextsample.next_sample_metrics`)
on seeded random inputs and prints ``✓ ...`` or says what is wrong.

Notebook: chapters/03_wavenet_vs_transformer.ipynb (section "Exercises").
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F

from .. import nextsample, wavenet
from ._checking import Exercise, ExerciseFailed, Mistake, call_student, finish, run_trials

CHAPTER = 3


# ------------------------------------------------------------------------------ 1. causal attention mask
def solution_causal_mask(length: int) -> torch.Tensor:
    """Boolean ``(T, T)``: entry ``[i, j]`` is True when position ``i`` may attend to position ``j`` (``j <= i``)."""
    i = torch.arange(length)[:, None]  # (T, 1) query positions
    j = torch.arange(length)[None, :]  # (1, T) key positions
    return j <= i  # (T, T)


def _reference_causal_mask(length: int) -> torch.Tensor:
    """The mask ``F.scaled_dot_product_attention(..., is_causal=True)`` applies (True = may attend)."""
    return torch.ones(length, length, dtype=torch.bool).tril()


MASK_MISTAKES = [
    Mistake(lambda t: torch.ones(t, t, dtype=torch.bool).triu(),
            "not causal: your mask lets position i attend to later positions j > i (the future) and hides the past; use the lower triangle"),
    Mistake(lambda t: torch.ones(t, t, dtype=torch.bool).tril(-1),
            "each position must also attend to itself: include the diagonal (j <= i, not j < i)"),
    Mistake(lambda t: ~torch.ones(t, t, dtype=torch.bool).tril(),
            "inverted: True must mean 'may attend' (torch's convention for a boolean attn_mask); you marked the positions to hide"),
    Mistake(lambda t: torch.ones(t, t, dtype=torch.bool).triu(1),
            "inverted: True must mean 'may attend' (torch's convention for a boolean attn_mask); you marked the positions to hide"),
]


def check_causal_mask(student_fn: Callable[[int], torch.Tensor], raise_on_failure: bool = True) -> bool:
    """Self-check of ``causal_mask(T) -> bool (T, T)``; then the mask must reproduce ``is_causal=True`` attention."""
    cases = [((t,), f"T={t}") for t in (5, 16, 1)]
    if not run_trials("causal_mask", student_fn, _reference_causal_mask, cases, mistakes=MASK_MISTAKES,
                      raise_on_failure=raise_on_failure):
        return False
    gen = torch.Generator().manual_seed(31)
    q, k, v = torch.randn(3, 1, 2, 16, 8, generator=gen)  # each (B, nh, T, hs)
    mask = torch.as_tensor(call_student(student_fn, (16,), "causal_mask", "T=16"))
    same = torch.allclose(F.scaled_dot_product_attention(q, k, v, attn_mask=mask),
                          F.scaled_dot_product_attention(q, k, v, is_causal=True), atol=1e-5)
    problem = None if same else "your mask does not reproduce causal attention inside F.scaled_dot_product_attention"
    return finish("causal_mask", problem, "matches is_causal=True attention", raise_on_failure)


# ------------------------------------------------------------------------------ 2. WaveNet receptive field
def solution_receptive_field(kernel_size: int, dilations: list[int]) -> int:
    """Samples (the current one included) that can influence one output of a stack of dilated causal convolutions."""
    return (kernel_size - 1) * sum(dilations) + 1


RF_MISTAKES = [
    Mistake(lambda k, d: (k - 1) * sum(d), "off by one: count the current sample too (+1)"),
    Mistake(lambda k, d: k * sum(d), "each layer adds (kernel_size - 1) × dilation samples of past, not kernel_size × dilation"),
    Mistake(lambda k, d: (k - 1) * max(d) + 1, "you used only the largest dilation: every layer widens the view, so sum the dilations"),
    Mistake(lambda k, d: k * sum(d) + 1, "each layer adds (kernel_size - 1) × dilation samples of past, not kernel_size × dilation"),
]


def _rf_reference(kernel_size: int, dilations: list[int]) -> int:
    for layers in range(1, 16):  # find the config the dilations came from, and use the package's property
        stacks, rest = divmod(len(dilations), layers)
        config = wavenet.WaveNetConfig(layers_per_stack=layers, num_stacks=max(stacks, 1), kernel_size=kernel_size)
        if rest == 0 and config.dilations == list(dilations):
            return config.receptive_field
    return solution_receptive_field(kernel_size, dilations)


def check_receptive_field(student_fn: Callable[[int, list[int]], int], raise_on_failure: bool = True) -> bool:
    """Self-check of ``receptive_field(kernel_size, dilations) -> int`` against ``WaveNetConfig.receptive_field``."""
    cases = []
    for layers, stacks, kernel in ((10, 1, 2), (8, 2, 2), (5, 3, 3), (1, 1, 2)):
        dilations = wavenet.WaveNetConfig(layers_per_stack=layers, num_stacks=stacks, kernel_size=kernel).dilations
        cases.append(((kernel, dilations), f"{stacks} stack(s) of dilations 1 .. {2 ** (layers - 1)}, kernel_size={kernel}"))
    return run_trials("receptive_field", student_fn, _rf_reference, cases, mistakes=RF_MISTAKES,
                      raise_on_failure=raise_on_failure, integer=True, rtol=0, atol=0)


# ------------------------------------------------------------------------------ 3. bits per sample
def solution_bits_per_sample(logits: torch.Tensor, targets: torch.Tensor) -> float:
    """Mean of ``-log2 p(target)`` over N predictions, from logits ``(N, C)`` and integer targets ``(N,)``."""
    log_probs = torch.log_softmax(logits, dim=-1)  # (N, C) natural log
    picked = log_probs[torch.arange(len(targets)), targets]  # (N,)
    return float(-picked.mean() / math.log(2))


def _bits_cases(seed: int) -> list[tuple[tuple, str]]:
    gen = torch.Generator().manual_seed(seed)
    cases = []
    for n, c, scale in ((64, 256, 3.0), (10, 256, 1.0), (50, 16, 5.0)):
        cases.append(((scale * torch.randn(n, c, generator=gen), torch.randint(0, c, (n,), generator=gen)),
                      f"logits ({n}, {c}), targets ({n},)"))
    return cases


BITS_MISTAKES = [
    Mistake(lambda z, y: float(F.cross_entropy(z, y)), "you return nats (natural log): divide by ln 2 to get bits"),
    Mistake(lambda z, y: float(F.cross_entropy(z, y, reduction="sum") / math.log(2)),
            "you summed over the N predictions: bits per sample is the mean"),
    Mistake(lambda z, y: float(-torch.log_softmax(z, dim=0)[torch.arange(len(y)), y].mean() / math.log(2)),
            "softmax over the wrong axis: normalise over the C classes (dim=-1), not over the N predictions"),
    Mistake(lambda z, y: float(-torch.log2(z[torch.arange(len(y)), y].abs() + 1e-12).mean()),
            "you took the log of raw logits: turn logits into probabilities with a softmax first (log_softmax)"),
]


def check_bits_per_sample(student_fn: Callable[[torch.Tensor, torch.Tensor], float], raise_on_failure: bool = True) -> bool:
    """Self-check of ``bits_per_sample(logits, targets) -> float`` against ``nextsample.next_sample_metrics``."""
    def reference(logits: torch.Tensor, targets: torch.Tensor) -> float:
        if logits.shape[1] >= 5:
            return nextsample.next_sample_metrics(logits, targets)["bits_per_sample"]
        raise ExerciseFailed("need at least 5 classes")  # pragma: no cover - the cases have >= 16
    return run_trials("bits_per_sample", student_fn, reference, _bits_cases(33), mistakes=BITS_MISTAKES,
                      raise_on_failure=raise_on_failure, rtol=1e-4, atol=1e-5)


EXERCISES = {
    "causal_mask": Exercise(CHAPTER, "causal_mask", "A causal attention mask (no peeking at future samples)",
                            check_causal_mask, solution_causal_mask,
                            '''def causal_mask(length):
    """Boolean (T, T) tensor: [i, j] is True when position i may attend to position j."""
    raise NotImplementedError("write causal_mask")

exercises.ch3.check_causal_mask(causal_mask)''', MASK_MISTAKES),
    "receptive_field": Exercise(CHAPTER, "receptive_field", "The receptive field of a stack of dilated causal convolutions",
                                check_receptive_field, solution_receptive_field,
                                '''def receptive_field(kernel_size, dilations):
    """How many samples (the current one included) can influence one output."""
    raise NotImplementedError("write receptive_field")

exercises.ch3.check_receptive_field(receptive_field)''', RF_MISTAKES),
    "bits_per_sample": Exercise(CHAPTER, "bits_per_sample", "Bits per sample from next-sample logits",
                                check_bits_per_sample, solution_bits_per_sample,
                                '''def bits_per_sample(logits, targets):
    """Mean -log2 p(target) from logits (N, C) and integer targets (N,)."""
    raise NotImplementedError("write bits_per_sample")

exercises.ch3.check_bits_per_sample(bits_per_sample)''', BITS_MISTAKES),
}
