"""Fast sample-by-sample generation for chapter 3's models: the whole sampling loop compiled with numba.

PyTorch spends most of a one-sample step outside arithmetic (hundreds of small ops, each with its own
dispatch), so even the cached decoders of :mod:`audioformers.ch3.experiment` run several times slower than
real time. Here the weights are copied out once into plain arrays and one compiled loop does everything
per sample: the embedding, each WaveNet layer's two conv taps, gate and fused residual|skip product with
ring buffers for the queues (Paine et al., 2016), or each transformer block with its key cache stored
transposed (so a query meets every cached key in one contiguous sweep), the head, and the draw.

Draws use inverse-CDF sampling from uniforms drawn up front (``numpy.random.default_rng(seed)``): token
= the first class whose cumulative probability exceeds ``u * total``. The PyTorch path
(``backend="torch"``) draws the same way from the same uniforms, so both give the same tokens (tested),
and their logits agree within 1e-5 under teacher forcing (tested). The tokens differ from
:func:`audioformers.ch3.experiment.generate`, which draws with ``torch.multinomial``.

The prompt is run through the model's own PyTorch ``prefill`` (one parallel pass); so is each refill of
the transformer's window (every ``context_length / 2`` samples once the window is full, exactly as the
PyTorch decoder does). Without numba, :func:`generate` says so and runs the PyTorch cached path.

    from audioformers.models import fast_sampling
    tokens = fast_sampling.generate(model, 3 * 8000, prompt=codes[:256], temperature=1.0, seed=0)

Notebook: ``chapters/03_wavenet_vs_transformer.ipynb``.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import torch

SILENCE = 128  # the 8-bit mu-law code of 0.0: the default one-sample prompt
BACKENDS = ("auto", "numba", "torch")


# ---- compiled kernels (plain Python until :func:`_compile` wraps them with numba.njit) ----------------
# exp and erf written as straight-line float32 code so that LLVM vectorises them (libm's are scalar calls,
# about 15-25 ns each: they would dominate a step). exp: Cody-Waite reduction and a degree-7 polynomial,
# relative error 1.1e-7 on [-87, 88]; GELU's erf: Abramowitz & Stegun 7.1.28, GELU within 9e-7 of exact.
def _vexp(x, n, ibuf):
    """x[:n] = exp(x[:n]) in place (inputs clamped to [-87, 88]); ``ibuf`` is int32 scratch of length >= n."""
    fbuf = ibuf.view(np.float32)
    for i in range(n):
        v = min(max(x[i], np.float32(-87.0)), np.float32(88.0))
        k = np.floor(v * np.float32(1.4426950408889634) + np.float32(0.5))
        r = v - k * np.float32(0.693359375) + k * np.float32(2.12194440e-4)
        x[i] = np.float32(1.0) + r * (np.float32(1.0) + r * (np.float32(0.5) + r * (
            np.float32(1 / 6) + r * (np.float32(1 / 24) + r * (np.float32(1 / 120) + r * (
                np.float32(1 / 720) + r * np.float32(1 / 5040)))))))
        ibuf[i] = (np.int32(k) + np.int32(127)) << 23  # the bits of the float32 2**k
    for i in range(n):
        x[i] *= fbuf[i]


def _vgelu(x, n):
    """x[:n] = GELU(x[:n]) = x/2 (1 + erf(x / sqrt 2)) in place."""
    for i in range(n):
        v = x[i]
        a = abs(v) * np.float32(0.7071067811865476)
        t = np.float32(1.0) + a * (np.float32(0.0705230784) + a * (np.float32(0.0422820123) + a * (
            np.float32(0.0092705272) + a * (np.float32(0.0001520143) + a * (np.float32(0.0002765672)
                                                                           + a * np.float32(0.0000430638))))))
        t = t * t
        t = t * t
        t = t * t
        t = t * t
        e = np.float32(1.0) - np.float32(1.0) / t
        x[i] = np.float32(0.5) * v * (np.float32(1.0) + (e if v >= 0 else -e))


def _draw(logits: np.ndarray, u: float, temperature: float) -> int:
    """Inverse-CDF draw from softmax(logits / temperature) (float64); temperature 0 = argmax (first maximum)."""
    c = logits.shape[0]
    best = 0
    for j in range(1, c):
        if logits[j] > logits[best]:
            best = j
    if temperature == 0.0:
        return best
    m = np.float64(logits[best])
    p = np.empty(c, np.float64)
    total = 0.0
    for j in range(c):
        p[j] = math.exp((np.float64(logits[j]) - m) / temperature)
        total += p[j]
    target = u * total
    acc = 0.0
    last = best
    for j in range(c):
        if p[j] > 0.0:
            last = j
        acc += p[j]
        if acc > target:
            return j
    return last


def _wavenet_run(emb, taps, conv_b, out_w, out_b, dilations, kernel, offsets, buf, position,
                 h1_w, h1_b, h2_w, h2_b, logits0, uniforms, temperature, forced, tokens, record):
    """Generate ``tokens.shape[0]`` tokens (or feed ``forced`` ones); ``record`` (n, C) gets the logits after each."""
    n = tokens.shape[0]
    n_layers = dilations.shape[0]
    r = emb.shape[1]
    d2 = conv_b.shape[1]
    d = d2 // 2
    s = h1_b.shape[0]
    c = h2_b.shape[0]
    logits = logits0.copy()
    x = np.empty(r, np.float32)
    inp = np.empty(kernel * r, np.float32)
    pre = np.empty(d2, np.float32)
    z = np.empty(d, np.float32)
    out = np.empty(r + s, np.float32)
    skip = np.empty(s, np.float32)
    hid = np.empty(s, np.float32)
    ex = np.empty(d2, np.float32)
    ibuf = np.empty(d2, np.int32)
    t = position
    for i in range(n):
        if forced.shape[0] > 0:
            tok = forced[i]
        else:
            tok = _draw(logits, uniforms[i], temperature)
        tokens[i] = tok
        if i == n - 1 and record.shape[0] == 0:
            break  # the last draw needs no step after it
        for a in range(r):
            x[a] = emb[tok, a]
            inp[(kernel - 1) * r + a] = 0.0
        for a in range(s):
            skip[a] = 0.0
        for layer in range(n_layers):
            dil = dilations[layer]
            span = (kernel - 1) * dil
            base = offsets[layer]
            for j in range(kernel - 1):  # tap j is the input (kernel - 1 - j) * dil steps ago (oldest first)
                slot = base + (t - (kernel - 1 - j) * dil) % span
                for a in range(r):
                    inp[j * r + a] = buf[slot, a]
            slot = base + t % span
            for a in range(r):
                inp[(kernel - 1) * r + a] = x[a]
                buf[slot, a] = x[a]  # this layer's input, read again dil, 2 dil, ... steps later
            for b in range(d2):
                pre[b] = conv_b[layer, b]
            for a in range(kernel * r):
                v = inp[a]
                for b in range(d2):
                    pre[b] += v * taps[layer, a, b]
            for b in range(d):  # tanh f = 1 - 2 / (exp(2 f) + 1); sigmoid g = 1 / (1 + exp(-g))
                ex[b] = np.float32(2.0) * pre[b]
                ex[d + b] = -pre[d + b]
            _vexp(ex, d2, ibuf)
            for b in range(d):
                z[b] = (np.float32(1.0) - np.float32(2.0) / (ex[b] + np.float32(1.0))) * (
                    np.float32(1.0) / (np.float32(1.0) + ex[d + b]))
            for b in range(r + s):
                out[b] = out_b[layer, b]
            for a in range(d):
                v = z[a]
                for b in range(r + s):
                    out[b] += v * out_w[layer, a, b]
            for a in range(r):
                x[a] += out[a]
            for a in range(s):
                skip[a] += out[r + a]
        for b in range(s):
            hid[b] = h1_b[b]
        for a in range(s):
            v = skip[a] if skip[a] > 0 else np.float32(0.0)
            for b in range(s):
                hid[b] += v * h1_w[a, b]
        for b in range(c):
            logits[b] = h2_b[b]
        for a in range(s):
            v = hid[a] if hid[a] > 0 else np.float32(0.0)
            for b in range(c):
                logits[b] += v * h2_w[a, b]
        t += 1
        if record.shape[0] > 0:
            record[i] = logits
    return t


def _layer_norm(x, w, b, out):
    n = x.shape[0]
    mean = 0.0
    for a in range(n):
        mean += x[a]
    mean /= n
    var = 0.0
    for a in range(n):
        var += (x[a] - mean) ** 2
    inv = 1.0 / math.sqrt(var / n + 1e-5)
    for a in range(n):
        out[a] = np.float32((x[a] - mean) * inv) * w[a] + b[a]


def _affine(x, w, b, out):
    """out = x @ w + b with w (in, out): the inner loop runs over contiguous outputs (vectorised, no reduction)."""
    for j in range(out.shape[0]):
        out[j] = b[j]
    for a in range(x.shape[0]):
        v = x[a]
        for j in range(out.shape[0]):
            out[j] += v * w[a, j]


def _attend(q, k_t, v, n, scale, scores, ibuf, y):
    """One head, one query: y = softmax(scale q . keys[:n]) @ values[:n]; keys stored transposed (hs, ctx)."""
    hs = q.shape[0]
    for t in range(n):
        scores[t] = 0.0
    for e in range(hs):
        qe = q[e] * scale
        for t in range(n):
            scores[t] += qe * k_t[e, t]
    top = scores[0]
    for t in range(1, n):
        if scores[t] > top:
            top = scores[t]
    for t in range(n):
        scores[t] -= top
    _vexp(scores, n, ibuf)
    total = np.float32(0.0)
    for t in range(n):
        total += scores[t]
    for e in range(hs):
        y[e] = 0.0
    for t in range(n):
        p = scores[t] / total
        for e in range(hs):
            y[e] += p * v[t, e]


def _transformer_prefill(emb, pos_emb, cond, ln1_w, ln1_b, qkv_w, qkv_b, proj_w, proj_b, ln2_w, ln2_b,
                         fc_w, fc_b, fc2_w, fc2_b, lnf_w, lnf_b, head_w, head_b, num_heads, k_t, v_c, window, logits):
    """A window of tokens (T,) at positions 0..T-1 in one causal pass (matrix products): fills the key/value
    cache and writes the logits after its last token. The same arithmetic as T steps, batched."""
    n = window.shape[0]
    ctx = pos_emb.shape[0]
    n_layers = ln1_w.shape[0]
    width = emb.shape[1]
    hs = width // num_heads
    scale = np.float32(1.0 / math.sqrt(hs))
    x = np.empty((n, width), np.float32)
    h = np.empty((n, width), np.float32)
    y = np.empty((n, width), np.float32)
    scores = np.empty(ctx, np.float32)
    ibuf = np.empty(ctx, np.int32)
    for t in range(n):
        for a in range(width):
            x[t, a] = emb[window[t], a] + pos_emb[t, a] + cond[a]
    for layer in range(n_layers):
        for t in range(n):
            _layer_norm(x[t], ln1_w[layer], ln1_b[layer], h[t])
        qkv = np.dot(h, qkv_w[layer])  # (T, 3C)
        for t in range(n):
            for a in range(3 * width):
                qkv[t, a] += qkv_b[layer, a]
            for hd in range(num_heads):
                for e in range(hs):
                    k_t[layer, hd, e, t] = qkv[t, width + hd * hs + e]
                    v_c[layer, hd, t, e] = qkv[t, 2 * width + hd * hs + e]
        for t in range(n):
            for hd in range(num_heads):
                _attend(qkv[t, hd * hs:(hd + 1) * hs], k_t[layer, hd], v_c[layer, hd], t + 1, scale, scores, ibuf,
                        y[t, hd * hs:(hd + 1) * hs])
        o = np.dot(y, proj_w[layer])
        for t in range(n):
            for a in range(width):
                x[t, a] += o[t, a] + proj_b[layer, a]
            _layer_norm(x[t], ln2_w[layer], ln2_b[layer], h[t])
        m = np.dot(h, fc_w[layer])  # (T, hidden)
        for t in range(n):
            for a in range(m.shape[1]):
                m[t, a] += fc_b[layer, a]
            _vgelu(m[t], m.shape[1])
        o = np.dot(m, fc2_w[layer])
        for t in range(n):
            for a in range(width):
                x[t, a] += o[t, a] + fc2_b[layer, a]
    last = np.empty(width, np.float32)
    _layer_norm(x[n - 1], lnf_w, lnf_b, last)
    _affine(last, head_w, head_b, logits)
    return n


def _transformer_run(emb, pos_emb, cond, ln1_w, ln1_b, qkv_w, qkv_b, proj_w, proj_b, ln2_w, ln2_b,
                     fc_w, fc_b, fc2_w, fc2_b, lnf_w, lnf_b, head_w, head_b, num_heads, k_t, v_c, position,
                     logits0, uniforms, temperature, forced, tokens, record):
    """Draw (or feed) tokens while the window has room; returns (tokens done, position, refill needed).

    A refill means the window is full: the caller restarts it (the last token included), which gives the
    logits after that token, and calls again for the rest.
    """
    n = tokens.shape[0]
    ctx = pos_emb.shape[0]
    n_layers = ln1_w.shape[0]
    width = emb.shape[1]
    hs = width // num_heads
    hidden = fc_b.shape[1]
    scale = np.float32(1.0 / math.sqrt(hs))
    logits = logits0.copy()
    x = np.empty(width, np.float32)
    h = np.empty(width, np.float32)
    qkv = np.empty(3 * width, np.float32)
    y = np.empty(width, np.float32)
    o = np.empty(width, np.float32)
    m = np.empty(hidden, np.float32)
    scores = np.empty(ctx, np.float32)
    ibuf = np.empty(ctx, np.int32)
    pos = position
    i = 0
    while i < n:
        if forced.shape[0] > 0:
            tok = forced[i]
        else:
            tok = _draw(logits, uniforms[i], temperature)
        tokens[i] = tok
        i += 1
        if i == n and record.shape[0] == 0:
            break
        if pos >= ctx:
            return i, pos, True  # window full: the caller refills from the last half (as the PyTorch decoder)
        for a in range(width):
            x[a] = emb[tok, a] + pos_emb[pos, a] + cond[a]
        for layer in range(n_layers):
            _layer_norm(x, ln1_w[layer], ln1_b[layer], h)
            _affine(h, qkv_w[layer], qkv_b[layer], qkv)
            for hd in range(num_heads):
                for e in range(hs):
                    k_t[layer, hd, e, pos] = qkv[width + hd * hs + e]
                    v_c[layer, hd, pos, e] = qkv[2 * width + hd * hs + e]
                _attend(qkv[hd * hs:(hd + 1) * hs], k_t[layer, hd], v_c[layer, hd], pos + 1, scale, scores, ibuf,
                        y[hd * hs:(hd + 1) * hs])
            _affine(y, proj_w[layer], proj_b[layer], o)
            for a in range(width):
                x[a] += o[a]
            _layer_norm(x, ln2_w[layer], ln2_b[layer], h)
            _affine(h, fc_w[layer], fc_b[layer], m)
            _vgelu(m, hidden)
            _affine(m, fc2_w[layer], fc2_b[layer], o)
            for a in range(width):
                x[a] += o[a]
        _layer_norm(x, lnf_w, lnf_b, h)
        _affine(h, head_w, head_b, logits)
        pos += 1
        if record.shape[0] > 0:
            record[i - 1] = logits
    return i, pos, False


_KERNELS = ("_vexp", "_vgelu", "_draw", "_layer_norm", "_affine", "_attend", "_transformer_prefill", "_wavenet_run", "_transformer_run")  # helpers first
_COMPILED = False


def numba_available() -> bool:
    """Whether numba imports here (it comes with librosa)."""
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def _compile() -> None:
    """Wrap the kernels with ``numba.njit(cache=True)`` (compiled on first call, cached on disk after)."""
    global _COMPILED
    if _COMPILED:
        return
    import numba

    space = globals()
    for name in _KERNELS:  # helpers are replaced before the kernels that call them are compiled
        space[name] = numba.njit(cache=True, nogil=True, error_model="numpy")(space[name])
    _COMPILED = True


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
    from audioformers.models.sample_transformer import ConditionedSampleTransformer

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
    from audioformers.models.sample_transformer import ConditionedSampleTransformer, SampleTransformer
    from audioformers.models.wavenet import WaveNet

    if isinstance(model, WaveNet):
        return "wavenet"
    if isinstance(model, (SampleTransformer, ConditionedSampleTransformer)):
        return "transformer"
    raise TypeError(f"model must be a WaveNet, SampleTransformer or ConditionedSampleTransformer "
                    f"(audioformers.ch3.experiment.build_model), got {type(model).__name__}")


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
    _wavenet_run(w["emb"], w["taps"], w["conv_b"], w["out_w"], w["out_b"], w["dilations"], model.config.kernel_size,
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
        length = _transformer_prefill(*args[0], cond, *args[1], num_heads, k_t, v_c, window, logits)
        return logits, cond, length

    logits, cond, pos = refill(seq)
    while True:
        count, pos, full = _transformer_run(
            *args[0], cond, *args[1], num_heads, k_t, v_c, pos, logits, uniforms[done:], float(temperature),
            forced[done:], tokens[done:], record[done:] if record.shape[0] else record)
        done += count
        if not full or (done >= n and not record.shape[0]):
            return
        # the window is full: restart it from its last half, the new token included (as nextsample.Decoder)
        sequence = np.concatenate([seq, tokens[:done]])
        window_start = len(sequence) - ctx // 2
        logits, cond, pos = refill(sequence)
        if record.shape[0]:
            record[done - 1] = logits


def _torch_path(model: Any, prompt: torch.Tensor, uniforms: np.ndarray, temperature: float,
                forced: np.ndarray, tokens: np.ndarray, record: np.ndarray) -> None:
    """The PyTorch cached decoder (:class:`audioformers.ch3.experiment.Decoder`) with the same draws."""
    from audioformers.ch3.experiment import Decoder

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
        _compile()
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
