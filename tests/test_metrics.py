"""PSNR and SSIM against closed forms and a float64 transcription of Wang et al.'s ssim_index."""

import numpy as np
import pytest
from scipy.signal import correlate2d

from jaxsr.eval.metrics import psnr, sr_metrics, ssim


def ssim_index_reference(a, b, L=255.0):
    """Wang et al.'s ssim_index.m (2003), float64: 11×11 Gaussian σ=1.5, 'valid' filter2, mean map."""
    g = np.exp(-((np.arange(11) - 5.0) ** 2) / (2 * 1.5**2))
    w = np.outer(g, g)
    w /= w.sum()
    c1, c2 = (0.01 * L) ** 2, (0.03 * L) ** 2
    f = lambda x: correlate2d(x, w, mode="valid")  # noqa: E731
    mu1, mu2 = f(a), f(b)
    s11, s22, s12 = f(a * a) - mu1**2, f(b * b) - mu2**2, f(a * b) - mu1 * mu2
    m = ((2 * mu1 * mu2 + c1) * (2 * s12 + c2)) / ((mu1**2 + mu2**2 + c1) * (s11 + s22 + c2))
    return m.mean()


def test_psnr_closed_form():
    x = np.zeros((8, 8))
    assert psnr(x, x + 0.1) == pytest.approx(20.0, abs=1e-12)
    assert psnr(x, x + 25.5, max_value=255) == pytest.approx(20.0, abs=1e-12)
    assert psnr(x, x) == float("inf")
    y = np.zeros((8, 8))
    y[0, :] = 1.0  # only the top row differs: shaving it gives a perfect score
    assert psnr(x, y) == pytest.approx(10 * np.log10(8.0))
    assert psnr(x, y, shave=1) == float("inf")


def test_ssim_identical_is_one_and_constants_closed_form():
    x = np.random.default_rng(0).random((20, 20)) * 255
    assert ssim(x, x, 255) == pytest.approx(1.0, abs=1e-6)
    a, b = np.full((16, 16), 100.0), np.full((16, 16), 120.0)
    c1 = (0.01 * 255) ** 2
    assert ssim(a, b, 255) == pytest.approx((2 * 100 * 120 + c1) / (100**2 + 120**2 + c1), abs=1e-6)


@pytest.mark.parametrize("seed", [0, 1])
def test_ssim_matches_reference_ssim_index(seed):
    rng = np.random.default_rng(seed)
    hr = rng.random((40, 52)) * 255
    sr = np.clip(hr + rng.normal(0, 12, hr.shape), 0, 255)
    assert ssim(sr, hr, 255) == pytest.approx(ssim_index_reference(sr, hr), abs=1e-5)
    assert ssim(sr, hr, 255, shave=3) == pytest.approx(ssim_index_reference(sr[3:-3, 3:-3], hr[3:-3, 3:-3]),
                                                       abs=1e-5)


def test_sr_metrics_clips_scales_and_shaves():
    hr = np.full((24, 24), 0.5)
    sr = hr.copy()
    sr[:2] = 5.0  # outside [0, 1] and inside the 2-pixel border: ignored after clipping and shaving
    p, s = sr_metrics(sr, hr, 2)
    assert p == float("inf") and s == pytest.approx(1.0, abs=1e-6)
    sr[10, 10] = 0.6  # one interior pixel off by 0.1 → 25.5 on the 0–255 scale, 20×20 pixels remain
    p, _ = sr_metrics(sr, hr, 2)
    assert p == pytest.approx(10 * np.log10(255**2 / (25.5**2 / 400)), abs=1e-9)


def test_sr_metrics_refuses_0_255_images():
    hr = np.random.default_rng(0).random((24, 24))
    with pytest.raises(ValueError, match=r"Y in \[0, 1\], got hr_y in \[0\.\d+, 254\.\d+\]"):
        sr_metrics(hr * 255, hr * 255, 2)  # would be about -41 dB
    with pytest.raises(ValueError, match="dtype uint8"):
        sr_metrics((hr * 255).astype(np.uint8), hr, 2)
    assert sr_metrics(hr, hr, 2)[0] == float("inf")


def test_shape_mismatch_and_tiny_images_rejected():
    with pytest.raises(ValueError, match="shape"):
        psnr(np.zeros((4, 4)), np.zeros((4, 5)))
    with pytest.raises(ValueError, match="11x11"):
        ssim(np.zeros((10, 30)), np.zeros((10, 30)))
