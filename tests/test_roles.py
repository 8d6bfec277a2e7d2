"""Model roles at the edge (evalsuite/roles.py): `--role NAME=SPEC` parsing, and which roles a run uses given what
its protocols declare (a required role missing, a SELF default, an optional stage, a role nobody asks)."""
from __future__ import annotations

import pytest

from evalsuite.errors import UsageError
from evalsuite.roles import SELF, Role, RoleModel, declared, parse_role_specs, resolve


def test_role_specs_parse_from_the_cli_and_from_a_dict():
    assert parse_role_specs(["critic=hf:/m", "arguer=self", "critic=hf:/m"]) == {"critic": "hf:/m", "arguer": "self"}
    assert parse_role_specs({"judge": "mock:j"}) == {"judge": "mock:j"}
    assert parse_role_specs(["critic=batch_size=4,dtype=float32"], "--role-args") == {
        "critic": "batch_size=4,dtype=float32"}
    assert parse_role_specs(None) == {}


@pytest.mark.parametrize("items, message", [
    (["critic"], "--role 'critic' is not NAME=VALUE; write e.g. --role critic=hf:PATH"),
    (["critic="], "is not NAME=VALUE"),
    (["Critic=hf:x"], "role name 'Critic' must be lowercase"),
    (["critic=hf:a", "critic=hf:b"], "--role critic is given twice ('hf:a' and 'hf:b')"),
])
def test_bad_role_specs_are_refused_naming_the_fix(items, message):
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_role_specs(items)


def test_declared_reads_bare_names_as_required_roles():
    got = declared(("critic", Role("arguer", default=SELF)))
    assert got == {"critic": Role("critic"), "arguer": Role("arguer", default=SELF)}


DECLARING = {"critic": ["second_opinion"], "observer": ["self_predict"]}


def test_resolve_gives_defaults_skips_optional_stages_and_keeps_what_was_given():
    needed = {"p": [Role("critic"), Role("arguer", default=SELF), Role("observer", optional=True)]}
    given = {"critic": RoleModel("mock:c")}
    assert resolve(needed, given, DECLARING) == {"critic": RoleModel("mock:c"),
                                                 "arguer": RoleModel(SELF, flag="--role arguer")}
    with_observer = resolve(needed, {**given, "observer": RoleModel("mock:o")}, DECLARING)
    assert with_observer["observer"] == RoleModel("mock:o")


def test_a_required_role_missing_is_one_line_naming_the_flag():
    with pytest.raises(UsageError) as e:
        resolve({"second_opinion": [Role("critic")]}, {}, DECLARING)
    assert str(e.value) == ("protocol second_opinion needs a model for its 'critic' role; add --role critic=SPEC "
                            "(e.g. --role critic=hf:PATH, or --role critic=self for the run's own model)")


def test_a_role_no_protocol_of_the_run_asks_is_refused():
    with pytest.raises(UsageError, match=r"^--observer-model applies to self_predict runs only; add --protocol "
                                         r"self_predict .* or drop --observer-model$"):
        resolve({"direct": []}, {"observer": RoleModel("mock:o", flag="--observer-model")}, DECLARING)
    with pytest.raises(UsageError, match="--role judge: no protocol of this run asks a 'judge' role"):
        resolve({"direct": []}, {"judge": RoleModel("mock:j")}, DECLARING)
