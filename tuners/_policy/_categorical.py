"""The maths of the policy tuners: a factorised categorical policy and its gradients.

The policy is one independent categorical distribution per dimension,
`pi(a) = prod_d softmax(theta_d)[a_d]`, parameterised directly by its logits `theta` (a list of
1-d arrays). Every gradient here is analytic and checked against finite differences in
`tests/tuners/test_policy_maths.py`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["softmax", "log_prob", "grad_log_prob", "entropy", "grad_entropy", "reinforce_gradient",
           "ppo_objective", "ppo_gradient", "sample"]

Logits = Sequence[np.ndarray]
Action = Sequence[int]


def softmax(theta: np.ndarray) -> np.ndarray:
    """p_i = exp(theta_i) / sum_j exp(theta_j), computed stably."""
    z = np.exp(theta - theta.max())
    return z / z.sum()


def sample(logits: Logits, rng: np.random.Generator) -> tuple[int, ...]:
    """One action: a_d ~ softmax(theta_d) for every dimension d."""
    return tuple(int(rng.choice(len(theta), p=softmax(theta))) for theta in logits)


def log_prob(logits: Logits, action: Action) -> float:
    """log pi(a) = sum_d log softmax(theta_d)[a_d]."""
    total = 0.0
    for theta, a in zip(logits, action, strict=True):
        shifted = theta - theta.max()
        total += float(shifted[a] - np.log(np.exp(shifted).sum()))
    return total


def grad_log_prob(logits: Logits, action: Action) -> list[np.ndarray]:
    """d log pi(a) / d theta_d = onehot(a_d) - softmax(theta_d)."""
    grads = []
    for theta, a in zip(logits, action, strict=True):
        g = -softmax(theta)
        g[a] += 1.0
        grads.append(g)
    return grads


def entropy(logits: Logits) -> float:
    """H(pi) = sum_d H_d, H_d = -sum_i p_i log p_i."""
    total = 0.0
    for theta in logits:
        p = softmax(theta)
        total -= float(np.sum(p * np.log(np.maximum(p, 1e-300))))
    return total


def grad_entropy(logits: Logits) -> list[np.ndarray]:
    """dH_d / d theta_j = -p_j (log p_j + H_d)."""
    grads = []
    for theta in logits:
        p = softmax(theta)
        logp = np.log(np.maximum(p, 1e-300))
        h = -float(np.sum(p * logp))
        grads.append(-p * (logp + h))
    return grads


def reinforce_gradient(logits: Logits, action: Action, advantage: float, ent_coef: float = 0.0) -> list[np.ndarray]:
    """Ascent direction of REINFORCE (Williams 1992): A * grad log pi(a) + c * grad H."""
    grads = [advantage * g for g in grad_log_prob(logits, action)]
    if ent_coef:
        grads = [g + ent_coef * h for g, h in zip(grads, grad_entropy(logits), strict=True)]
    return grads


def ppo_objective(logits: Logits, actions: Sequence[Action], old_log_probs: Sequence[float],
                  advantages: Sequence[float], clip: float, ent_coef: float = 0.0) -> float:
    """PPO's clipped surrogate (Schulman et al. 2017), to be maximised:
    L = mean_i min(r_i A_i, clip(r_i, 1 - eps, 1 + eps) A_i) + c H, r_i = pi(a_i) / pi_old(a_i)."""
    terms = []
    for action, old, adv in zip(actions, old_log_probs, advantages, strict=True):
        ratio = np.exp(log_prob(logits, action) - old)
        terms.append(min(ratio * adv, float(np.clip(ratio, 1.0 - clip, 1.0 + clip)) * adv))
    return float(np.mean(terms)) + ent_coef * entropy(logits)


def ppo_gradient(logits: Logits, actions: Sequence[Action], old_log_probs: Sequence[float],
                 advantages: Sequence[float], clip: float, ent_coef: float = 0.0) -> list[np.ndarray]:
    """The gradient of `ppo_objective`: a sample contributes A_i r_i grad log pi(a_i) unless the
    clipped term is the minimum (r_i > 1 + eps with A_i > 0, or r_i < 1 - eps with A_i < 0)."""
    grads = [np.zeros_like(theta, dtype=float) for theta in logits]
    n = len(actions)
    for action, old, adv in zip(actions, old_log_probs, advantages, strict=True):
        ratio = float(np.exp(log_prob(logits, action) - old))
        if (adv > 0 and ratio > 1.0 + clip) or (adv < 0 and ratio < 1.0 - clip):
            continue
        for g, d in zip(grads, grad_log_prob(logits, action), strict=True):
            g += (adv * ratio / n) * d
    if ent_coef:
        grads = [g + ent_coef * h for g, h in zip(grads, grad_entropy(logits), strict=True)]
    return grads
