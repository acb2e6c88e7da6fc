"""`stad detect` on many processes: the sharding and environment helpers of
`stad_helpers.distributed`, and detection under torchrun equal to one process."""

from __future__ import annotations

import itertools

import pytest

from stad_helpers.distributed import dist_env, shard_by_weight
from stad_helpers.errors import StadError


def test_dist_env_outside_torchrun(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    assert dist_env() == (0, 1, 0)


def test_dist_env_reads_torchrun(monkeypatch):
    monkeypatch.setenv("RANK", "5")
    monkeypatch.setenv("WORLD_SIZE", "8")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert dist_env() == (5, 8, 1)


@pytest.mark.parametrize("env", [{"RANK": "x", "WORLD_SIZE": "2"},
                                 {"RANK": "2", "WORLD_SIZE": "2"},
                                 {"RANK": "0", "WORLD_SIZE": "0"}])
def test_dist_env_refuses_a_broken_environment(monkeypatch, env):
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(StadError, match="RANK|WORLD_SIZE"):
        dist_env()


def _best_max_load(weights, world_size):
    """The lightest possible heaviest shard, by brute force (tiny inputs)."""
    return min(
        max(sum(w for w, r in zip(weights, assign) if r == rank)
            for rank in range(world_size))
        for assign in itertools.product(range(world_size), repeat=len(weights)))


@pytest.mark.parametrize("weights,world_size", [
    ([120, 80, 75, 60, 45, 30, 10], 2),
    ([5, 5, 4, 4, 3, 3, 3], 3),
    ([700, 10, 10, 10], 2),
    ([3, 1], 4),
    ([], 2),
])
def test_shard_by_weight_partitions_sorted_and_balanced(weights, world_size):
    shards = shard_by_weight(weights, world_size)
    assert len(shards) == world_size
    assert sorted(i for s in shards for i in s) == list(range(len(weights)))
    assert all(s == sorted(s) for s in shards)
    heaviest = max(sum(weights[i] for i in s) for s in shards)
    best = _best_max_load(weights, world_size) if weights else 0
    assert heaviest <= 4 / 3 * best  # LPT's guarantee


def test_shard_by_weight_is_deterministic_and_lpt():
    weights = [10, 30, 20, 30]
    # LPT: item 1 (30) -> rank 0, item 3 (30) -> rank 1, item 2 (20): both at 30,
    # the lower rank takes it; item 0 (10) -> rank 1 (30 < 50)
    assert shard_by_weight(weights, 2) == [[1, 2], [0, 3]]
    assert shard_by_weight(weights, 2) == shard_by_weight(list(weights), 2)
    assert shard_by_weight(weights, 1) == [[0, 1, 2, 3]]


@pytest.mark.parametrize("weights,world_size", [([1, 2], 0), ([1, -1], 2)])
def test_shard_by_weight_refuses_bad_input(weights, world_size):
    with pytest.raises(StadError):
        shard_by_weight(weights, world_size)
