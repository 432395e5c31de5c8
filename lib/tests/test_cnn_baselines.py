import pytest
import torch

from audioformers.audio.audio_io import AudioError
from audioformers.models.cnn_baselines import CNNConfig, LogMelCNN
from audioformers.train.training import count_parameters


@pytest.mark.parametrize("kind", ["vgg", "resnet"])
def test_shapes_and_parameters(kind):
    model = LogMelCNN(CNNConfig(kind=kind, channels=(8, 16), num_classes=5)).eval()
    out = model(torch.randn(3, 16000) * 0.1)
    assert out.shape == (3, 5)
    assert count_parameters(model) > 0
    full = LogMelCNN(CNNConfig(kind=kind))
    assert 1e5 < count_parameters(full) < 3e6


def test_bad_input():
    model = LogMelCNN(CNNConfig(channels=(8,), num_classes=2))
    with pytest.raises(AudioError, match="Hz"):
        model(torch.zeros(1, 16000), sample_rate=8000)
    with pytest.raises(AudioError, match="non-finite"):
        model(torch.full((1, 16000), float("nan")))
    with pytest.raises(AudioError, match="samples"):
        model(torch.zeros(1, 100))
    with pytest.raises(ValueError, match="kind"):
        CNNConfig(kind="densenet")


@pytest.mark.parametrize("field, value, error", [
    ("kind", "densenet", ValueError), ("n_mels", 0, ValueError), ("n_fft", 2.5, TypeError),
    ("hop_length", -1, ValueError), ("num_classes", 0, ValueError), ("sample_rate", 0, ValueError),
    ("channels", (32, 0), ValueError), ("channels", (), ValueError),
])
def test_config_refuses_bad_fields_by_name(field, value, error):
    with pytest.raises(error, match=field):
        CNNConfig(**{field: value})
