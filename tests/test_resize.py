"""MATLAB bicubic imresize: closed-form kernel values, hand-computed 1-D cases and properties."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxsr.ops.resize import cubic, imresize, output_size, resize_matrix


def test_cubic_kernel_closed_form():
    x = np.array([0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, -0.5, -1.5])
    want = [1.0, 0.8671875, 0.5625, 0.2265625, 0.0, -0.0703125, -0.0625, -0.0234375, 0.0, 0.0, 0.5625, -0.0625]
    np.testing.assert_allclose(cubic(x), want, atol=1e-15)


def test_upsample_x2_first_row_by_hand():
    # u = 0.75; taps at 1-based -1, 0, 1, 2 with c(1.75), c(0.75), c(0.25), c(1.25); -1 mirrors to 2, 0 to 1.
    m = resize_matrix(4, 8, 2.0)
    np.testing.assert_allclose(m[0], [1.09375, -0.09375, 0.0, 0.0], atol=1e-15)
    np.testing.assert_allclose(m[1], [0.8671875 - 0.0703125, 0.2265625, -0.0234375, 0.0], atol=1e-15)
    np.testing.assert_allclose(m[::-1, ::-1], m, atol=1e-15)  # mirror symmetric


def test_downsample_x2_antialiased_first_row_by_hand():
    # k = 1/2: h(x) = c(x/2)/2, width 8, u = 1.5, taps 1-based -3..6 mirrored into 1..4.
    m = resize_matrix(4, 2, 0.5)
    np.testing.assert_allclose(m[0], [0.546875, 0.3984375, 0.1015625, -0.046875], atol=1e-15)
    np.testing.assert_allclose(m[1], m[0][::-1], atol=1e-15)


def test_no_antialiasing_uses_plain_kernel():
    m = resize_matrix(8, 4, 0.5, antialiasing=False)
    # u = 2i - 0.5 → taps at distances 1.5, 0.5, 0.5, 1.5 of the plain kernel.
    np.testing.assert_allclose(m[1], [0, -0.0625, 0.5625, 0.5625, -0.0625, 0, 0, 0], atol=1e-15)


@pytest.mark.parametrize("n_in,scale", [(12, 2.0), (12, 3.0), (12, 4.0), (12, 1 / 2), (12, 1 / 3), (12, 1 / 4),
                                        (7, 1.7), (9, 0.37), (1, 3.0), (3, 1 / 3)])
def test_rows_sum_to_one(n_in, scale):
    m = resize_matrix(n_in, output_size(n_in, scale), scale)
    np.testing.assert_allclose(m.sum(1), 1.0, atol=1e-12)


def test_output_sizes_are_exact_for_rational_scales():
    assert output_size(255, 1 / 3) == 85
    assert output_size(256, 1 / 3) == 86
    assert output_size(481, 1 / 4) == 121
    assert output_size(85, 3) == 255
    assert imresize(np.zeros((255, 129)), 1 / 3).shape == (85, 43)
    assert imresize(np.zeros((10, 6, 3)), output_shape=(7, 13)).shape == (7, 13, 3)


def test_scale_one_is_identity(rng):
    x = rng.random((13, 17, 3))
    np.testing.assert_allclose(imresize(x, 1), x, atol=1e-14)


@pytest.mark.parametrize("scale", [2, 3, 4, 1 / 2, 1 / 3, 1 / 4, 1.5])
def test_constant_image_stays_constant(scale):
    x = np.full((24, 36), 0.37)
    np.testing.assert_allclose(imresize(x, scale), 0.37, atol=1e-13)


@pytest.mark.parametrize("scale", [2, 3, 4, 1 / 2, 1 / 3, 1 / 4])
def test_numpy_equals_jnp(rng, scale):
    x = rng.random((2, 24, 36, 3))
    want = imresize(x, scale)
    got = jax.jit(lambda a: imresize(a, scale))(jnp.asarray(x, jnp.float32))
    assert isinstance(got, jax.Array) and got.shape == want.shape
    np.testing.assert_allclose(np.asarray(got), want, atol=1e-5)
    for layout in (x[0], x[0, ..., 0]):
        np.testing.assert_allclose(np.asarray(imresize(jnp.asarray(layout), scale)), imresize(layout, scale),
                                   atol=1e-5)


def test_separable_matrices_match_per_axis_resize(rng):
    x = rng.random((12, 18))
    want = resize_matrix(12, 4, 1 / 3) @ x @ resize_matrix(18, 6, 1 / 3).T
    np.testing.assert_allclose(imresize(x, 1 / 3), want, atol=1e-14)


def test_linear_ramp_interior_is_exact_when_upsampling():
    # Keys' cubic reproduces linear functions away from the borders.
    x = np.tile(np.arange(16, dtype=np.float64), (4, 1))
    y = imresize(x, output_shape=(4, 32))
    u = np.arange(1, 33) / 2 + 0.25 - 1  # 0-based input coordinate of each output column
    np.testing.assert_allclose(y[:, 4:-4], np.broadcast_to(u[4:-4], (4, 24)), atol=1e-12)


def test_down_then_up_keeps_dtype_and_rejects_bad_input():
    x = np.random.default_rng(1).random((12, 12)).astype(np.float32)
    assert imresize(x, 1 / 2).dtype == np.float32
    with pytest.raises(TypeError, match="float"):
        imresize(np.zeros((4, 4), np.uint8), 2)
    with pytest.raises(ValueError, match="exactly one"):
        imresize(x)
    with pytest.raises(ValueError, match="positive"):
        imresize(x, 0)
