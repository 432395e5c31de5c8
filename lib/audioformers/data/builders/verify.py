"""What the installed Debian sources lack, as far as the builders are concerned (``build_datasets.py --verify``)."""
from __future__ import annotations

from audioformers.data import sources as src
from audioformers.data.builders.clips import DRUMS_CONFIG
from audioformers.data.builders.recordings import WAVE_CONFIG
from audioformers.data.builders.soundmix import SOUNDMIX_FILES
from audioformers.data.synth import backend


def verify_inputs() -> list[str]:
    """What is wrong with the installed Debian sources, as far as the builders are concerned.

    Each problem names its package: a source folder that is missing, empty or partial (``dpkg -L``),
    files not owned by the package the source names (``dpkg -S``; e.g. a path through a link made
    by another package), a soundmix class pattern, drum kit or example file that finds nothing, or a
    soundfont that FluidSynth cannot use. An empty list means every builder has what it needs.
    Used by ``data_scripts/install_debian_packages.sh`` after installing.
    """
    problems: list[str] = []
    usable = []
    for source in src.SOURCES:
        try:
            files = source.check("an offline dataset")
        except src.SourceError as err:
            problems.append(str(err))
            continue
        owners = src.dpkg_owners(files)
        stray = [f for f, who in (owners or {}).items() if source.package not in who]
        if stray:
            problems.append(f"{len(stray)} files under {source.root} are not installed by the Debian "
                            f"package '{source.package}' (first: {stray[0]})")
            continue
        usable.append(source)

    def expect(source: src.DebianSource, pattern: str, what: str) -> None:
        if source in usable and not source.files(pattern):
            problems.append(f"{what}: nothing matches {source.root}/{pattern} (Debian package "
                            f"'{source.package}'; reinstall: {src.install_hint([source.package], True)})")

    for name in WAVE_CONFIG["music_test_files"]:
        expect(src.ASTERISK_MUSIC, name, "wave-mini music test file")
    for kit in [*DRUMS_CONFIG["test_kits"], *DRUMS_CONFIG["val_kits"]]:
        expect(src.HYDROGEN, f"{kit}/drumkit.xml", "drums-mini kit")
    for cls, entries in SOUNDMIX_FILES.items():  # each pattern finds files in a whole install
        for source, pattern in entries:
            expect(source, pattern, f"soundmix-mini class {cls!r}")
    expect(src.ASTERISK_MUSIC, "macroform-cold_day.wav", "example 'music'")
    expect(src.ASTERISK_SPEECH, "demo-congrats.wav", "example 'speech'")
    expect(src.MINETEST, "doors/sounds/doors_door_open.ogg", "example 'door'")
    expect(src.MINETEST, "env_sounds/sounds/env_sounds_water.1.ogg", "example 'water'")
    if src.FLUIDR3 in usable:
        try:
            renderer = backend()
        except RuntimeError as err:
            renderer = str(err)
        if renderer != "fluidsynth":
            problems.append(f"FluidSynth cannot render with {src.FLUIDR3.root / src.FLUIDR3.pattern}: "
                            f"{renderer} (Debian package 'libfluidsynth3')")
    return problems
