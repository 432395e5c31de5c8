"""What chapter 5's front end learned: the wide layer's weights and weight change, read against the training data.

:func:`run_front_end` reads each soundmix ``transformer-average`` run of the comparison (its seeds) and trains the
same transformer on instruments-mini labelled by ``family`` and by ``pitch`` class (:func:`family_config`), three
seeds per task at book (seed ``i`` of both tasks: the same initialisation and the same crops); each run's
filterbank summary (:func:`front_end_record`, from :mod:`audioformers.audio.filterbank_analysis`) goes to
``results/ch5/front_end.<profile>.json``, whose config is :func:`front_end_config`, rewritten after each seed (runs
are cached, so a killed study resumes). Whether the filterbank depends on the task is read against the spread
between seeds on the same task by :func:`audioformers.ch5.mechanisms.read_task_dependence`.

Command line (resumable)::

    python -m audioformers.ch5.front_end --profile book

Notebook: chapters/05_wavelet_audio_transformer.ipynb (section "What the front end learned")
"""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import Any

import numpy as np
import torch

from audioformers.audio import filterbank_analysis as fa
from audioformers.ch5.config import CHAPTER, RunConfig, base_config, front_end_sizes, profile_sizes
from audioformers.ch5.mechanisms import TASK_CHANCE, TASKS, check_seeds, front_end_budget, read_task_dependence
from audioformers.ch5.models import initial_model
from audioformers.ch5.runs import run_one, train_model, write_phase
from audioformers.ch5.tasks import load_task
from audioformers.core.checks import check_int
from audioformers.core.profiles import get_profile, validate_profile
from audioformers.core.results import load_results
from audioformers.train.distributed import start_study, study_parser


def family_config(profile: str | None = None, seed: int = 0, task: str = "family") -> RunConfig:
    """The instrument run: the same transformer on instruments-mini labelled by ``family`` or by ``pitch`` class."""
    profile = validate_profile(profile or get_profile())
    if task not in ("family", "pitch"):
        raise ValueError(f"task must be 'family' or 'pitch', got {task!r}")
    seed = check_int("seed", seed, minimum=0)
    return base_config({**front_end_sizes(profile), "task": task}, model="transformer-average", seed=seed)


def front_end_config(profile: str | None = None, seeds: list[int] | None = None) -> dict[str, Any]:
    """The config ``results/ch5/front_end.<profile>.json`` records: the family/pitch runs' sizes (``seeds``: those
    done, default all of the profile's) and the soundmix runs' config."""
    profile = validate_profile(profile or get_profile())
    sizes = front_end_sizes(profile)
    return {**sizes, "seeds": check_seeds(seeds) if seeds is not None else list(sizes["seeds"]),
            "soundmix_config": asdict(base_config(profile_sizes(profile), model="transformer-average"))}


def front_end_record(config: RunConfig, profile: str, progress: bool = False,
                     device: torch.device | str | None = None) -> dict[str, Any]:
    """Weights and weight change of one run's wide layer, read against its own training data.

    Energy-following curve and principal components are computed from that run's training audio.
    """
    sizes = front_end_sizes(profile)
    task = load_task(config.task, config.train_clips, config.test_clips)
    trained, _ = train_model(config, device=device, progress=progress)  # loads the finished checkpoint
    initial = initial_model(config)
    w0, w1 = (m.front_end.wide.weight.detach().cpu().numpy() for m in (initial, trained))
    audio = task["train_audio"]
    power, freqs = fa.average_spectrum(audio[: min(len(audio), 400)], 16000)
    patches = fa.random_patches(audio, config.patch_samples, sizes["patches"], seed=0)
    record = fa.front_end_report(w0, w1, patches, power, freqs, 16000, top=sizes["top_components"])
    # what the chapter draws, so that it needs no checkpoint: sorted centre frequencies at 256 ranks, the
    # data's energy-following curve, its mean power spectrum, and the gallery's single neurons
    ranks = np.linspace(0, w0.shape[0] - 1, 256).round().astype(int)
    record["curves"] = {"rank": ranks, "energy_following": fa.energy_line(power, freqs, w0.shape[0])[ranks].round(1),
                        **{name: fa.sorted_centres(w, 16000)[0][ranks].astype(np.float64).round(1)
                           for name, w in (("initial", w0), ("trained", w1), ("weight_change", w1 - w0))}}
    record["spectrum"] = {"freqs": freqs[::4], "power": [float(f"{v:.4g}") for v in (power / power.max())[::4]]}
    record["gallery"] = {kind: [{"neuron": i, "weights_scaled": (w1[i] / np.abs(w1[i]).max()).astype(np.float64).round(4)} for i in picks]
                         for kind, picks in fa.gallery(w1, 16000, per_kind=2).items()}
    return record


def _soundmix_part(profile: str, base: RunConfig, seeds: list[int], device) -> tuple[dict[str, Any], str]:
    """Each soundmix run's filterbank record, computed where its checkpoint is on this machine, else kept as the
    stored record holds it (the comparison's runs are another phase's: this one never trains them)."""
    out: dict[str, Any] = {}
    for seed in seeds:
        cfg = replace(base, seed=seed)
        if run_one(cfg, cached_only=True) is not None:
            out[str(seed)] = front_end_record(cfg, profile, device=device)
    if out:
        source = "computed"
    else:
        try:
            stored = load_results(CHAPTER, "front_end", profile)
        except FileNotFoundError:
            stored = {}
        same = (stored.get("config") or {}).get("soundmix_config") == front_end_config(profile)["soundmix_config"]
        out = dict((stored.get("metrics") or {}).get("soundmix") or {}) if same else {}
        source = "kept from the stored record" if out else "not run"
    for i, seed in enumerate(sorted(out, key=int)):
        if i:  # the chapter's gallery shows the first seed's neurons
            out[seed].pop("gallery", None)
    return out, source


def _task_run(run: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    """What the record keeps of one family/pitch run: its score, learning curve, seconds and filterbank summary."""
    out = {"accuracy": run["accuracy"], "curve": run.get("curve"), "train_seconds": run["train_seconds"],
           "eval_seconds": run["eval_seconds"], "per_source": run["per_source"], **record}
    out.pop("gallery", None)
    return out


def run_front_end(profile: str | None = None, device: torch.device | str | None = None, progress: bool = True,
                  resume: bool = True) -> dict[str, Any]:
    """The front-end analysis: each soundmix transformer-average run of the comparison (its seeds), and the same
    instruments-mini audio labelled by family and by pitch, for every seed of :func:`front_end_sizes`; writes
    ``results/ch5/front_end.<profile>.json`` after each seed.

    ``metrics["soundmix"]``: per soundmix seed, the filterbank summary of the initial and trained weights and of
    the ``weight_change`` (trained − initial); ``distance_to_energy_hz`` lists their mean distance to their data's
    energy-following curve (initial and trained, per seed). ``metrics["tasks"] = {"family": {seed: run},
    "pitch": {seed: run}}``: every family/pitch run (score, curve, filterbank summary, sorted curves);
    ``metrics["family"]`` and ``["pitch"]``: the first seed's run, as the chapter draws it;
    ``metrics["task_dependence"]``: :func:`audioformers.ch5.mechanisms.read_task_dependence`.
    """
    profile = validate_profile(profile or get_profile())
    sizes, fe_sizes = profile_sizes(profile), front_end_sizes(profile)
    base = base_config(sizes, model="transformer-average")
    soundmix, source = _soundmix_part(profile, base, sizes["seeds"], device)
    sm = soundmix.values()
    out: dict[str, Any] = {"soundmix": soundmix, "soundmix_source": source, "family": {}, "pitch": {},
                           "tasks": {"family": {}, "pitch": {}},
                           "distance_to_energy_hz": {"initial": [r["initial"]["mean_abs_from_energy_hz"] for r in sm],
                                                     "trained": [r["trained"]["mean_abs_from_energy_hz"] for r in sm]}}
    runs: list[dict[str, Any]] = []
    seeds = list(fe_sizes["seeds"])
    for seed in seeds:
        for task in TASKS:
            cfg = family_config(profile, seed, task)
            run = run_one(cfg, device=device, progress=progress, resume=resume)
            runs.append(run)
            out["tasks"][task][str(seed)] = _task_run(run, front_end_record(cfg, profile, device=device))
        for task in TASKS:
            out[task] = out["tasks"][task][str(seeds[0])]
        out["weight_change"] = {name: {"top_energy": rec["weight_change"]["top_energy"],
                                       "initial_top_energy": rec["initial"]["top_energy"],
                                       "relative_change": rec["weight_change"]["relative_change"]}
                                for name, rec in [*((f"soundmix seed {s}", r) for s, r in soundmix.items()),
                                                  *((f"{t} seed {s}", r) for t in TASKS
                                                    for s, r in out["tasks"][t].items())]}
        done = seeds[: seeds.index(seed) + 1]
        out["task_dependence"] = read_task_dependence(out["tasks"], TASK_CHANCE,
                                                      front_end_budget(front_end_config(profile, done)))
        write_phase("front_end", out, front_end_config(profile, done), runs, done, profile, device)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = study_parser(__doc__.split("\n")[0], seeds=False)
    args = parser.parse_args(argv)
    device = start_study(args)
    fe = run_front_end(args.profile, device=device, resume=args.resume)
    for task in TASKS:
        accs = [r["accuracy"] for r in fe["tasks"][task].values()]
        print(f"front end, {task}: accuracy {np.mean(accs):.3f} over {len(accs)} seeds", flush=True)
    td = fe["task_dependence"]
    if td:
        cd = td["curve_distance_hz"]
        within = cd["within_family"] + cd["within_pitch"]
        print(f"{td['line']}: {td['at_budget']}; sorted curves between tasks (same seed) "
              f"{min(cd['between_tasks']):.0f}–{max(cd['between_tasks']):.0f} Hz, between seeds (same task) "
              f"{min(within):.0f}–{max(within):.0f} Hz", flush=True)

if __name__ == "__main__":
    main()
