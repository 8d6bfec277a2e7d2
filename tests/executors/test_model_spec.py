"""One object per model: a `ModelSpec` (spec string and backend options) that the in-process run and each Ray
replica build their backend from; a backend remembers the spec it was built from."""
from __future__ import annotations

import pytest

from evalsuite.backends.base import ModelSpec, load_backend
from evalsuite.backends.mock import MockBackend
from evalsuite.errors import UsageError


def test_a_backend_remembers_the_spec_it_was_built_from():
    be = load_backend("mock:m", "reply=7")
    assert be.built_from == ModelSpec("mock:m", "reply=7")
    again = be.built_from.build()  # what a replica does with it
    assert again is not be and (again.name, again.model_id, again.opts) == ("mock", "m", be.opts)
    assert load_backend(be) is be  # a backend object is used as it is


def test_a_backend_made_directly_has_no_spec_and_ray_refuses_it_in_one_line():
    from evalsuite.executors.ray import RayExecutor

    assert MockBackend("m").built_from is None
    with pytest.raises(UsageError, match="builds each replica's backend from the model's spec") as err:
        RayExecutor(MockBackend("m"))
    assert "\n" not in str(err.value)


def test_a_bad_spec_fails_when_built():
    with pytest.raises(UsageError, match="unknown model 'nope:x'"):
        ModelSpec("nope:x").build()
