"""Tests of audioformers.models.contrastive: NT-Xent against a direct computation, augmentations, the CNN."""
import math

import numpy as np
import pytest
import torch

from audioformers.models.contrastive import CNNConfig, CNNEncoder, augment, nt_xent, train_simclr, train_supervised

pytestmark = pytest.mark.usefixtures("one_thread")  # small models: one thread is faster on shared cores



def _nt_xent_direct(z1, z2, t):
    z = torch.cat([z1, z2])
    z = z / z.norm(dim=1, keepdim=True)
    n = len(z)
    b = n // 2
    total = 0.0
    for i in range(n):
        j = (i + b) % n
        num = math.exp(float(z[i] @ z[j]) / t)
        den = sum(math.exp(float(z[i] @ z[k]) / t) for k in range(n) if k != i)
        total += -math.log(num / den)
    return total / n


def test_nt_xent_equals_direct_computation():
    torch.manual_seed(0)
    z1, z2 = torch.randn(5, 3), torch.randn(5, 3)
    assert float(nt_xent(z1, z2, 0.5)) == pytest.approx(_nt_xent_direct(z1, z2, 0.5), rel=1e-5)
    assert float(nt_xent(z1, z1 * 2, 0.05)) < float(nt_xent(z1, z2, 0.05))  # matching views -> lower loss
    with pytest.raises(ValueError, match="views"):
        nt_xent(z1, z2[:4])


def test_augment_shapes_and_determinism():
    x = torch.randn(6, 16, 40)
    a = augment(x, torch.Generator().manual_seed(1), crop_frames=32)
    b = augment(x, torch.Generator().manual_seed(1), crop_frames=32)
    assert a.shape == (6, 16, 32) and torch.equal(a, b) and torch.isfinite(a).all()
    with pytest.raises(ValueError, match="crop_frames"):
        augment(x, torch.Generator(), crop_frames=41)


def test_cnn_encoder_and_training_runs():
    cfg = CNNConfig(n_mels=16, channels=(4, 8), embed_dim=8, projection_dim=4, num_classes=3)
    model = CNNEncoder(cfg)
    assert model(torch.randn(2, 16, 24)).shape == (2, 8)
    with pytest.raises(ValueError, match="expected"):
        model(torch.randn(2, 15, 24))
    log_mels = np.random.default_rng(0).normal(size=(16, 16, 24)).astype(np.float32)
    _, losses = train_simclr(log_mels, cfg, steps=3, batch_size=8, crop_frames=20)
    assert len(losses) == 3 and all(np.isfinite(losses))
    labels = np.arange(16) % 3
    log_mels[labels == 1] += 2.0
    _, losses = train_supervised(log_mels, labels, cfg, steps=40, batch_size=16, crop_frames=20, lr=1e-2)
    assert np.mean(losses[-5:]) < np.mean(losses[:5])
