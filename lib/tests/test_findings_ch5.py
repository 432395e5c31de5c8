"""Chapter 5's "What we found" (#30, #32 item 4): the text's numbers are those in results/ch5, its verdicts are the
report's, it states the budget (steps, clips, the fraction of the paper's 40,966 FSD50K clips), says that the
'data' sweep varies mixtures of the same events, and states the gap's trend piecewise without extrapolating it
past a change of slope; the report's 5a row does the same."""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from audioformers.ch5 import claims, findings
from audioformers.evaluation import budgets as bg
from audioformers.evaluation import evidence as ev

RESULTS = Path(__file__).resolve().parents[2] / "results"
needs_book = pytest.mark.skipif(not (RESULTS / "ch5" / "study.book.json").exists(),
                                reason="no chapter-5 book study committed")


def _study() -> dict:
    return json.loads((RESULTS / "ch5" / "study.book.json").read_text())["metrics"]["scale"]


def _units(scale, model, steps, clips):
    return {u["seed"]: u for u in scale["units"]
            if u["model"] == model and u["steps"] == steps and u["train_clips"] == clips}


@pytest.fixture(scope="module")
def text() -> str:
    return findings.findings_markdown("book", RESULTS)


@needs_book
def test_the_budget_is_stated_with_the_papers_fraction(text):
    cfg = _study()["table_record"]["config"]
    budget = text.split("\n\n")[0]
    assert f"{cfg['steps']:,} steps of {cfg['batch_size']} one-second crops" in budget
    assert f"{cfg['steps'] * cfg['batch_size']:,} crops" in budget
    assert f"{cfg['train_clips']:,} soundmix-mini training clips" in budget
    fraction = bg.percent(cfg["train_clips"] / claims.PAPER.amount)
    assert fraction == "4.9%" and f"{fraction} of the 40,966 FSD50K clips" in budget
    assert f"({cfg['lr']:g}, not tuned per model)" in budget


@needs_book
def test_the_table_numbers_are_the_studys(text):
    scale = _study()
    table = findings.findings_table_markdown("book", RESULTS)
    for model in findings.MODEL_NAMES:
        for steps in (300, 1000, 5000):
            units = _units(scale, model, steps, 2000)
            if not units:
                continue
            values = [u["map"] for u in units.values()]
            cell = f"{np.mean(values):.3f} ± {np.std(values, ddof=1):.3f}"
            row = next(line for line in table.splitlines() if line.startswith(f"| `{model}`"))
            assert cell in row, (model, steps, cell, row)
    best = max(("transformer-average", "transformer-haar", "transformer-dft"),
               key=lambda m: np.mean([u["map"] for u in _units(scale, m, 1000, 2000).values()]))
    assert f"the best transformer, `{best}`, reaches mAP " \
           f"{np.mean([u['map'] for u in _units(scale, best, 1000, 2000).values()]):.3f}" in text


@needs_book
def test_the_verdicts_are_the_reports(text):
    for claim in claims.CLAIMS:
        measured = claim.measure("book", RESULTS)
        assert measured.budget.words(measured.verdict) in text, claim.key
    # and the verdict words appear nowhere else in the text: no verdict of the chapter's own
    words = re.compile("|".join(re.escape(w) for w in ev.VERDICTS))
    assert len(words.findall(text)) == len(claims.CLAIMS)


@needs_book
def test_the_gap_is_stated_piecewise_and_not_extrapolated(text):
    """#32: +0.030 mAP per doubling from 300 to 1,000 steps, +0.013 from 1,000 to 5,000 — both said; no crossover."""
    scale = _study()
    gaps = {}
    for steps in (300, 1000, 5000):
        tf, cnn = _units(scale, "transformer-average", steps, 2000), _units(scale, "cnn-vgg", steps, 2000)
        gaps[steps] = np.mean([np.mean(list(tf[s]["per_source"].values())) - np.mean(list(cnn[s]["per_source"].values()))
                               for s in tf])
    first = (gaps[1000] - gaps[300]) / math.log2(1000 / 300)
    second = (gaps[5000] - gaps[1000]) / math.log2(5000 / 1000)
    assert (round(first, 3), round(second, 3)) == (0.030, 0.013)
    steps = next(p for p in text.split("\n\n") if p.startswith("**More steps.**"))
    assert f"{first:+.3f} mAP per doubling of steps from 300 to 1,000 steps" in steps
    assert f"{second:+.3f} mAP per doubling of steps from 1,000 to 5,000 steps" in steps
    assert "the rate fell" in steps and "nothing here says whether or when" in steps
    assert not re.search(r"after about [\d.]+ (more )?doublings|≈ [\d,]+ steps", text)
    for s, g in gaps.items():
        assert f"{g:+.3f} at {s:,}" in steps


@needs_book
def test_the_report_row_states_the_trend_piecewise():
    d = claims.ch5_gap_by_steps("book", RESULTS)
    why, take = claims.gap_by_steps_text(d)
    assert "+0.030 mAP per doubling from 300 to 1,000 steps and +0.013 mAP per doubling from 1,000 to 5,000 steps" \
        in take
    assert "no crossover is extrapolated past 5,000 steps" in take
    assert "close after about" not in take and "275" not in take


def test_two_points_keep_the_straight_line_three_with_a_falling_rate_do_not():
    iv = ev.Interval(0.02, 0.01, 0.03, 0.95, "t", 3, 5)
    base = {"models": ("transformer-average", "cnn-vgg"), "per_doubling": iv, "steps": (250, 4000),
            "gap_first": -0.2, "gap_now": -0.1}
    _, two = claims.gap_by_steps_text({**base, "points": [(250, -0.2), (4000, -0.1)]})
    assert "close after about" in two
    _, falling = claims.gap_by_steps_text({**base, "points": [(250, -0.2), (1000, -0.12), (4000, -0.1)]})
    assert "close after about" not in falling and "the rate fell" in falling
    assert "+0.040 mAP per doubling from 250 to 1,000 steps and +0.010 mAP per doubling from 1,000 to 4,000" in falling
    _, steady = claims.gap_by_steps_text({**base, "points": [(250, -0.2), (1000, -0.16), (4000, -0.1)]})
    assert "close after about" in steady  # the rate did not fall: the measured line may be extended, as before


@needs_book
def test_the_data_sweep_is_said_to_vary_mixtures_not_unique_audio(text):
    data = next(p for p in text.split("\n\n") if p.startswith("**More clips is not more data.**"))
    assert "new mixture of the same training events" in data and "not how much unique audio" in data
    for clips in (500, 1000, 2000):
        assert f"on {clips:,} clips" in data


@needs_book
def test_transformer_dft_is_defined_in_the_table():
    table = findings.findings_table_markdown("book", RESULTS)
    assert "| `transformer-dft` | transformer-average with its wide front-end layer started as a DFT" in table


def test_a_missing_study_is_said_not_guessed(tmp_path):
    (tmp_path / "ch5").mkdir()
    text = findings.findings_markdown("book", tmp_path)
    assert "has not been run" in text and "python -m audioformers.ch5.study --profile book" in text
    assert findings.findings_table_markdown("book", tmp_path) == ""


@needs_book
def test_a_study_without_its_table_says_so(tmp_path):
    """A study file whose table step count has no runs yet (as at smoke) gives no 'best' model, only the note."""
    shutil.copytree(RESULTS / "ch5", tmp_path / "ch5")
    path = tmp_path / "ch5" / "study.book.json"
    record = json.loads(path.read_text())
    record["metrics"]["scale"]["units"] = [u for u in record["metrics"]["scale"]["units"] if u["steps"] != 1000]
    path.write_text(json.dumps(record))
    text = findings.findings_markdown("book", tmp_path)
    assert "The study's table at 1,000 steps is not in results/" in text
