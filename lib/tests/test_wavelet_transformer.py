import numpy as np
import pytest
import pywt
import torch

from audioformers.audio.audio_io import AudioError
from audioformers.train.training import count_parameters
from audioformers.models.wavelet_transformer import (
    WaveletAudioTransformer,
    WaveletTransformerConfig,
    block_average,
    dft_initialise,
    haar_multiscale,
    haar_window_sizes,
)

SMALL = dict(front_hidden=64, d_model=16, num_layers=3, num_heads=2, num_classes=5, dropout=0.0)


@pytest.mark.parametrize("level", [1, 2, 3, 5])
def test_block_average_is_pywt_haar_approximation(level):
    x = torch.randn(2, 32, 3, dtype=torch.float64)
    ours = block_average(x, 2**level).numpy()  # (2, 32 / 2**level, 3)
    for b in range(2):
        for c in range(3):
            approx = pywt.wavedec(x[b, :, c].numpy(), "haar", level=level)[0]
            np.testing.assert_allclose(ours[b, :, c] * 2 ** (level / 2), approx, rtol=1e-10, atol=1e-12)


def test_haar_multiscale_groups_and_shapes():
    x = torch.randn(2, 40, 16)
    sizes = haar_window_sizes(40)
    assert sizes == [1, 2, 4, 8, 16, 32, 40]
    y = haar_multiscale(x, sizes)
    assert y.shape == x.shape
    groups_x, groups_y = torch.tensor_split(x, len(sizes), 2), torch.tensor_split(y, len(sizes), 2)
    torch.testing.assert_close(groups_y[0], groups_x[0])  # full resolution kept
    torch.testing.assert_close(groups_y[-1], groups_x[-1].mean(1, keepdim=True).expand_as(groups_x[-1]))
    torch.testing.assert_close(groups_y[2][:, 4:8], groups_x[2][:, 4:8].mean(1, keepdim=True).expand(-1, 4, -1))
    torch.testing.assert_close(groups_y[5][:, 32:], groups_x[5][:, 32:].mean(1, keepdim=True).expand(-1, 8, -1))


def test_pooling_variants_add_no_parameters():
    counts = {p: count_parameters(WaveletAudioTransformer(WaveletTransformerConfig(pooling=p, **SMALL)))
              for p in ("average", "intermediate", "haar")}
    assert len(set(counts.values())) == 1, counts
    full = count_parameters(WaveletAudioTransformer(WaveletTransformerConfig()))
    assert 1.0e6 < full < 1.3e6  # about 1.1M, mostly the 400 x 2048 front end


@pytest.mark.parametrize("pooling", ["average", "intermediate", "haar"])
def test_shapes_and_mask(pooling):
    model = WaveletAudioTransformer(WaveletTransformerConfig(pooling=pooling, pool_layers=(0, 1), **SMALL)).eval()
    x = torch.randn(3, 16000) * 0.1
    assert model(x).shape == (3, 5)
    assert model.front_end(x).shape == (3, 40, 16)
    assert model.filters().shape == (64, 400)
    if True:  # a masked tail does not change the output, whatever the pooling
        mask = torch.zeros(3, 40, dtype=torch.bool)
        mask[:, :20] = True
        y = x.clone()
        y[:, 8000:] = torch.randn(3, 8000)
        torch.testing.assert_close(model(x, mask=mask), model(y, mask=mask), rtol=1e-4, atol=1e-5)
        assert model(x[:, :8000]).shape == (3, 5)


def test_bad_input_errors():
    model = WaveletAudioTransformer(WaveletTransformerConfig(**SMALL))
    with pytest.raises(AudioError, match="shorter than one patch"):
        model(torch.zeros(1, 399))
    with pytest.raises(AudioError, match="16000 Hz"):
        model(torch.zeros(1, 16000), sample_rate=44100)
    with pytest.raises(AudioError, match="non-finite"):
        model(torch.full((1, 16000), float("inf")))
    with pytest.raises(AudioError, match="longer"):
        model(torch.zeros(1, 32000))
    with pytest.raises(ValueError, match="pooling"):
        WaveletTransformerConfig(pooling="max")
    with pytest.raises(ValueError, match="pool_layers"):
        WaveletTransformerConfig(pool_layers=(5,))


def test_dft_initialisation_centres_increase():
    model = WaveletAudioTransformer(WaveletTransformerConfig(**SMALL))
    dft_initialise(model.front_end)
    w = model.filters()
    peaks = np.abs(np.fft.rfft(w[:32], axis=1)).argmax(1)
    assert np.all(np.diff(peaks) >= 0) and peaks[-1] > peaks[0]


def test_crops_and_clip_level_averaging():
    from audioformers.ch5 import config, models, runs, tasks

    audio = np.random.default_rng(0).standard_normal((5, 64000)).astype(np.float32) * 0.1
    index, crops = tasks.random_crops(audio, 7, np.random.default_rng(1))
    assert crops.shape == (7, 16000) and index.shape == (7,)
    model = WaveletAudioTransformer(WaveletTransformerConfig(**SMALL)).eval()
    scores = runs.clip_scores(model, audio, batch=3)
    with torch.no_grad():
        by_hand = torch.sigmoid(model(torch.from_numpy(audio[1].reshape(4, 16000)))).mean(0).numpy()
    assert scores.shape == (5, 5)
    np.testing.assert_allclose(scores[1], by_hand, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="shorter than one"):
        runs.clip_scores(model, audio[:, :8000])
    with pytest.raises(ValueError, match="unknown model"):
        models.build_model(config.RunConfig(model="densenet"), 3)


def test_run_cache_key_follows_the_data_build(monkeypatch):
    """A cached run trained on an older build of the data must not be reused."""
    from audioformers import data
    from audioformers.ch5.config import RunConfig

    config = RunConfig()
    before = config.key()
    monkeypatch.setattr(data.registry, "builder_code_digest", lambda: "another-renderer")
    assert config.key() != before
    assert RunConfig(task="fsd50k").key() == RunConfig(task="fsd50k").key()


@pytest.mark.parametrize("pool_layers", [(0, 1), (0,), (1,)])
def test_haar_pooling_ignores_padding(pool_layers):
    """Masked patches hold anything (noise, zeros, a loud tone): the Haar model's output does not change;
    unmasked, an all-True mask gives exactly the unmasked output."""
    torch.manual_seed(0)
    model = WaveletAudioTransformer(WaveletTransformerConfig(pooling="haar", pool_layers=pool_layers, **SMALL)).eval()
    x = torch.randn(2, 16000) * 0.1
    mask = torch.ones(2, 40, dtype=torch.bool)
    mask[0, 25:] = False
    mask[1, 9:] = False
    outputs = []
    for fill in (torch.zeros(2, 16000), torch.randn(2, 16000), torch.sin(torch.arange(16000.0))[None].repeat(2, 1)):
        y = x.clone()
        y[0, 25 * 400:] = fill[0, 25 * 400:]
        y[1, 9 * 400:] = fill[1, 9 * 400:]
        outputs.append(model(y, mask=mask))
    for out in outputs[1:]:
        torch.testing.assert_close(out, outputs[0], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(model(x, mask=torch.ones(2, 40, dtype=torch.bool)), model(x), rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="no valid patch"):
        model(x, mask=torch.zeros(2, 40, dtype=torch.bool))


def test_haar_multiscale_masked_blocks_average_valid_positions_only():
    x = torch.arange(8.0).reshape(1, 8, 1).repeat(1, 1, 4)  # 4 channels, sizes [1, 2, 4, 8]
    mask = torch.tensor([[True] * 5 + [False] * 3])
    y = haar_multiscale(x, mask=mask)
    torch.testing.assert_close(y[0, :5, 3], torch.full((5,), 2.0))  # global mean over positions 0..4
    torch.testing.assert_close(y[0, 4, 2], torch.tensor(4.0))  # block 4..7 has one valid position
    torch.testing.assert_close(haar_multiscale(x), haar_multiscale(x, mask=torch.ones(1, 8, dtype=torch.bool)))


def test_score_task_and_paired_comparisons_by_the_protocol():
    """Per-source metrics pair the runs; the interval and verdict come from audioformers.evaluation.evidence."""
    from audioformers.ch5 import tasks
    from audioformers.ch5.experiment import paired_comparisons

    folds = tasks._folds(10)
    assert len(set(folds)) == 5 and list(folds[:2]) == ["fold0", "fold0"]
    targets = np.array([[1, 0], [0, 1], [1, 1], [0, 1]] * 5, dtype=np.float32)
    task = {"multilabel": True, "test_targets": targets, "classes": ["a", "b"], "test_sources": tasks._folds(20)}
    perfect = tasks.score_task(task, targets + 0.0)
    assert perfect["map"] == perfect["mAP"] == 1.0 and set(perfect["per_source"]) == {f"fold{i}" for i in range(5)}
    single = {"multilabel": False, "test_targets": np.array([0, 1, 1, 0]), "test_sources": np.array(["k1", "k1", "k2", "k2"])}
    scored = tasks.score_task(single, np.array([[0.9, 0.1], [0.2, 0.8], [0.9, 0.1], [0.8, 0.2]]))
    assert scored["accuracy"] == 0.75 and scored["per_source"] == {"k1": 1.0, "k2": 0.5}

    def run(model, seed, values):
        return {"config": {"model": model, "seed": seed}, "map": float(np.mean(values)),
                "per_source": {f"fold{i}": v for i, v in enumerate(values)}}

    runs = [run("a", s, [0.6 + 0.01 * s] * 3) for s in range(3)] + [run("b", s, [0.4] * 3) for s in range(3)]
    runs.append(run("c", 0, [0.5] * 3))
    comps = paired_comparisons(runs, [("a", "b"), ("b", "a"), ("a", "c"), ("a", "missing")])
    assert [c["verdict"] for c in comps] == ["reproduced", "reversed", "reproduced"]
    assert comps[0]["seeds"] == [0, 1, 2] and comps[0]["test_sources"] == 3 and comps[2]["seeds"] == [0]
    assert comps[0]["difference"] == pytest.approx(0.21)


def test_pitch_and_family_label_the_same_audio():
    from audioformers.ch5.front_end import family_config
    from audioformers.ch5.tasks import load_task

    family = load_task("family", 40, 20)
    pitch = load_task("pitch", 40, 20)
    np.testing.assert_array_equal(family["train_audio"], pitch["train_audio"])
    assert len(pitch["classes"]) == 12 and pitch["train_targets"].max() < 12
    assert not np.array_equal(family["train_targets"], pitch["train_targets"])
    assert family_config("smoke", task="pitch").task == "pitch"
    with pytest.raises(ValueError, match="task must be"):
        family_config("smoke", task="tempo")
    with pytest.raises(ValueError, match="unknown task"):
        load_task("tempo", 4, 4)


@pytest.mark.parametrize("field, value, error", [
    ("num_heads", 0, ValueError), ("d_model", 30, ValueError), ("patch_samples", 2.5, TypeError),
    ("front_hidden", 0, ValueError), ("dropout", 1.0, ValueError), ("dropout", float("nan"), ValueError),
    ("num_classes", -1, ValueError), ("sample_rate", 0, ValueError), ("ff_mult", 0, ValueError),
    ("pooling", "max", ValueError), ("pool_layers", (0, 5), ValueError), ("clip_samples", 200, ValueError),
])
def test_config_refuses_bad_fields_by_name(field, value, error):
    with pytest.raises(error, match="num_heads" if field == "d_model" else field):
        WaveletTransformerConfig(**{field: value})
