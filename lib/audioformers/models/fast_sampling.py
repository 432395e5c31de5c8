"""Fast sample-by-sample generation for chapter 3's models: the whole sampling loop compiled with numba.

PyTorch spends most of a one-sample step outside arithmetic (hundreds of small ops, each with its own
dispatch), so even the cached decoders of :mod:`audioformers.models.decoding` run several times slower than
real time. Here the weights are copied out once into plain arrays and one compiled loop
(:mod:`audioformers.models.sampling_kernels`) does everything per sample: the embedding, each WaveNet layer's
conv taps, gate and fused residual|skip product with ring buffers for the queues (Paine et al., 2016), or each
transformer block with its key cache stored transposed, the head, and the draw.

Draws use inverse-CDF sampling from uniforms drawn up front (``numpy.random.default_rng(seed)``): token
= the first class whose cumulative probability exceeds ``u * total``. The PyTorch path
(``backend="torch"``) draws the same way from the same uniforms, so both give the same tokens (tested),
and their logits agree within 1e-5 under teacher forcing (tested). The tokens differ from
:func:`audioformers.models.decoding.generate`, which draws with ``torch.multinomial``.

The prompt is run through the model's own PyTorch ``prefill`` (one parallel pass); so is each refill of
the transformer's window (every ``context_length / 2`` samples once the window is full, exactly as the
PyTorch decoder does). Without numba, :func:`generate` says so and runs the PyTorch cached path.

    from audioformers.models import fast_sampling
    tokens = fast_sampling.generate(model, 3 * 8000, prompt=codes[:256], temperature=1.0, seed=0)

Notebook: ``chapters/03_wavenet_vs_transformer.ipynb``, section "Training both, live".
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch

from audioformers.models import sampling_kernels as kernels
from audioformers.models.decoding import Decoder
from audioformers.models.sample_transformer import ConditionedSampleTransformer, SampleTransformer
from audioformers.models.sampling_kernels import numba_available
from audioformers.models.wavenet import WaveNet

SILENCE = 128  # the 8-bit mu-law code of 0.0: the default one-sample prompt
BACKENDS = ("auto", "numba", "torch")


# ---- weights out of the PyTorch models ------------------------------------------------------------
def _np(t: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(t.detach().to("cpu", torch.float32).numpy())


def _linear_in_out(linear: torch.nn.Module) -> tuple[np.ndarray, np.ndarray]:
    """An ``nn.Linear``'s weight as (in, out) and its bias."""
    return _np(linear.weight.T), _np(linear.bias)


def wavenet_weights(model: Any) -> dict[str, np.ndarray]:
    """A WaveNet's parameters as the arrays the compiled loop reads (conv taps stacked oldest first, residual|skip fused)."""
    with torch.no_grad():
        fused = [layer.fused_weights() for layer in model.layers]
        head1, head2 = model.head[1], model.head[3]
        return {
            "emb": _np(model.embed.weight),
            "taps": np.stack([_np(f[0]) for f in fused]),  # (L, K*R, 2D)
            "conv_b": np.stack([_np(f[1]) for f in fused]),  # (L, 2D)
            "out_w": np.stack([_np(f[2]) for f in fused]),  # (L, D, R+S)
            "out_b": np.stack([_np(f[3]) for f in fused]),  # (L, R+S)
            "dilations": np.array([layer.dilation for layer in model.layers], dtype=np.int64),
            "h1_w": _np(head1.weight[:, :, 0].T), "h1_b": _np(head1.bias),  # (S, S), (S,)
            "h2_w": _np(head2.weight[:, :, 0].T), "h2_b": _np(head2.bias),  # (S, C), (C,)
        }


def transformer_weights(model: Any) -> dict[str, Any]:
    """A sample transformer's parameters, per block stacked along a first (layer) axis, linear weights as (in, out)."""
    core = model.transformer if isinstance(model, ConditionedSampleTransformer) else model
    blocks = list(core.blocks)

    def stack(get) -> np.ndarray:
        return np.ascontiguousarray(np.stack([get(b) for b in blocks]))

    with torch.no_grad():
        return {
            "emb": _np(core.embed.weight), "pos_emb": _np(core.position.weight),
            "ln1_w": stack(lambda b: _np(b.ln1.weight)), "ln1_b": stack(lambda b: _np(b.ln1.bias)),
            "qkv_w": stack(lambda b: _np(b.qkv.weight.T)), "qkv_b": stack(lambda b: _np(b.qkv.bias)),
            "proj_w": stack(lambda b: _np(b.proj.weight.T)), "proj_b": stack(lambda b: _np(b.proj.bias)),
            "ln2_w": stack(lambda b: _np(b.ln2.weight)), "ln2_b": stack(lambda b: _np(b.ln2.bias)),
            "fc_w": stack(lambda b: _np(b.mlp[0].weight.T)), "fc_b": stack(lambda b: _np(b.mlp[0].bias)),
            "fc2_w": stack(lambda b: _np(b.mlp[2].weight.T)), "fc2_b": stack(lambda b: _np(b.mlp[2].bias)),
            "lnf_w": _np(core.ln_f.weight), "lnf_b": _np(core.ln_f.bias),
            "head_w": _np(core.head.weight.T), "head_b": _np(core.head.bias),
            "num_heads": int(blocks[0].num_heads),
        }


# ---- drivers -------------------------------------------------------------------------------------
def _check_model(model: Any) -> str:
    if isinstance(model, WaveNet):
        return "wavenet"
    if isinstance(model, (SampleTransformer, ConditionedSampleTransformer)):
        return "transformer"
    raise TypeError(f"model must be a WaveNet, SampleTransformer or ConditionedSampleTransformer "
                    f"(as audioformers.ch3.experiment.build_model builds them), got {type(model).__name__}")


def _num_classes(model: Any) -> int:
    """Classes the model predicts (256 for 8-bit mu-law; a model may be built with fewer)."""
    config = getattr(model, "config", None) or getattr(getattr(model, "transformer", None), "config", None)
    return int(getattr(config, "num_classes", 256))


def _for_model(model: Any, prompt: Any) -> torch.Tensor:
    """The prompt as a (1, P) int64 tensor on the model's device (default: silence, long enough for the model)."""
    from audioformers.core.checks import check_tokens

    past = getattr(model, "past_length", 0)
    if prompt is None:
        prompt = np.full(past + 1, SILENCE, dtype=np.int64)
    tokens = check_tokens("prompt", prompt, _num_classes(model), ndim=1)
    if tokens.shape[0] <= past:
        raise ValueError(f"prompt must be longer than the model's conditioning past ({past} samples), "
                         f"got {tokens.shape[0]}")
    return tokens[None].to(next(model.parameters()).device)


def _wavenet_numba(model: Any, prompt: torch.Tensor, uniforms: np.ndarray, temperature: float,
                   forced: np.ndarray, tokens: np.ndarray, record: np.ndarray) -> None:
    w = wavenet_weights(model)
    state = model.init_state(1, prompt.device)
    logits0 = _np(model.prefill(prompt, state)[0])  # (C,)
    spans = [q.shape[1] for q in state.queues]
    offsets = np.concatenate([[0], np.cumsum(spans)[:-1]]).astype(np.int64)
    buf = np.ascontiguousarray(np.concatenate([_np(q[0]) for q in state.queues]))  # (sum of spans, R)
    kernels._wavenet_run(w["emb"], w["taps"], w["conv_b"], w["out_w"], w["out_b"], w["dilations"], model.config.kernel_size,
                 offsets, buf, int(state.position), w["h1_w"], w["h1_b"], w["h2_w"], w["h2_b"], logits0, uniforms,
                 float(temperature), forced, tokens, record)


def _transformer_numba(model: Any, prompt: torch.Tensor, uniforms: np.ndarray, temperature: float,
                       forced: np.ndarray, tokens: np.ndarray, record: np.ndarray) -> None:
    w = transformer_weights(model)
    num_heads = w.pop("num_heads")
    n_layers, width = w["ln1_w"].shape
    ctx = w["pos_emb"].shape[0]
    hs = width // num_heads
    k_t = np.zeros((n_layers, num_heads, hs, ctx), np.float32)  # keys stored transposed
    v_c = np.zeros((n_layers, num_heads, ctx, hs), np.float32)
    past = getattr(model, "past_length", 0)
    seq = prompt[0].cpu().numpy()
    window_start = max(past, len(seq) - ctx)
    done = 0
    n = tokens.shape[0]

    args = [w[k] for k in ("emb", "pos_emb")], [w[k] for k in (
        "ln1_w", "ln1_b", "qkv_w", "qkv_b", "proj_w", "proj_b", "ln2_w", "ln2_b", "fc_w", "fc_b", "fc2_w", "fc2_b",
        "lnf_w", "lnf_b", "head_w", "head_b")]

    def refill(sequence: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
        """Restart the window at ``window_start``: condition (PyTorch CNN, conditioned model only), keys, values, logits."""
        cond = np.zeros(width, np.float32)
        if past:
            before = torch.from_numpy(np.ascontiguousarray(sequence[window_start - past:window_start]))[None]
            cond = _np(model.encoder(before.to(prompt.device))[0])  # (C,)
        window = np.ascontiguousarray(sequence[window_start:], dtype=np.int64)
        logits = np.empty(w["head_b"].shape[0], np.float32)
        length = kernels._transformer_prefill(*args[0], cond, *args[1], num_heads, k_t, v_c, window, logits)
        return logits, cond, length

    logits, cond, pos = refill(seq)
    while True:
        count, pos, full = kernels._transformer_run(
            *args[0], cond, *args[1], num_heads, k_t, v_c, pos, logits, uniforms[done:], float(temperature),
            forced[done:], tokens[done:], record[done:] if record.shape[0] else record)
        done += count
        if not full or (done >= n and not record.shape[0]):
            return
        # the window is full: restart it from its last half, the new token included (as decoding.Decoder)
        sequence = np.concatenate([seq, tokens[:done]])
        window_start = len(sequence) - ctx // 2
        logits, cond, pos = refill(sequence)
        if record.shape[0]:
            record[done - 1] = logits


def _torch_path(model: Any, prompt: torch.Tensor, uniforms: np.ndarray, temperature: float,
                forced: np.ndarray, tokens: np.ndarray, record: np.ndarray) -> None:
    """The PyTorch cached decoder (:class:`audioformers.models.decoding.Decoder`) with the same draws."""
    decoder = Decoder(model, cached=True)
    with torch.no_grad():
        logits = decoder.reset(prompt)[0]
        n = tokens.shape[0]
        for i in range(n):
            values = logits.detach().cpu().numpy()
            tok = int(forced[i]) if forced.shape[0] else _draw_py(values, float(uniforms[i]), temperature)
            tokens[i] = tok
            if i == n - 1 and not record.shape[0]:
                break
            logits = decoder.push(torch.tensor([tok], device=prompt.device))[0]
            if record.shape[0]:
                record[i] = logits.detach().cpu().numpy()


def _draw_py(logits: np.ndarray, u: float, temperature: float) -> int:
    """The same inverse-CDF draw as the compiled loop, in NumPy."""
    best = int(np.argmax(logits))
    if temperature == 0:
        return best
    p = np.exp((logits.astype(np.float64) - np.float64(logits[best])) / temperature)
    acc = np.cumsum(p)
    hit = np.nonzero(acc > u * acc[-1])[0]
    return int(hit[0]) if hit.size else int(np.nonzero(p > 0)[0][-1])


def _one_blas_thread() -> Any:
    """Limit BLAS (which numba's ``np.dot`` calls) to one thread: measured 20x slower with two on a loaded
    2-core machine. threadpoolctl comes with scikit-learn; without it, nothing is limited."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _resolve_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend == "torch":
        return "torch"
    if numba_available():
        kernels.compile_kernels()
        return "numba"
    if backend == "numba":
        raise ImportError("backend='numba' needs numba (pip install numba; it comes with librosa)")
    warnings.warn("numba is not installed: fast_sampling falls back to the PyTorch cached decoder, several "
                  "times slower than real time (pip install numba for the fast path)", RuntimeWarning, stacklevel=3)
    return "torch"


def _run(model: Any, prompt: Any, uniforms: np.ndarray, temperature: float, forced: np.ndarray,
         record: bool, backend: str) -> tuple[np.ndarray, np.ndarray]:
    kind = _check_model(model)
    backend = _resolve_backend(backend)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            tokens_prompt = _for_model(model, prompt)
            n = max(len(uniforms), len(forced))
            tokens = np.zeros(n, np.int64)
            classes = _num_classes(model)
            logits = np.zeros((n, classes) if record else (0, classes), np.float32)
            if backend == "torch":
                _torch_path(model, tokens_prompt, uniforms, temperature, forced, tokens, logits)
            elif kind == "wavenet":
                _wavenet_numba(model, tokens_prompt, uniforms, temperature, forced, tokens, logits)
            else:
                with _one_blas_thread():  # the window refills' small products: threads only wait on a busy machine
                    _transformer_numba(model, tokens_prompt, uniforms, temperature, forced, tokens, logits)
    finally:
        model.train(was_training)
    return tokens, logits


def generate(model: Any, num_samples: int, prompt: Any = None, temperature: float = 1.0, seed: int = 0,
             backend: str = "auto") -> np.ndarray:
    """Continue ``prompt`` by ``num_samples`` mu-law tokens from a trained chapter-3 model; int64 array (num_samples,).

    ``model``: a :class:`~audioformers.models.wavenet.WaveNet`, :class:`~audioformers.models.sample_transformer.SampleTransformer`
    or ``ConditionedSampleTransformer`` (as built by :func:`audioformers.ch3.experiment.build_model`).
    ``prompt``: 1-D integer codes in 0..255 (NumPy, list or tensor; default one sample of silence, or
    ``past_length + 1`` of them for the conditioned model). ``temperature`` 0 takes the most likely token.
    Draws use ``numpy.random.default_rng(seed)``; the same seed gives the same tokens on either backend.
    ``backend``: ``"auto"`` (numba if installed, else PyTorch with a warning), ``"numba"`` or ``"torch"``.
    The first call compiles the loop (seconds; cached on disk after).
    """
    from audioformers.core.checks import check_float, check_int

    num_samples = check_int("num_samples", num_samples, minimum=1)
    temperature = check_float("temperature", temperature, minimum=0.0)
    seed = check_int("seed", seed, minimum=0)
    uniforms = np.random.default_rng(seed).random(num_samples)
    tokens, _ = _run(model, prompt, uniforms, temperature, np.zeros(0, np.int64), False, backend)
    return tokens


def teacher_forced_logits(model: Any, tokens: Any, prompt: Any = None, backend: str = "auto") -> np.ndarray:
    """Logits (N, 256) after feeding each of ``tokens`` (N,) in turn after ``prompt``: to check the fast path
    against the PyTorch one (row i predicts the sample after ``tokens[i]``)."""
    from audioformers.core.checks import check_tokens

    _check_model(model)
    forced = check_tokens("tokens", tokens, _num_classes(model), ndim=1).numpy()
    _, logits = _run(model, prompt, np.zeros(len(forced)), 1.0, forced, True, backend)
    return logits


def real_time_factor(seconds: float, num_samples: int, sample_rate: int = 8000) -> float:
    """Seconds of compute per second of audio: below 1 is faster than real time."""
    from audioformers.core.checks import check_float, check_int

    seconds = check_float("seconds", seconds, minimum=0.0, strict_minimum=True)
    num_samples = check_int("num_samples", num_samples, minimum=1)
    sample_rate = check_int("sample_rate", sample_rate, minimum=1)
    return seconds / (num_samples / sample_rate)
