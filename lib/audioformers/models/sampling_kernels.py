"""The compiled loops of :mod:`audioformers.models.fast_sampling`: plain Python until :func:`compile_kernels`
wraps them with ``numba.njit`` (compiled on first call, cached on disk after).

One call of :func:`_wavenet_run` or :func:`_transformer_run` draws (or feeds) a whole run of samples: the
embedding, each WaveNet layer's conv taps, gate and fused residual|skip product with ring buffers for its queue
(Paine et al., 2016), or each transformer block with its key cache stored transposed (so that a query meets every
cached key in one contiguous sweep), the head, and the draw. :func:`_transformer_prefill` runs a window in one
causal pass. They read plain float32 arrays (:func:`audioformers.models.fast_sampling.wavenet_weights` and
``transformer_weights``), so they import nothing from the models.

Notebook: ``chapters/03_wavenet_vs_transformer.ipynb``, section "Training both, live".
"""

from __future__ import annotations

import math

import numpy as np

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


def compile_kernels() -> None:
    """Wrap the kernels with ``numba.njit(cache=True)`` (compiled on first call, cached on disk after)."""
    global _COMPILED
    if _COMPILED:
        return
    import numba

    space = globals()
    for name in _KERNELS:  # helpers are replaced before the kernels that call them are compiled
        space[name] = numba.njit(cache=True, nogil=True, error_model="numpy")(space[name])
    _COMPILED = True
