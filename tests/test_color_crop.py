"""BT.601 colour conversion as MATLAB's rgb2ycbcr, mod-crop and shave."""

import jax.numpy as jnp
import numpy as np
import pytest

from jaxsr.ops import modcrop, rgb_to_y, rgb_to_ycbcr, shave, to_y, ycbcr_to_rgb


def test_known_values_on_unit_scale():
    rgb = np.array([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
    ycc = rgb_to_ycbcr(rgb)
    np.testing.assert_allclose(ycc[0], np.array([16, 128, 128]) / 255, atol=1e-12)
    np.testing.assert_allclose(ycc[1], np.array([235, 128, 128]) / 255, atol=1e-12)
    np.testing.assert_allclose(ycc[2], np.array([16 + 65.481, 128 - 37.797, 128 + 112.0]) / 255, atol=1e-12)


def test_255_scale_gives_y_in_16_235():
    y = rgb_to_y(np.array([[0.0, 0.0, 0.0], [255.0, 255.0, 255.0]]), max_value=255)
    np.testing.assert_allclose(y, [16.0, 235.0], atol=1e-9)


def test_round_trip_and_jnp(rng):
    rgb = rng.random((5, 7, 3))
    np.testing.assert_allclose(ycbcr_to_rgb(rgb_to_ycbcr(rgb)), rgb, atol=1e-12)
    np.testing.assert_allclose(np.asarray(rgb_to_ycbcr(jnp.asarray(rgb, jnp.float32))), rgb_to_ycbcr(rgb),
                               atol=1e-6)
    np.testing.assert_allclose(rgb_to_y(rgb), rgb_to_ycbcr(rgb)[..., 0], atol=1e-15)


def test_gray_y_is_the_gray_value(rng):
    g = rng.random((4, 6))
    np.testing.assert_array_equal(to_y(g), g)
    np.testing.assert_array_equal(to_y(g[..., None]), g)
    with pytest.raises(ValueError):
        to_y(np.zeros((4, 4, 2)))


def test_modcrop_and_shave():
    x = np.arange(11 * 14).reshape(11, 14)
    assert modcrop(x, 3).shape == (9, 12)
    np.testing.assert_array_equal(modcrop(x, 3), x[:9, :12])
    assert modcrop(np.zeros((12, 12, 3)), 4).shape == (12, 12, 3)
    np.testing.assert_array_equal(shave(x, 2), x[2:-2, 2:-2])
    assert shave(x, 0) is x
    with pytest.raises(ValueError):
        shave(x, 6)
