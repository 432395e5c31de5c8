"""A damaged cache file is recomputed with a one-line notice, never a bare BadZipFile (issue 28).

The chapter 4 fold study caches the unlabelled pool, each seed's embeddings and each fold's supervised CNN as
``.npz`` files under ``data_dir()/ch4/folds``; a truncated one (a full disk, a killed copy) is treated as absent.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from audioformers.ch4 import config as ch4_config
from audioformers.ch4 import pretraining as ch4_pretraining
from audioformers import data
from audioformers.core import results


class _Recompute(Exception):
    """Raised where the study starts recomputing what the cache held."""


class _NoState(dict):
    def __getitem__(self, key):
        raise _Recompute(key)


class _ProbeSet:
    name = "drums-mini"

    def split(self, fold):
        raise _Recompute(fold)


@pytest.fixture(autouse=True)
def _data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("BOOK_DATA_DIR", str(tmp_path / "data"))


def _truncate(path, keep=100):
    path.write_bytes(path.read_bytes()[:keep])


def _emb_path(cfg, seed=0):
    return (ch4_config.cache_dir()
            / f"emb-drums-mini-{ch4_pretraining.pool_key(cfg)}-{cfg.max_clips_per_source}-seed{seed}.npz")


def test_a_stored_embedding_cache_is_read_back_without_recomputing():
    cfg = ch4_config.fold_config("smoke")
    stored = {"mel_stats": np.arange(6, dtype=np.float32).reshape(2, 3), "histogram": np.ones((2, 16), np.float32),
              "untrained": np.zeros((2, 4), np.float32)}  # a complete cache holds the untrained encoder's row
    results.atomic_write(_emb_path(cfg), lambda h: np.savez(h, **stored))
    got = ch4_pretraining.pool_embeddings(_ProbeSet(), cfg, 0, _NoState())
    assert got.keys() == stored.keys() and all(np.array_equal(got[k], stored[k]) for k in stored)


def test_an_embedding_cache_from_before_the_untrained_row_gets_only_that_row_added(monkeypatch):
    """A cache written before the untrained encoder existed keeps its stored rows; only ``untrained`` is computed
    (from the state's CNN config) and the cache is rewritten with it."""
    cfg = ch4_config.fold_config("smoke")
    stored = {"mel_stats": np.arange(6, dtype=np.float32).reshape(2, 3), "histogram": np.ones((2, 16), np.float32)}
    results.atomic_write(_emb_path(cfg), lambda h: np.savez(h, **stored))
    calls = []
    monkeypatch.setattr(ch4_pretraining, "untrained_embeddings",
                        lambda ps, state, seed, device=None: calls.append(seed) or np.full((2, 4), 7.0, np.float32))
    got = ch4_pretraining.pool_embeddings(_ProbeSet(), cfg, 0, _NoState())
    assert calls == [0] and all(np.array_equal(got[k], stored[k]) for k in stored)
    assert np.array_equal(got["untrained"], np.full((2, 4), 7.0))
    again = ch4_pretraining.pool_embeddings(_ProbeSet(), cfg, 0, _NoState())  # now complete: nothing recomputed
    assert calls == [0] and again.keys() == got.keys()


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_a_damaged_embedding_cache_is_recomputed_with_a_notice(capsys, damage):
    cfg = ch4_config.fold_config("smoke")
    path = _emb_path(cfg)
    results.atomic_write(path, lambda h: np.savez(h, mel_stats=np.zeros((50, 40), np.float32)))
    if damage == "truncated":
        _truncate(path, path.stat().st_size // 2)
    else:
        path.write_bytes(b"" if damage == "empty" else b"PK\x03\x04 not really a zip")
    with pytest.raises(_Recompute):  # the study goes on to recompute the embeddings
        ch4_pretraining.pool_embeddings(_ProbeSet(), cfg, 0, _NoState())
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"notice: cache {path} is corrupt" in err and "recomputing it" in err
    assert not path.exists()  # removed: the recomputed embeddings replace it


def test_a_damaged_supervised_cache_is_recomputed_with_a_notice(capsys, monkeypatch):
    cfg = ch4_config.fold_config("smoke")
    looked_at = []

    def read(path, keys=()):
        looked_at.append(path)
        return results.read_cache_npz(path, keys)

    monkeypatch.setattr(ch4_pretraining, "read_cache_npz", read)
    with pytest.raises(_Recompute):  # nothing cached yet: computed
        ch4_pretraining.supervised_embeddings(_ProbeSet(), cfg, 0, 0)
    path = looked_at[-1]
    assert path.parent == ch4_config.cache_dir() and path.name.startswith("sup-drums-mini-")
    emb, log = np.zeros((4, 8), np.float32), {"val_accuracy": [0.5], "seconds": 1.0}
    results.atomic_write(path, lambda h: np.savez(h, emb=emb, log=json.dumps(log)))
    got, got_log = ch4_pretraining.supervised_embeddings(_ProbeSet(), cfg, 0, 0)
    assert np.array_equal(got, emb) and got_log == log
    _truncate(path, path.stat().st_size - 10)
    with pytest.raises(_Recompute):
        ch4_pretraining.supervised_embeddings(_ProbeSet(), cfg, 0, 0)
    assert f"notice: cache {path} is corrupt" in capsys.readouterr().err and not path.exists()


def test_a_damaged_pool_cache_is_recomputed_with_a_notice(capsys, monkeypatch):
    cfg = ch4_config.fold_config("smoke")
    path = ch4_config.cache_dir() / f"pool-{ch4_pretraining.pool_key(cfg)}.npz"
    results.atomic_write(path, lambda h: np.savez(h, log_mels=np.zeros((3, 64, 10), np.float32), info='{"clips": {}}'))
    log_mels, info = ch4_pretraining.unlabelled_pool(cfg)
    assert log_mels.shape == (3, 64, 10) and info == {"clips": {}}

    def recompute(*args, **kwargs):
        raise _Recompute("load_wave_mini")

    monkeypatch.setattr(data, "load_wave_mini", recompute)
    results.atomic_write(path, lambda h: np.savez(h, log_mels=np.zeros((3, 64, 10), np.float32)))  # no "info"
    with pytest.raises(_Recompute):
        ch4_pretraining.unlabelled_pool(cfg)
    assert "notice: cache" in capsys.readouterr().err and not path.exists()


def test_a_rebuilt_pool_dataset_gives_a_new_pool_and_never_the_stale_cache(monkeypatch):
    """The pool, the pool-trained models and their embeddings are keyed by the builds of wave-mini and
    soundmix-mini: after a rebuild (a changed package) the old pool cache is not read back."""
    cfg = ch4_config.fold_config("smoke")
    builds = {"wave-mini": "a" * 16, "soundmix-mini": "b" * 16, "drums-mini": "c" * 16}
    monkeypatch.setattr(data, "build_hash", lambda name: builds[name])
    old_key = ch4_pretraining.pool_key(cfg)
    assert old_key == ch4_pretraining.pool_key(cfg)  # deterministic
    path = ch4_config.cache_dir() / f"pool-{old_key}.npz"
    results.atomic_write(path, lambda h: np.savez(h, log_mels=np.zeros((3, 64, 10), np.float32), info='{"clips": {}}'))
    assert ch4_pretraining.unlabelled_pool(cfg)[0].shape == (3, 64, 10)  # the same builds: read back
    builds["drums-mini"] = "d" * 16  # a probe set's build does not touch the pool
    assert ch4_pretraining.pool_key(cfg) == old_key
    for name in ("wave-mini", "soundmix-mini"):
        builds[name] = "e" * 16
        assert ch4_pretraining.pool_key(cfg) != old_key, name
        builds[name] = "a" * 16 if name == "wave-mini" else "b" * 16
    builds["soundmix-mini"] = "f" * 16

    def recompute(*args, **kwargs):
        raise _Recompute("load_wave_mini")

    monkeypatch.setattr(data, "load_wave_mini", recompute)
    with pytest.raises(_Recompute):  # rebuilt: the pool is cut again, the stale file left unread
        ch4_pretraining.unlabelled_pool(cfg)
    assert path.exists()


def test_read_cache_npz_returns_none_for_missing_and_damaged_files(tmp_path, capsys):
    path = tmp_path / "c.npz"
    assert results.read_cache_npz(path) is None and capsys.readouterr().err == ""
    np.savez(path, a=np.arange(3))
    assert np.array_equal(results.read_cache_npz(path, ("a",))["a"], np.arange(3))
    assert results.read_cache_npz(path, ("a", "b")) is None  # a key the caller needs is missing
    assert "no b in the cache" in capsys.readouterr().err and not path.exists()
