"""The offline datasets: what each is, how it is built, and its cache key (:func:`build_hash`).

The key of a build is a hash of what it depends on: the builders' code (:func:`builder_code_digest`), the
dataset's config, and what it reads (:func:`inputs_state`: the files of its Debian source packages and the
soundfont renderer). The full public datasets (FSD50K, MAESTRO, Speech Commands) are registered with their URLs
and checksums in :mod:`audioformers.data.downloads`.
"""
from __future__ import annotations

import ast
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from audioformers.data import builders
from audioformers.data import sources as _src
from audioformers.data import synth

BUILD_VERSION = 1
WAVE_MINI_SAMPLE_RATE = builders.WAVE_RATE
EXAMPLE_NAMES: tuple[str, ...] = builders.EXAMPLE_NAMES
SOUNDMIX_CLASSES: list[str] = builders.SOUNDMIX_CLASSES


@dataclass(frozen=True)
class DatasetEntry:
    """An offline dataset, built by ``builder`` from installed packages.

    The full public datasets (FSD50K, MAESTRO, Speech Commands) are registered with their URLs and
    checksums in :mod:`audioformers.data.downloads`; :func:`audioformers.data.ensure_dataset` knows both registries.
    """

    name: str
    kind: str
    description: str
    builder: Callable[[Path, dict], dict] | None = None
    config: dict = field(default_factory=dict)
    sources: tuple[_src.DebianSource, ...] = ()  # what it reads: their files enter the build hash


def _instruments_xl(folder: Path, config: dict) -> dict:
    return builders.build_instruments(folder, config, name="instruments-mini-xl")


_MUSIC, _SPEECH, _FLUID = _src.ASTERISK_MUSIC, _src.ASTERISK_SPEECH, _src.FLUIDR3
REGISTRY: dict[str, DatasetEntry] = {e.name: e for e in (
    DatasetEntry("wave-mini", "offline", "music and speech at 8 kHz (chapter 3)",
                 builders.build_wave_mini, builders.WAVE_CONFIG, (_MUSIC, _SPEECH)),
    DatasetEntry("orchestra-mini", "offline", "orchestral music at 8 kHz, 40 tracks (chapter 3)",
                 builders.build_orchestra, builders.ORCHESTRA_CONFIG, (_src.WESNOTH_MUSIC,)),
    DatasetEntry("piano-mini", "offline", "Bach chorales on a rendered grand piano at 16 kHz (chapter 3)",
                 builders.build_piano, builders.PIANO_CONFIG, (_FLUID,)),
    DatasetEntry("instruments-mini", "offline", "GM notes in 12 families (chapters 4, 5)",
                 builders.build_instruments, builders.INSTRUMENTS_CONFIG, (_FLUID,)),
    DatasetEntry("instruments-mini-xl", "offline", "larger instruments set, built on demand",
                 _instruments_xl, builders.INSTRUMENTS_XL_CONFIG, (_FLUID,)),
    DatasetEntry("drums-mini", "offline", "Hydrogen drum one-shots (chapters 4, 5)",
                 builders.build_drums, builders.DRUMS_CONFIG, (_src.HYDROGEN,)),
    DatasetEntry("soundmix-mini", "offline", "event bank for multi-label mixtures (chapter 5)",
                 builders.build_soundmix, builders.SOUNDMIX_CONFIG, builders.SOUNDMIX_SOURCES + (_FLUID,)),
    DatasetEntry("examples", "offline", "named example sounds (chapters 1, 2)",
                 builders.build_examples, builders.EXAMPLES_CONFIG, (_MUSIC, _SPEECH, _src.MINETEST, _FLUID)),
)}
DATASET_NAMES: tuple[str, ...] = tuple(REGISTRY)
OFFLINE_DEFAULT: tuple[str, ...] = ("wave-mini", "orchestra-mini", "piano-mini", "instruments-mini", "drums-mini",
                                    "soundmix-mini", "examples")
CLIP_DATASETS: tuple[str, ...] = ("instruments-mini", "instruments-mini-xl", "drums-mini")

# Tests may shrink a builder's config here ({name: {key: value}}); it is part of the build hash.
_CONFIG_OVERRIDES: dict[str, dict] = {}


def check_name(value: str, valid: Iterable[str], what: str) -> None:
    """A ``ValueError`` naming ``what`` and listing the ``valid`` names unless ``value`` is one of them."""
    valid = tuple(valid)
    if not isinstance(value, str) or value not in valid:
        raise ValueError(f"unknown {what} {value!r}; valid: {', '.join(valid)}")


def dataset_config(name: str) -> dict:
    """The config ``name`` is built with: its registry entry's, with the overrides tests set."""
    return {**REGISTRY[name].config, **_CONFIG_OVERRIDES.get(name, {})}


# --- the builders' code, as a cache key ---------------------------------------------------------

def _strip_imports_and_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if not isinstance(body, list):
            continue
        kept = [stmt for stmt in body if not isinstance(stmt, (ast.Import, ast.ImportFrom))]
        if kept and isinstance(kept[0], ast.Expr) and isinstance(kept[0].value, ast.Constant) \
                and isinstance(kept[0].value.value, str):
            kept = kept[1:]
        node.body = kept or [ast.Pass()]
    return tree


def code_fingerprint(source: str) -> str:
    """What a module's code *does*, independent of where it lives: its syntax tree without import statements and
    docstrings (``ast.dump``), so moving the file, rewriting its imports or editing its prose changes nothing,
    while any change to a statement, a constant or a name does."""
    tree = _strip_imports_and_docstrings(ast.parse(source))
    return hashlib.sha256(ast.dump(tree, annotate_fields=False).encode()).hexdigest()


def statement_fingerprints(source: str) -> list[str]:
    """:func:`code_fingerprint` of each top-level statement of a module (a function, a class, a constant), without
    its imports, its docstrings and its ``__all__``."""
    tree = _strip_imports_and_docstrings(ast.parse(source))
    out = []
    for stmt in tree.body:
        names = [t.id for t in getattr(stmt, "targets", []) if isinstance(t, ast.Name)]
        if isinstance(stmt, ast.Pass) or names == ["__all__"]:
            continue
        out.append(hashlib.sha256(ast.dump(stmt, annotate_fields=False).encode()).hexdigest())
    return out


def code_digest(sources: Iterable[str]) -> str:
    """A fingerprint of several modules taken together: the sorted :func:`statement_fingerprints` of them all, so
    that moving a function or a constant from one module to another (or splitting a module) changes nothing,
    while changing any statement does. (Only the order of top-level statements is not seen: a name defined twice
    at the top level, whose later definition wins, would go unnoticed; the builders define each name once.)"""
    digest = hashlib.sha256()
    for fingerprint in sorted(fp for source in sources for fp in statement_fingerprints(source)):
        digest.update(fingerprint.encode())
    return digest.hexdigest()[:16]


def builder_modules() -> list[Path]:
    """The source files whose code makes the offline datasets: every module of :mod:`audioformers.data.builders`
    (a new one is included without an edit here), :mod:`~audioformers.data.sources` and
    :mod:`~audioformers.data.synth`."""
    root = Path(__file__).resolve().parent
    return sorted((root / "builders").glob("*.py")) + [root / "sources.py", root / "synth.py"]


def builder_code_digest() -> str:
    """:func:`code_digest` of :func:`builder_modules`: a change to how audio is made rebuilds every cached dataset;
    moving code between the modules, splitting one, or editing docstrings does not.

    (A version number alone once let a cache built by an older renderer survive a fix with the same
    hash, so two machines held different audio under the same name.)
    """
    return code_digest(path.read_text() for path in builder_modules())


def build_hash(name: str) -> str:
    """Hash of what a build depends on: builder version and code, config, and what it reads.

    What it reads: the name and size of every file of the dataset's source packages (so installing,
    removing or updating a package rebuilds what depends on it) and the soundfont renderer in use.
    """
    payload = {"name": name, "version": BUILD_VERSION, "code": builder_code_digest(), "config": dataset_config(name),
               "inputs": inputs_state(name)}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def inputs_state(name: str) -> dict:
    """What the build of ``name`` reads: per source package, [name, size] of each file (None when
    the package is absent), and the soundfont renderer with its file's size."""
    state: dict = {s.package: ([list(row) for row in s.inventory()] if s.available() else None)
                   for s in REGISTRY[name].sources}
    try:
        renderer = synth.backend()
    except RuntimeError as err:  # no renderer at all: the build will say so
        renderer = f"none: {err}"
    state["renderer"] = renderer
    if renderer == "tinysoundfont":
        timgm = synth.timgm_path()
        state["fallback soundfont"] = timgm.stat().st_size if timgm else None
    return state
