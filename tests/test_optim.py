"""Adjustable gradient clipping and the optimizer chains."""

import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest

from jaxsr.train.optim import adjustable_clip, make_optimizer, step_decay


def test_step_decay_schedule():
    s = step_decay(0.1, 20, 0.1)
    np.testing.assert_allclose([s(0), s(19), s(20), s(39), s(40), s(79)], [0.1, 0.1, 0.01, 0.01, 1e-3, 1e-4],
                               rtol=1e-6)


def test_clip_bounds_follow_the_schedule():
    schedule = step_decay(0.1, 10, 0.1)
    clip = adjustable_clip(1e-3, schedule)
    g = {"w": jnp.array([1.0, -1.0, 5e-3, -5e-3, 0.5])}
    state = clip.init(g)
    for step, bound in [(0, 0.01), (9, 0.01), (10, 0.1), (25, 1.0)]:
        out, new_state = clip.update(g, state, step=jnp.int32(step))
        np.testing.assert_allclose(out["w"], np.clip(g["w"], -bound, bound), rtol=1e-6)
        assert new_state == state


def test_no_clipping_when_bound_is_large_and_state_free():
    clip = adjustable_clip(10.0, optax.constant_schedule(0.1))  # bound 100
    g = {"a": jnp.array([[3.0, -40.0]]), "b": jnp.array([0.1])}
    state = clip.init(g)
    assert isinstance(state, optax.EmptyState)
    out, _ = clip.update(g, state, step=0)
    for k in g:
        np.testing.assert_array_equal(out[k], g[k])
    with pytest.raises(TypeError):
        clip.update(g, state)  # the step is required: no hidden counter


def cfg(**kw):
    base = dict(name="sgd", learning_rate=0.1, schedule="step", decay_every_steps=10, decay_factor=0.1,
                weight_decay=1e-4, momentum=0.9, clip_theta=1e-3, b1=0.9, b2=0.999, eps=1e-8)
    return ml_collections.ConfigDict({**base, **kw})


def test_vdsr_chain_one_step_by_hand():
    tx, schedule = make_optimizer(cfg())
    params = {"conv": {"kernel": jnp.array([1.0, 2.0]), "bias": jnp.array([3.0])}}
    grads = {"conv": {"kernel": jnp.array([0.5, 0.005]), "bias": jnp.array([-0.5])}}
    updates, state = tx.update(grads, tx.init(params), params, step=0)
    # kernel: decayed 0.5 + 1e-4 → clipped to 0.01; 0.005 + 2e-4 stays; bias: no decay, clipped to -0.01.
    np.testing.assert_allclose(updates["conv"]["kernel"], [-0.1 * 0.01, -0.1 * 0.0052], rtol=1e-5)
    np.testing.assert_allclose(updates["conv"]["bias"], [0.1 * 0.01], rtol=1e-5)
    updates, _ = tx.update(grads, state, params, step=1)  # momentum: trace = 0.9·prev + new
    np.testing.assert_allclose(updates["conv"]["bias"], [0.1 * 0.01 * 1.9], rtol=1e-5)
    assert float(schedule(10)) == pytest.approx(0.01)


def test_adam_and_bad_names():
    tx, _ = make_optimizer(cfg(name="adam", learning_rate=1e-4, schedule="constant", weight_decay=0.0))
    p = {"w": jnp.ones(3)}
    u, _ = tx.update({"w": jnp.array([1.0, -2.0, 0.0])}, tx.init(p), p, step=0)
    np.testing.assert_allclose(u["w"], [-1e-4, 1e-4, 0.0], atol=1e-7)
    with pytest.raises(ValueError, match="optim.name"):
        make_optimizer(cfg(name="rmsprop"))
    with pytest.raises(ValueError, match="optim.schedule"):
        make_optimizer(cfg(schedule="cosine"))
