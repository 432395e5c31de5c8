"""Chapter 5's command-line study: its plan, its paired gap arithmetic, resuming, and the smoke study end to end."""

import datetime as dt
import json
import os
from pathlib import Path

import numpy as np
import pytest

from audioformers.ch5 import runs
from audioformers.ch5 import study as cs


def test_book_plan_puts_the_fixed_table_first_and_every_model_and_seed_in_it():
    units = cs.plan("book")
    sizes = cs.study_sizes("book")
    assert sizes["table_steps"] == 1000 and sizes["seeds"] == [0, 1, 2]
    assert len(set(units)) == len(units)
    table = {(u.model, u.seed) for u in units if u.steps == 1000 and u.train_clips == sizes["all_clips"]}
    assert table == {(m, s) for m in sizes["models"] for s in sizes["seeds"]}
    assert units[0].stage == "table" and units[0].steps == 1000
    # the long stages come last, so a deadline stops before them
    first_long = next(i for i, u in enumerate(units) if u.steps == sizes["long_steps"])
    assert all(u.steps == sizes["long_steps"] for u in units[first_long:])
    clips = {u.train_clips for u in units if u.model == "cnn-vgg" and u.steps == 1000}
    assert clips == set(sizes["clips"])
    cfg = cs.unit_config(units[0], "book")
    assert (cfg.steps, cfg.eval_every, cfg.batch_size, cfg.test_clips) == (1000, 250, 16, 150)


def test_long_stages_the_pair_by_default_every_model_and_data_size_only_when_extended():
    sizes = cs.study_sizes("book")
    core, everything = cs.plan("book"), cs.plan("book", extended=True)
    long_core = {(u.model, u.seed, u.train_clips) for u in core if u.steps == sizes["long_steps"]}
    assert long_core == {(m, s, sizes["all_clips"]) for m in sizes["sweep_models"] for s in sizes["seeds"]}
    assert everything[: len(core)] == core  # the optional stages only add units, after the plan's own
    extra = everything[len(core):]
    assert extra and all(cs.is_extended(u.stage) and u.steps == sizes["long_steps"] for u in extra)
    assert {u.model for u in extra if u.train_clips == sizes["all_clips"]} == (
        set(sizes["models"]) - set(sizes["sweep_models"]))
    assert {u.train_clips for u in extra} - {sizes["all_clips"]} == set(sizes["clips"]) - {sizes["all_clips"]}
    assert not any(cs.is_extended(u.stage) for u in core)


def test_estimate_uses_finished_units_of_the_same_family():
    unit = cs.Unit("table", "cnn-vgg", 0, 1000, 2000)
    assert cs.estimate_seconds(unit, []) == pytest.approx(1000 * cs.SECONDS_PER_STEP["cnn-vgg"] + 4 * 10.0)
    finished = [{"model": "cnn-vgg", "steps": 100, "train_seconds": 100.0},
                {"model": "transformer-haar", "steps": 100, "train_seconds": 1.0}]
    assert cs.estimate_seconds(unit, finished) == pytest.approx(1000 * 1.0 + 40.0)


def test_parse_until():
    now = dt.datetime(2026, 12, 1, 2, 0, tzinfo=dt.timezone.utc)
    assert cs.parse_until("03:30", now) == dt.datetime(2026, 12, 1, 3, 30, tzinfo=dt.timezone.utc)
    assert cs.parse_until("01:00", now).day == 2  # already past: tomorrow
    assert cs.parse_until(None) is None
    with pytest.raises(ValueError, match="until must be"):
        cs.parse_until("half past three", now)


def _rows():
    """Synthetic finished units: the CNN 0.2 ahead at 100 steps, 0.1 ahead at 200 steps, per fold and seed."""
    rows = []
    for seed in (0, 1, 2):
        for steps, cnn_lead in ((100, 0.2), (200, 0.1)):
            for model, base in (("transformer-average", 0.3), ("cnn-vgg", 0.3 + cnn_lead)):
                folds = {f"fold{i}": base + 0.01 * i + 0.001 * seed for i in range(3)}
                rows.append({"model": model, "seed": seed, "steps": steps, "train_clips": 50,
                             "map": float(np.mean(list(folds.values()))), "per_source": folds})
    return rows


def test_gap_trend_pairs_seeds_and_folds():
    rows = _rows()
    seeds, folds, gaps = cs.gap_scores(rows, "transformer-average", "cnn-vgg", [(100, 50), (200, 50)])
    assert seeds == [0, 1, 2] and folds == ["fold0", "fold1", "fold2"]
    np.testing.assert_allclose(gaps[(100, 50)], -0.2)
    trend = cs.gap_trend(rows, "transformer-average", "cnn-vgg", [(100, 50), (200, 50)])
    assert [p["difference"] for p in trend["points"]] == pytest.approx([-0.2, -0.1])
    assert trend["points"][0]["verdict"] == "reversed"
    assert trend["change"]["difference"] == pytest.approx(0.1) and trend["change"]["verdict"] == "reproduced"
    # a point some seed lacks is paired over the seeds that all points share
    partial = [r for r in rows if not (r["seed"] == 2 and r["steps"] == 200)]
    assert cs.gap_scores(partial, "transformer-average", "cnn-vgg", [(100, 50), (200, 50)])[0] == [0, 1]


def test_single_run_change():
    variants = {"long": {"mAP": 0.40}, "short": {"mAP": 0.30}}
    summary = {"m": {"seeds": 3, "mAP_std": 0.01}}
    line = cs.single_run_change(variants, summary, "long", "short", "m")
    assert line.startswith("long − short: +0.100 [") and line.endswith("reproduced")
    assert "inconclusive" in cs.single_run_change(variants, {"m": {"seeds": 3, "mAP_std": 0.2}}, "long", "short", "m")
    assert cs.single_run_change(variants, {}, "long", "short", "m") == "long − short: +0.100 (no seed spread to judge it by)"
    assert cs.single_run_change(variants, summary, "long", "other", "m") == "long vs other: not run yet"


def test_smoke_study_runs_resumes_and_keeps_the_older_variants(one_thread, monkeypatch):
    results = Path(os.environ["BOOK_RESULTS_DIR"])
    (results / "ch5").mkdir(parents=True)
    (results / "ch5" / "study.smoke.json").write_text(json.dumps(
        {"chapter": "ch5", "metrics": {"variants": {"baseline": {"mAP": 0.5}}}, "config": {"steps": 4}}))
    messages = []
    cs.run_study("smoke", log=messages.append)
    record = json.loads((results / "ch5" / "study.smoke.json").read_text())
    assert record["metrics"]["variants"] == {"baseline": {"mAP": 0.5}} and record["config"]["steps"] == 4
    scale = record["metrics"]["scale"]
    sizes = cs.study_sizes("smoke")
    assert scale["steps"] == sizes["table_steps"] and scale["seed"] == sizes["seeds"]
    assert set(scale["map"]) == set(sizes["models"]) and all(len(v) == 2 for v in scale["map"].values())
    assert scale["pending"] == [] and len(scale["units"]) == len(cs.plan("smoke"))
    assert all(0 <= u["map"] <= 1 and u["curve"]["steps"][-1] == u["steps"] for u in scale["units"])
    assert [p["train_clips"] for p in scale["gap_by_clips"]["points"]] == sorted(sizes["clips"])
    assert scale["gap_by_clips"]["change"]["verdict"] in ("reproduced", "reversed", "inconclusive")
    assert scale["comparisons"][0]["test_sources"] >= 2
    # the study ran on the earlier split with one untuned rate: the report's 5a reads the comparison (tuned on
    # validation, split by recording), never the study's table, however complete
    from audioformers import report

    assert scale["table_record"]["complete"]
    measured = report._ch5_transformer_vs_cnn("smoke", results)
    assert measured.verdict == "not yet run" and "transformer-average − cnn-vgg" not in measured.text
    # resuming trains nothing: every unit is cached
    monkeypatch.setattr(runs, "train_model", lambda *a, **k: pytest.fail("a finished unit was retrained"))
    again, _ = cs.load_or_run("smoke")
    assert again["map"] == scale["map"]
    (results / "ch5" / "study.smoke.json").unlink()
    assert cs.load_or_run("smoke")[0]["map"] == scale["map"]  # missing file: rebuilt from the cached units
    assert all(u["key"] == cs.unit_config(cs.Unit(u["stage"], u["model"], u["seed"], u["steps"], u["train_clips"]),
                                          "smoke").key() for u in scale["units"] if u["source"] == "study unit")
    # a purged cache (a fresh machine): the results file is the record, nothing is retrained
    import shutil

    shutil.rmtree(runs.cache_dir())
    rows, pending = cs.collect("smoke")
    assert pending == [] and sorted(r["map"] for r in rows) == sorted(u["map"] for u in scale["units"])
    assert cs.run_study("smoke", log=messages.append)["scale"]["map"] == scale["map"]
    # a unit recorded under another key (other data or config) is pending again; nothing else is
    record = json.loads((results / "ch5" / "study.smoke.json").read_text())
    ours = [u for u in record["metrics"]["scale"]["units"] if u["source"] == "study unit"]
    ours[0]["key"] = "0" * 12
    (results / "ch5" / "study.smoke.json").write_text(json.dumps(record))
    _, pending = cs.collect("smoke")
    assert [(u.model, u.seed, u.steps, u.train_clips) for u in pending] == [
        (ours[0]["model"], ours[0]["seed"], ours[0]["steps"], ours[0]["train_clips"])]


def test_deadline_stops_before_a_unit_that_would_not_finish(monkeypatch):
    monkeypatch.setattr(runs, "run_one", lambda cfg, cached_only=False, **k: None if cached_only else pytest.fail("ran"))
    monkeypatch.setattr(cs, "write_study", lambda profile=None, device=None: {"scale": {}})
    messages = []
    soon = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=1)
    cs.run_study("smoke", until=soon, log=messages.append)
    assert len(messages) == 1 and messages[0].startswith("stopping before") and "resume with" in messages[0]


def test_long_step_comparisons_pair_the_models_that_reached_the_long_step_count():
    sizes = cs.study_sizes("book")
    long, everything = sizes["long_steps"], sizes["all_clips"]
    rows = [{"stage": "5000 steps", "model": m, "seed": seed, "steps": long, "train_clips": everything,
             "map": base + 0.01 * seed, "per_source": {f"s{i}": base + 0.01 * seed + 0.002 * i for i in range(4)},
             "train_seconds": 1.0}
            for m, base in (("transformer-average", 0.40), ("cnn-vgg", 0.50), ("transformer-haar", 0.41))
            for seed in (0, 1)]
    out = cs.summarise_study(rows, "book")
    pairs = {(c["a"], c["b"]): c for c in out["comparisons_long"]}
    assert set(pairs) == {("transformer-haar", "transformer-average"), ("transformer-average", "cnn-vgg"),
                          ("transformer-haar", "cnn-vgg")}
    assert pairs[("transformer-average", "cnn-vgg")]["difference"] == pytest.approx(-0.10)
    assert pairs[("transformer-average", "cnn-vgg")]["verdict"] == "reversed"
    assert out["comparisons"] == [] and out["long_steps"] == long  # nothing at the table's step count
