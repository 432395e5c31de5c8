"""Checkpoints written atomically (never half-written) and loaded safely (``weights_only=True``).

Used by :func:`audioformers.train.training.fit` and :mod:`audioformers.train.distributed` to resume a run exactly,
and by the chapters' model caches.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from audioformers.core.results import CorruptFileError, atomic_write


def save_checkpoint(path: str | Path, **state: Any) -> Path:
    """Atomically save a dict of tensors / state dicts / plain values (never half-written)."""
    return atomic_write(path, lambda handle: torch.save(state, handle))


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu",
                    rebuild: str = "delete it and rerun the code that wrote it") -> dict[str, Any]:
    """Load a checkpoint saved by :func:`save_checkpoint`, safely (``weights_only=True``).

    A truncated or garbled file raises :class:`~audioformers.core.results.CorruptFileError` naming the file
    and ``rebuild`` (how to make it again), never a bare ``EOFError`` or unpickling error.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except (EOFError, RuntimeError, ValueError, OSError, KeyError, AttributeError, IndexError, TypeError) as error:
        raise CorruptFileError(f"checkpoint {path} is corrupt or truncated ({type(error).__name__}: "
                               f"{str(error).splitlines()[0][:120] if str(error) else ''}); {rebuild}") from None
    except Exception as error:  # pickle.UnpicklingError and friends
        if type(error).__name__ in ("UnpicklingError", "BadZipFile"):
            raise CorruptFileError(f"checkpoint {path} is corrupt ({type(error).__name__}); {rebuild}") from None
        raise
    if not isinstance(state, dict):
        raise CorruptFileError(f"checkpoint {path} does not hold a dict of state; {rebuild}")
    return state
