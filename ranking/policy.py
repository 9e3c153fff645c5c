"""The model bucket's serving policy and the exact propensity of every slate it shows.

A slate of m positions is drawn from a mixture of three components:

* explore (weight ε): a uniformly random ordered slate, so every live variant keeps a floor
  probability of ε / n at every position and inverse-propensity weights stay bounded by n / ε; ε shrinks
  as the pool's evidence grows, down to a floor (settled_epsilon);
* new (weight η, only while some variant is "new", i.e. has fewer impressions than the placement's
  threshold and well under its peers' mean, new_variants): a uniformly chosen new variant first, the
  rest greedy by model score;
* exploit (weight 1 − ε − η): greedy by model score (ε-greedy), or greedy by one of B posterior
  draws of the scores chosen uniformly (Thompson sampling over a finite set of draws).

Because every component is either uniform or a finite enumeration, the marginal probability that
variant v appears at position j is exact, with no Monte Carlo: that is the propensity logged.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np


@dataclass(frozen=True)
class SlatePolicy:
    scores: np.ndarray  # (n,) model scores of the candidates (higher is better)
    epsilon: float
    new_mask: np.ndarray  # (n,) bool
    new_share: float
    heads: np.ndarray | None = None  # (B, n) posterior score draws for Thompson sampling

    @property
    def n(self) -> int:
        return len(self.scores)

    @cached_property
    def order(self) -> np.ndarray:
        """Candidates by descending score (greedy_order), computed once per policy."""
        return greedy_order(self.scores)

    @property
    def weights(self) -> tuple[float, float, float]:
        """(explore, new, exploit) component weights."""
        eps = min(max(self.epsilon, 0.0), 1.0)
        eta = min(max(self.new_share, 0.0), 1.0 - eps) if self.new_mask.any() else 0.0
        return eps, eta, 1.0 - eps - eta


def greedy_order(scores: np.ndarray) -> np.ndarray:
    """Indices by descending score; ties keep candidate order (candidates are sorted by id)."""
    return np.argsort(-scores, kind="stable")


def _rank_of(order: np.ndarray) -> np.ndarray:
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return rank


def sample(policy: SlatePolicy, m: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of the m candidates shown, in position order."""
    n = policy.n
    m = min(m, n)
    eps, eta, _ = policy.weights
    u = rng.random()
    if u < eps:
        return rng.permutation(n)[:m]
    if u < eps + eta:
        new_idx = np.flatnonzero(policy.new_mask)
        first = new_idx[rng.integers(len(new_idx))]
        rest = policy.order
        return np.concatenate([[first], rest[rest != first][: m - 1]]).astype(int)
    if policy.heads is not None:
        head = policy.heads[rng.integers(len(policy.heads))]
        return greedy_order(head)[:m]
    return policy.order[:m]


def propensities(policy: SlatePolicy, slate: np.ndarray) -> np.ndarray:
    """Exact P(candidate slate[j] is shown at position j) for every position j."""
    n = policy.n
    eps, eta, exploit = policy.weights
    out = np.full(len(slate), eps / n)
    if eta > 0:
        rank = _rank_of(policy.order)
        new_ranks = rank[policy.new_mask]
        n_new = len(new_ranks)
        for j, v in enumerate(slate):
            if j == 0:
                p_new = float(policy.new_mask[v]) / n_new
            else:
                r = rank[v]
                # After removing the chosen new variant u, position j holds greedy rank j-1 if u ranks
                # below it, or greedy rank j if u was one of the first j-1.
                if r == j - 1:
                    p_new = np.count_nonzero(new_ranks > r) / n_new
                elif r == j:
                    p_new = np.count_nonzero(new_ranks < r) / n_new
                else:
                    p_new = 0.0
            out[j] += eta * p_new
    if exploit > 0:
        if policy.heads is not None:
            head_orders = np.argsort(-policy.heads, axis=1, kind="stable")[:, : len(slate)]
            hits = (head_orders == np.asarray(slate)[None, :]).mean(axis=0)
        else:
            top = policy.order[: len(slate)]
            hits = (top == np.asarray(slate)).astype(float)
        out += exploit * hits
    return out


def settled_epsilon(epsilon: float, impressions: np.ndarray, *, floor: float, settle_impressions: float) -> float:
    """The explore weight for a pool with this much evidence: the placement's ε while its variants average
    at most `settle_impressions` impressions each, then ε·√(settle / mean), never below `floor` (nor above
    ε: a placement set below the floor, 0 included, keeps its own value).

    Uniform exploration buys the training rows of the next model; each doubling of the evidence teaches
    less than the last, so its share shrinks like 1/√n (between ε-greedy's 1/n and a fixed share), while the
    floor keeps every variant's propensity at least floor / n for good, so inverse-propensity weights of
    the model bucket's own log stay bounded (≤ n / floor) for off-policy evaluation."""
    eps = min(max(float(epsilon), 0.0), 1.0)
    if eps <= floor or settle_impressions <= 0 or len(impressions) == 0:
        return eps
    mean = float(np.mean(impressions))
    if mean <= settle_impressions:
        return eps
    return max(float(floor), eps * float(np.sqrt(settle_impressions / mean)))


def new_variants(impressions: np.ndarray, *, threshold: float, relative: float) -> np.ndarray:
    """Which candidates are "new" (the cold-start share goes to them): fewer than `threshold` impressions
    and fewer than `relative` × the pool's mean.

    New means behind its peers: a design published into a served catalogue (none of its impressions while
    the others have hundreds) gets the share until it catches up to `relative` of the mean or reaches the
    threshold, and so does a whole batch published at once (the mean, unlike the median, stays above zero
    while any design has served). A young catalogue whose variants all have a few hundred is not "new"
    throughout (ε explores it, at full weight while evidence is low), which would otherwise spend the share
    for nothing on every request until each variant had `threshold`."""
    imp = np.asarray(impressions, dtype=np.float64)
    if not len(imp) or threshold <= 0:
        return np.zeros(len(imp), dtype=bool)
    return imp < min(float(threshold), float(relative) * float(imp.mean()))


def posterior_sd(scores: np.ndarray, impressions: np.ndarray, prior_sd: float) -> np.ndarray:
    """Posterior sd (log-odds) of each variant's own effect beyond what the model predicts for it.

    A Laplace approximation of a per-variant offset δ_v added to the model's logit, with prior
    N(0, prior_sd²): the posterior precision is the prior's plus the Fisher information of the variant's
    logged impressions, Σ p(1 − p) over them, approximated by impressions_v · p_v(1 − p_v) at the user's
    score p_v. So the sd shrinks as evidence grows, and more slowly at a low click rate (each impression
    of a 0.3% variant tells less than one of a 10% variant), where a count-only rule would stop exploring
    too early."""
    p = np.clip(np.asarray(scores, dtype=np.float64), 1e-6, 1 - 1e-6)
    n = np.maximum(np.asarray(impressions, dtype=np.float64), 0.0)
    return 1.0 / np.sqrt(1.0 / prior_sd ** 2 + n * p * (1 - p))


def thompson_heads(scores: np.ndarray, sigma: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """Posterior draws on the log-odds scale: logit(score) + σ_v · z_bv (z fixed per catalogue load)."""
    p = np.clip(scores, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))[None, :] + sigma[None, :] * noise[:, : len(scores)]


def first_position_probabilities(policy: SlatePolicy) -> np.ndarray:
    """P(candidate v is shown at position 1) for every candidate at once: propensities(policy, [v])[0] for
    each v, without the loop (what a one-slot placement's expected click rate is computed from)."""
    n = policy.n
    eps, eta, exploit = policy.weights
    out = np.full(n, eps / n)
    if eta > 0:
        out += eta * policy.new_mask.astype(float) / np.count_nonzero(policy.new_mask)
    if exploit > 0:
        if policy.heads is not None:
            heads = np.argmax(policy.heads, axis=1)  # the first maximum, as the stable greedy order puts first
            out += exploit * np.bincount(heads, minlength=n) / len(policy.heads)
        else:
            out[policy.order[0]] += exploit
    return out
