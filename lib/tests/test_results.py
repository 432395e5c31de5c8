import json

import numpy as np
import pytest

from audioformers import results


def test_write_and_load_with_provenance(tmp_path):
    path = results.write_results(
        "ch0", "demo", {"acc": np.float32(0.5), "curve": np.arange(3), "bad": float("nan")},
        config={"steps": 3}, seed=[0, 1], device="cpu", wall_time_s=1.5, profile="book", directory=tmp_path,
    )
    assert path == tmp_path / "ch0" / "demo.book.json"
    record = json.loads(path.read_text())
    for key in ("metrics", "config", "seed", "device", "versions", "git_commit", "wall_time_s", "profile"):
        assert key in record
    assert record["metrics"] == {"acc": 0.5, "curve": [0, 1, 2], "bad": None}
    assert record["versions"]["torch"]
    assert results.load_results("ch0", "demo", profile="book", directory=tmp_path)["seed"] == [0, 1]
    assert not list((tmp_path / "ch0").glob("*.partial"))


def test_missing_results_say_how_to_make_them(tmp_path):
    with pytest.raises(FileNotFoundError, match="reproduce ch9 --profile paper"):
        results.load_results("ch9", "x", profile="paper", directory=tmp_path)


@pytest.mark.parametrize("name", ["", "../x", ".hidden", "a/b"])
def test_bad_names(tmp_path, name):
    with pytest.raises(ValueError):
        results.write_results("ch0", name, {}, directory=tmp_path)


def test_profile_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("BOOK_PROFILE", "smoke")
    assert results.write_results("ch0", "p", {}, directory=tmp_path).name == "p.smoke.json"
