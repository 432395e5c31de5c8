"""Loaders of the public datasets, on miniature folders with the real layouts."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from audioformers.data import public_datasets as pdx


def _wav(path, seconds, rate, freq=440.0, channels=1):
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * rate)) / rate
    tone = (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    sf.write(str(path), np.stack([tone] * channels, axis=1) if channels > 1 else tone, rate)


@pytest.fixture()
def fsd50k(tmp_path):
    gt = tmp_path / "FSD50K.ground_truth"
    gt.mkdir()
    (gt / "vocabulary.csv").write_text("0,Bark,/m/05tny_\n1,Door,/m/02dgv\n2,Water,/m/0838f\n")
    (gt / "dev.csv").write_text('fname,labels,mids,split\n11,"Bark,Door","/m/05tny_,/m/02dgv",train\n'
                                '12,Water,/m/0838f,val\n13,Door,/m/02dgv,train\n')
    (gt / "eval.csv").write_text('fname,labels,mids\n21,"Water,Bark","/m/0838f,/m/05tny_"\n')
    for name, seconds in (("11", 0.5), ("12", 3.0), ("13", 1.0)):
        _wav(tmp_path / "FSD50K.dev_audio" / f"{name}.wav", seconds, 44100)
    _wav(tmp_path / "FSD50K.eval_audio" / "21.wav", 2.0, 44100)
    return tmp_path


def test_fsd50k_splits_labels_and_lengths(fsd50k):
    train = pdx.load_fsd50k("train", root=fsd50k, clip_seconds=1.0)
    assert train.audio.shape == (2, 16000) and train.sample_rate == 16000
    assert train.classes == ["Bark", "Door", "Water"]
    np.testing.assert_array_equal(train.targets, [[1, 1, 0], [0, 1, 0]])
    assert np.all(train.audio[0, 8000:] == 0) and np.abs(train.audio[0, :8000]).max() > 0.4  # padded
    val = pdx.load_fsd50k("val", root=fsd50k, clip_seconds=1.0)
    np.testing.assert_array_equal(val.targets, [[0, 0, 1]])
    evaluation = pdx.load_fsd50k("eval", root=fsd50k, clip_seconds=0.5, max_clips=1)
    assert evaluation.audio.shape == (1, 8000)
    np.testing.assert_array_equal(evaluation.targets, [[1, 0, 1]])


def test_fsd50k_cache_is_reused(fsd50k, monkeypatch):
    first = pdx.load_fsd50k("train", root=fsd50k, clip_seconds=1.0)
    monkeypatch.setattr(pdx, "load_audio", lambda *a, **k: (_ for _ in ()).throw(AssertionError("decoded again")))
    second = pdx.load_fsd50k("train", root=fsd50k, clip_seconds=1.0)
    np.testing.assert_allclose(second.audio, first.audio, atol=1 / 32767)
    np.testing.assert_array_equal(second.targets, first.targets)
    assert not list((fsd50k / ".cache").glob("*.partial*"))


def test_fsd50k_errors_name_the_problem(fsd50k, tmp_path_factory, monkeypatch):
    with pytest.raises(ValueError, match="unknown FSD50K split 'test'"):
        pdx.load_fsd50k("test", root=fsd50k)
    (fsd50k / "FSD50K.ground_truth" / "eval.csv").write_text("fname,labels,mids\n21,Cat,/m/x\n")
    with pytest.raises(ValueError, match="'Cat' not in vocabulary.csv"):
        pdx.load_fsd50k("eval", root=fsd50k)
    monkeypatch.setenv("BOOK_DATA_DIR", str(tmp_path_factory.mktemp("empty")))
    with pytest.raises(FileNotFoundError, match="download_datasets.py --dataset fsd50k"):
        pdx.load_fsd50k("train")


def test_maestro_file_level_split_at_16k(tmp_path):
    folder = tmp_path / "maestro-v3.0.0"
    rows = [("2004/a.wav", "train", 1.0), ("2004/b.wav", "test", 0.5), ("2006/c.wav", "train", 0.25)]
    lines = ["canonical_composer,canonical_title,split,year,midi_filename,audio_filename,duration"]
    for name, split, seconds in rows:
        _wav(folder / name, seconds, 44100, channels=2)
        lines.append(f"X,Y,{split},2004,{name[:-4]}.midi,{name},{seconds}")
    (folder / "maestro-v3.0.0.csv").write_text("\n".join(lines) + "\n")
    train = pdx.load_maestro("train", root=tmp_path)
    assert [len(w) for w in train] == [16000, 4000] and train[0].dtype == np.float32
    assert [len(w) for w in pdx.load_maestro("test", root=tmp_path)] == [8000]
    assert [len(w) for w in pdx.load_maestro("train", root=tmp_path, max_files=1, max_seconds=0.5)] == [8000]
    with pytest.raises(ValueError, match="unknown MAESTRO split 'val'"):
        pdx.load_maestro("val", root=tmp_path)


def _never_decode(monkeypatch):
    monkeypatch.setattr(pdx, "load_audio", lambda *a, **k: (_ for _ in ()).throw(AssertionError("decoded again")))


def test_maestro_and_speech_commands_are_decoded_once(tmp_path, monkeypatch):
    folder = tmp_path / "maestro-v3.0.0"
    lines = ["canonical_composer,canonical_title,split,year,midi_filename,audio_filename,duration"]
    for name, seconds in (("2004/a.wav", 1.0), ("2006/c.wav", 0.25)):
        _wav(folder / name, seconds, 44100, channels=2)
        lines.append(f"X,Y,train,2004,{name[:-4]}.midi,{name},{seconds}")
    (folder / "maestro-v3.0.0.csv").write_text("\n".join(lines) + "\n")
    sc = tmp_path / "speech_commands_v0.02"
    for name in ("yes/aa_nohash_0.wav", "no/aa_nohash_0.wav"):
        _wav(sc / name, 0.8, 16000)
    (sc / "validation_list.txt").write_text("")
    (sc / "testing_list.txt").write_text("")
    piano = pdx.load_maestro("train", root=tmp_path)
    words = pdx.load_speech_commands("train", root=tmp_path)
    assert all(np.array_equal(w, np.round(w * 32767) / 32767) for w in piano)  # 16-bit values from the first call
    _never_decode(monkeypatch)
    again = pdx.load_maestro("train", root=tmp_path)
    assert [len(w) for w in again] == [16000, 4000] and all(np.array_equal(a, b) for a, b in zip(again, piano))
    np.testing.assert_array_equal(pdx.load_speech_commands("train", root=tmp_path).audio, words.audio)
    assert not list(tmp_path.rglob("*.partial*"))
    # other arguments or another file are another cache: decoded afresh
    with pytest.raises(AssertionError, match="decoded again"):
        pdx.load_maestro("train", root=tmp_path, max_seconds=0.5)
    with pytest.raises(AssertionError, match="decoded again"):
        pdx.load_maestro("train", root=tmp_path, cache=False)


def test_speech_commands_official_lists_and_speakers(tmp_path):
    folder = tmp_path / "speech_commands_v0.02"
    files = ["yes/aa_nohash_0.wav", "yes/bb_nohash_0.wav", "no/aa_nohash_1.wav", "no/cc_nohash_0.wav",
             "zero/dd_nohash_0.wav"]
    for name in files:
        _wav(folder / name, 0.8, 16000)
    _wav(folder / "_background_noise_" / "noise.wav", 2.0, 16000)
    (folder / "validation_list.txt").write_text("no/cc_nohash_0.wav\n")
    (folder / "testing_list.txt").write_text("zero/dd_nohash_0.wav\n")
    train = pdx.load_speech_commands("train", root=tmp_path)
    assert train.audio.shape == (3, 16000) and len(train.classes) == 35
    assert [train.classes[i] for i in train.labels] == ["no", "yes", "yes"]
    assert list(train.sources) == ["aa", "aa", "bb"]
    assert np.all(train.audio[:, 12800:] == 0)  # 0.8 s padded to 1 s
    test = pdx.load_speech_commands("test", root=tmp_path)
    assert list(test.info["word"]) == ["zero"] and list(pdx.load_speech_commands("val", root=tmp_path).sources) == ["cc"]


def test_paper_profile_uses_the_public_datasets(fsd50k, monkeypatch):
    """Chapter 5's paper task reads FSD50K; chapter 3's piano domain reads MAESTRO (16 kHz)."""
    from functools import partial

    from audioformers.ch3 import experiment as nextsample
    from audioformers.ch5 import experiment as sound_events

    assert sound_events.profile_sizes("paper")["task"] == "fsd50k"
    assert sound_events.profile_sizes("book")["task"] == "soundmix"
    monkeypatch.setattr(pdx, "load_fsd50k", partial(pdx.load_fsd50k, root=fsd50k))
    sound_events.load_task.cache_clear()
    task = sound_events.load_task("fsd50k", 10, 10)
    sound_events.load_task.cache_clear()
    assert task["multilabel"] and task["classes"] == ["Bark", "Door", "Water"]
    assert task["train_audio"].shape[0] == 2 and task["test_audio"].shape[0] == 1

    tone = (0.5 * np.sin(np.arange(16000) / 5)).astype(np.float32)
    monkeypatch.setattr(pdx, "load_maestro", lambda split, max_files=None, sample_rate=16000: [tone])
    tokens = nextsample.load_tokens("piano", "test")
    assert tokens[0].dtype == np.int64 and 0 <= tokens[0].min() and tokens[0].max() <= 255
    with pytest.raises(ValueError, match="unknown domain 'violin'"):
        nextsample.load_tokens("violin", "train")


def test_chapter4_reads_speech_commands_splits(monkeypatch, tmp_path):
    """Chapter 4's splits of Speech Commands v2 (the public set), with speakers as (disjoint) sources."""
    from audioformers.ch4 import features as textless
    from audioformers.data import ClipSet

    assert textless.PUBLIC_PROBE_SET == "speech-commands-v2"
    monkeypatch.setenv("BOOK_DATA_DIR", str(tmp_path))
    rng = np.random.default_rng(0)

    def fake(split, root=None, max_clips=None):
        speakers = {"train": ["a", "b"], "val": ["c"], "test": ["d"]}[split]
        n = 2 * len(speakers)
        return ClipSet(audio=rng.normal(scale=0.1, size=(n, 16000)).astype(np.float32), labels=np.arange(n) % 2,
                       classes=["yes", "no"], sources=np.array(speakers * 2), sample_rate=16000, info={})

    monkeypatch.setattr(pdx, "load_speech_commands", fake)
    splits = textless.load_splits("speech-commands-v2", n_mels=16)
    assert splits.log_mels["train"].shape[:2] == (4, 16) and splits.classes == ["yes", "no"]
    assert set(splits.sources["test"]) == {"d"}


@pytest.mark.parametrize("kwargs, message", [
    ({"sample_rate": -8000}, "sample_rate must be a positive whole number"),
    ({"sample_rate": 8000.5}, "sample_rate must be a positive whole number"),
    ({"clip_seconds": float("nan")}, "clip_seconds must be a finite number > 0"),
    ({"max_clips": -1}, "max_clips must be >= 0"),
    ({"max_clips": 1.5}, "max_clips must be a whole number"),
])
def test_fsd50k_bad_arguments_are_named(fsd50k, kwargs, message):
    with pytest.raises(ValueError, match=message):
        pdx.load_fsd50k("train", root=fsd50k, **kwargs)
    assert not (fsd50k / ".cache").exists()


def test_fsd50k_accepts_numpy_integers(fsd50k):
    clips = pdx.load_fsd50k("train", root=fsd50k, clip_seconds=1.0, max_clips=np.int64(1),
                            sample_rate=np.int32(8000), cache=False)
    assert clips.audio.shape == (1, 8000) and clips.sample_rate == 8000


def test_a_damaged_decoded_cache_is_decoded_again_with_a_notice(fsd50k, capsys):
    """Issue 28: a truncated cache file is treated as absent (a notice), never a bare numpy or zip error."""
    first = pdx.load_fsd50k("train", root=fsd50k, clip_seconds=1.0)
    (cached,) = (fsd50k / ".cache").glob("*.npy")
    cached.write_bytes(cached.read_bytes()[: cached.stat().st_size // 2])
    again = pdx.load_fsd50k("train", root=fsd50k, clip_seconds=1.0)
    np.testing.assert_array_equal(again.audio, first.audio)
    err = capsys.readouterr().err
    assert f"notice: cache {cached} is corrupt" in err and "recomputing it" in err
    np.testing.assert_allclose(np.load(cached) / 32767.0, first.audio, atol=1 / 32767)  # written again, whole


def test_a_damaged_maestro_cache_is_decoded_again_with_a_notice(tmp_path, capsys):
    folder = tmp_path / "maestro-v3.0.0"
    _wav(folder / "2004" / "a.wav", 1.0, 16000)
    (folder / "maestro-v3.0.0.csv").write_text("canonical_composer,canonical_title,split,year,midi_filename,"
                                              "audio_filename,duration\nX,Y,train,2004,2004/a.midi,2004/a.wav,1.0\n")
    piano = pdx.load_maestro("train", root=tmp_path)
    (cached,) = (tmp_path / ".cache").glob("*.npz")
    cached.write_bytes(cached.read_bytes()[:-20])
    again = pdx.load_maestro("train", root=tmp_path)
    assert all(np.array_equal(a, b) for a, b in zip(again, piano))
    assert f"notice: cache {cached} is corrupt" in capsys.readouterr().err
