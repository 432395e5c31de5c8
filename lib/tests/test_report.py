"""The reproduction report reads results/ and gives verdicts; it never invents a number."""

import json

import pytest

from audioformers import report


def _write(directory, chapter, name, profile, metrics, device="cpu (2 threads)", wall=60.0):
    folder = directory / chapter
    folder.mkdir(parents=True, exist_ok=True)
    record = {"metrics": metrics, "device": device, "wall_time_s": wall}
    (folder / f"{name}.{profile}.json").write_text(json.dumps(record))


def _ch3(directory, domain, seed, wavenet, transformer, conditioned):
    metrics = {m: {"final": {"top5": v}} for m, v in
               (("wavenet", wavenet), ("transformer", transformer), ("conditioned", conditioned))}
    _write(directory, "ch3", f"compare_{domain}_seed{seed}", "book", metrics)


def test_missing_results_are_not_yet_run(tmp_path):
    rows = report.build_report("book", tmp_path)
    assert len(rows) == len(report.CLAIMS)
    assert {r["verdict"] for r in rows} == {"not yet run"}


def test_transformer_ahead_everywhere_is_reproduced(tmp_path):
    for seed, jitter in enumerate((0.0, 0.01, -0.01)):
        _ch3(tmp_path, "music", seed, 0.70 + jitter, 0.78 + jitter, 0.80 + jitter)
        _ch3(tmp_path, "speech", seed, 0.60 + jitter, 0.66 + jitter, 0.65 + jitter)
    rows = {r["claim"]: r for r in report.build_report("book", tmp_path)}
    assert rows["3a"]["verdict"] == "reproduced"
    assert "+8.0 ± 0.0 points (n=3)" in rows["3a"]["ours (book)"]
    assert rows["3b"]["verdict"] == "partly"  # ahead on music, behind on speech
    assert rows["3a"]["wall time"] == "6.0 min"


def test_wavenet_ahead_is_not_reproduced(tmp_path):
    _ch3(tmp_path, "music", 0, 0.24, 0.19, 0.17)
    rows = {r["claim"]: r for r in report.build_report("book", tmp_path)}
    assert rows["3a"]["verdict"] == "not reproduced"
    assert "-5.0" in rows["3a"]["ours (book)"]


def test_probe_orderings_use_the_seed_spread(tmp_path):
    table = {"code_lm": {"mean": 0.60, "std": 0.01, "n": 3}, "simclr": {"mean": 0.59, "std": 0.02, "n": 3},
             "supervised_cnn": {"mean": 0.72, "std": 0.01, "n": 3}}
    _write(tmp_path, "ch4", "probe-table-instruments-mini", "book", {"table": table})
    rows = {r["claim"]: r for r in report.build_report("book", tmp_path)}
    assert rows["4a"]["verdict"] == "partly"  # ahead by less than the combined spread
    assert rows["4b"]["verdict"] == "reproduced" and "+12.0 points" in rows["4b"]["ours (book)"]


def test_haar_vs_average_and_markdown(tmp_path):
    summary = {"transformer-haar": {"mAP_mean": 0.30, "mAP_std": 0.01, "seeds": 3, "parameters": 1e6},
               "transformer-average": {"mAP_mean": 0.25, "mAP_std": 0.01, "seeds": 3, "parameters": 1e6},
               "cnn-vgg": {"mAP_mean": 0.28, "mAP_std": 0.01, "seeds": 3, "parameters": 1e6}}
    _write(tmp_path, "ch5", "comparison", "book", {"summary": summary})
    rows = {r["claim"]: r for r in report.build_report("book", tmp_path)}
    assert rows["5a"]["verdict"] == "reproduced"
    assert rows["5b"]["verdict"] == "reproduced"
    assert rows["5c"]["verdict"] == "not yet run"  # FSD50K needs the paper profile
    table = report.to_markdown(list(rows.values()))
    assert table.count("\n") == len(rows) + 1


def test_bad_verdict_is_refused():
    with pytest.raises(ValueError, match="verdict"):
        report.Measured("x", "maybe", "y")


def test_attention_cost_claim(tmp_path):
    _write(tmp_path, "ch3", "attention_cost", "book",
           {"time_exponent": {"plain_attention": 1.9, "transformer": 1.2, "wavenet": 1.0}})
    rows = {r["claim"]: r for r in report.build_report("book", tmp_path)}
    assert rows["3d"]["verdict"] == "reproduced" and "n^1.90" in rows["3d"]["ours (book)"]
    _write(tmp_path, "ch3", "attention_cost", "book",
           {"time_exponent": {"plain_attention": 1.3, "transformer": 1.1, "wavenet": 1.0}})
    rows = {r["claim"]: r for r in report.build_report("book", tmp_path)}
    assert rows["3d"]["verdict"] == "partly"


def test_two_note_codes_claim(tmp_path):
    table = [{"K": 2, "shared_patch_fraction": 0.62, "codes_per_pitch": [1, 2]},
             {"K": 256, "shared_patch_fraction": 0.0, "codes_per_pitch": [112, 144]}]
    _write(tmp_path, "ch4", "two-notes", "book", {"table": table})
    row = {r["claim"]: r for r in report.build_report("book", tmp_path)}["4c"]
    assert row["verdict"] == "reproduced" and "62% at K=2" in row["ours (book)"]
    table[0]["shared_patch_fraction"] = 0.1
    _write(tmp_path, "ch4", "two-notes", "book", {"table": table})
    assert {r["claim"]: r for r in report.build_report("book", tmp_path)}["4c"]["verdict"] == "partly"
