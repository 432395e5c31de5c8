"""Progress bars: Jupyter widgets where ipywidgets is installed (Colab has it), text bars everywhere else.

``tqdm.auto`` warns ("IProgress not found") in a notebook without ipywidgets and that warning, with the machine's
paths in it, would land in the committed outputs; choosing the text bar there says nothing and shows the same
progress.
"""

from __future__ import annotations

import importlib.util

if importlib.util.find_spec("ipywidgets") is not None:
    from tqdm.auto import tqdm
else:  # a notebook without ipywidgets (and every terminal): tqdm's text bar, without tqdm.auto's warning
    from tqdm import tqdm

__all__ = ["tqdm"]
