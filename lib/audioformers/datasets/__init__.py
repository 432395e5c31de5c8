"""Builders behind :mod:`audioformers.data` (the public entry point).

``sources`` finds the Debian / PyPI input files, ``synth`` renders MIDI notes with a
General-MIDI soundfont, ``builders`` turns both into the offline datasets.
"""
