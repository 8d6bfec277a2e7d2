"""Ray fixtures kept small for a 2-core CI machine: explicit CPUs, a 100 MB object store, no dashboard."""
from __future__ import annotations

import pytest

RAY_SMALL = {"object_store_memory": 100 * 1024 * 1024, "include_dashboard": False}


@pytest.fixture(scope="module")
def local_ray():
    """A local Ray with 2 CPUs for the module; the executor joins it (and leaves it running) instead of its own."""
    ray = pytest.importorskip("ray", reason='needs Ray: pip install -e ".[ray]"')
    ray.init(num_cpus=2, logging_level="warning", **RAY_SMALL)
    yield ray
    ray.shutdown()


def _same_outputs(a, b) -> None:
    """Two run folders hold byte-identical samples and the same metric rows."""
    import json

    assert (a / "samples.jsonl").read_bytes() == (b / "samples.jsonl").read_bytes()
    ra, rb = (json.loads((d / "results.json").read_text()) for d in (a, b))
    assert {k: v["metrics"] for k, v in ra["tasks"].items()} == {k: v["metrics"] for k, v in rb["tasks"].items()}


@pytest.fixture(scope="session")
def same_outputs():
    return _same_outputs
