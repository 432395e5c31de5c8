"""Chapter 4's "What we found" (#30, #32): every number of the generated text is the one results/ch4 holds, its
verdicts are the report's, and the sentences the referee asked for (the untrained encoder, where the pipeline
loses the information) follow the records."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from audioformers.ch4 import findings
from audioformers.evaluation import evidence as ev

RESULTS = Path(__file__).resolve().parents[2] / "results"
DATASETS = ("instruments-mini-xl", "drums-mini")


def _record(kind: str, dataset: str, directory: Path = RESULTS) -> dict:
    return json.loads((directory / "ch4" / f"{kind}-{dataset}.book.json").read_text())


def _interval_text(a, b) -> str:
    iv = ev.compare(a, b).interval  # (seeds, test sources): the report's levels for chapter 4
    return f"{100 * iv.mean:+.1f} points [{100 * iv.low:+.1f}, {100 * iv.high:+.1f}]"


def _by_source(metrics: dict, method: str) -> np.ndarray:
    rows = metrics["per_source"][method]
    return np.array([rows[name] for name in sorted(rows)], dtype=float).T  # (seeds, sources)


@pytest.fixture(scope="module")
def text() -> str:
    return findings.findings_markdown("book", RESULTS)


def test_the_accuracies_are_those_of_the_probe_tables(text):
    for dataset in DATASETS:
        table = _record("probe-table", dataset)["metrics"]["table"]
        for method in ("lm_states", "simclr", "mel_stats", "supervised_cnn"):
            assert f"{table[method]['mean']:.1%}" in text, (dataset, method)


def test_the_intervals_are_the_report_protocols_over_the_stored_test_sources(text):
    for dataset in DATASETS:
        m = _record("probe-table", dataset)["metrics"]
        for a, b in (("code_lm", "simclr"), ("code_lm", "mel_stats"), ("centroid", "bottleneck"),
                     ("lm_states", "centroid"), ("supervised_cnn", "simclr")):
            expected = _interval_text(_by_source(m, a), _by_source(m, b))
            assert f"{dataset}: {expected}" in text or expected in text, (dataset, a, b)
    seeds = len(_record("probe-table", DATASETS[0])["metrics"]["seeds"])
    assert ("two-level t interval" if seeds > 1 else "t interval") + " over seeds and held-out test sources" in text


def test_the_verdicts_are_the_reports(text):
    from audioformers import report

    rows = {r["claim"]: r for r in report.build_report("book", RESULTS)}
    for key in ("4a", "4b", "4c"):
        assert rows[key]["verdict at budget"] in text, key


def test_the_budget_is_stated_from_the_records(text):
    table = _record("probe-table", DATASETS[0])
    pool = _record("pretrain", DATASETS[0])["metrics"]["unlabelled"]
    assert f"{table['config']['lm_steps']:,} next-code and {table['config']['simclr_steps']:,} SimCLR" in text
    assert f"{pool['pool_clips']:,} one-second clips" in text
    assert f"{sum(pool['seconds_of_audio'].values()) / 60:.0f} minutes" in text


def test_the_text_says_whether_the_untrained_encoder_was_compared(text):
    if any("untrained" in _record("probe-table", d)["metrics"]["per_source"] for d in DATASETS):
        assert "is compared with an untrained encoder" in text
        m = _record("probe-table", DATASETS[0])["metrics"]
        assert _interval_text(_by_source(m, "code_lm"), _by_source(m, "untrained")) in text
    else:
        assert "has not been compared with an untrained encoder" in text


def test_the_probe_rule_and_held_out_loss_are_stated_where_recorded(text):
    m = _record("probe-table", DATASETS[0])["metrics"]
    if m["probe_c"].get("rule") == "one_se":
        assert "one-standard-error rule" in text and f"{m['probe_c']['interior_fraction']:.0%}" in text
    curves = _record("pretrain", DATASETS[0])["metrics"]["lm_curve"]
    finals = [c["test_ce"][-1] for c in curves.values() if c.get("test_ce") and c["test_ce"][-1] is not None]
    if finals:
        assert f"held-out cross-entropy of {np.mean(finals):.2f} nats" in text
    else:
        assert "held-out cross-entropy" not in text


def test_the_pipeline_sentence_locates_the_loss_in_the_tokenizer(text):
    assert "k-means tokenizer" in text and "more than it compares two training objectives" in text
    assert "The measurable loss sits in the tokenizer" in text  # centroids below the bottleneck on instruments


@pytest.fixture
def edited_results(tmp_path: Path):
    """A copy of results/ch4 whose probe tables the test may edit."""
    shutil.copytree(RESULTS / "ch4", tmp_path / "ch4")
    return tmp_path


def _edit_table(directory: Path, dataset: str, edit) -> None:
    path = directory / "ch4" / f"probe-table-{dataset}.book.json"
    record = json.loads(path.read_text())
    edit(record["metrics"])
    path.write_text(json.dumps(record))


def test_an_untrained_row_in_the_results_is_compared_in_the_text(edited_results):
    def add_untrained(metrics):
        lm = np.asarray(metrics["per_fold"]["code_lm"])
        metrics["per_fold"]["untrained"] = (lm + 0.03).tolist()  # an untrained encoder 3 points above
        metrics["per_source"]["untrained"] = {k: [v + 0.03 for v in seeds]
                                              for k, seeds in metrics["per_source"]["code_lm"].items()}
        metrics["table"]["untrained"] = {"mean": float(lm.mean() + 0.03), "fold_std": 0.05, "seed_std": 0.01}

    for dataset in DATASETS:
        _edit_table(edited_results, dataset, add_untrained)
    text = findings.findings_markdown("book", edited_results)
    assert "is compared with an untrained encoder" in text and "-3.0 points" in text
    assert "| untrained encoder (random weights) | `untrained` |" in findings.findings_table_markdown("book", edited_results)


def test_no_tokenizer_loss_is_claimed_where_the_centroids_are_not_below(edited_results):
    def centroids_as_good(metrics):
        metrics["per_fold"]["centroid"] = (np.asarray(metrics["per_fold"]["bottleneck"]) + 0.01).tolist()
        metrics["per_source"]["centroid"] = {k: [v + 0.01 for v in seeds]
                                             for k, seeds in metrics["per_source"]["bottleneck"].items()}

    for dataset in DATASETS:
        _edit_table(edited_results, dataset, centroids_as_good)
    text = findings.findings_markdown("book", edited_results)
    assert "The measurable loss sits in the tokenizer" not in text
    assert "No single stage's loss is measurable" in text


def test_the_table_holds_every_representation_with_its_fold_spread():
    table = findings.findings_table_markdown("book", RESULTS)
    for dataset in DATASETS:
        rows = _record("probe-table", dataset)["metrics"]["table"]
        for name in ("mel_stats", "bottleneck", "centroid", "histogram", "lm_states", "simclr", "supervised_cnn"):
            assert f"`{name}`" in table and f"{rows[name]['mean']:.3f} ± {rows[name]['fold_std']:.3f}" in table


def test_a_profile_without_a_study_says_how_to_run_it(tmp_path):
    (tmp_path / "ch4").mkdir()
    assert "python -m audioformers.ch4.experiment --profile book" in findings.findings_markdown("book", tmp_path)
    with pytest.raises(ValueError):
        findings.findings_markdown("huge", tmp_path)
