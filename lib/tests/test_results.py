import json

import numpy as np
import pytest

from audioformers.core import results


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
    with pytest.raises(FileNotFoundError, match="reproduce ch4 --profile paper"):
        results.load_results("ch4", "x", profile="paper", directory=tmp_path)
    with pytest.raises(FileNotFoundError, match="rerun the code that wrote it"):  # no command for an unknown chapter
        results.load_results("ch9", "x", profile="paper", directory=tmp_path)


@pytest.mark.parametrize("content", ['{"metrics": {"a": 1', "", '["not", "a", "record"]', "\x00\xff"])
def test_corrupt_results_name_the_file_and_the_command(tmp_path, content):
    path = results.write_results("ch5", "comparison", {"a": 1}, config={}, profile="smoke", directory=tmp_path)
    path.write_bytes(content.encode("latin-1"))
    with pytest.raises(results.CorruptFileError) as error:
        results.load_results("ch5", "comparison", profile="smoke", directory=tmp_path)
    assert str(path) in str(error.value) and "python -m audioformers.reproduce ch5 --profile smoke" in str(error.value)


def test_atomic_write_never_leaves_a_half_file(tmp_path):
    target = tmp_path / "a.json"
    results.atomic_write_text(target, "old")

    def fail(handle):
        handle.write(b"partial")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        results.atomic_write(target, fail)
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]


def test_corrupt_json_cache_is_recomputed_with_a_notice(tmp_path, capsys):
    cache = tmp_path / "run.json"
    cache.write_text('{"mAP": 0.')
    assert results.read_cache_json(cache) is None
    assert not cache.exists()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "notice: cache" in err and str(cache) in err
    results.atomic_write_text(cache, '{"mAP": 0.5}')
    assert results.read_cache_json(cache) == {"mAP": 0.5}


@pytest.mark.parametrize("name", ["", "../x", ".hidden", "a/b"])
def test_bad_names(tmp_path, name):
    with pytest.raises(ValueError):
        results.write_results("ch0", name, {}, directory=tmp_path)


def test_profile_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("BOOK_PROFILE", "smoke")
    assert results.write_results("ch0", "p", {}, directory=tmp_path).name == "p.smoke.json"


# --- one reader of stored results: a damaged file is named, never a bare JSONDecodeError (issue 28) -----

@pytest.mark.parametrize("content, what", [('{"metrics": {"a": 1', "is corrupt (JSONDecodeError"),
                                           ("\x00\xff", "is corrupt (UnicodeDecodeError"),
                                           ("[1, 2]", "not a JSON object"),
                                           ('{"metrics": {}}', "no config")])
def test_read_results_file_names_the_file_and_the_command(tmp_path, content, what):
    path = tmp_path / "ch3" / "scaling.book.json"
    path.parent.mkdir()
    path.write_bytes(content.encode("latin-1"))
    with pytest.raises(results.CorruptFileError) as error:
        results.read_results_file(path)
    message = str(error.value)
    assert str(path) in message and what in message
    assert "python -m audioformers.reproduce ch3 --profile book" in message


def test_read_results_file_fields_are_optional_but_the_record_must_be_an_object(tmp_path):
    path = tmp_path / "ch5" / "front_end.smoke.json"
    path.parent.mkdir()
    path.write_text('{"metrics": {}}')
    assert results.read_results_file(path, fields=()) == {"metrics": {}}
    path.write_text('"text"')
    with pytest.raises(results.CorruptFileError, match="reproduce ch5 --profile smoke"):
        results.read_results_file(path, fields=())


def test_the_report_names_a_truncated_results_file(tmp_path):
    """Issue 28: a truncated results JSON read by report.build_report gave a bare JSONDecodeError."""
    from audioformers import report

    path = results.write_results("ch5", "comparison", {"mAP": 0.5}, config={}, profile="book", directory=tmp_path)
    assert report.build_report("book", tmp_path)  # readable: the report is built
    path.write_text(path.read_text()[:40])
    with pytest.raises(results.CorruptFileError) as error:
        report.build_report("book", tmp_path)
    assert str(path) in str(error.value) and "python -m audioformers.reproduce ch5 --profile book" in str(error.value)
    path.unlink()
    path = results.write_results("ch3", "compare_music_seed0", {"top5": 0.3}, config={}, profile="book",
                                 directory=tmp_path)
    path.write_text(path.read_text()[:25])  # read through the report's glob of seeds
    with pytest.raises(results.CorruptFileError, match="compare_music_seed0.book.json is corrupt"):
        report.build_report("book", tmp_path)


def test_reuse_or_run_reuses_a_record_only_for_the_same_config(tmp_path):
    """The one rule every chapter's "load or run" follows: the stored record when its config matches, else a run."""
    from dataclasses import dataclass

    from audioformers.core.results import reuse_or_run, stored_result, write_results

    @dataclass
    class Config:
        steps: int
        sizes: tuple = (1, 2)

    runs = []

    def run(config):
        def go():
            runs.append(config)
            write_results("chx", "study", {"value": len(runs)}, config=config, profile="smoke", directory=tmp_path)
        return go

    first = reuse_or_run("chx", "study", "smoke", Config(3), run(Config(3)), directory=tmp_path)
    again = reuse_or_run("chx", "study", "smoke", {"steps": 3, "sizes": [1, 2]}, run(Config(3)), directory=tmp_path)
    assert first["metrics"] == again["metrics"] == {"value": 1} and len(runs) == 1  # a dataclass and its JSON agree
    assert stored_result("chx", "study", "smoke", Config(4), directory=tmp_path) is None
    other = reuse_or_run("chx", "study", "smoke", Config(4), run(Config(4)), directory=tmp_path)
    assert other["metrics"] == {"value": 2} and len(runs) == 2
    with pytest.raises(RuntimeError, match="did not write a record with this config"):
        reuse_or_run("chx", "study", "smoke", Config(5), lambda: None, directory=tmp_path)
    (tmp_path / "chx" / "study.smoke.json").write_text('{"metrics": {')
    with pytest.raises(results.CorruptFileError):  # a damaged record is named, not silently re-run
        stored_result("chx", "study", "smoke", Config(4), directory=tmp_path)


def test_writing_the_same_measurement_again_leaves_the_record_alone(tmp_path):
    """Re-executing a notebook that re-measures something cheap must not rewrite a committed record (only its
    provenance would change); different numbers or config are written."""
    path = results.write_results("chx", "live", {"a": 1.5}, config={"k": 2}, profile="smoke", directory=tmp_path)
    before = path.read_bytes()
    import time

    time.sleep(1.1)  # a new written_at would differ
    results.write_results("chx", "live", {"a": 1.5}, config={"k": 2}, profile="smoke", directory=tmp_path)
    assert path.read_bytes() == before
    results.write_results("chx", "live", {"a": 1.75}, config={"k": 2}, profile="smoke", directory=tmp_path)
    assert json.loads(path.read_text())["metrics"] == {"a": 1.75}
    results.write_results("chx", "live", {"a": 1.75}, config={"k": 3}, profile="smoke", directory=tmp_path)
    assert json.loads(path.read_text())["config"] == {"k": 3}
