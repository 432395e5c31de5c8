"""audioformers: the shared package of the book *Transformers for Audio*.

Each module holds one topic and names the chapter (notebook) that explains it.
Import the modules you need, e.g. ``from audioformers import profiles, device``.
"""

__version__ = "0.1.0"
