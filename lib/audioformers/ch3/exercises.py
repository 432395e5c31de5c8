"""Self-checks for chapter 3 (WaveNet vs transformer): causal mask, receptive field, bits per sample, a key/value cache.

Each ``check_<exercise>(student_fn)`` compares the student's function with the package (``torch``'s
``is_causal`` attention, :class:`audioformers.models.wavenet.WaveNetConfig`, :func:`audioformers.ch3.experiment.next_sample_metrics`)
on seeded random inputs and prints ``✓ ...`` or says what is wrong.

Notebook: chapters/03_wavenet_vs_transformer.ipynb (section "Exercises").
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F

from audioformers.ch3 import experiment as nextsample
from audioformers.models import wavenet
from audioformers.core.selfcheck import Exercise, ExerciseFailed, Forbidden, Mistake, call_student, diagnose, finish, run_trials

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
    Mistake(lambda t: torch.ones(t, t, dtype=torch.bool),
            "your mask is True everywhere: every position may attend to every other, the future included, so the model "
            "could read the sample it must predict; keep j <= i only (the lower triangle with its diagonal, torch.tril)"),
    Mistake(lambda t: torch.zeros(t, t).masked_fill(torch.ones(t, t, dtype=torch.bool).triu(1), float("-inf")),
            "you return an additive float mask (0 and -inf), the kind added to the scores: this exercise asks for a "
            "boolean mask, True where position i may attend to j (your mask == 0 gives it)"),
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
    *[Mistake(fn, "2 ** layers is the receptive field of one stack with kernel_size 2 and dilations 1, 2, ..., "
                  "2 ** (layers - 1) only; in general each layer adds (kernel_size - 1) × its dilation: "
                  "(kernel_size - 1) × sum(dilations) + 1 (with several stacks the dilations repeat, and each adds its part)")
      for fn in (lambda k, d: 2 ** len(d), lambda k, d: 2 ** len(set(d)), lambda k, d: 2 * max(d))],
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


BITS_FORBIDDEN = Forbidden("compute the bits per sample yourself", ("audioformers.ch3.experiment.next_sample_metrics",
                                                                  "audioformers.ch3.scoring.next_sample_metrics"))
BITS_MISTAKES.append(Mistake(lambda z, y: nextsample.next_sample_metrics(z, y)["bits_per_sample"],
                             BITS_FORBIDDEN.message("audioformers.ch3.experiment.next_sample_metrics")))


def check_bits_per_sample(student_fn: Callable[[torch.Tensor, torch.Tensor], float], raise_on_failure: bool = True) -> bool:
    """Self-check of ``bits_per_sample(logits, targets) -> float`` against ``nextsample.next_sample_metrics``."""
    def reference(logits: torch.Tensor, targets: torch.Tensor) -> float:
        if logits.shape[1] >= 5:
            return nextsample.next_sample_metrics(logits, targets)["bits_per_sample"]
        raise ExerciseFailed("need at least 5 classes")  # pragma: no cover - the cases have >= 16
    return run_trials("bits_per_sample", student_fn, reference, _bits_cases(33), mistakes=BITS_MISTAKES,
                      raise_on_failure=raise_on_failure, forbidden=BITS_FORBIDDEN, rtol=1e-4, atol=1e-5)


# ------------------------------------------------------------------------------ 4. key/value cache
def solution_attend_with_cache(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, cache: dict) -> torch.Tensor:
    """One new position: ``q, k, v`` each ``(B, nh, 1, hs)``; ``cache`` a dict, empty before the first position.

    Append ``k`` and ``v`` to the cache (keys ``"k"`` and ``"v"``, time on axis 2), then let the one new query
    attend to every cached position, itself included: softmax(q Kᵀ / √hs) V, shape ``(B, nh, 1, hs)``.
    """
    if "k" in cache:
        k = torch.cat([cache["k"], k], dim=2)  # (B, nh, T_so_far, hs)
        v = torch.cat([cache["v"], v], dim=2)  # (B, nh, T_so_far, hs)
    cache["k"], cache["v"] = k, v
    scores = torch.einsum("bhqd,bhkd->bhqk", q, k) / math.sqrt(k.shape[-1])  # (B, nh, 1, T_so_far)
    return torch.softmax(scores, dim=-1) @ v  # (B, nh, 1, hs)


def _steps(attend: Callable, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, call=None) -> torch.Tensor:
    """Feed ``(B, nh, T, hs)`` queries, keys and values to ``attend`` one position at a time -> ``(B, nh, T, hs)``."""
    call = call or (lambda args: attend(*args))
    cache: dict = {}
    return torch.cat([torch.as_tensor(call((q[:, :, t : t + 1], k[:, :, t : t + 1], v[:, :, t : t + 1], cache)))
                      for t in range(q.shape[2])], dim=2)


@torch.no_grad()
def cached_logits(model, tokens: torch.Tensor, attend: Callable, call=None) -> torch.Tensor:
    """Logits ``(B, T, 256)`` of a :class:`~audioformers.models.sample_transformer.SampleTransformer`, computed one token at a
    time with one cache per block and ``attend`` as the attention of each new position (the way generation runs)."""
    call = call or (lambda args: attend(*args))
    b, t = tokens.shape
    caches = [dict() for _ in model.blocks]
    out = []
    for position in range(t):
        x = model.embed(tokens[:, position : position + 1]) + model.position(torch.tensor([position]))  # (B, 1, C)
        for block, cache in zip(model.blocks, caches):
            q, k, v = block._heads(x)  # each (B, nh, 1, hs)
            y = torch.as_tensor(call((q, k, v, cache))).transpose(1, 2).reshape(b, 1, -1)  # (B, 1, C)
            x = x + block.proj(y)
            x = x + block.mlp(block.ln2(x))
        out.append(model.head(model.ln_f(x)))  # (B, 1, 256)
    return torch.cat(out, dim=1)  # (B, T, 256)


def _attend_self_only(q, k, v, cache):
    return F.scaled_dot_product_attention(q, k, v)


def _attend_is_causal(q, k, v, cache):
    if "k" in cache:
        k, v = torch.cat([cache["k"], k], dim=2), torch.cat([cache["v"], v], dim=2)
    cache["k"], cache["v"] = k, v
    return F.scaled_dot_product_attention(q, k, v, is_causal=True)


def _attend_unscaled(q, k, v, cache):
    if "k" in cache:
        k, v = torch.cat([cache["k"], k], dim=2), torch.cat([cache["v"], v], dim=2)
    cache["k"], cache["v"] = k, v
    return torch.softmax(q @ k.transpose(-2, -1), dim=-1) @ v


def _attend_softmax_over_queries(q, k, v, cache):
    if "k" in cache:
        k, v = torch.cat([cache["k"], k], dim=2), torch.cat([cache["v"], v], dim=2)
    cache["k"], cache["v"] = k, v
    return torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-2) @ v


CACHE_MISTAKES = [
    Mistake(_attend_self_only, "your new position attends only to itself: append its key and value to the cache "
                               "(torch.cat along the time axis, dim=2) and attend to every cached position"),
    Mistake(_attend_is_causal, "is_causal=True with a single query lines the mask up with the first key, so the new position "
                               "sees only position 0; with a cache the new query is the latest position and may attend to "
                               "every cached key: no mask"),
    Mistake(_attend_unscaled, "the scores are not scaled: divide q Kᵀ by √hs (the head size) before the softmax"),
    Mistake(_attend_softmax_over_queries, "softmax over the wrong axis: normalise over the keys (the last axis, dim=-1), "
                                          "not over the single query"),
]


def _cache_problem(student_fn: Callable, reference_out: torch.Tensor, run, text: str) -> str | None:
    got = run(lambda args: call_student(student_fn, args, "attend_with_cache", text))
    wrong = []
    for mistake in CACHE_MISTAKES:
        try:
            wrong.append((run(lambda args, fn=mistake.fn: fn(*args)), mistake.message))
        except Exception:  # noqa: BLE001 - a mistake that cannot run here is skipped
            continue
    problem = diagnose(got, reference_out, mistakes=wrong, rtol=1e-4, atol=1e-5)
    return None if problem is None else f"✗ attend_with_cache: {problem} [input: {text}]"


def check_attend_with_cache(student_fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor, dict], torch.Tensor],
                            raise_on_failure: bool = True) -> bool:
    """Self-check of ``attend_with_cache(q, k, v, cache)``: fed one position at a time it must reproduce causal
    attention over the whole sequence, and, inside a small random :class:`SampleTransformer`, its logits."""
    from audioformers.models.sample_transformer import SampleTransformer, SampleTransformerConfig

    gen = torch.Generator().manual_seed(34)
    q, k, v = torch.randn(3, 2, 2, 12, 8, generator=gen)  # each (B, nh, T, hs)
    torch.manual_seed(35)
    model = SampleTransformer(SampleTransformerConfig(context_length=16, width=32, num_layers=2, num_heads=4)).eval()
    tokens = torch.randint(0, 256, (2, 16), generator=gen)  # (B, T)
    with torch.no_grad():
        naive = model(tokens)  # (B, T, 256): the whole window at once, is_causal=True
    checks = [
        (F.scaled_dot_product_attention(q, k, v, is_causal=True), lambda call: _steps(None, q, k, v, call),
         "q, k, v of shape (2, 2, 12, 8) fed one position at a time, against causal attention over all 12"),
        (naive, lambda call: cached_logits(model, tokens, None, call),
         "a 2-layer SampleTransformer (random weights), 16 tokens one at a time, against model(tokens) on the whole window"),
    ]
    try:
        for expected, run, text in checks:
            problem = _cache_problem(student_fn, expected, run, text)
            if problem is not None:
                return finish("attend_with_cache", problem, "", raise_on_failure)
    except ExerciseFailed as failure:
        if raise_on_failure:
            raise
        print(failure)
        return False
    return finish("attend_with_cache", None, "one position at a time it reproduces causal attention and the model's logits",
                  raise_on_failure)


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
    "attend_with_cache": Exercise(CHAPTER, "attend_with_cache", "A key/value cache: each new sample attends to the cached past",
                                  check_attend_with_cache, solution_attend_with_cache,
                                  '''def attend_with_cache(q, k, v, cache):
    """One new position: q, k, v of shape (B, nh, 1, hs); cache is a dict, empty before the first position.
    Store this position's key and value in the cache (keys "k" and "v") and return the new position's
    attention output, shape (B, nh, 1, hs)."""
    raise NotImplementedError("write attend_with_cache")

exercises.ch3.check_attend_with_cache(attend_with_cache)''', CACHE_MISTAKES),
}
