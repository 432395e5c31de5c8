"""Give a new virtual environment the pinned environment's torch and torchaudio, and nothing else.

    python requirements/hold_torch.py .venv-latest        (run by .venv's Python: `make test-latest`)

With another Python in the new environment (``make test-latest LATEST_PYTHON=python3.12``, the Python of Colab,
where librosa 1.x and numpy 2.5 install) nothing can be shared, and pip installs torch too.

`make test-latest` installs the newest releases that pyproject.toml's ranges allow, with one exception decided
on purpose: torch and torchaudio (and the CUDA libraries and triton that come with them) stay at the versions
in requirements/constraints.txt. Colab brings its own torch, which the set-up cell keeps, so a newer torch is
not what a reader gets there; and the newest torch allowed is a CUDA build of several GB, which would make the
run mostly a download. Those distributions are linked (not copied) from the interpreter running this script
into ``<venv>/held-torch``, which a ``.pth`` file appends to the new environment's path: pip sees torch as
installed and keeps it, everything else (torch's own pure-Python dependencies included) is installed new and,
coming earlier on the path, wins.
"""

from __future__ import annotations

import importlib.metadata as metadata
import re
import subprocess
import sys
from pathlib import Path

HELD = re.compile(r"^(torch|torchaudio|triton|nvidia-.*|cuda-.*)$")


def _name(dist: metadata.Distribution) -> str:
    return re.sub(r"[-_.]+", "-", dist.metadata["Name"]).lower()


def held_distributions() -> list[metadata.Distribution]:
    """torch, torchaudio and their compiled companions (CUDA libraries, triton) installed here."""
    found = {_name(d): d for d in metadata.distributions() if HELD.match(_name(d))}
    if "torch" not in found or "torchaudio" not in found:
        raise SystemExit("hold_torch: run me with the pinned environment's Python (.venv/bin/python): "
                         "torch and torchaudio are not installed in " + sys.prefix)
    return [found[k] for k in sorted(found)]


def link(venv: Path) -> list[str]:
    """Link the held distributions into ``venv``; an empty list when its Python differs (nothing can be shared)."""
    python = venv / "bin" / "python"
    if not python.exists():
        raise SystemExit(f"hold_torch: {venv} is not a virtual environment ({python} missing)")
    theirs = subprocess.run([str(python), "-c", "import sys; print(sys.version_info[:2])"],
                            capture_output=True, text=True, check=True).stdout.strip()
    if theirs != str(sys.version_info[:2]):
        return []
    target = venv / "held-torch"
    target.mkdir(exist_ok=True)
    held = []
    for dist in held_distributions():
        base = Path(dist.locate_file(""))
        tops = {Path(str(f)).parts[0] for f in dist.files or [] if not str(f).startswith("..")}
        for top in sorted(tops - {"__pycache__", "bin"}):
            source, dest = base / top, target / top
            if source.exists() and not dest.exists():
                dest.symlink_to(source)
        held.append(f"{dist.metadata['Name']}=={dist.version}")
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    Path(purelib, "held_torch.pth").write_text(str(target.resolve()) + "\n")
    return held


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        raise SystemExit("usage: python requirements/hold_torch.py VENV")
    held = link(Path(args[0]))
    if not held:
        print(f"torch not held: {args[0]} runs another Python than {sys.executable}; pip installs the newest torch "
              "the ranges allow (a CUDA build of several GB on Linux x86_64)")
        return 0
    shown = [h for h in held if h.split("==")[0].lower() in ("torch", "torchaudio")]
    print(f"held at the pinned versions: {', '.join(shown)} (+{len(held) - len(shown)} CUDA/triton distributions)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
