"""Argument checks shared by the package: each error names the argument and what is wrong with it.

They accept what a reader would reasonably pass (Python or NumPy integers, any integer dtype of
tokens, 0-d arrays) and turn it into one plain type, so the code after a check can rely on it.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
import torch


def check_int(name: str, value: Any, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """``value`` as a Python ``int`` (NumPy and 0-d tensor integers accepted); ``TypeError``/``ValueError`` naming ``name``."""
    if isinstance(value, torch.Tensor) and value.ndim == 0 and not value.is_floating_point() and value.dtype != torch.bool:
        value = int(value)
    if isinstance(value, np.ndarray) and value.ndim == 0 and np.issubdtype(value.dtype, np.integer):
        value = int(value)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return value


def check_float(name: str, value: Any, *, minimum: float | None = None, maximum: float | None = None,
                strict_minimum: bool = False) -> float:
    """``value`` as a finite Python ``float``; ``strict_minimum`` makes ``minimum`` itself invalid."""
    if isinstance(value, torch.Tensor) and value.ndim == 0:
        value = value.item()
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if minimum is not None and (value < minimum or (strict_minimum and value == minimum)):
        raise ValueError(f"{name} must be {'>' if strict_minimum else '>='} {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return value


def check_tokens(name: str, tokens: Any, num_classes: int | None = None, *, ndim: int | tuple[int, ...] | None = None,
                 allow_empty: bool = False, host_sync: bool = True) -> torch.Tensor:
    """Integer tokens of any integer dtype (uint8 mu-law codes included) as an ``int64`` tensor: the package's one
    token check (argument order: the name first, as every ``check_*`` here).

    Floats, booleans, tokens outside ``[0, num_classes)`` and a wrong rank raise an error naming ``name``.
    The tensor stays on its device. ``host_sync=False`` (a model's forward pass) skips the range check on an
    accelerator, where reading the range back would make every forward wait for the device: there the data are
    checked once, where they are made.
    """
    if isinstance(tokens, torch.Tensor):
        t = tokens
    else:
        array = np.asarray(tokens)
        if array.dtype == object:
            raise TypeError(f"{name} must be an integer array, got {type(tokens).__name__}")
        if array.dtype.kind in "iu":
            array = array.astype(np.int64)
        elif array.dtype.kind not in "bfc":
            raise TypeError(f"{name} must be an integer array, got dtype {array.dtype}")
        t = torch.from_numpy(np.ascontiguousarray(array))
    if t.dtype == torch.bool or t.is_floating_point() or t.is_complex():
        raise TypeError(f"{name} must hold integers, got dtype {t.dtype}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if t.ndim not in allowed:
            raise ValueError(f"{name} must have rank {' or '.join(map(str, allowed))}, got rank {t.ndim} "
                             f"(shape {tuple(t.shape)})")
    if t.numel() == 0 and not allow_empty:
        raise ValueError(f"{name} is empty (shape {tuple(t.shape)})")
    t = t.long()
    if num_classes is not None and t.numel() and (host_sync or t.device.type == "cpu"):
        low, high = (int(v) for v in torch.aminmax(t))
        if low < 0 or high >= num_classes:
            raise ValueError(f"{name} must lie in 0..{num_classes - 1} (the {num_classes} classes), got values "
                             f"{low}..{high}")
    return t


def check_finite_array(name: str, values: Any, *, ndim: int | tuple[int, ...] | None = None,
                       allow_empty: bool = False, dtype: Any = np.float32) -> np.ndarray:
    """A real-valued NumPy array of ``dtype``; NaN/inf, empty input or a wrong rank raise an error naming ``name``."""
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    array = np.asarray(values)
    if array.dtype == object or array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a real-valued array, got dtype {array.dtype}")
    array = array.astype(dtype, copy=False)
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if array.ndim not in allowed:
            raise ValueError(f"{name} must have {' or '.join(map(str, allowed))} dimensions, got shape {array.shape}")
    if array.size == 0 and not allow_empty:
        raise ValueError(f"{name} is empty (shape {array.shape})")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} holds NaN or infinite values")
    return array


def check_choice(name: str, value: Any, choices: Any) -> Any:
    """``value`` if it is one of ``choices``; else a ``ValueError`` naming ``name`` and listing the choices."""
    choices = tuple(choices)
    if not isinstance(value, str) and not isinstance(value, type(choices[0]) if choices else object):
        raise TypeError(f"{name} must be one of {', '.join(map(repr, choices))}, got {type(value).__name__} {value!r}")
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; valid: {', '.join(map(str, choices))}")
    return value


def check_fields(config: Any, *, positive: tuple[str, ...] = (), non_negative: tuple[str, ...] = (),
                 probability: tuple[str, ...] = (), positive_float: tuple[str, ...] = ()) -> None:
    """Check a config's fields in its ``__post_init__``: integers >= 1 (``positive``) or >= 0 (``non_negative``),
    a probability in [0, 1), a finite float > 0. Errors name the config and the field; the fields keep their values."""
    kind = type(config).__name__
    for field in positive:
        check_int(f"{kind}.{field}", getattr(config, field), minimum=1)
    for field in non_negative:
        check_int(f"{kind}.{field}", getattr(config, field), minimum=0)
    for field in probability:
        value = check_float(f"{kind}.{field}", getattr(config, field), minimum=0.0)
        if value >= 1.0:
            raise ValueError(f"{kind}.{field} must be a probability in [0, 1), got {value}")
    for field in positive_float:
        check_float(f"{kind}.{field}", getattr(config, field), minimum=0.0, strict_minimum=True)


def check_heads(config: Any, width: str = "width", heads: str = "num_heads") -> None:
    """``config.<width>`` must divide into ``config.<heads>`` attention heads (both already positive)."""
    w, h = getattr(config, width), getattr(config, heads)
    if w % h:
        raise ValueError(f"{type(config).__name__}.{width} ({w}) must be divisible by {heads} ({h})")


def check_step_token(token: Any, num_classes: int, name: str = "token") -> torch.Tensor:
    """One token per batch item for a model's ``step``: a non-empty 1-D integer tensor in ``[0, num_classes)``
    (the range is checked on the CPU only: on an accelerator it would wait for the device every step)."""
    if not isinstance(token, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (batch,), got {type(token).__name__}")
    if token.ndim != 1:
        raise ValueError(f"{name}: step expects one token per batch item, shape (B,), got {tuple(token.shape)}")
    if token.is_floating_point() or token.is_complex() or token.dtype == torch.bool:
        raise TypeError(f"{name} must hold integer codes, got dtype {token.dtype}")
    if token.numel() == 0:
        raise ValueError(f"{name} is empty: step needs one token per batch item")
    if token.device.type == "cpu":
        low, high = (int(v) for v in torch.aminmax(token))
        if low < 0 or high >= num_classes:
            raise ValueError(f"{name} must lie in 0..{num_classes - 1}, got values {low}..{high}")
    return token.long()
