"""Every gradient of the policy tuners against central finite differences of its formula."""

from __future__ import annotations

import numpy as np
import pytest
from nasctl.tuners._policy import _categorical as cat


def numeric_gradient(f, logits, eps=1e-6):
    grads = []
    for d, theta in enumerate(logits):
        g = np.zeros_like(theta)
        for i in range(len(theta)):
            plus = [t.copy() for t in logits]
            minus = [t.copy() for t in logits]
            plus[d][i] += eps
            minus[d][i] -= eps
            g[i] = (f(plus) - f(minus)) / (2 * eps)
        grads.append(g)
    return grads


@pytest.fixture
def logits():
    rng = np.random.default_rng(0)
    return [rng.normal(size=n) for n in (3, 2, 5)]


def assert_close(analytic, numeric):
    for a, n in zip(analytic, numeric, strict=True):
        np.testing.assert_allclose(a, n, atol=1e-6)


def test_softmax_is_stable_and_normalised():
    p = cat.softmax(np.array([1000.0, 1000.0, -1000.0]))
    np.testing.assert_allclose(p, [0.5, 0.5, 0.0])


def test_log_prob_matches_the_product_of_softmaxes(logits):
    action = (2, 0, 4)
    expected = sum(np.log(cat.softmax(t)[a]) for t, a in zip(logits, action, strict=True))
    assert cat.log_prob(logits, action) == pytest.approx(expected)


def test_grad_log_prob(logits):
    action = (1, 1, 3)
    assert_close(cat.grad_log_prob(logits, action), numeric_gradient(lambda z: cat.log_prob(z, action), logits))


def test_grad_entropy(logits):
    assert_close(cat.grad_entropy(logits), numeric_gradient(cat.entropy, logits))


def test_reinforce_gradient_is_the_gradient_of_a_log_prob_plus_c_entropy(logits):
    action, advantage, c = (0, 1, 2), -1.7, 0.3
    objective = lambda z: advantage * cat.log_prob(z, action) + c * cat.entropy(z)  # noqa: E731
    assert_close(cat.reinforce_gradient(logits, action, advantage, c), numeric_gradient(objective, logits))


@pytest.mark.parametrize("shift", [0.0, 0.5, -0.5])
def test_ppo_gradient_in_and_out_of_the_clip_region(logits, shift):
    """shift moves the old log-probabilities so that ratios fall inside or outside [1 - eps, 1 + eps]."""
    rng = np.random.default_rng(1)
    actions = [tuple(int(rng.integers(len(t))) for t in logits) for _ in range(6)]
    old = [cat.log_prob(logits, a) + shift * (-1) ** i for i, a in enumerate(actions)]
    advantages = [1.2, -0.7, 0.4, -2.0, 0.9, -0.1]
    clip, c = 0.2, 0.05
    objective = lambda z: cat.ppo_objective(z, actions, old, advantages, clip, c)  # noqa: E731
    assert_close(cat.ppo_gradient(logits, actions, old, advantages, clip, c), numeric_gradient(objective, logits))


def test_ppo_objective_at_the_old_policy_is_the_mean_advantage(logits):
    actions = [(0, 0, 0), (1, 1, 1)]
    old = [cat.log_prob(logits, a) for a in actions]
    assert cat.ppo_objective(logits, actions, old, [1.0, 3.0], 0.2) == pytest.approx(2.0)


def test_sampling_follows_the_policy():
    logits = [np.log(np.array([0.7, 0.2, 0.1]))]
    rng = np.random.default_rng(0)
    counts = np.bincount([cat.sample(logits, rng)[0] for _ in range(5000)], minlength=3) / 5000
    np.testing.assert_allclose(counts, [0.7, 0.2, 0.1], atol=0.02)
