"""Random mutations of a valid manifest: loading and opening it raise only b2v-edge's own errors."""

from __future__ import annotations

import copy
import json
import random

import pytest
from fault_helpers import invoke, tree_digest

from b2v_edge.common.errors import B2VError
from b2v_edge.common.manifest import Manifest
from b2v_edge.runtime import open_engine

VALUES = [None, True, 0, -1, 3.5, float("inf"), "", ".", "..", "../x", "/etc/passwd", "x" * 300, [], [1], {}, {"a": 1}]


def _paths(node, prefix=()):
    """Every (container, key) address inside a JSON tree."""
    out = []
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        out.append(prefix + (key,))
        out += _paths(value, prefix + (key,))
    return out


def _mutate(data, rng: random.Random):
    data = copy.deepcopy(data)
    for _ in range(rng.randint(1, 3)):
        path = rng.choice(_paths(data))
        parent = data
        for key in path[:-1]:
            parent = parent[key]
        action = rng.random()
        if action < 0.6:
            parent[path[-1]] = copy.deepcopy(rng.choice(VALUES))
        elif action < 0.8 and isinstance(parent, dict):
            parent.pop(path[-1])
        elif isinstance(parent, dict):
            parent[f"new_{rng.randint(0, 99)}"] = copy.deepcopy(rng.choice(VALUES))
    return data


def test_two_hundred_mutations_raise_only_project_errors(tmp_path, runtime_models):
    root = runtime_models.make_deploy(tmp_path / "d")
    runtime_models.add_plan(root)  # a plan entry: its provenance fields are fuzzed too
    good = json.loads((root / "manifest.json").read_text())
    rng = random.Random(0)
    outcomes = {"ok": 0, "refused": 0}
    for _ in range(200):
        (root / "manifest.json").write_text(json.dumps(_mutate(good, rng)))
        try:
            Manifest.load(root)
            with open_engine(root):
                pass
            outcomes["ok"] += 1
        except B2VError:
            outcomes["refused"] += 1
    assert outcomes["refused"] > 50 and sum(outcomes.values()) == 200


@pytest.mark.parametrize("seed", range(8))
def test_mutated_manifests_through_the_cli(tmp_path, runtime_models, outside, seed):
    root = runtime_models.make_deploy(tmp_path / "d")
    runtime_models.add_plan(root)
    good = json.loads((root / "manifest.json").read_text())
    (root / "manifest.json").write_text(json.dumps(_mutate(good, random.Random(100 + seed))))
    before = tree_digest(outside)
    result = invoke("run", "--model", root, "--headless", "--max-frames", 1)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    if result.exit_code:
        assert result.exit_code == 2 and result.stderr.count("error:") == 1
    assert tree_digest(outside) == before
