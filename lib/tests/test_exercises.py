"""Every self-check passes with its reference solution and fails, with a useful message, on wrong answers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from audioformers import exercises, signals
from audioformers.exercises import ExerciseFailed, ch1, ch2, ch3, ch4, ch5

ALL = list(exercises.EXERCISES.values())
MISTAKES = [(e, i) for e in ALL for i in range(len(e.mistakes))]


def test_every_chapter_has_at_least_two_checked_exercises():
    for chapter in range(1, 6):
        assert sum(e.chapter == chapter for e in ALL) >= 2, f"chapter {chapter}"


@pytest.mark.parametrize("exercise", ALL, ids=lambda e: e.key)
def test_reference_solution_passes(exercise, capsys):
    assert exercise.check(exercise.reference) is True
    assert capsys.readouterr().out.startswith(f"✓ {exercise.name}")


@pytest.mark.parametrize("exercise,index", MISTAKES, ids=lambda v: v.key if hasattr(v, "key") else str(v))
def test_known_mistake_fails_with_its_explanation(exercise, index):
    mistake = exercise.mistakes[index]
    with pytest.raises(ExerciseFailed) as failure:
        exercise.check(mistake.fn)
    message = str(failure.value)
    assert message.startswith(f"✗ {exercise.name}")
    assert mistake.message in message or "inverted" in message  # two masks are the same inversion


@pytest.mark.parametrize("exercise", ALL, ids=lambda e: e.key)
def test_stub_is_valid_python_and_reports_not_implemented(exercise):
    assert f"check_{exercise.name}({exercise.name})" in exercise.student_stub
    namespace = {"exercises": exercises}
    with pytest.raises(ExerciseFailed, match="not implemented yet"):
        exec(compile(exercise.student_stub, exercise.key, "exec"), namespace)


# Deliberately wrong answers that are not in the known-mistakes lists: the generic diagnoses.
WRONG = [
    (ch1.check_spectrogram, lambda x, n, h: ch1.solution_spectrogram(x, n, h).T, "axes swapped: your answer is transposed (time, frequency)"),
    (ch1.check_dft_amplitude, lambda x, sr: signals.dft_amplitude(x, sr)[1], "return two arrays"),
    (ch1.check_dft_amplitude, lambda x, sr: (np.fft.rfftfreq(len(x), 1 / sr), signals.dft_amplitude(x, sr)[1] ** 2), "dft_amplitude (amplitude): values differ"),
    (ch1.check_frame_signal, lambda x, n, h: ch1.solution_frame_signal(x, n, h)[:-1], "off by one in axis 0 (frame)"),
    (ch1.check_dft_magnitude, lambda f: None, "forget the `return`"),
    (ch1.check_dft_magnitude, lambda f: np.abs(np.fft.rfft(f))[2:], "wrong shape: got (31,), expected (33,)"),
    (ch1.check_hz_to_mel, lambda f: ch1.solution_hz_to_mel(f) + 3.0, "constant offset of +3"),
    (ch2.check_mu_law_encode, lambda x: ch2.solution_mu_law_encode(x).astype(np.float32), "right values but dtype float32"),
    (ch2.check_mu_law_encode, lambda x: ch2.solution_mu_law_encode(x) + 5, "every value is off by +5"),
    (ch2.check_quantize_uniform, lambda x, n: 0.5 * ch2.solution_quantize_uniform(x, n), "constant factor: your values are 0.5"),
    (ch2.check_snr_db, lambda x, y: 1 / 0, "raised ZeroDivisionError"),
    (ch3.check_causal_mask, lambda t: ch3.solution_causal_mask(t).float(), "boolean"),
    (ch3.check_receptive_field, lambda k, d: (k - 1) * sum(d) + 2, "off by one level"),
    (ch3.check_bits_per_sample, lambda z, y: float("nan"), "NaN or infinite"),
    (ch4.check_assign_codes, lambda x, c: ch4.solution_assign_codes(x, c)[:, None], "wrong shape"),
    (ch4.check_nt_xent, lambda a, b, t: 2 * ch4.solution_nt_xent(a, b, t), "expected "),
    (ch4.check_code_perplexity, lambda c, k: 1.0, ", got 1 [input"),
    (ch5.check_patchify, lambda x, n: ch5.solution_patchify(x, n).transpose(0, 1), "axes in the wrong order"),
    (ch5.check_haar_multiscale, lambda x: x, "values differ"),
    (ch5.check_macro_map, lambda y, s: "0.5", "numeric"),
]


@pytest.mark.parametrize("check,student,fragment", WRONG, ids=[f"{c.__name__}-{i}" for i, (c, _, _) in enumerate(WRONG)])
def test_wrong_answers_get_a_plain_words_diagnosis(check, student, fragment):
    with pytest.raises(ExerciseFailed) as failure:
        check(student)
    assert fragment in str(failure.value), str(failure.value)


def test_not_implemented_and_not_callable():
    def stub(frame):
        raise NotImplementedError

    with pytest.raises(ExerciseFailed, match="not implemented yet"):
        ch1.check_dft_magnitude(stub)
    with pytest.raises(ExerciseFailed, match="pass your function itself"):
        ch1.check_dft_magnitude(np.zeros(3))


def test_print_instead_of_raise(capsys):
    assert ch2.check_snr_db(lambda x, y: 0.0, raise_on_failure=False) is False
    assert capsys.readouterr().out.startswith("✗ snr_db:")


def test_torch_answers_are_accepted_for_numpy_exercises():
    assert ch1.check_dft_magnitude(lambda f: torch.fft.rfft(torch.from_numpy(f)).abs())


def test_registry_lookup():
    assert exercises.get_exercise("ch2.mu_law_encode").chapter == 2
    with pytest.raises(KeyError, match="known: ch1.dft_magnitude"):
        exercises.get_exercise("ch9.nothing")


def test_instructor_guide_lists_every_self_check():
    from pathlib import Path

    guide = (Path(__file__).resolve().parents[2] / "instructor_guide.md").read_text()
    for exercise in ALL:
        assert f"exercises.ch{exercise.chapter}.check_{exercise.name}" in guide, exercise.key
