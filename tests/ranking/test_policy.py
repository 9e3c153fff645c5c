"""The propensity logged with each shown variant is the exact probability of showing it there.

Each check enumerates the policy's outcomes from first principles (every ordered slate of the uniform
component, every new variant of the new-variant component, every posterior draw) and compares the
resulting distribution with what `propensities` reports for every slate that can occur.
"""

from __future__ import annotations

import itertools
from collections import defaultdict

import numpy as np
import pytest

from ranking.policy import (
    SlatePolicy,
    first_position_probabilities,
    new_variants,
    posterior_sd,
    propensities,
    sample,
    settled_epsilon,
    thompson_heads,
)


def enumerate_marginals(policy: SlatePolicy, m: int) -> dict[tuple[int, int], float]:
    """P(candidate v at position j), by listing every outcome of every component with its probability."""
    n = policy.n
    eps, eta, exploit = policy.weights
    dist: dict[tuple[int, ...], float] = defaultdict(float)
    slates = list(itertools.permutations(range(n), m))
    for slate in slates:
        dist[slate] += eps / len(slates)
    greedy = sorted(range(n), key=lambda i: (-policy.scores[i], i))
    if eta:
        new = [i for i in range(n) if policy.new_mask[i]]
        for u in new:
            dist[tuple([u] + [g for g in greedy if g != u][: m - 1])] += eta / len(new)
    if policy.heads is not None:
        for head in policy.heads:
            order = sorted(range(n), key=lambda i, h=head: (-h[i], i))
            dist[tuple(order[:m])] += exploit / len(policy.heads)
    else:
        dist[tuple(greedy[:m])] += exploit
    marginal: dict[tuple[int, int], float] = defaultdict(float)
    for slate, p in dist.items():
        for j, v in enumerate(slate):
            marginal[(v, j)] += p
    assert sum(dist.values()) == pytest.approx(1.0)
    return marginal


POLICIES = {
    "epsilon-greedy": SlatePolicy(scores=np.array([0.02, 0.09, 0.05, 0.09, 0.01]), epsilon=0.1,
                                  new_mask=np.zeros(5, bool), new_share=0.05),
    "epsilon-greedy with new variants": SlatePolicy(
        scores=np.array([0.02, 0.09, 0.05, 0.07, 0.01]), epsilon=0.1,
        new_mask=np.array([True, False, True, False, True]), new_share=0.15),
    "new variant already on top": SlatePolicy(
        scores=np.array([0.02, 0.09, 0.05, 0.07, 0.01]), epsilon=0.05,
        new_mask=np.array([False, True, False, True, False]), new_share=0.2),
    "thompson": SlatePolicy(
        scores=np.array([0.03, 0.06, 0.05, 0.04]), epsilon=0.05, new_mask=np.array([False, False, True, False]),
        new_share=0.1, heads=np.random.default_rng(3).normal(size=(6, 4))),
}


@pytest.mark.parametrize("name", POLICIES)
@pytest.mark.parametrize("m", [1, 2, 3])
def test_logged_propensities_equal_the_enumerated_probabilities(name, m):
    policy = POLICIES[name]
    truth = enumerate_marginals(policy, m)

    for slate in itertools.permutations(range(policy.n), m):
        reported = propensities(policy, np.array(slate))
        for j, v in enumerate(slate):
            assert reported[j] == pytest.approx(truth[(v, j)], abs=1e-12), (slate, j)


@pytest.mark.parametrize("name", POLICIES)
def test_sampled_slates_follow_the_logged_propensities(name):
    policy, m, draws = POLICIES[name], 2, 20000
    rng = np.random.default_rng(11)
    counts: dict[tuple[int, int], int] = defaultdict(int)
    for _ in range(draws):
        for j, v in enumerate(sample(policy, m, rng)):
            counts[(v, j)] += 1
    truth = enumerate_marginals(policy, m)

    for key, p in truth.items():
        sd = np.sqrt(p * (1 - p) / draws)
        assert abs(counts[key] / draws - p) <= 5 * sd + 1e-9, key


def test_every_candidate_keeps_a_floor_probability():
    policy = POLICIES["epsilon-greedy"]
    for slate in itertools.permutations(range(policy.n), 2):
        assert (propensities(policy, np.array(slate)) >= policy.epsilon / policy.n - 1e-15).all()


@pytest.mark.parametrize("name", POLICIES)
def test_first_position_probabilities_equal_the_enumerated_ones(name):
    policy = POLICIES[name]
    marginal = enumerate_marginals(policy, 1)

    probabilities = first_position_probabilities(policy)

    assert probabilities.sum() == pytest.approx(1.0)
    for v in range(policy.n):
        assert probabilities[v] == pytest.approx(marginal[(v, 0)])


def _thompson(scores: np.ndarray, impressions: np.ndarray, *, epsilon: float = 0.01) -> SlatePolicy:
    noise = np.random.default_rng(0).standard_normal((64, len(scores)))
    heads = thompson_heads(scores, posterior_sd(scores, impressions, prior_sd=0.5), noise)
    return SlatePolicy(scores=scores, epsilon=epsilon, new_mask=np.zeros(len(scores), dtype=bool), new_share=0.05,
                       heads=heads)


def test_thompson_explores_less_as_impressions_accumulate_but_never_stops():
    # Two close designs (6% and 5.5%) and a weak one: with little evidence the runner-up gets a real share,
    # with a lot the leader takes nearly everything, and every design keeps the ε floor.
    scores = np.array([0.06, 0.055, 0.02])
    shares = [first_position_probabilities(_thompson(scores, np.full(3, n)))[0] for n in (0, 1_000, 100_000)]
    assert shares[0] < shares[1] < shares[2]
    assert shares[0] < 0.8 and shares[2] > 0.95
    assert (first_position_probabilities(_thompson(scores, np.full(3, 100_000))) >= 0.01 / 3 - 1e-15).all()


def test_the_posterior_is_wider_where_each_impression_tells_less():
    # The same 2,000 impressions say less about a 0.3% design than about a 10% one (Fisher information p(1 − p)).
    sd = posterior_sd(np.array([0.003, 0.1]), np.array([2_000, 2_000]), prior_sd=0.5)
    assert sd[0] > 2 * sd[1]
    assert posterior_sd(np.array([0.05]), np.array([0]), prior_sd=0.5)[0] == pytest.approx(0.5)


def test_exploration_shrinks_as_evidence_grows_but_keeps_its_floor():
    # A 40-variant placement at ε = 0.05: full ε while its variants average up to 200 impressions, then
    # ε·√(200 / mean), and never under the 1% floor however much is logged.
    def eps(mean: float) -> float:
        return settled_epsilon(0.05, np.full(40, mean), floor=0.01, settle_impressions=200)

    assert eps(0) == eps(200) == 0.05
    assert eps(800) == pytest.approx(0.025)
    assert eps(200) > eps(800) > eps(3_000) > eps(1_000_000)
    assert eps(1_000_000) == pytest.approx(0.01)


def test_an_operator_choice_below_the_floor_is_kept():
    assert settled_epsilon(0.0, np.full(5, 10_000), floor=0.01, settle_impressions=200) == 0.0
    assert settled_epsilon(0.005, np.full(5, 10), floor=0.01, settle_impressions=200) == 0.005


def test_a_design_published_into_a_served_catalogue_is_new_until_it_catches_up():
    peers = np.full(30, 4_000.0)
    published = np.append(peers, [0.0, 1_500.0, 2_500.0])

    new = new_variants(published, threshold=1_000, relative=0.5)

    # The newcomer with none is new; 1,500 and 2,500 are past the 1,000 threshold.
    assert new.tolist() == [False] * 30 + [True, False, False]
    assert new_variants(np.append(peers, 900.0), threshold=1_000, relative=0.5)[-1]


def test_a_batch_published_into_a_small_catalogue_is_new_all_together():
    # Three designs have served 4,000 times each; a kit adds five at once, more than the designs there were.
    catalogue = np.array([4_000.0, 4_000.0, 4_000.0, 0.0, 0.0, 0.0, 0.0, 0.0])

    assert new_variants(catalogue, threshold=1_000, relative=0.5).tolist() == [False] * 3 + [True] * 5


def test_a_young_catalogue_is_explored_by_epsilon_not_the_new_variant_share():
    # Every variant has a few hundred impressions: none is behind its peers, so the share is not spent on
    # all of them at once (uniform exploration at full ε covers them).
    young = np.random.default_rng(0).integers(250, 350, size=60).astype(float)
    assert not new_variants(young, threshold=1_000, relative=0.5).any()
    young[7] = 20.0
    assert new_variants(young, threshold=1_000, relative=0.5).tolist() == [i == 7 for i in range(60)]
    assert not new_variants(young, threshold=0, relative=0.5).any()  # a threshold of 0 turns the share off
