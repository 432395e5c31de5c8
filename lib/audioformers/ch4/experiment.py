"""Chapter 4's experiment: linear probes over folds of held-out sources, one pooling, one unlabelled pool.

The protocol (issue 13):

* **Folds over held-out sources.** Instruments: each family has six GM programs; fold ``f`` tests on the
  program at rotation position ``f`` of every family, tunes on the next one and trains the probe on the
  other four (fold 0 is the dataset's own split). Drums: the kits are dealt into folds of about equal size;
  fold ``f`` tests on group ``f``, tunes on group ``f + 1``. Every source is a test source exactly once.
* **Seeds vary inside folds**: every seed trains its own tokenizer, next-code model, SimCLR CNN and (per fold)
  supervised CNN. The report's verdicts rest on paired differences over seeds × held-out test sources (GM
  programs, drum kits: each the test source of one fold) with the protocol's two-level interval; the tables also
  give the interval over seeds × folds and a sign-test interval over folds
  (:func:`audioformers.evaluation.evidence.fold_interval`).
* **One pooling for every representation**: mean and standard deviation over time (mel frames, patches,
  transformer states, the CNNs' last feature map). Mean-only rows for the log-mel and the bottleneck measure
  what the pooling alone is worth.
* **One probe**: logistic regression with ``C`` chosen on the validation sources from
  :data:`audioformers.evaluation.probes.C_GRID` (1e-5 … 100) by the one-standard-error rule
  (:func:`audioformers.evaluation.probes.one_se_index`); every choice is recorded, with whether it is interior.
* **An untrained encoder** (SimCLR's CNN with random weights, one per seed) is probed like every learned
  representation: the trivial baseline a learned one must beat before an ordering between learned ones is read.
* **Pre-training on an unlabelled pool** separate from every probe set: 1-s crops of the book's music and
  speech (wave-mini, upsampled from 8 kHz) and event audio (soundmix-mini, its rendered-instrument classes
  left out). The instruments' own clips are *not* in it: under rotation every program is a test program in
  some fold. The next-code model and SimCLR get step counts of about equal wall-clock (the seconds are
  recorded); snapshots along the way give probe accuracy against ``pretrain_steps``.
* **The supervised CNN** is trained per fold and seed on the fold's labelled training sources, with early
  stopping on its validation sources.
* **The pipeline**: log-mel → autoencoder ``bottleneck`` → k-means ``centroid`` → code ``histogram`` →
  next-code model ``lm_states``: what each stage keeps, with intervals over folds.

Everything is cached per unit (pool, per-seed pre-training, per-seed embeddings, per-fold supervised CNN,
per-seed probes) under ``data_dir()/ch4/folds``; results are rewritten after each seed, so an interrupted
run resumes where it stopped and partial results are usable. A stored study is reused by the package's one rule,
its recorded config (:func:`audioformers.core.results.stored_result`).

Where the pieces are: the configuration in :mod:`audioformers.ch4.config`, the folds in
:mod:`audioformers.ch4.folds`, the pool, pre-training and embeddings in :mod:`audioformers.ch4.pretraining`,
the tables, sentences and figures in :mod:`audioformers.ch4.tables`; the log-mels, the tokenizer and the
two-notes example in :mod:`audioformers.ch4.features`; the command-line study of the tokenizer's choices in
:mod:`audioformers.ch4.study`.

Command line::

    nice -n 10 python -m audioformers.ch4.experiment --profile book --seeds 0 1 2 [--device cuda]

Notebook: chapters/04_textless_audio_lm.ipynb
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from audioformers.ch4 import pretraining, tables
from audioformers.ch4.config import CHAPTER, FoldConfig, cache_dir, fold_config, fold_datasets
from audioformers.ch4.folds import ProbeSet, load_probe_set
from audioformers.core.device import add_device_argument, describe, resolve
from audioformers.core.profiles import get_profile, pick, validate_profile
from audioformers.core.results import atomic_write_text, read_cache_json, stored_result
from audioformers.evaluation import probes

#: the records the study writes per dataset (``results/ch4/<kind>-<dataset>.<profile>.json``)
TABLES = ("probe-table", "pipeline", "pretrain")


def recorded_seed(ps: ProbeSet, cfg: FoldConfig, seed: int, profile: str) -> dict | None:
    """One seed's finished run as recorded in ``results/ch4/probes-<dataset>-seed<seed>.<profile>.json`` (its
    ``run``), when it was written with this configuration; else ``None``.

    The results file, not the disk cache, is the study's durable record: a purged cache (a fresh machine)
    must not send a finished seed back to pre-training."""
    record = stored_result(CHAPTER, f"probes-{ps.name}-seed{seed}", profile, tables.table_config(cfg, ps.name))
    if record is None or record["metrics"].get("run_key") != cfg.key() or not isinstance(record["metrics"].get("run"), dict):
        return None
    return record["metrics"]["run"]


def probe_seed(ps: ProbeSet, cfg: FoldConfig, seed: int, say=print, profile: str | None = None,
               device: torch.device | str | None = None) -> dict:
    """All probes of one seed over every fold (cached): ``{"folds": {fold: {method: probe}}, ...}``; what it
    trains (pre-training, the supervised CNNs) trains on ``device``.

    With ``profile``, a seed recorded in the results (:func:`recorded_seed`) is reused when the cache has none."""
    path = cache_dir() / f"probes-{ps.name}-{cfg.key()}-seed{seed}.json"
    cached = read_cache_json(path) if path.exists() else None
    if cached is None and profile is not None:
        cached = recorded_seed(ps, cfg, seed, profile)
    if cached is not None:
        return cached
    state = pretraining.pretrain(cfg, seed, say, device=device)
    emb = pretraining.pool_embeddings(ps, cfg, seed, state, device=device)
    lm_steps = sorted(state["lm_snapshots"])
    cnn_steps = sorted(state["simclr_snapshots"])
    out: dict = {"folds": {}, "supervised": {}, "lm_steps": lm_steps, "simclr_steps": cnn_steps,
                 "pretrain_log": state["log"]}
    for fold in ps.folds(cfg.max_folds):
        t = time.perf_counter()
        s = ps.split(fold)

        def probe(x: np.ndarray) -> dict:
            return probes.probe_grid(x[s["train"]], ps.labels[s["train"]], x[s["val"]], ps.labels[s["val"]],
                                     x[s["test"]], ps.labels[s["test"]], cfg.probe_c_grid,
                                     test_sources=ps.sources[s["test"]], rule=cfg.probe_rule, tol=cfg.probe_tol)

        res = {m: probe(emb[m]) for m in ("mel_mean", "mel_stats", "bottleneck_mean", "bottleneck", "centroid",
                                          "histogram")}
        final_lm = lm_steps[-1]
        layers = {layer: probe(emb[f"lm_layer{layer}@{final_lm}"]) for layer in range(cfg.lm_layers + 1)}
        best = max(layers, key=lambda layer: (layers[layer]["val_accuracy"], -layer))  # on validation only
        res.update({f"lm_layer{layer}": r for layer, r in layers.items()})
        res["lm_states"] = {**layers[best], "layer": best}
        res["simclr"] = probe(emb[f"simclr@{cnn_steps[-1]}"])
        res["untrained"] = probe(emb["untrained"])  # SimCLR's CNN with random weights: the trivial baseline
        curve = {"code_lm": {str(lm_steps[-1]): res["lm_states"]["test_accuracy"]},
                 "simclr": {str(cnn_steps[-1]): res["simclr"]["test_accuracy"]}}
        for step in lm_steps[:-1]:
            curve["code_lm"][str(step)] = probe(emb[f"lm_layer{best}@{step}"])["test_accuracy"]
        for step in cnn_steps[:-1]:
            curve["simclr"][str(step)] = probe(emb[f"simclr@{step}"])["test_accuracy"]
        sup_emb, sup_log = pretraining.supervised_embeddings(ps, cfg, fold, seed, device=device)
        res["supervised_cnn"] = probe(sup_emb)
        out["supervised"][str(fold)] = sup_log
        out["folds"][str(fold)] = {"probe": res, "curve": curve}
        say(f"[{ps.name} seed {seed} fold {fold}] {time.perf_counter() - t:.0f}s  " + "  ".join(
            f"{m} {res[m]['test_accuracy']:.3f}" for m in ("mel_stats", "bottleneck", "lm_states", "simclr",
                                                           "untrained", "supervised_cnn")))
    atomic_write_text(path, json.dumps(out))
    return out


def run_study(datasets: list[str] | None = None, seeds=(0, 1, 2), profile: str | None = None, say=print,
              reuse_recorded: bool = True, device: torch.device | str | None = None, **overrides) -> dict[str, dict]:
    """Run (or resume) the fold study on ``device``; results are rewritten after every seed.

    ``reuse_recorded=False`` ignores the seeds recorded in ``results/`` (a ``--no-resume`` run trains them
    again; their records are overwritten only when the new run of that seed has finished)."""
    profile = validate_profile(profile or get_profile())
    device = resolve(device)
    cfg = fold_config(profile, **overrides)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    out = {}
    try:
        sets = {d: load_probe_set(d, cfg) for d in (datasets or fold_datasets(profile))}
        runs: dict[str, dict[int, dict]] = {d: {} for d in sets}
        for seed in seeds:
            for name, ps in sets.items():
                runs[name][seed] = probe_seed(ps, cfg, seed, say, profile=profile if reuse_recorded else None,
                                              device=device)
                out[name] = tables.write_tables(ps, cfg, runs[name], profile, tables.recorded_seconds(runs[name]),
                                                device=device)
    finally:
        torch.set_num_threads(threads)
    return out


def load_tables(dataset: str, profile: str | None = None, cfg: FoldConfig | None = None) -> dict[str, dict] | None:
    """The fold study's records for ``dataset`` (probe table, pipeline, pre-training) from ``results/ch4``, when
    each was written with ``cfg`` (default: the profile's :func:`fold_config`); else ``None``."""
    profile = validate_profile(profile or get_profile())
    config = tables.table_config(cfg or fold_config(profile), dataset)
    records = {kind: stored_result(CHAPTER, f"{kind}-{dataset}", profile, config) for kind in TABLES}
    return records if all(r is not None for r in records.values()) else None


def load_or_run_study(profile: str | None = None, seeds=None, datasets: list[str] | None = None,
                      say=print, device: torch.device | str | None = None) -> dict[str, dict[str, dict]]:
    """The fold study's records per dataset, from ``results/ch4`` when written with this profile's config (and
    with every seed in ``seeds``, when given); otherwise run on ``device`` (resuming from the cached units) and
    load them.

    ``seeds=None`` accepts the seeds the stored study holds (the command line decides how many to run) and
    runs the profile's default seeds only where nothing is stored."""
    profile = validate_profile(profile or get_profile())
    cfg = fold_config(profile)
    datasets = list(datasets or fold_datasets(profile))
    wanted = list(seeds if seeds is not None else pick(smoke=[0], book=[0, 1, 2], paper=[0, 1, 2], profile=profile))
    out, missing = {}, []
    for dataset in datasets:
        records = load_tables(dataset, profile, cfg)
        if records is None or (seeds is not None and not set(wanted) <= set(records["probe-table"]["metrics"]["seeds"])):
            missing.append(dataset)
        else:
            out[dataset] = records
    if missing:
        say(f"running the fold study for {', '.join(missing)} (resuming from cached units)")
        run_study(missing, wanted, profile, say=say, device=device)
        for dataset in missing:
            out[dataset] = load_tables(dataset, profile, cfg)
            if out[dataset] is None:
                raise RuntimeError(f"the fold study on {dataset} at {profile!r} ran but wrote no records with its config")
    return {d: out[d] for d in datasets}


def main(argv: list[str] | None = None) -> None:
    from audioformers.train.distributed import use_device_argument

    parser = argparse.ArgumentParser(description="Chapter 4: probes over folds of held-out sources")
    parser.add_argument("--profile", default=None)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--datasets", nargs="+", default=None)
    parser.add_argument("--resume", action=argparse.BooleanOptionalAction, default=True,
                        help="reuse the cached units and the seeds recorded in results/ (default); --no-resume "
                             "deletes the fold study's cache first and trains every seed again")
    add_device_argument(parser)
    args = parser.parse_args(argv)
    device = use_device_argument(args.device)
    print(f"device: {describe(device)}", flush=True)
    if not args.resume:
        for path in cache_dir().glob("*"):
            if path.is_file():
                path.unlink()
    for name, summary in run_study(args.datasets, args.seeds, args.profile, reuse_recorded=args.resume,
                                   device=device).items():
        print(f"{name}: {summary['folds']} folds, seeds {summary['seeds']}")
        for m, v in summary["table"].items():
            print(f"  {m:16s} {v['mean']:.3f}  (sd over folds {v['fold_std']:.3f})")
        for key, rec in summary["paired_difference"].items():
            print(f"  {rec['line']}  [{rec['question']}]")


if __name__ == "__main__":
    main()
