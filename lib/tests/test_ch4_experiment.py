"""Chapter 4's experiment: one config, the stored book-profile study reused by its config without running
anything, and the config's and splits' checks."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from audioformers.ch4 import config, experiment, features, folds, pretraining, study, tables

RESULTS = Path(__file__).resolve().parents[2] / "results"


@pytest.fixture
def committed_results(monkeypatch):
    """The committed ``results/`` (the book's stored studies), with every way to train made to fail."""
    monkeypatch.setenv("BOOK_RESULTS_DIR", str(RESULTS))

    def trains(*args, **kwargs):
        raise AssertionError("a stored study was run again")

    for module, name in ((experiment, "run_study"), (experiment, "probe_seed"), (pretraining, "pretrain"),
                         (pretraining, "supervised_embeddings"), (pretraining, "unlabelled_pool"),
                         (study, "run_study"), (study, "unit"), (features, "build_tokenizer")):
        monkeypatch.setattr(module, name, trains)
    return RESULTS


def _record(name: str) -> dict:
    return json.loads((RESULTS / "ch4" / f"{name}.book.json").read_text())


def test_the_loaders_return_the_committed_book_records_without_running(committed_results):
    datasets = config.fold_datasets("book")
    studies = experiment.load_or_run_study("book", say=lambda *a: None)
    assert list(studies) == datasets
    for dataset in datasets:
        for kind in experiment.TABLES:
            assert studies[dataset][kind] == _record(f"{kind}-{dataset}")
        assert experiment.load_tables(dataset, "book") == studies[dataset]
    # asking for the seeds the study holds is still a reuse
    assert experiment.load_or_run_study("book", seeds=[0, 1, 2], say=lambda *a: None) == studies
    stored = study.load_study(None, "book")
    assert stored == _record(f"study-{datasets[0]}")
    cfg = config.fold_config("book")
    for dataset in datasets:
        ps = folds.ProbeSet(dataset, np.zeros((1, 1, 1)), np.zeros(1), np.zeros(1), np.zeros(1), 6, [])
        for seed in (0, 1, 2):
            assert experiment.recorded_seed(ps, cfg, seed, "book") == _record(f"probes-{dataset}-seed{seed}")["metrics"]["run"]


def test_a_record_of_another_config_is_not_reused(committed_results):
    other = config.fold_config("book", lm_steps=1201)
    assert experiment.load_tables("instruments-mini-xl", "book", other) is None
    with pytest.raises(AssertionError, match="run again"):
        experiment.load_or_run_study("book", seeds=[0, 1, 2, 3], say=lambda *a: None)  # a seed not stored


def test_the_committed_records_hold_what_the_referee_asked_for():
    """#32 item 5: an untrained-encoder row, the probe's C by the one-SE rule inside its grid in at least 90% of
    the choices, the next-code model's held-out cross-entropy, and the 5x pre-training for three seeds."""
    for dataset in config.fold_datasets("book"):
        table = _record(f"probe-table-{dataset}")["metrics"]
        assert "untrained" in table["per_fold"] and "untrained" in table["per_source"], dataset
        assert table["probe_c"]["rule"] == "one_se" and table["probe_c"]["interior_fraction"] >= 0.9, dataset
        for seed, curve in _record(f"pretrain-{dataset}")["metrics"]["lm_curve"].items():
            assert curve["test_ce"] and all(isinstance(x, float) for x in curve["test_ce"]), (dataset, seed)
        run = _record(f"probes-{dataset}-seed0")["metrics"]["run"]
        assert all(isinstance(x, float) for x in run["pretrain_log"]["lm_curve"]["test_ce"])
    scale = _record("study-instruments-mini-xl")["metrics"]["pretrain_scale"]["5"]
    assert 0 in scale["seeds"] and set(scale["per_seed"]) == {str(s) for s in scale["seeds"]}
    assert all(isinstance(run["test_ce_last"], float) for run in scale["per_seed"].values())


def test_the_longer_pre_training_has_three_seeds():
    scale = _record("study-instruments-mini-xl")["metrics"]["pretrain_scale"]["5"]
    assert sorted(scale["seeds"]) == [0, 1, 2]


def test_the_one_config_is_the_one_recorded_and_keys_the_stored_seeds():
    recorded = _record("probe-table-instruments-mini-xl")["config"]
    cfg = config.fold_config("book")
    assert json.loads(json.dumps(tables.table_config(cfg, "instruments-mini-xl"))) == recorded
    assert _record("probes-drums-mini-seed0")["metrics"]["run_key"] == cfg.key()
    assert set(config.TOKENIZER_FIELDS) <= set(config.PRETRAIN_FIELDS) <= set(asdict(cfg))
    # the tokenizer's key ignores what does not change a tokenizer
    assert config.fold_config("book", lm_steps=7).tokenizer_key() == cfg.tokenizer_key()
    assert config.fold_config("book", num_codes=7).tokenizer_key() != cfg.tokenizer_key()


@pytest.mark.parametrize("field, value, message", [
    ("lm_steps", 0, "FoldConfig.lm_steps"),
    ("lm_dropout", 1.0, "FoldConfig.lm_dropout"),
    ("lm_dropout", float("nan"), "FoldConfig.lm_dropout"),
    ("lm_heads", 3, "divisible"),
    ("max_folds", 0, "FoldConfig.max_folds"),
    ("cnn_channels", (), "FoldConfig.cnn_channels"),
    ("probe_c_grid", (0.1, -1.0), r"FoldConfig.probe_c_grid\[1\]"),
    ("lm_weight_decay", float("inf"), "FoldConfig.lm_weight_decay"),
    ("probe_rule", "best", "FoldConfig.probe_rule"),
    ("probe_tol", 0.0, "FoldConfig.probe_tol"),
    ("probe_tol", 1.5, "FoldConfig.probe_tol"),
    ("heldout_clips_per_domain", 0, "FoldConfig.heldout_clips_per_domain"),
])
def test_fold_config_refuses_bad_fields(field, value, message):
    with pytest.raises(ValueError, match=message):
        config.FoldConfig(**{field: value})
    with pytest.raises(ValueError, match=message):
        config.fold_config("smoke", **{field: value})


def test_fold_config_refuses_an_unknown_field():
    with pytest.raises(ValueError, match="unknown FoldConfig field 'lm_stepz'"):
        config.fold_config("smoke", lm_stepz=3)


def test_splits_refuse_non_finite_log_mels_and_mismatched_labels():
    good = np.zeros((2, 4, 6), np.float32)
    assert features.Splits({"train": good}, {"train": np.arange(2)}).log_mels["train"].shape == (2, 4, 6)
    bad = good.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match=r"Splits.log_mels\['train'\].*NaN"):
        features.Splits({"train": bad})
    with pytest.raises(ValueError, match=r"Splits.labels\['train'\] has 3 entries for 2 clips"):
        features.Splits({"train": good}, {"train": np.arange(3)})
    with pytest.raises(ValueError, match="Splits.log_mels"):
        features.Splits({"train": good[0]})
    with pytest.raises(TypeError, match="Splits.log_mels must be a dict"):
        features.Splits(good)


def test_build_tokenizer_takes_the_one_config():
    log_mels = np.random.default_rng(0).standard_normal((6, 8, 20)).astype(np.float32)
    cfg = config.FoldConfig(n_mels=8, patch_frames=4, bottleneck_dim=3, ae_hidden=8, ae_steps=2, num_codes=5,
                            kmeans_vectors=30)
    tok, log = features.build_tokenizer(log_mels, cfg, seed=0, device="cpu")
    assert tok.patch_frames == 4 and tok.num_codes == 5 and len(log["ae_loss"]) == 2
    assert tok.codes(log_mels, device="cpu").shape == (6, 5)


@pytest.mark.parametrize("module", ["code_lm", "contrastive", "tokenizer"])
def test_each_model_links_its_notebook_section_and_the_notebook_links_back(module):
    import importlib
    import re

    notebook = Path(__file__).resolve().parents[2] / "chapters" / "04_textless_audio_lm.ipynb"
    cells = json.loads(notebook.read_text())["cells"]
    headings = {line.lstrip("#").strip() for c in cells if c["cell_type"] == "markdown"
                for line in "".join(c["source"]).splitlines() if line.startswith("#")}
    doc = importlib.import_module(f"audioformers.models.{module}").__doc__
    assert "chapters/04_textless_audio_lm.ipynb" in doc
    named = re.findall(r'(?:section|sections|,|and) (\d )?"([^"]+)"', " ".join(doc.split()))
    assert named and all(any(h.endswith(title) for h in headings) for _, title in named), (named, headings)
    markdown = " ".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    assert f"`audioformers.models.{module}`" in markdown
