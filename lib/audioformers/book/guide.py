"""The instructor guide's generated sections (``python -m audioformers.coursework answers --write``): the exercise
plan (type, time, points), the answer keys computed by the reference solutions, the mistakes each self-check
recognises, and the notebooks' timings.

Notebook: ``instructor_guide.md`` (the sections marked *generated*).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import nbformat

from audioformers.book.notebooks import cell_source as _source, provenance_of, training_seconds
from audioformers.book.text import stable


# Per exercise type: minutes a prepared student needs (reading the section included) and points.
TYPE_PLAN: dict[str, tuple[str, int, int]] = {
    "implement": ("implement (self-checked)", 20, 2),
    "predict": ("predict, then measure", 30, 3),
    "measure": ("measure", 45, 3),
    "explain": ("explain", 20, 2),
    "derive": ("derive", 30, 2),
    "modify": ("modify and rerun", 45, 3),
    "analyse": ("analyse", 45, 3),
    "explore": ("explore", 45, 3),
    "extend": ("extend", 60, 4),
    "implement and compare": ("implement and compare", 45, 3),
    "design": ("design an experiment (written plan)", 45, 4),
    "experiment": ("experiment (run it)", 120, 6),
}
# Self-checked exercises that take longer than the default 20 minutes / 2 points.
HARDER = {"ch3.attend_with_cache": (40, 3), "ch4.nt_xent": (40, 3), "ch5.haar_multiscale": (40, 3),
          "ch4.paired_bootstrap": (30, 3), "ch1.dft_amplitude": (30, 2)}


@dataclass
class PlannedExercise:
    chapter: int
    number: int
    kind: str
    minutes: int
    points: int
    text: str
    key: str | None = None  # the self-check, for self-checked exercises

    @property
    def check(self) -> str:
        return f"`exercises.{self.key.split('.')[0]}.check_{self.key.split('.')[1]}`" if self.key else "rubric"


_ITEM = re.compile(r"^(\d+)\.\s+(?P<label>\*\*[^*]+\*\*|\*[^*]+\*)\s*(?P<text>.*)$")


def _kind(label: str) -> str:
    words = re.sub(r"[*()]", "", label).lower().replace("self-checked", "").replace(",", " ").split()
    phrase = " ".join(words)
    if phrase.startswith("implement and compare"):
        return "implement and compare"
    if phrase.startswith("design"):
        return "design"
    for kind in TYPE_PLAN:
        if phrase.startswith(kind):
            return kind
    return "explore"


def exercise_plan(notebook_path: Path | str) -> list[PlannedExercise]:
    """The numbered exercises of a chapter's Exercises section, with type, time, points and self-check."""
    notebook = nbformat.read(Path(notebook_path), as_version=4)
    chapter = int(Path(notebook_path).stem[:2])
    heading = next((c for c in notebook.cells if c.cell_type == "markdown" and _source(c).startswith("## Exercises")), None)
    if heading is None:
        return []
    keys = [c.metadata["exercise"] for c in notebook.cells if c.cell_type == "code" and c.metadata.get("exercise")]
    plan = []
    lines = _source(heading).splitlines()
    for i, line in enumerate(lines):
        match = _ITEM.match(line)
        if not match:
            continue
        text = match["text"]
        item = " ".join([line] + list(itertools.takewhile(lambda l: l.startswith("   "), lines[i + 1 :])))
        kind = _kind(match["label"])
        if kind == "experiment" and text.lower().startswith("design"):
            kind = "design"
        names = re.findall(r"`(\w+)[`(]", item)
        key = next((k for k in keys if k.split(".")[1] in names), None) if kind.startswith("implement") else None
        if key is not None:
            kind = "implement"
        _, minutes, points = TYPE_PLAN[kind]
        minutes, points = HARDER.get(key, (minutes, points)) if key else (minutes, points)
        first = re.split(r"(?<=[.?!:])\s", text, maxsplit=1)[0]
        plan.append(PlannedExercise(chapter, int(match.group(1)), kind, minutes, points, first, key))
    return plan


def plan_markdown(notebooks: Iterable[Path | str]) -> str:
    """One Markdown table per chapter: number, type, time, points, self-check."""
    out = []
    for path in notebooks:
        plan = exercise_plan(path)
        if not plan:
            continue
        total_min, total_pts = sum(e.minutes for e in plan), sum(e.points for e in plan)
        checked = [e for e in plan if e.key]
        out.append(f"**Chapter {plan[0].chapter}** — {len(plan)} exercises, {len(checked)} self-checked; "
                   f"about {total_min / 60:.1f} h for all of them, {total_pts} points.\n")
        out.append("| # | type | time (min) | points | graded by |")
        out.append("|---|---|---|---|---|")
        for e in plan:
            label = TYPE_PLAN[e.kind][0] if e.key or e.kind != "implement" else "implement"
            out.append(f"| {e.number} | {label} | {e.minutes} | {e.points} | {e.check} |")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


# ================================================================== answer keys, computed by the reference solutions
def _s(value, spec: str) -> str:
    """``format(value, spec)``, refusing a value so close to a rounding boundary that another machine's float
    kernels or thread count could print another last digit (see :func:`audioformers.booktools.stable`)."""
    return stable(float(value), spec)


def _fmt(values, digits: int = 4) -> str:
    import numpy as np

    array = np.atleast_1d(np.asarray(values, dtype=float))
    return ", ".join(_s(v, f".{digits}g") for v in array)


def answer_keys() -> list[tuple[str, str, str]]:
    """``(exercise, worked example, expected)`` rows: each number computed here by the reference solutions."""
    import numpy as np
    import torch

    from audioformers.audio import signals
    from audioformers.models import wavelet_transformer
    from audioformers.ch1 import exercises as ch1
    from audioformers.ch2 import exercises as ch2
    from audioformers.ch3 import exercises as ch3
    from audioformers.ch4 import exercises as ch4
    from audioformers.ch5 import exercises as ch5
    from audioformers.models.wavenet import WaveNetConfig

    rows: list[tuple[str, str, str]] = []
    sr = 16000
    t = np.arange(sr) / sr
    three = np.sin(2 * np.pi * 440 * t) + 0.5 * np.sin(2 * np.pi * 1000 * t) + 0.25 * np.sin(2 * np.pi * 2500 * t)
    freqs, amplitude = ch1.solution_dft_amplitude(three[:4000], sr)
    peaks = np.sort(np.argsort(amplitude)[-3:])
    rows.append(("ch1.dft_amplitude", "sin 440 Hz + 0.5 sin 1000 Hz + 0.25 sin 2500 Hz, 4000 samples at 16 kHz: the three peaks",
                 f"{_fmt(freqs[peaks])} Hz, heights {_fmt(amplitude[peaks], 3)}"))
    one = np.random.default_rng(0).uniform(-1, 1, sr)
    rows.append(("ch1.spectrogram", "1 s at 16 kHz, n_fft = 400, hop_length = 160: shape (no centring; librosa's default centred)",
                 f"{ch1.solution_spectrogram(one, 400, 160).shape} ({tuple(signals.stft_magnitude(one, 400, 160).shape)} centred)"))
    mel = ch1.solution_hz_to_mel(np.array([500.0, 1000.0, 4000.0, 8000.0]))
    rows.append(("ch1.hz_to_mel", "500, 1000, 4000, 8000 Hz (Slaney)", f"{_fmt(mel)} mel (HTK would give "
                 f"{_fmt(signals.hz_to_mel(np.array([500.0, 1000.0, 4000.0, 8000.0]), htk=True))})"))
    rows.append(("ch1.frame_signal", "frames of 400 every 160 in 16000 samples; of 256 every 64 in 2048 samples",
                 f"{len(ch1.solution_frame_signal(one, 400, 160))}; {len(ch1.solution_frame_signal(one[:2048], 256, 64))}"))
    from audioformers.audio import stft as stft_module

    spec = stft_module.stft(one, 512, 128, center=False)  # (257, 122)
    inverse = ch1.solution_istft(spec, 128, 512)
    rows.append(("ch1.istft", "the STFT of 1 s of random audio at 16 kHz (n_fft = 512, hop_length = 128, no centring), inverted",
                 f"{len(inverse)} samples; sample 0 comes back as 0 (the Hann window is 0 there: no weight); largest error "
                 f"where a full {512 // 128} frames overlap {'below 1e-12' if np.abs(inverse - one)[512:-512].max() < 1e-12 else 'above 1e-12: wrong'}"))
    bank = ch1.solution_mel_filterbank(16000, 400, 64)
    rows.append(("ch1.mel_filterbank", "16 kHz, n_fft = 400, 64 filters: peak of the first and of the last filter (Slaney's unit area)",
                 f"{_s(bank[0].max(), '.3g')} and {_s(bank[-1].max(), '.3g')} (ratio {_s(bank[0].max() / bank[-1].max(), '.3g')}: "
                 "the last filter's base is that much wider in Hz)"))
    (magnitude, hop, n_iter, angles), _ = ch1._griffin_lim_cases(7)[0]

    def _convergence(iterations):
        y = ch1.solution_griffin_lim(magnitude, hop, iterations, angles)
        return stft_module.spectral_convergence(magnitude, np.abs(stft_module.stft(y, 256, hop)))

    rows.append(("ch1.griffin_lim", "the self-check's two tones (n_fft = 256, hop_length = 64), from its random phase: "
                 "spectral convergence after 0, 4 and 32 iterations",
                 ", ".join(_s(_convergence(i), ".2f") for i in (0, 4, 32))))
    off_bin = np.sin(2 * np.pi * 440.5 * t)
    rect = 2 * np.abs(np.fft.rfft(off_bin)).max() / sr
    hann = np.hanning(sr + 1)[:-1]
    windowed = 2 * np.abs(np.fft.rfft(off_bin * hann)).max() / hann.sum()
    rows.append(("ch1 exercise 4 (open)", "peak of a 440.5 Hz sinusoid (half-way between 1 Hz bins), 1 s at 16 kHz",
                 f"rectangular {_s(rect, '.3f')} ({_s(20 * np.log10(rect), '.1f')} dB), Hann {_s(windowed, '.3f')} ({_s(20 * np.log10(windowed), '.1f')} dB)"))
    f48, f49 = 440 * 2 ** ((48 - 69) / 12), 440 * 2 ** ((49 - 69) / 12)
    n_fft = next(2**k for k in range(8, 18) if 2 * sr / 2**k < f49 - f48)
    rows.append(("ch1 exercise 5 (open)", "MIDI 48 and 49 resolved by a Hann window (main lobe 2 sr / n_fft narrower than their distance)",
                 f"{_s(f48, '.1f')} and {_s(f49, '.1f')} Hz, {_s(f49 - f48, '.2f')} Hz apart: n_fft = {n_fft} ({_s(n_fft / sr, '.2f')} s) at 16 kHz"))

    edges = np.array([-1.0, -0.5, -0.001, 0.0, 0.001, 0.5, 1.0])
    rows.append(("ch2.mu_law_encode", "x = -1, -0.5, -0.001, 0, 0.001, 0.5, 1",
                 ", ".join(str(int(c)) for c in ch2.solution_mu_law_encode(edges))))
    decoded = ch2.solution_mu_law_decode(np.arange(256))
    rows.append(("ch2.mu_law_decode", "step between neighbouring codes near 0 (codes 127, 128) and near 1 (254, 255)",
                 f"{_s(decoded[128] - decoded[127], '.3g')} and {_s(decoded[255] - decoded[254], '.3g')}"))
    uniform = np.random.default_rng(0).uniform(-1, 1, 200000)
    snrs = [ch2.solution_snr_db(uniform, ch2.solution_quantize_uniform(uniform, 2**bits)) for bits in (2, 4, 8)]
    rows.append(("ch2.quantize_uniform + snr_db (exercise 5)", "SNR of 200,000 samples uniform in [-1, 1] at 2, 4, 8 bits",
                 f"{_fmt(snrs)} dB (6.02 B: 12.04, 24.08, 48.16)"))

    wavenet = WaveNetConfig()
    rows.append(("ch3.receptive_field", f"kernel 2, dilations 1 .. 512 (10 layers); the chapter's WaveNetConfig() ({wavenet.num_stacks} x {wavenet.layers_per_stack} layers)",
                 f"{ch3.solution_receptive_field(2, [2**i for i in range(10)])}; {ch3.solution_receptive_field(wavenet.kernel_size, wavenet.dilations)} samples"))
    rows.append(("ch3.causal_mask", "T = 4: entries that may attend", f"{int(ch3.solution_causal_mask(4).sum())} of 16 (the lower triangle with its diagonal)"))
    gen = torch.Generator().manual_seed(0)
    targets = torch.randint(0, 256, (1000,), generator=gen)
    rows.append(("ch3.bits_per_sample", "uniform logits over 256 codes; logits giving the target probability 0.5",
                 f"{_s(ch3.solution_bits_per_sample(torch.zeros(1000, 256), targets), '.3f')}; "
                 f"{_s(ch3.solution_bits_per_sample(torch.zeros(1000, 256).scatter(1, targets[:, None], float(np.log(255))), targets), '.3f')} bits"))
    from audioformers.models.sample_transformer import SampleTransformer, SampleTransformerConfig

    torch.manual_seed(0)
    model = SampleTransformer(SampleTransformerConfig(context_length=32, width=32, num_layers=2, num_heads=4)).eval()
    tokens = torch.randint(0, 256, (2, 32), generator=gen)
    with torch.no_grad():
        gap = float((ch3.cached_logits(model, tokens, ch3.solution_attend_with_cache) - model(tokens)).abs().max())
    rows.append(("ch3.attend_with_cache", "2-layer SampleTransformer, 32 tokens one at a time: largest |cached - whole-window| logit",
                 f"{'below 1e-5' if gap < 1e-5 else _s(gap, '.1e')} (float32 rounding, which differs between machines; "
                 "a real mistake gives differences of order 0.1 or more)"))

    rows.append(("ch4.code_perplexity", "1,000,000 codes uniform over 16; half code 0, the rest uniform over 15",
                 f"{_s(ch4.solution_code_perplexity(np.arange(16).repeat(62500), 16), '.2f')}; "
                 f"{_s(ch4.solution_code_perplexity(np.r_[np.zeros(15, int), np.arange(1, 16)], 16), '.2f')}"))
    z = torch.eye(4)
    rows.append(("ch4.nt_xent", "B = 4, the two views identical one-hot vectors, temperature 0.2 and 1.0",
                 f"{_s(float(ch4.solution_nt_xent(z, z, 0.2)), '.4f')}; {_s(float(ch4.solution_nt_xent(z, z, 1.0)), '.4f')}"))
    rows.append(("ch4.assign_codes", "vectors (0, 0), (0.9, 1), (3, 3) with centres (0, 0), (1, 1), (3, 2.5)",
                 ", ".join(str(int(c)) for c in ch4.solution_assign_codes(np.array([[0, 0], [0.9, 1], [3, 3]], float),
                                                                          np.array([[0, 0], [1, 1], [3, 2.5]], float)))))
    (correct_a, correct_b, _, _), _ = ch4._bootstrap_cases(44)[0]
    low, high = ch4.solution_paired_bootstrap(correct_a, correct_b, 2000, 0)
    unpaired = ch4.BOOTSTRAP_MISTAKES[0].fn(correct_a, correct_b, 2000, 0)
    rows.append(("ch4.paired_bootstrap", f"the check's first case: 200 clips, accuracies {_s(correct_a.mean(), '.3f')} and {_s(correct_b.mean(), '.3f')}, 2000 resamples, seed 0",
                 f"[{_s(low, '.3f')}, {_s(high, '.3f')}] (unpaired: [{_s(unpaired[0], '.3f')}, {_s(unpaired[1], '.3f')}], wider)"))

    clip = torch.randn(2, sr, generator=gen)
    rows.append(("ch5.patchify", "1 s at 16 kHz, 400-sample patches", f"shape {tuple(ch5.solution_patchify(clip, 400).shape)}"))
    windows = wavelet_transformer.haar_window_sizes(40)
    groups = [g.shape[2] for g in torch.tensor_split(torch.zeros(1, 40, 64), len(windows), dim=2)]
    rows.append(("ch5.haar_multiscale", "T = 40 patches, C = 64 channels: windows and channels per group",
                 f"windows {windows}; channels {groups}"))
    y = np.array([[1, 0], [0, 1], [1, 0], [0, 0]], float)
    s = np.array([[0.9, 0.1], [0.8, 0.7], [0.3, 0.2], [0.1, 0.9]])
    rows.append(("ch5.macro_map", "4 clips, 2 classes: targets [[1,0],[0,1],[1,0],[0,0]], scores [[.9,.1],[.8,.7],[.3,.2],[.1,.9]]",
                 f"{_s(ch5.solution_macro_map(y, s), '.4f')} (class APs 1.0 and 0.5)"))
    x = torch.arange(12, dtype=torch.float32).reshape(2, 3, 2)
    mask = torch.tensor([[True, True, False], [False, False, False]])
    rows.append(("ch5.masked_time_mean", "x = arange(12).reshape(2, 3, 2), mask [[T, T, F], [F, F, F]]",
                 f"{ch5.solution_masked_time_mean(x, mask).tolist()}"))
    rng = np.random.default_rng(0)
    peaks = np.sort(np.abs(np.fft.rfft(rng.standard_normal((64, 400)), axis=1)).argmax(axis=1) * sr / 400)
    r = np.corrcoef(peaks, np.arange(64))[0, 1]
    rows.append(("ch5 exercise 5 (open)", "64 random Gaussian 400-tap filters: peak frequencies, sorted, against a straight line",
                 f"correlation {_s(r, '.3f')}; lowest {_s(peaks[0], '.0f')} Hz, highest {_s(peaks[-1], '.0f')} Hz"))
    return rows


def answers_markdown() -> str:
    rows = ["| exercise | worked example | expected (reference solution) |", "|---|---|---|"]
    rows += [f"| {key} | {example} | {expected} |" for key, example, expected in answer_keys()]
    return "\n".join(rows) + "\n"


def mistakes_markdown() -> str:
    """Every known mistake each self-check recognises, with what it tells the student (from the registry)."""
    from audioformers.exercises import EXERCISES

    out = []
    for key, exercise in EXERCISES.items():
        if not exercise.mistakes:
            continue
        messages = list(dict.fromkeys(m.message for m in exercise.mistakes))
        out.append(f"- **`{key}`** — " + " · ".join(f"“{m}”" for m in messages))
    return "\n".join(out) + "\n"


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f}"


def teacher_timing_table(notebooks: Iterable[Path | str], results_dir: Path | str = "results") -> str:
    """Per chapter, in minutes: the committed run of the notebook and the runs and studies recorded in
    ``results_dir``, which the notebook reloads rather than repeats (what a fresh runtime needs is the
    notebook's own time: the committed runs were made with an empty model cache where it matters)."""
    import json

    colab_path = Path(results_dir) / "colab.json"
    colab = json.loads(colab_path.read_text()) if colab_path.exists() else {}
    rows = ["| chapter | profile, device | notebook as committed (min) | recorded runs and studies, reloaded (min) "
            "| as Colab runs it: fresh environment, set-up cell included (min) |", "|---|---|---|---|---|"]
    for path in map(Path, notebooks):
        info = provenance_of(path)
        fresh = (colab.get(path.stem) or {}).get("book")
        fresh_text = f"{_minutes(float(fresh['notebook_s']))}, {fresh['measured_at']}" if fresh else "not measured"
        if "wall_time_s" not in info:
            rows.append(f"| {path.stem} | not recorded | - | - | {fresh_text} |")
            continue
        own = float(info["wall_time_s"])
        chapter = path.stem.split("_", 1)[0]
        runs = training_seconds(results_dir, int(chapter), info.get("profile", "book")) if chapter.isdigit() else None
        rows.append(f"| {path.stem} | {info.get('profile', '?')}, {info.get('device', '?')} | {_minutes(own)} | "
                    f"{_minutes(runs) if runs else 'none'} | {fresh_text} |")
    return "\n".join(rows) + "\n"


GENERATED = {"plan": plan_markdown, "timings": teacher_timing_table,
             "answers": lambda _: answers_markdown(), "mistakes": lambda _: mistakes_markdown()}
# Sections a test keeps in step with the code; the timings change with every re-execution of the notebooks.
CHECKED_SECTIONS = ("plan", "answers", "mistakes")


def _markers(name: str) -> tuple[str, str]:
    return (f"<!-- generated:{name} (python -m audioformers.coursework answers --write) -->", f"<!-- end:{name} -->")


def generated_sections(notebooks: Iterable[Path | str]) -> dict[str, str]:
    notebooks = list(notebooks)
    return {name: make(notebooks) for name, make in GENERATED.items()}


def update_guide(guide: Path | str, notebooks: Iterable[Path | str]) -> list[str]:
    """Rewrite the generated sections of ``guide`` in place; return the names of those that changed."""
    guide = Path(guide)
    text = guide.read_text()
    changed = []
    for name, body in generated_sections(notebooks).items():
        start, end = _markers(name)
        if start not in text or end not in text:
            raise ValueError(f"{guide} has no {start} ... {end} block")
        before, rest = text.split(start, 1)
        old, after = rest.split(end, 1)
        new = f"\n{body}"
        if old != new:
            changed.append(name)
        text = before + start + new + end + after
    guide.write_text(text)
    return changed


def guide_sections(guide: Path | str) -> dict[str, str]:
    """The generated sections as they stand in ``guide``."""
    text = Path(guide).read_text()
    found = {}
    for name in GENERATED:
        start, end = _markers(name)
        if start in text and end in text:
            found[name] = text.split(start, 1)[1].split(end, 1)[0].lstrip("\n")
    return found
