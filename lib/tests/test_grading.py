"""Grading a class: each submission in a sandbox, checks outside the student's kernel, flags for a person to read.

The folder tests start one kernel per submission (a few seconds each): their names contain ``grade_a_folder``,
the name the Makefile's LATEST_SKIP leaves out.
"""

from __future__ import annotations

import copy
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch
from nbformat.v4 import new_code_cell

from audioformers import coursework
from audioformers.book import grading

ROOT = Path(__file__).resolve().parents[2]
CHAPTER2 = ROOT / "chapters" / "02_raw_audio_mulaw.ipynb"
AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def _fill(student: nbformat.NotebookNode, answers: dict[str, str]) -> nbformat.NotebookNode:
    filled = copy.deepcopy(student)
    for cell in filled.cells:
        key = cell.metadata.get("exercise")
        if key in answers:
            cell.source = answers[key]
    return filled


def _chapter2(tmp: Path) -> tuple[nbformat.NotebookNode, dict[str, str], str]:
    """The student edition of chapter 2 (as ``make student`` writes it) and the book's solutions."""
    book = nbformat.read(CHAPTER2, as_version=4)
    solutions = {c.metadata["exercise"]: c.source for c in book.cells if c.metadata.get("exercise")}
    [stub_path] = coursework.make_student_copies([CHAPTER2], tmp / "handout")
    return nbformat.read(stub_path, as_version=4), solutions, stub_path.name


def _rows(out: Path) -> dict[tuple[str, str], dict[str, str]]:
    with out.open() as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == coursework.GRADE_FIELDS
    return {(r["student"], r["exercise"]): r for r in rows}
def test_grade_a_folder_of_submissions(tmp_path):
    stubs, solutions, notebook = _chapter2(tmp_path)
    submissions = tmp_path / "submissions"
    for student in ("ada", "bob", "cy"):
        (submissions / student).mkdir(parents=True)
    nbformat.write(_fill(stubs, solutions), submissions / "ada" / notebook)  # every answer right
    wrong = {  # deliberately wrong answers, written into the student stubs
        "ch2.mu_law_encode": "def mu_law_encode(x, quantization_channels=256):\n"
                             "    y = np.sign(x) * np.log1p(255 * np.abs(x)) / np.log1p(255)\n"
                             "    return np.floor((y + 1) / 2 * 256 + 0.5).astype(np.int64)\n\n"
                             "exercises.ch2.check_mu_law_encode(mu_law_encode)",
        "ch2.snr_db": "def snr_db(reference, estimate):\n"
                      "    return float(20 * np.log10(np.sum(reference**2) / np.sum((reference - estimate)**2)))\n\n"
                      "exercises.ch2.check_snr_db(snr_db)",
        "ch2.quantize_uniform": solutions["ch2.quantize_uniform"],
    }
    nbformat.write(_fill(stubs, wrong), submissions / "bob" / notebook)
    broken = {"ch2.mu_law_encode": "def mu_law_encode(x:\n    return x", "ch2.snr_db": "def signal_to_noise(a, b):\n    return 0.0",
              "ch2.mu_law_decode": "def mu_law_decode(codes, quantization_channels=256):\n    return 1 / 0"}
    nbformat.write(_fill(stubs, broken), submissions / "cy" / notebook)
    (submissions / "dee.ipynb").write_text("this is not a notebook")
    endless = {"ch2.snr_db": "def snr_db(reference, estimate):\n    while True:\n        pass"}
    (submissions / "eve").mkdir()
    nbformat.write(_fill(stubs, endless), submissions / "eve" / notebook)
    library = {  # a library's answer, and the package's own function imported as the answer
        "ch2.mu_law_encode": "import torch, torchaudio\n\ndef mu_law_encode(x, quantization_channels=256):\n"
                             "    return torchaudio.functional.mu_law_encoding(torch.as_tensor(x), quantization_channels).numpy()",
        "ch2.snr_db": "from audioformers.audio.quantization import snr_db",
    }
    (submissions / "fay").mkdir()
    nbformat.write(_fill(stubs, {**solutions, **library}), submissions / "fay" / notebook)
    out = tmp_path / "grades.csv"
    result = subprocess.run([sys.executable, "-m", "audioformers.coursework", "grade", str(submissions), "--out", str(out),
                             "--timeout", "15"],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    grade = _rows(out)
    keys = sorted(solutions)
    assert len(keys) >= 4
    for key in keys:
        assert grade[("ada", key)]["passed"] == "True", grade[("ada", key)]
        assert grade[("ada", key)]["points"] == grade[("ada", key)]["max_points"] != "0"
    assert "you scaled by 256" in grade[("bob", "ch2.mu_law_encode")]["message"] and grade[("bob", "ch2.mu_law_encode")]["points"] == "0"
    assert "20 log10 of a power ratio" in grade[("bob", "ch2.snr_db")]["message"]
    assert grade[("bob", "ch2.quantize_uniform")]["passed"] == "True"
    assert "not implemented yet" in grade[("bob", "ch2.mu_law_decode")]["message"]
    assert "SyntaxError" in grade[("cy", "ch2.mu_law_encode")]["message"]
    assert "defines no function called snr_db" in grade[("cy", "ch2.snr_db")]["message"]
    assert "ZeroDivisionError" in grade[("cy", "ch2.mu_law_decode")]["message"]
    assert grade[("dee", "-")]["passed"] == "False" and "could not grade" in grade[("dee", "-")]["message"]
    assert "stopped after 15 s" in grade[("eve", "-")]["message"]
    total = sum(int(grade[("ada", k)]["max_points"]) for k in keys)
    assert f"ada: {total} / {total} points" in result.stdout and "bob: " in result.stdout
    # the kernel refuses what would replace the exercise, saying what was called; the flags say it too
    fay_encode = grade[("fay", "ch2.mu_law_encode")]
    assert fay_encode["points"] == "0" and "your function called torchaudio.functional.mu_law_encoding" in fay_encode["message"]
    assert "torchaudio" in fay_encode["flags"]
    assert "write the SNR yourself: your function called audioformers.audio.quantization.snr_db" in grade[("fay", "ch2.snr_db")]["message"]
    assert grade[("fay", "ch2.mu_law_decode")]["passed"] == "True"
    # the rubric columns: the grader's filled, the teacher's empty
    for key in keys:
        row = grade[("ada", key)]
        assert row["correctness"] == row["points"] and int(row["rubric_max"]) == int(row["max_points"]) + 2
        assert row["code_quality"] == row["explanation"] == row["comment"] == ""
    assert grade[("bob", "ch2.mu_law_encode")]["correctness"] == "0"
    assert grade[("dee", "-")]["rubric_max"] == "0"


def test_the_grade_table_has_the_rubric_columns():
    assert coursework.GRADE_FIELDS[-5:] == ["correctness", "code_quality", "explanation", "rubric_max", "comment"]
    assert {"flags", "points", "max_points"} <= set(coursework.GRADE_FIELDS)
    row = grading.with_rubric({"exercise": "ch2.snr_db", "passed": True, "points": 2, "max_points": 2, "flags": ""})
    assert row["correctness"] == 2 and row["rubric_max"] == 4 and row["code_quality"] == row["explanation"] == row["comment"] == ""
    failed = grading.with_rubric({"exercise": "ch4.nt_xent", "passed": False, "points": 0, "max_points": 3})
    assert failed["correctness"] == 0 and failed["rubric_max"] == 5
    assert grading.with_rubric({"exercise": "-", "points": 0, "max_points": 0})["rubric_max"] == 0
    assert sum(most for who, most in grading.RUBRIC.values() if who == "teacher") == 2


def test_grade_refuses_a_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="SUBMISSIONS must be a folder"):
        coursework.grade_folder(tmp_path / "nowhere", tmp_path / "g.csv")
    with pytest.raises(FileNotFoundError, match="no notebooks"):
        coursework.grade_folder(tmp_path, tmp_path / "g.csv")
    with pytest.raises(ValueError, match="timeout_s must be positive"):
        coursework.grade_folder(tmp_path, tmp_path / "g.csv", timeout_s=0)


HOSTILE = '''import subprocess
from audioformers import exercises
from audioformers.core import selfcheck as _checking

def always_passes(student_fn, raise_on_failure=True):
    print("✓ passed")
    return True

for key, exercise in list(exercises.EXERCISES.items()):  # every self-check and registry entry: always pass
    exercise.check = always_passes
    setattr(getattr(exercises, key.split(".")[0]), "check_" + exercise.name, always_passes)
    exercises.EXERCISES[key] = exercise
_checking.run_trials = lambda *args, **kwargs: True
_checking.diagnose = lambda *args, **kwargs: None
exercises.get_exercise = lambda key: exercises.EXERCISES[key]
for target in TARGETS:
    try:
        with open(target, "w") as handle:
            handle.write("pwned")
    except OSError:
        pass
try:
    with open(CLASSMATE, "w") as handle:  # the classmate, graded after this notebook, loses everything
        handle.write("{}")
except OSError:
    pass
subprocess.Popen(["sleep", "600"], start_new_session=False)
'''


def _sleepers() -> set[int]:
    found = set()
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            if Path("/proc", entry, "cmdline").read_bytes().split(b"\0")[:2] == [b"sleep", b"600"]:
                found.add(int(entry))
        except OSError:
            continue
    return found


@pytest.fixture()
def open_folder():
    """A folder other users may enter (pytest's own is closed to them), removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="grading-test-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="counts processes through /proc")
def test_grade_a_folder_with_a_hostile_submission_helpers_and_flags(open_folder):
    stubs, solutions, notebook = _chapter2(open_folder)
    submissions = open_folder / "submissions"
    token = uuid.uuid4().hex
    outside = [open_folder / f"pwned-{token}.txt", submissions / f"pwned-{token}.txt", Path(f"/tmp/pwned-{token}.txt")]
    classmate = submissions / "zoe" / notebook
    hostile = HOSTILE.replace("TARGETS", repr([str(p) for p in outside])).replace("CLASSMATE", repr(str(classmate)))
    for student in ("mallory", "helen", "fred", "zoe"):
        (submissions / student).mkdir(parents=True)
    nbformat.write(_fill(stubs, {"ch2.mu_law_encode": hostile}), submissions / "mallory" / notebook)
    # helen: mu_law_encode calls a helper defined in an untagged cell at the top, next to a statement that fails
    encode = solutions["ch2.mu_law_encode"]
    helper = encode.split("\n\nexercises.")[0].replace("def mu_law_encode(", "def compand_and_round(")
    helped = _fill(stubs, {**solutions, "ch2.mu_law_encode": "def mu_law_encode(x, quantization_channels=256):\n"
                                                              "    return compand_and_round(x, quantization_channels)"})
    helped.cells.insert(1, new_code_cell("import numpy as np\nMU = 255\n\n" + helper + "\n\nprint(undefined_name)"))
    nbformat.write(helped, submissions / "helen" / notebook)
    # fred: the reference solution for one exercise, an allocation beyond the memory limit in another
    fred = {**solutions,
            "ch2.mu_law_encode": "def mu_law_encode(x, quantization_channels=256):\n"
                                 "    return exercises.ch2.solution_mu_law_encode(x, quantization_channels)",
            "ch2.quantize_uniform": "def quantize_uniform(x, num_levels):\n"
                                    "    hoard = np.empty(2**36, dtype=np.uint8)\n    return x"}
    nbformat.write(_fill(stubs, fred), submissions / "fred" / notebook)
    nbformat.write(_fill(stubs, solutions), classmate)
    submissions.chmod(0o777)  # a careless folder: every user may write in it (the grader takes that away)
    classmate.chmod(0o666)
    before_bytes, sleepers = classmate.read_bytes(), _sleepers()
    out = open_folder / "grades.csv"
    rows = grading.grade_folder(submissions, out, timeout_s=60, memory_gib=4)
    grade = _rows(out)
    keys = sorted(solutions)
    full = {key: grading._points(key) for key in keys}
    assert {k: grade[("mallory", k)]["points"] for k in keys} == {k: "0" for k in keys}
    assert "defines no function called mu_law_encode" in grade[("mallory", "ch2.mu_law_encode")]["message"]
    assert {k: int(grade[("zoe", k)]["points"]) for k in keys} == full  # graded after mallory, unharmed
    assert {k: int(grade[("helen", k)]["points"]) for k in keys} == full
    assert grade[("fred", "ch2.mu_law_encode")]["points"] == "2"
    assert "reference solution (audioformers.exercises.ch2.solution_mu_law_encode)" in grade[("fred", "ch2.mu_law_encode")]["flags"]
    assert "MemoryError" in grade[("fred", "ch2.quantize_uniform")]["message"]
    assert not any(r["flags"] for r in rows if r["student"] in ("zoe", "helen"))
    assert _sleepers() <= sleepers, "a process started by a submission outlived its grading"
    assert classmate.read_bytes() == before_bytes
    if AS_ROOT:  # as a fresh user id, the submission could write only in its copy and the temporary folders
        assert not [p for p in outside if p.exists()]
        assert not submissions.stat().st_mode & 0o002


def test_grade_timeout_must_be_a_positive_finite_number(tmp_path, capsys):
    for bad in ("nan", "0", "-5", "inf", "soon"):
        with pytest.raises(SystemExit) as stop:
            coursework.main(["grade", str(tmp_path), "--timeout", bad])
        assert stop.value.code == 2
        error = capsys.readouterr().err
        assert "--timeout" in error and bad in error, error
    with pytest.raises(SystemExit):
        coursework.main(["grade", str(tmp_path), "--memory", "nan"])
    assert "--memory" in capsys.readouterr().err
    with pytest.raises(ValueError, match="memory_gib must be positive"):
        grading.grade_notebook(tmp_path / "x.ipynb", notebook_bytes=b"{}", memory_gib=float("nan"))


def test_flags_name_reference_solutions_the_package_and_library_answers():
    fft = "import numpy as np\ndef dft_magnitude(frame):\n    return np.abs(np.fft.rfft(frame))"
    assert grading.flags_for("ch1.dft_magnitude", fft, []) == ["uses numpy.fft.rfft, which computes what the exercise asks for"]
    assert grading.flags_for("ch1.hz_to_mel", fft.replace("dft_magnitude", "hz_to_mel"), []) == []  # an FFT is fine there
    by_helper = grading.flags_for("ch2.mu_law_encode", "def mu_law_encode(x, q=256):\n    return helper(x)",
                                  ["from audioformers.ch2.exercises import solution_mu_law_encode as s\n"
                                   "def helper(x):\n    return s(x)\nprint(1)"])
    assert by_helper == ["calls a reference solution (audioformers.ch2.exercises.solution_mu_law_encode)"]
    package = grading.flags_for("ch2.mu_law_encode", "def mu_law_encode(x, q=256):\n    return mulaw.mu_law_encode(x)",
                                ["from audioformers.audio import mulaw"])
    assert package == ["calls the package's own implementation (audioformers.audio.mulaw.mu_law_encode)"]
    registry = grading.flags_for("ch2.snr_db", "def snr_db(a, b):\n    return exercises.get_exercise('ch2.snr_db').reference(a, b)", [])
    assert registry and "reference" in registry[0]
    honest = "def mu_law_encode(x, q=256):\n    return np.round(x).astype(int)\n\nexercises.ch2.check_mu_law_encode(mu_law_encode)"
    assert grading.flags_for("ch2.mu_law_encode", honest, ["import numpy as np\nfrom audioformers import exercises"]) == []


def test_helpers_keep_their_definitions_only():
    cell = "import os\nX = 3\nY = f(2)\ndef h():\n    return 1\nclass C:\n    pass\nprint(h())\ntrain_for_an_hour()"
    kept = grading.definitions_only(cell)
    assert "import os" in kept and "X = 3" in kept and "def h" in kept and "class C" in kept
    assert "f(2)" not in kept and "print" not in kept and "train_for_an_hour" not in kept
    assert grading.definitions_only("def broken(:\n") == ""
    assert "check_" not in grading.without_checks("def f(x):\n    return x\n\nexercises.ch2.check_snr_db(f)")


def test_the_wire_carries_plain_data_and_never_unpickles():
    value = [np.arange(6).reshape(2, 3), torch.ones(2, dtype=torch.bfloat16), (1, 2.5, float("nan"), "s", None),
             {"k": torch.zeros(1, 2, 3), 3: np.float32(1.5)}, np.int64(7)]
    back = grading.decode(grading.encode(value))
    assert np.array_equal(back[0], value[0]) and back[1].dtype == torch.bfloat16 and torch.equal(back[1], value[1])
    assert back[2][:2] == (1, 2.5) and np.isnan(back[2][2]) and back[2][3:] == ("s", None)
    assert torch.equal(back[3]["k"], value[3]["k"]) and back[3][3] == np.float32(1.5) and back[4] == 7
    assert type(grading.decode(grading.encode(object()))).__name__ == "object"
    import base64
    import io
    import pickle

    buffer = io.BytesIO()
    np.save(buffer, np.array([{"a": 1}], dtype=object), allow_pickle=True)  # what a hostile kernel could send
    with pytest.raises(ValueError, match="pickle"):
        grading.decode({"ndarray": base64.b64encode(buffer.getvalue()).decode()})
    with pytest.raises(ValueError, match="malformed"):
        grading.decode({"pickle": base64.b64encode(pickle.dumps(1)).decode()})


def test_the_students_own_function_is_not_the_package_function_of_the_same_name():
    imports = ["from audioformers.models.wavelet_transformer import haar_multiscale\nimport pywt"]
    own = "def haar_multiscale(x):\n    return pywt.wavedec(x, 'haar')[0]\n\nexercises.ch5.check_haar_multiscale(haar_multiscale)"
    assert grading.flags_for("ch5.haar_multiscale", own, imports) == []
