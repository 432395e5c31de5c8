"""Tests of chapter 4's fold protocol: folds over held-out sources, one pooling, the probe grid, the tables."""

import numpy as np
import pytest
import torch

from audioformers.ch4 import config, experiment, folds, pretraining, tables
from audioformers.models import code_lm, contrastive
from audioformers.evaluation import probes
from audioformers.data.builders import FAMILIES, program_split


def _instrument_clips():
    families = sorted(FAMILIES)
    labels, programs, splits = [], [], []
    for f, family in enumerate(families):
        for p, program in enumerate(FAMILIES[family][0]):
            labels += [f, f]
            programs += [program, program]
            splits += [program_split(f, p)] * 2
    return np.array(labels), np.array(programs), np.array(splits), families


def test_instrument_folds_rotate_every_program_through_the_test_set_once():
    labels, programs, splits, families = _instrument_clips()
    groups = folds.instrument_folds(labels, programs, families)
    assert sorted(set(groups)) == list(range(6))
    for program in set(programs):  # a program's clips are all in one group
        assert len(set(groups[programs == program])) == 1
    for fold in range(6):
        s = folds.fold_splits(groups, fold, 6)
        for f in range(len(families)):  # one test and one validation program per family, four for training
            assert len(set(programs[s["test"]][labels[s["test"]] == f])) == 1
            assert len(set(programs[s["val"]][labels[s["val"]] == f])) == 1
            assert len(set(programs[s["train"]][labels[s["train"]] == f])) == 4
    first = folds.fold_splits(groups, 0, 6)  # fold 0 is the dataset's own split
    for name in ("train", "val", "test"):
        assert set(first[name]) == set(np.flatnonzero(splits == name))


def test_fold_splits_are_disjoint_and_cover_every_clip():
    groups = np.repeat(np.arange(7), 3)
    for fold in range(7):
        s = folds.fold_splits(groups, fold, 7)
        together = np.concatenate([s["train"], s["val"], s["test"]])
        assert sorted(together) == list(range(len(groups)))
        assert set(groups[s["val"]]) == {(fold + 1) % 7} and set(groups[s["test"]]) == {fold}
    with pytest.raises(ValueError, match="fold must be in 0..6"):
        folds.fold_splits(groups, 7, 7)


def test_group_sources_balances_clip_counts_and_keeps_sources_whole():
    sources = np.array(sum(([f"kit{i}"] * n for i, n in enumerate([100, 60, 50, 40, 10, 10, 5, 5])), []))
    groups = folds.group_sources(sources, 4)
    for name in set(sources):
        assert len(set(groups[sources == name])) == 1
    counts = np.bincount(groups)
    assert len(counts) == 4 and counts.max() <= 100
    with pytest.raises(ValueError, match="num_folds 9 exceeds the 8 sources"):
        folds.group_sources(sources, 9)


def test_pool_mean_std_pools_over_time():
    x = np.stack([np.stack([np.arange(4.0), np.full(4, 2.0)], axis=1)])  # (1, T=4, D=2)
    out = probes.pool_mean_std(x)
    np.testing.assert_allclose(out, [[1.5, 2.0, np.std(np.arange(4.0)), 0.0]], rtol=1e-6)
    with pytest.raises(ValueError, match="frames must be"):
        probes.pool_mean_std(np.zeros((3, 4)))


def test_probe_grid_chooses_c_on_validation_and_scores_per_source():
    rng = np.random.default_rng(0)
    centres = 3 * rng.standard_normal((3, 5))

    def draw(n):
        y = rng.integers(0, 3, n)
        return centres[y] + rng.standard_normal((n, 5)), y

    (xt, yt), (xv, yv), (xs, ys) = draw(120), draw(60), draw(60)
    sources = np.where(np.arange(60) < 30, "a", "b")
    out = probes.probe_grid(xt, yt, xv, yv, xs, ys, test_sources=sources)
    assert out["c"] in probes.C_GRID and out["val_accuracy"] == max(out["val_by_c"])
    assert out["test_accuracy"] > 0.9
    assert set(out["per_source"]) == {"a", "b"}
    assert np.mean(list(out["per_source"].values())) == pytest.approx(out["test_accuracy"])
    assert out["interior"] == (0 < out["c_index"] < len(probes.C_GRID) - 1)
    with pytest.raises(ValueError, match="ascending"):
        probes.probe_grid(xt, yt, xv, yv, xs, ys, grid=(1.0, 0.1))
    with pytest.raises(ValueError, match="differ in width"):
        probes.probe_grid(xt, yt, xv[:, :4], yv, xs, ys)


def test_augment_keeps_time_order_unless_asked_to_reverse():
    ramp = torch.linspace(0.0, 20.0, 60)
    x = ramp.expand(8, 16, 60).clone()  # (B, M, T): rising in time

    def slopes(flip_prob):
        view = contrastive.augment(x, torch.Generator().manual_seed(0), crop_frames=None, flip_prob=flip_prob)
        profile = view.mean(1)  # (B, T)
        return torch.stack([torch.corrcoef(torch.stack([p, ramp]))[0, 1] for p in profile])

    assert bool((slopes(0.0) > 0.5).all())  # the default: no time reversal
    assert bool((slopes(1.0) < -0.5).all())
    with pytest.raises(ValueError, match="flip_prob"):
        contrastive.augment(x, torch.Generator(), flip_prob=1.5)


def test_supervised_early_stopping_returns_the_best_evaluation():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 16, 24)).astype(np.float32)
    y = rng.integers(0, 3, 40)  # labels unrelated to the input: validation accuracy cannot keep improving
    cfg = contrastive.CNNConfig(n_mels=16, channels=(4, 8), embed_dim=8, projection_dim=8, num_classes=3)
    model, log = contrastive.train_supervised_early_stopping(x[:30], y[:30], x[30:], y[30:], cfg, max_steps=200,
                                                             eval_every=2, patience=2, batch_size=8, crop_frames=16)
    assert log["step"][-1] < 200  # stopped early
    best = log["step"][int(np.argmax(log["val_accuracy"]))]
    assert log["best_step"] == [best]
    with torch.no_grad():
        acc = float((model.classifier(model(torch.from_numpy(x[30:]))).argmax(1).numpy() == y[30:]).mean())
    assert acc == pytest.approx(max(log["val_accuracy"]))
    emb = contrastive.pooled_embeddings(model, x)
    assert emb.shape == (40, 16)  # mean and std of the last 8 channels


def test_code_lm_snapshots_are_taken_at_the_asked_steps():
    codes = np.random.default_rng(0).integers(0, 8, (20, 12))
    cfg = code_lm.CodeLMConfig(num_codes=8, context_length=12, width=16, num_layers=1, num_heads=2)
    snaps = {}
    model, _ = code_lm.train_code_lm(codes, cfg, steps=5, batch_size=4, snapshot_every=2, snapshots=snaps)
    assert sorted(snaps) == [2, 4, 5]
    for k, v in model.state_dict().items():
        assert torch.equal(v, snaps[5][k])
    assert not torch.equal(snaps[2]["head.weight"], snaps[5]["head.weight"])
    with pytest.raises(ValueError, match="snapshots"):
        code_lm.train_code_lm(codes, cfg, steps=2, snapshot_every=1)
    assert pretraining._snapshot_steps(1200, 4) == [150, 300, 600, 1200]
    assert pretraining._snapshot_steps(500, 4) == [62, 124, 248, 500]


def _fake_runs(folds=6, seeds=(0, 1, 2), gap=0.05):
    rng = np.random.default_rng(1)
    runs = {}
    fold_level = 0.4 + 0.1 * rng.standard_normal(folds)  # folds differ much more than seeds
    for seed in seeds:
        run = {"folds": {}, "supervised": {}, "lm_steps": [2, 4], "simclr_steps": [1, 2],
               "pretrain_log": {"seconds": {"code_lm": 10.0, "simclr": 11.0, "tokenizer": 1.0}}}
        for f in range(folds):
            level = fold_level[f] + 0.01 * rng.standard_normal()
            probe = {}
            for i, m in enumerate((*tables.FINAL_METHODS, "lm_layer0", "lm_layer1", "lm_layer2", "lm_layer3")):
                acc = level + (gap if m == "lm_states" else 0.0) + 0.001 * i
                probe[m] = {"test_accuracy": acc, "c": 0.1, "c_index": 4, "interior": True, "chance": 0.1,
                            "per_source": {f"program-{f}a": acc, f"program-{f}b": acc}}
            probe["lm_states"]["layer"] = 2
            run["folds"][str(f)] = {"probe": probe, "curve": {"code_lm": {"2": 0.3, "4": 0.35},
                                                              "simclr": {"1": 0.3, "2": 0.31}}}
            run["supervised"][str(f)] = {"best_step": [100], "seconds": 5.0}
        runs[seed] = run
    return runs


def test_fold_table_names_folds_paired_differences_and_pipeline_stages():
    ps = folds.ProbeSet("instruments-mini-xl", np.zeros((12, 2, 2)), np.arange(12) % 3,
                            np.array([f"s{i}" for i in range(12)]), np.arange(12) % 6, 6, ["a", "b", "c"])
    cfg = config.FoldConfig()
    summary = tables.summarise(ps, cfg, _fake_runs())
    assert summary["folds"] == 6
    assert np.shape(summary["per_fold"]["code_lm"]) == (6, 3)  # [[acc per seed] per fold]
    assert len(summary["per_source"]["simclr"]) == 12
    gap = summary["paired_difference"]["lm_states - histogram"]
    assert gap["ci_low"] > 0 and gap["verdict"] == "reproduced"  # a constant 5-point gain over noisy folds
    pipeline = tables.pipeline_table(summary)
    assert {"bottleneck", "centroid", "histogram", "lm_states"} <= set(pipeline["stages"])
    assert set(pipeline["steps"]["lm_states - histogram"]) >= {"ci_low", "ci_high", "mean"}
    assert summary["probe_c"]["interior_fraction"] == 1.0
    assert summary["probe_c"]["rule"] == "one_se" and "one standard error" in summary["probe_c"]["rule_text"]
    assert summary["probe_c"]["at_low_end"] == summary["probe_c"]["at_high_end"] == 0
    assert summary["curves"]["code_lm"]["pretrain_steps"] == [2, 4]
    # the untrained encoder is a row of the table and the trivial baseline of every learned representation
    assert "untrained" in summary["table"] and "code_lm - untrained" in summary["paired_difference"]
    # every pair is also read over seeds x test sources (12 programs here), with the protocol's interval
    by_source = summary["paired_difference"]["lm_states - histogram"]["by_source"]
    assert by_source["sources"] == 12 and "3 seeds × 12 test sources" in by_source["method"]
    assert by_source["ci_low"] > 0


def test_the_interior_fraction_counts_choices_at_an_end_of_the_grid():
    ps = folds.ProbeSet("instruments-mini-xl", np.zeros((12, 2, 2)), np.arange(12) % 3,
                        np.array([f"s{i}" for i in range(12)]), np.arange(12) % 6, 6, ["a", "b", "c"])
    runs = _fake_runs(seeds=(0,))
    for fold in runs[0]["folds"].values():
        fold["probe"]["simclr"].update(c_index=0, interior=False)
    summary = tables.summarise(ps, config.FoldConfig(), runs)
    methods = len(summary["probe_c"]["chosen"])
    assert summary["probe_c"]["interior_fraction"] == pytest.approx(1 - 1 / methods)
    assert summary["probe_c"]["at_low_end"] == 6 and summary["probe_c"]["interior_fraction_by_method"]["simclr"] == 0.0


def test_study_summary_gives_per_fold_scores_and_an_interval_per_value():
    from audioformers.ch4 import study as ch4_study

    units = [{"sweep": "num_codes", "value": k, "seed": seed, "code_perplexity": 10.0 + k,
              "accuracy": {"histogram": [0.3 + 0.01 * f + 0.001 * seed for f in range(6)]}}
             for k in (16, 1024) for seed in (0, 1)]
    out = ch4_study.summarise(units)
    row = out["num_codes"]["1024"]
    assert np.shape(row["per_fold"]["histogram"]) == (6, 2)  # [[acc per seed] per fold]
    assert row["ci_low"]["histogram"] < row["mean"]["histogram"] < row["ci_high"]["histogram"]
    assert row["mean"]["histogram"] == pytest.approx(0.3 + 0.025 + 0.0005)


def test_a_recorded_seed_is_reused_when_the_cache_is_purged(monkeypatch):
    import json

    ps = folds.ProbeSet("instruments-mini-xl", np.zeros((12, 2, 2)), np.arange(12) % 3,
                            np.array([f"s{i}" for i in range(12)]), np.arange(12) % 6, 6, ["a", "b", "c"])
    cfg = config.FoldConfig()
    runs = _fake_runs(seeds=(0, 1))
    for run in runs.values():
        run["pretrain_log"].update(pool={"clips": {"music": 3}}, pool_clips=3, lm_curve=[1.0], simclr_loss=[2.0],
                                   code_perplexity=5.0, cpu_seconds={"code_lm": 1.0, "simclr": 1.1})
    tables.write_tables(ps, cfg, runs, "smoke", tables.recorded_seconds(runs))
    # the tables' wall time is the seeds' recorded training time: 2 seeds x (22 s + 6 folds x 5 s)
    assert tables.recorded_seconds(runs) == pytest.approx(2 * (22.0 + 6 * 5.0))
    monkeypatch.setattr(pretraining, "pretrain", lambda *a, **k: pytest.fail("a recorded seed was pre-trained again"))
    for seed, run in runs.items():
        assert experiment.probe_seed(ps, cfg, seed, profile="smoke") == json.loads(json.dumps(run))
    # another configuration (here a wider probe grid) is not this seed's run: it must be trained again
    other = config.FoldConfig(probe_c_grid=(*cfg.probe_c_grid, 100.0))
    assert experiment.recorded_seed(ps, other, 0, "smoke") is None
    assert experiment.recorded_seed(ps, cfg, 2, "smoke") is None  # a seed never run
    with pytest.raises(pytest.fail.Exception, match="pre-trained again"):
        experiment.probe_seed(ps, other, 0, profile="smoke")


def test_longer_pretraining_joins_the_fold_studys_curve_and_is_compared_paired_over_folds():
    from audioformers.ch4 import study as ch4_study

    folds = 6
    fold_effect = np.linspace(-0.05, 0.05, folds)
    # the fold study: seeds 0 and 1, snapshots at 2 and 4 steps; accuracy[step][fold][seed]
    table = {"seeds": [0, 1], "curves": {
        m: {"pretrain_steps": [2, 4], "accuracy": [[[base + d + f, base + d + f + 0.5] for f in fold_effect]
                                                    for d in (0.0, 0.02)]}
        for m, base in (("code_lm", 0.30), ("simclr", 0.40))}}
    # the 5x run of seed 0: snapshots at 10 and 20 steps; the next-code model gains 10 points, SimCLR nothing
    units = [{"sweep": "pretrain_scale", "value": 5, "seed": 0, "code_perplexity": 9.0,
              "accuracy": {"code_lm@10": list(0.40 + fold_effect), "code_lm@20": list(0.42 + fold_effect),
                           "simclr@10": list(0.42 + fold_effect), "simclr@20": list(0.42 + fold_effect + 0.001 * np.arange(folds))}}]
    study = {"sweeps": ch4_study.summarise(units)}
    points = ch4_study.pretraining_points(study, table)
    assert [p[0] for p in points["code_lm"]] == [2, 4, 10, 20]
    np.testing.assert_allclose(points["code_lm"][1][1], 0.32 + fold_effect)  # seed 0 only, not seed 1's +0.5
    lines = ch4_study.pretraining_lines(study, table)
    assert len(lines) == 3
    assert lines[0].startswith("code_lm at 20 steps − code_lm at 4 steps = +10.0 pts") and "reproduced" in lines[0]
    assert "simclr at 20 steps − simclr at 4 steps" in lines[1] and "reproduced" in lines[1]
    assert lines[2].startswith("code_lm at 20 steps − simclr at 20 steps") and "inconclusive" not in lines[2]
    assert ch4_study.pretraining_lines({"sweeps": {}}, table) == []


def test_the_longer_pretraining_unit_runs_at_smoke_and_is_cached(tmp_path, monkeypatch):
    """The study's pretrain_scale unit on real clips at smoke: snapshots at the multiplied steps, the same
    probe protocol (accuracy per fold at every snapshot), and a second call read from the cache."""
    from audioformers.ch4 import study as ch4_study
    from audioformers import data

    if not data.is_complete("instruments-mini"):
        pytest.skip("the offline dataset instruments-mini is not built here")
    monkeypatch.setattr(config, "cache_dir", lambda: tmp_path)
    cfg = config.fold_config("smoke", kmeans_vectors=500, max_folds=2)
    ps = folds.load_probe_set("instruments-mini", cfg)
    out = ch4_study.unit(ps, cfg, "pretrain_scale", 2, 0, say=lambda *a: None)
    assert out["lm_steps"][-1] == 2 * cfg.lm_steps and out["simclr_steps"][-1] == 2 * cfg.simclr_steps
    assert set(out["accuracy"]) == ({f"code_lm@{s}" for s in out["lm_steps"]}
                                    | {f"simclr@{s}" for s in out["simclr_steps"]})
    assert all(len(v) == 2 and all(0.0 <= a <= 1.0 for a in v) for v in out["accuracy"].values())
    assert len(out["layer"]) == 2 and all(0 <= layer <= cfg.lm_layers for layer in out["layer"])
    monkeypatch.setattr(pretraining, "pretrain", lambda *a, **k: pytest.fail("the cached unit was trained again"))
    assert ch4_study.unit(ps, cfg, "pretrain_scale", 2, 0, say=lambda *a: None) == out
    with pytest.raises(ValueError, match="sweep must be one of"):
        ch4_study.unit(ps, cfg, "pretraining", 2, 0)
