"""Chapter 4's claims as the report reads them (#32 items 5-6): 4a and 4b with the protocol's two-level interval
over seeds × test sources, gated on the untrained encoder; 4a's row says what the pipeline table shows; 4c over
real piano clips with the count of clips where it holds. Records are copies of results/ch4, edited per test."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from audioformers.ch4 import claims, piano_notes
from audioformers.evaluation import evidence as ev

RESULTS = Path(__file__).resolve().parents[2] / "results"
DATASETS = ("instruments-mini-xl", "drums-mini")


@pytest.fixture
def results(tmp_path: Path) -> Path:
    shutil.copytree(RESULTS / "ch4", tmp_path / "ch4")
    return tmp_path


def _edit(directory: Path, name: str, edit) -> None:
    path = directory / "ch4" / f"{name}.book.json"
    record = json.loads(path.read_text())
    edit(record["metrics"])
    path.write_text(json.dumps(record))


def _claim(key: str):
    return next(c for c in claims.CLAIMS if c.key == key)


def _by_source(metrics: dict, method: str) -> np.ndarray:
    rows = metrics["per_source"][method]
    return np.array([rows[n] for n in sorted(rows)], dtype=float).T


def test_4a_and_4b_use_the_two_level_interval_over_seeds_and_test_sources():
    for key, (a, b) in (("4a", ("code_lm", "simclr")), ("4b", ("supervised_cnn", None))):
        measured = _claim(key).measure("book", RESULTS)
        for dataset, comp in zip(DATASETS, measured.comparisons):
            m = json.loads((RESULTS / "ch4" / f"probe-table-{dataset}.book.json").read_text())["metrics"]
            other = b or comp.b
            expected = ev.compare(_by_source(m, a), _by_source(m, other)).interval
            assert comp.interval.low == pytest.approx(expected.low) and comp.interval.high == pytest.approx(expected.high)
            seeds, sources = _by_source(m, a).shape
            assert (f"over {seeds} seeds × {sources} test sources" if seeds > 1 else f"over {sources} test sources") \
                in comp.interval.method
        assert "held-out test sources (each the test source of one of" in measured.why


def test_4b_compares_the_supervised_cnn_with_the_better_self_supervised_model():
    measured = _claim("4b").measure("book", RESULTS)
    for dataset, comp in zip(DATASETS, measured.comparisons):
        m = json.loads((RESULTS / "ch4" / f"probe-table-{dataset}.book.json").read_text())["metrics"]
        best = max(("code_lm", "simclr"), key=lambda x: _by_source(m, x).mean())
        assert (comp.a, comp.b) == ("supervised_cnn", best)


def test_4a_is_not_yet_evidence_where_a_representation_is_not_above_the_untrained_encoder(results):
    def untrained_level_with_code_lm(metrics):
        metrics["per_source"]["untrained"] = {k: [v + 0.01 for v in seeds]
                                              for k, seeds in metrics["per_source"]["code_lm"].items()}

    for dataset in DATASETS:
        _edit(results, f"probe-table-{dataset}", untrained_level_with_code_lm)
    measured = _claim("4a").measure("book", results)
    assert measured.verdict == ev.NOT_YET_EVIDENCE
    assert "code_lm not above the untrained encoder" in measured.text

    def untrained_far_below(metrics):
        metrics["per_source"]["untrained"] = {k: [0.0 for _ in seeds]
                                              for k, seeds in metrics["per_source"]["code_lm"].items()}

    for dataset in DATASETS:
        _edit(results, f"probe-table-{dataset}", untrained_far_below)
    measured = _claim("4a").measure("book", results)
    assert measured.verdict != ev.NOT_YET_EVIDENCE and "untrained" not in measured.text


def test_4a_row_says_where_the_pipeline_loses_and_reads_it_from_the_record(results):
    pipeline = json.loads((RESULTS / "ch4" / "pipeline-instruments-mini-xl.book.json").read_text())["metrics"]
    key, worst = min(pipeline["steps"].items(), key=lambda kv: kv[1]["mean"])
    pool = json.loads((RESULTS / "ch4" / "pretrain-instruments-mini-xl.book.json").read_text())["metrics"]["unlabelled"]
    why = _claim("4a").measure("book", RESULTS).why
    assert f"{key.replace(' - ', ' − ')} = {100 * worst['mean']:+.1f} pts" in why
    if key == "centroid - bottleneck":
        minutes = sum(pool["seconds_of_audio"].values()) / 60
        assert f"k-means tokenizer fitted on a {minutes:.0f}-minute out-of-domain pool" in why
        assert "not two training objectives" in why

    def the_language_model_loses_most(metrics):
        for step in metrics["steps"].values():
            step["mean"] = 0.0
        metrics["steps"]["lm_states - histogram"].update(mean=-0.2, ci_low=-0.3, ci_high=-0.1)

    for dataset in DATASETS:
        _edit(results, f"pipeline-{dataset}", the_language_model_loses_most)
    why = _claim("4a").measure("book", results).why
    assert "largest loss is the next-code model" in why and "k-means tokenizer fitted" not in why
    assert "pipeline" not in _claim("4b").measure("book", results).why


def test_4c_counts_the_real_piano_clips_where_it_holds(results):
    record = json.loads((RESULTS / "ch4" / "two-notes-piano.book.json").read_text())["metrics"]
    measured = _claim("4c").measure("book", RESULTS)
    n = record["num_clips"]
    assert n >= 5 and f"holds on {record['holds']} of {n} real piano clips" in measured.text
    assert measured.comparisons[0].interval.sources == n and "over 12 clips" in measured.comparisons[0].interval.method
    assert measured.budget.text == f"{n} real piano clips"

    def no_fall(metrics):  # the shared fraction moves by +-1 point between the smallest and the largest K
        for i, clip in enumerate(metrics["clips"]):
            for row in clip["table"]:
                row["shared_patch_fraction"] = 0.5
            clip["fall"], clip["holds"] = 0.01 * (-1) ** i, False
        metrics["falls"] = [c["fall"] for c in metrics["clips"]]
        metrics["holds"] = 0

    _edit(results, "two-notes-piano", no_fall)
    measured = _claim("4c").measure("book", results)
    assert measured.verdict == ev.INCONCLUSIVE and "holds on 0 of" in measured.text

    (results / "ch4" / "two-notes-piano.book.json").unlink()  # without it: the synthetic clip
    assert _claim("4c").measure("book", results).budget.text == "one rendered clip"


def test_piano_pairs_are_the_most_different_pitch_classes():
    sr = piano_notes.SAMPLE_RATE
    t = np.arange(int(0.6 * sr)) / sr

    def tone(hz):
        return (0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32)

    assert int(np.argmax(piano_notes.pitch_class_profile(tone(440.0)))) == 9  # A
    assert int(np.argmax(piano_notes.pitch_class_profile(tone(261.63)))) == 0  # C
    clip = np.concatenate([tone(440.0), tone(440.0), tone(554.37), tone(440.0)])  # A A C# A
    first, second, distance = piano_notes.most_different_pair(clip)
    assert 2 in (first, second) and distance > 0.5
    waveform = piano_notes.alternating_clip(clip, first, second, repeats=3)
    assert len(waveform) == 6 * len(t)
    assert np.array_equal(waveform[:len(t)], clip[first * len(t):(first + 1) * len(t)])


def test_piano_helpers_refuse_bad_input():
    with pytest.raises(ValueError, match="at least two"):
        piano_notes.most_different_pair(np.zeros(1000, dtype=np.float32))
    with pytest.raises(ValueError, match="at least 64 samples"):
        piano_notes.pitch_class_profile(np.zeros(10, dtype=np.float32))
    clip = np.random.default_rng(0).standard_normal(4 * 9600).astype(np.float32) * 0.1
    with pytest.raises(ValueError, match="second"):
        piano_notes.alternating_clip(clip, 0, 9)
    with pytest.raises(ValueError, match="repeats"):
        piano_notes.alternating_clip(clip, 0, 1, repeats=0)


def test_the_committed_piano_record_is_reused_at_book_without_running(monkeypatch):
    def no_run(*args, **kwargs):
        raise AssertionError("the stored real-piano record was run again")

    monkeypatch.setenv("BOOK_RESULTS_DIR", str(RESULTS))
    monkeypatch.setattr(piano_notes, "run", no_run)
    record = piano_notes.load_or_run(None, "book")
    assert record["config"]["max_clips"] is None and record["metrics"]["num_clips"] >= 5
    assert record["metrics"]["holds"] == sum(c["holds"] for c in record["metrics"]["clips"])
    with pytest.raises(ValueError, match="clips"):
        piano_notes.piano_config(clips=1)
