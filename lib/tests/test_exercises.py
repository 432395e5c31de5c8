"""Every self-check passes with its reference solution and fails, with a useful message, on wrong answers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from audioformers import chapters, exercises
from audioformers.audio import signals
from audioformers.exercises import ExerciseFailed
from audioformers.ch1 import exercises as ch1
from audioformers.ch2 import exercises as ch2
from audioformers.ch3 import exercises as ch3
from audioformers.ch4 import exercises as ch4
from audioformers.ch5 import exercises as ch5

ALL = list(exercises.EXERCISES.values())
MISTAKES = [(e, i) for e in ALL for i in range(len(e.mistakes))]


def test_every_chapter_has_at_least_two_checked_exercises():
    for chapter in [c.number for c in chapters.with_exercises()]:  # the registry's chapters
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
    (ch1.check_dft_amplitude, lambda x, sr: ch1.solution_dft_amplitude(x, sr)[1], "return two arrays"),
    (ch1.check_dft_amplitude, lambda x, sr: (np.fft.rfftfreq(len(x), 1 / sr), ch1.solution_dft_amplitude(x, sr)[1] ** 2), "dft_amplitude (amplitude): values differ"),
    (ch1.check_frame_signal, lambda x, n, h: ch1.solution_frame_signal(x, n, h)[:-1], "off by one in axis 0 (frame)"),
    (ch1.check_dft_magnitude, lambda f: None, "forget the `return`"),
    (ch1.check_dft_magnitude, lambda f: ch1.solution_dft_magnitude(f)[2:], "wrong shape: got (31,), expected (33,)"),
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
    def dft_magnitude(frame):  # a DFT matrix in torch: no FFT, which the exercise forbids
        n = len(frame)
        k, t = torch.arange(n // 2 + 1, dtype=torch.float64)[:, None], torch.arange(n, dtype=torch.float64)[None, :]
        return (torch.exp(-2j * torch.pi * k * t / n) @ torch.from_numpy(frame).to(torch.complex128)).abs()

    assert ch1.check_dft_magnitude(dft_magnitude)


def test_registry_lookup():
    assert exercises.get_exercise("ch2.mu_law_encode").chapter == 2
    with pytest.raises(KeyError, match="known: ch1.dft_magnitude"):
        exercises.get_exercise("ch9.nothing")


def test_instructor_guide_lists_every_self_check():
    from pathlib import Path

    guide = (Path(__file__).resolve().parents[2] / "instructor_guide.md").read_text()
    for exercise in ALL:
        assert f"exercises.ch{exercise.chapter}.check_{exercise.name}" in guide, exercise.key


# ------------------------------------------------------------------ the mistakes the instructor guide names, one by one
# Inputs where each mistake shows: an even frame with energy at Nyquist, an odd frame, a leftover that is exactly
# a multiple of the hop, codes at x = 1 for the 256-vs-255 scaling, librosa's centred frames.


def _failure(check, student) -> str:
    with pytest.raises(ExerciseFailed) as failure:
        check(student)
    return str(failure.value)


def _amplitude(double_from, double_to):
    def student(x, sr):
        amplitude = np.abs(ch1._dft(x)) / len(x)  # the DFT matrix: an FFT would be refused
        amplitude[double_from:double_to] *= 2
        return np.fft.rfftfreq(len(x), 1 / sr), amplitude
    return student


def test_doubling_the_nyquist_bin_is_caught_and_named():
    message = _failure(ch1.check_dft_amplitude, _amplitude(1, None))
    assert "doubled the Nyquist bin" in message and "energy at DC and at Nyquist" in message
    assert "expected 0.2, got 0.4" in message  # the numbers: the Nyquist component has amplitude 0.2


def test_not_doubling_the_last_bin_of_an_odd_frame_is_caught():
    message = _failure(ch1.check_dft_amplitude, _amplitude(1, -1))
    assert "for odd N the last bin" in message and "255 random samples" in message


def test_doubling_dc_is_caught():
    assert "doubled the DC bin" in _failure(ch1.check_dft_amplitude, _amplitude(0, None))


def _spectrogram_from_starts(starts):
    def student(x, n_fft, hop):
        window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
        frames = np.stack([x[s : s + n_fft] for s in starts(len(x), n_fft, hop)])
        return np.abs(np.fft.rfft(frames * window, axis=1)).T
    return student


def test_dropping_the_last_frame_is_caught_when_the_leftover_is_a_multiple_of_the_hop():
    message = _failure(ch1.check_spectrogram, _spectrogram_from_starts(lambda t, n, h: range(0, t - n, h)))
    assert "one frame too few" in message and "2048 samples, n_fft=256, hop_length=64" in message
    assert "shape (129, 28), expected (129, 29)" in message
    assert "one frame too few" in _failure(ch1.check_frame_signal, lambda x, n, h: np.stack([x[s : s + n] for s in range(0, len(x) - n, h)]))


@pytest.mark.parametrize("mode", ["constant", "reflect"])
def test_centred_frames_are_explained(mode):
    """librosa's and torch's default, written by hand: pad n_fft // 2 at each end, then frame."""
    def student(x, n, h):
        return ch1.solution_spectrogram(np.pad(x, n // 2, mode=mode), n, h)

    message = _failure(ch1.check_spectrogram, student)
    assert "center=True" in message and "padded with n_fft // 2 samples at each end" in message
    assert "center=False" in message and "shape (129, 32), expected (129, 28)" in message


@pytest.mark.parametrize("student", [
    lambda x: np.floor((np.sign(x) * np.log1p(255 * np.abs(x)) / np.log1p(255) + 1) / 2 * 256 + 0.5).astype(np.int64),
    lambda x: ((np.sign(x) * np.log1p(255 * np.abs(x)) / np.log1p(255) + 1) / 2 * 256).astype(np.int64),
    lambda x: np.clip(((np.sign(x) * np.log1p(255 * np.abs(x)) / np.log1p(255) + 1) / 2 * 256).astype(np.int64), 0, 255),
], ids=["rounded", "truncated", "clipped"])
def test_mu_law_scaled_by_256_is_diagnosed_as_scaling_not_rounding(student):
    message = _failure(ch2.check_mu_law_encode, student)
    assert "you scaled by 256" in message and "floor or truncate" not in message


def test_flooring_mu_law_is_diagnosed_as_rounding():
    message = _failure(ch2.check_mu_law_encode, lambda x: np.floor((np.sign(x) * np.log1p(255 * np.abs(x)) / np.log1p(255) + 1) / 2 * 255).astype(np.int64))
    assert "you floor (truncate)" in message and "scaled by 256" not in message


def test_a_failure_renders_in_a_notebook_as_its_message_alone():
    failure = ExerciseFailed("✗ f: wrong")
    assert failure._render_traceback_() == ["\x1b[0;31mExerciseFailed\x1b[0m: ✗ f: wrong"]


def test_a_failed_check_in_a_real_kernel_prints_the_message_not_a_traceback():
    """Run a wrong answer in a Jupyter kernel: the error output is the one plain-words line, with the numbers."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    source = ("import numpy as np\nfrom audioformers import exercises\n"
              "def hz_to_mel(f):\n    return 2595 * np.log10(1 + np.asarray(f) / 700)\n"
              "exercises.ch1.check_hz_to_mel(hz_to_mel)")
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    client = nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3", allow_errors=True)
    client.execute()
    [error] = [out for out in notebook.cells[0].outputs if out.output_type == "error"]
    assert error.ename == "ExerciseFailed"
    assert len(error.traceback) == 1, error.traceback
    assert "HTK mel formula" in error.traceback[0] and "values differ" in error.traceback[0]
    assert "_checking.py" not in "".join(error.traceback)


def test_every_chapter_has_at_least_four_checked_exercises():
    for chapter in [c.number for c in chapters.with_exercises()]:  # the registry's chapters
        assert sum(e.chapter == chapter for e in ALL) >= 4, f"chapter {chapter}"


# ------------------------------------------------------------------ chapter 1's inverse STFT, mel filterbank and Griffin-Lim (#31)
def test_istft_reference_inverts_an_unmodified_stft_and_known_slips_are_named():
    from audioformers.audio import stft

    x = np.random.default_rng(0).uniform(-1, 1, 4000)
    spec = stft.stft(x, 512, 128, center=False)
    y = ch1.solution_istft(spec, 128, 512)
    assert len(y) == 512 + 128 * (spec.shape[1] - 1)
    np.testing.assert_allclose(y[512:-512], x[512 : len(y) - 512], atol=1e-12)
    # the plain overlap-add of windowed frames: scaled by sum w^2 = 1.5 in the steady state (Hann, hop N/4)
    message = _failure(ch1.check_istft, ISTFT_NO_DIVISION)
    assert "did not divide by the overlap-added squared window" in message and "[input: the STFT of 2000 random samples" in message
    # the package's own inverse STFT does the work the exercise asks for: refused, saying why
    message = _failure(ch1.check_istft, lambda s, h, n: stft.istft(s, h, n_fft=n))
    assert "asks you to write the overlap-add yourself: your function called audioformers.audio.stft.istft" in message


def ISTFT_NO_DIVISION(s, h, n):
    return ch1._overlap_add(s, h, n, synthesis=True, divide_by=None)


def test_istft_without_synthesis_window_passes_unmodified_stfts_and_fails_only_on_a_modified_one():
    slip = ch1.ISTFT_MISTAKES[2]
    message = _failure(ch1.check_istft, slip.fn)
    assert "no synthesis window" in message and "random phase" in message  # the last case, the only one where it shows


def test_mel_filterbank_peaks_fall_with_frequency_under_slaney_normalisation():
    bank = ch1.solution_mel_filterbank(16000, 400, 64)
    np.testing.assert_allclose(bank, signals.mel_filterbank(16000, 400, 64), rtol=1e-4, atol=1e-7)
    peaks = bank.max(axis=1)
    assert peaks[0] > 5 * peaks[-1]  # wide high filters, low peaks: each has unit area per Hz
    assert "all peak at 1" in _failure(ch1.check_mel_filterbank, lambda sr, n, m: ch1._filterbank_variant(sr, n, m, area=False))
    refused = _failure(ch1.check_mel_filterbank, lambda sr, n, m: signals.mel_filterbank(sr, n, m, norm=None))
    assert "build the mel filterbank yourself: your function called audioformers.audio.signals.mel_filterbank" in refused


def test_griffin_lim_with_momentum_or_another_seed_fails_and_the_check_reports_convergence(capsys):
    from audioformers.audio import stft

    assert ch1.check_griffin_lim(ch1.solution_griffin_lim)
    out = capsys.readouterr().out
    assert "spectral convergence on the two tones: 0.64 from the random phase, 0.30 after 4 iterations" in out
    # the package's fast Griffin-Lim (momentum 0.99, its own random start) is refused: the exercise asks for the loop
    message = _failure(ch1.check_griffin_lim, lambda mag, h, n, a: stft.griffin_lim(mag, h, n_iter=n))
    assert message.startswith("✗ griffin_lim") and "your function called audioformers.audio.stft.griffin_lim" in message
    assert "one iteration too few" in _failure(ch1.check_griffin_lim, ch1.GRIFFIN_LIM_MISTAKES[1].fn)


# ------------------------------------------------------------------ issue #31: the misleading messages, each named
def test_mu_law_without_the_sign_is_named():
    message = _failure(ch2.check_mu_law_encode,
                       lambda x: np.floor((np.log1p(255 * np.abs(x)) / np.log1p(255) + 1) / 2 * 255 + 0.5).astype(np.int64))
    assert "you dropped the sign" in message and "expected 44, got 211" in message


def test_a_causal_mask_of_all_true_is_named():
    message = _failure(ch3.check_causal_mask, lambda t: torch.ones(t, t, dtype=torch.bool))
    assert "True everywhere" in message and "the future included" in message
    assert "10 are True where they must be False" in message  # the evidence counts the entries that let the future in


def test_a_complex_stft_for_a_magnitude_is_named():
    def hann(n):
        return 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)

    message = _failure(ch1.check_spectrogram, lambda x, n, h: np.fft.rfft(ch1.solution_frame_signal(x, n, h) * hann(n), axis=1).T)
    assert "you return the complex STFT" in message and "np.abs" in message
    # a complex answer outside the list (no window, complex64): the generic message still names it
    message = _failure(ch1.check_spectrogram, lambda x, n, h: np.fft.rfft(ch1.solution_frame_signal(x, n, h), axis=1).T)
    assert "your answer is complex (dtype complex64)" in message and "absolute value" in message
    def with_phase(x, sr):  # the right amplitudes, each carrying its bin's phase
        frequencies, amplitude = ch1.solution_dft_amplitude(x, sr)
        spectrum = ch1._dft(x)
        return frequencies, amplitude * spectrum / np.abs(spectrum)

    assert "with np.abs your answer would match" in _failure(ch1.check_dft_amplitude, with_phase)


def test_an_odd_n_frequency_grid_is_named():
    message = _failure(ch1.check_dft_amplitude, lambda x, sr: (np.linspace(0, sr / 2, len(x) // 2 + 1), ch1.solution_dft_amplitude(x, sr)[1]))
    assert "right for even N only" in message and "255 random samples" in message and "expected 7968.63, got 8000" in message


def test_a_receptive_field_of_two_to_the_layers_is_named():
    message = _failure(ch3.check_receptive_field, lambda k, d: 2 ** len(d))
    assert "2 ** layers is the receptive field of one stack" in message and "expected 511, got 65536" in message


# The generic "values differ" cases: the kind of difference, where it can be recognised.
KINDS = [
    (ch1.check_hz_to_mel, lambda f: -ch1.solution_hz_to_mel(f), "the sign is reversed"),
    (ch4.check_code_perplexity, lambda c, k: -ch4.solution_code_perplexity(c, k), "the sign is reversed"),
    (ch1.check_frame_signal, lambda x, n, h: ch1.solution_frame_signal(x, n, h).ravel(), "the same number of values, arranged differently"),
    (ch2.check_quantize_uniform, lambda x, n: ch2.solution_quantize_uniform(x, n).astype(np.int64), "integer dtype int64 where floats are expected: the values were truncated"),
    (ch2.check_quantize_uniform, lambda x, n: 3 * ch2.solution_quantize_uniform(x, n), "off by a constant factor: your values are 3 ×"),
    (ch1.check_dft_magnitude, lambda f: ch1.solution_dft_magnitude(f) / 2, "0.5 = 1/2 × the expected ones"),
    (ch4.check_nt_xent, lambda a, b, t: ch4.solution_nt_xent(a, b, t) * np.log(2), "ln 2 × the expected value"),
    (ch1.check_hz_to_mel, lambda f: ch1.solution_hz_to_mel(f)[::-1], "runs backwards along axis 0"),
    (ch1.check_dft_magnitude, lambda f: np.roll(ch1.solution_dft_magnitude(f), 1), "shifted by one position along axis 0 (frequency bin)"),
    (ch1.check_dft_magnitude, lambda f: np.roll(ch1.solution_dft_magnitude(f), -1), "one index after it"),
    (ch1.check_frame_signal, lambda x, n, h: ch1.solution_frame_signal(np.r_[0.0, x[:-1]], n, h), "shifted by one position along axis 1 (sample)"),
    (ch3.check_causal_mask, lambda t: torch.zeros(t, t).masked_fill(~ch3.solution_causal_mask(t), float("-inf")), "additive float mask"),
    (ch1.check_dft_magnitude, lambda f: ch1.solution_dft_magnitude(f.astype(np.float32)).astype(np.float32) * (1 + 1e-5), "float32 rounding?"),
]


@pytest.mark.parametrize("check,student,fragment", KINDS, ids=[f"{c.__name__}-{i}" for i, (c, _, _) in enumerate(KINDS)])
def test_the_kind_of_difference_is_named(check, student, fragment):
    message = _failure(check, student)
    assert fragment in message, message


def test_a_transposed_square_answer_is_named():
    from audioformers.core.selfcheck import diagnose

    expected = np.arange(16.0).reshape(4, 4)
    assert diagnose(expected.T, expected).startswith("your answer is transposed: your entry [i, j] is the expected entry [j, i]")
    assert "2 are False where they must be True" in diagnose(np.eye(3, dtype=bool), np.tril(np.ones((3, 3), dtype=bool)) & ~np.eye(3, k=-2, dtype=bool))


# ------------------------------------------------------------------ an implement-it exercise refuses a library's answer
def _from_numpy_fft(frame):
    from numpy.fft import rfft  # bound by name: the check patches the name too

    return np.abs(rfft(frame))


def _swallowing(frame):
    try:
        return np.abs(np.fft.rfft(frame))
    except Exception:  # noqa: BLE001 - a student's catch-all does not hide the refusal
        return np.zeros(len(frame) // 2 + 1)


LIBRARY_CALLS = [
    (ch1.check_dft_magnitude, lambda f: np.abs(np.fft.rfft(f)), "write the DFT yourself: your function called numpy.fft.rfft"),
    (ch1.check_dft_magnitude, _from_numpy_fft, "your function called numpy.fft.rfft"),
    (ch1.check_dft_magnitude, _swallowing, "your function called numpy.fft.rfft"),
    (ch1.check_dft_magnitude, lambda f: np.abs(np.fft.fft(f))[: len(f) // 2 + 1], "your function called numpy.fft.fft"),
    (ch1.check_dft_magnitude, lambda f: torch.fft.rfft(torch.from_numpy(f)).abs(), "your function called torch.fft.rfft"),
    (ch1.check_dft_amplitude, lambda x, sr: (np.fft.rfftfreq(len(x), 1 / sr), 2 * np.abs(np.fft.rfft(x)) / len(x)), "your function called numpy.fft.rfft"),
    (ch1.check_dft_amplitude, lambda x, sr: signals.dft_amplitude(x, sr), "audioformers.audio.signals.dft_amplitude"),
    (ch1.check_spectrogram, lambda x, n, h: signals.stft_magnitude(x, n, h, center=False).numpy(), "build the spectrogram yourself"),
    (ch1.check_frame_signal, lambda x, n, h: signals.frame_signal(x, n, h), "cut the frames yourself: your function called audioformers.audio.signals.frame_signal"),
    (ch2.check_mu_law_encode, lambda x: __import__("torchaudio").functional.mu_law_encoding(torch.from_numpy(x), 256).numpy(),
     "write the mu-law encoding yourself: your function called torchaudio.functional.mu_law_encoding"),
    (ch2.check_mu_law_decode, lambda c: __import__("torchaudio").functional.mu_law_decoding(torch.from_numpy(c), 256).numpy(),
     "your function called torchaudio.functional.mu_law_decoding"),
    (ch4.check_assign_codes, lambda x, c: __import__("scipy.cluster.vq").cluster.vq.vq(x, c)[0], "your function called scipy.cluster.vq.vq"),
    (ch5.check_haar_multiscale, lambda x: __import__("audioformers.models.wavelet_transformer").models.wavelet_transformer.haar_multiscale(x),
     "write the Haar pooling yourself"),
]


@pytest.mark.parametrize("check,student,fragment", LIBRARY_CALLS, ids=[f"{c.__name__}-{i}" for i, (c, _, _) in enumerate(LIBRARY_CALLS)])
def test_a_library_call_fails_saying_why(check, student, fragment):
    import scipy.cluster.vq  # noqa: F401 - scipy.cluster is patched only once imported (as a student's code imports it)

    message = _failure(check, student)
    assert fragment in message, message


@pytest.mark.parametrize("call,fragment", [
    (lambda f: np.abs(__import__("librosa").stft(f, n_fft=len(f), center=False))[:, 0], "librosa.stft"),
    (lambda f: __import__("torchaudio").transforms.Spectrogram(n_fft=len(f), center=False, power=1)(torch.from_numpy(f))[:, 0].numpy(),
     "torchaudio.transforms.Spectrogram"),
    (lambda f: np.abs(__import__("scipy.fft").fft.rfft(f)), "scipy.fft.rfft"),
], ids=["librosa", "torchaudio", "scipy"])
def test_the_dft_exercise_refuses_librosa_torchaudio_and_scipy(call, fragment):
    import librosa  # noqa: F401 - librosa is patched only once imported (a student's code imports it first)

    message = _failure(ch1.check_dft_magnitude, call)
    assert f"write the DFT yourself: your function called {fragment}" in message, message


def test_the_package_function_itself_as_the_answer_is_refused():
    from audioformers.audio.mulaw import mu_law_encode

    assert "your function called audioformers.audio.mulaw.mu_law_encode" in _failure(ch2.check_mu_law_encode, mu_law_encode)
    assert "your function called numpy.fft.rfft" in _failure(ch1.check_dft_magnitude, np.fft.rfft)


def test_library_calls_are_refused_for_mel_and_the_spectrogram_once_librosa_is_imported():
    import librosa

    assert "your function called librosa.hz_to_mel" in _failure(ch1.check_hz_to_mel, lambda f: librosa.hz_to_mel(f))
    assert "your function called librosa.stft" in _failure(
        ch1.check_spectrogram, lambda x, n, h: np.abs(librosa.stft(x, n_fft=n, hop_length=h, center=False)))


def test_the_patched_functions_are_put_back_and_allowed_helpers_work():
    import librosa

    originals = (np.fft.rfft, torch.fft.rfft, torch.stft, librosa.stft, signals.dft_amplitude)
    _failure(ch1.check_dft_magnitude, lambda f: np.abs(np.fft.rfft(f)))
    assert (np.fft.rfft, torch.fft.rfft, torch.stft, librosa.stft, signals.dft_amplitude) == originals
    assert _from_numpy_fft.__globals__["np"] is np
    # np.fft.rfftfreq is a helper, not the DFT: a student may use it for the frequency grid
    assert ch1.check_dft_amplitude(lambda x, sr: (np.fft.rfftfreq(len(x), 1 / sr), ch1.solution_dft_amplitude(x, sr)[1]))
    # the spectrogram exercise allows np.fft.rfft of each frame (the book's solution uses it)
    assert ch1.check_spectrogram(ch1.solution_spectrogram)


def test_haar_multiscale_states_how_it_splits_channels():
    stub = exercises.get_exercise("ch5.haar_multiscale").student_stub
    assert "torch.tensor_split(x, G, dim=2)" in stub and "the first C % G of them one" in stub
    assert "torch.tensor_split" in ch5.solution_haar_multiscale.__doc__
    message = _failure(ch5.check_haar_multiscale, lambda x: ch5._haar_with(x, lambda b: b.mean(1, keepdim=True), split=torch.chunk))
    assert "torch.chunk makes groups of ceil(C / G) channels" in message
