"""Chapter 5's models by name: the raw-waveform transformers and the log-mel CNN baselines of :data:`MODELS`.

``transformer-average``, ``-haar`` and ``-intermediate`` differ only in their pooling (none adds a parameter);
``transformer-dft`` is the average-pooling transformer with a DFT-initialised front end; ``cnn-vgg`` and
``cnn-resnet`` are :mod:`audioformers.models.cnn_baselines`. The networks themselves are in
:mod:`audioformers.models.wavelet_transformer` and :mod:`audioformers.models.cnn_baselines`.

Notebook: chapters/05_wavelet_audio_transformer.ipynb (section "The model")
"""

from __future__ import annotations

from torch import nn

from audioformers.ch5.config import MODELS, RunConfig
from audioformers.ch5.tasks import load_task
from audioformers.core.seeding import seed_everything
from audioformers.models.cnn_baselines import CNNConfig, LogMelCNN
from audioformers.models.wavelet_transformer import WaveletAudioTransformer, WaveletTransformerConfig, dft_initialise


def build_model(config: RunConfig, num_classes: int) -> nn.Module:
    """The network named by ``config.model`` with ``num_classes`` outputs."""
    if config.model.startswith("transformer-"):
        pooling = config.model.split("-", 1)[1]
        front_init = config.front_init
        if pooling == "dft":
            pooling, front_init = "average", "dft"
        layers = config.num_layers
        pool_layers = tuple(range(layers - 1)) if pooling == "haar" else tuple(range(layers))
        model = WaveletAudioTransformer(
            WaveletTransformerConfig(
                patch_samples=config.patch_samples, num_layers=layers, num_classes=num_classes,
                pooling=pooling, pool_layers=pool_layers, front_hidden=config.front_hidden,
            )
        )
        if front_init == "dft":
            dft_initialise(model.front_end)
        return model
    if config.model in ("cnn-vgg", "cnn-resnet"):
        return LogMelCNN(CNNConfig(kind=config.model.split("-")[1], num_classes=num_classes))
    raise ValueError(f"unknown model {config.model!r}; choose from {MODELS}")


def initial_model(config: RunConfig) -> nn.Module:
    """The run's model at step 0 (the same seed, the same construction as its training)."""
    task = load_task(config.task, config.train_clips, config.test_clips)
    seed_everything(config.seed)
    return build_model(config, len(task["classes"]))
