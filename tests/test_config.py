"""`RunConfig` (evalsuite/config.py): one default per setting, the same config from the CLI and from `evaluate()`,
checked once, written as results.json's `config` and read back, so `evalsuite run --config` reruns a run."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from evalsuite import evaluate
from evalsuite.cli import build_parser, run_config
from evalsuite.config import RunConfig, default, load_config
from evalsuite.errors import UsageError
from evalsuite.protocols.base import Settings
from evalsuite.records import GenParams
from evalsuite.results import MODEL_FIELDS, Results


def _cli_config(*argv: str) -> RunConfig:
    args = build_parser(["run", *argv]).parse_args(["run", *argv])
    return run_config(args)


def test_each_generation_default_has_one_source():
    gen, settings = GenParams(), Settings()
    run = build_parser(["run"])._subparsers._group_actions[0].choices["run"]
    flag = {a.dest: a.default for a in run._actions}
    for name in ("max_tokens", "temperature", "top_p", "seed"):
        assert default(name) == getattr(gen, name) == getattr(settings, name) == flag[name], name
    assert default("max_tokens") == 512


def test_the_cli_and_evaluate_build_the_same_config():
    cli = _cli_config("--tasks", "gsm8k,math500", "--model", "mock:m", "--model-args", "reply=7", "--limit", "3",
                      "--max-tokens", "16", "--temperature", "0.5", "--seed", "4", "--samples", "2",
                      "--confidence", "verbal", "--role", "observer=mock:o", "--role-args", "observer=reply=No",
                      "--data-parallel", "2")
    api = RunConfig.build(tasks=["gsm8k", "math500"], model="mock:m", model_args="reply=7", limit=3, max_tokens=16,
                          temperature=0.5, seed=4, samples=2, options={"confidence": "verbal"},
                          roles={"observer": "mock:o"}, role_args={"observer": "reply=No"}, executor="ray",
                          replicas=2)
    assert cli == api
    assert (cli.protocol, cli.tasks, cli.roles) == ("confidence", ("gsm8k", "math500"), {"observer": "mock:o"})


def test_observer_model_is_read_as_the_observer_role():
    cfg = RunConfig.build(tasks="self_predict_gsm8k",
                          options={"observer_model": "mock:o", "observer_model_args": "reply=No", "full": True})
    assert (cfg.roles, cfg.role_args, cfg.options) == ({"observer": "mock:o"}, {"observer": "reply=No"},
                                                       {"full": True})
    assert cfg == RunConfig.build(tasks="self_predict_gsm8k", roles=["observer=mock:o"],
                                  role_args=["observer=reply=No"], options={"full": True})


def test_to_dict_reads_back_as_the_same_config():
    cfg = RunConfig.build(tasks="gsm8k", model="mock:m", limit=2, roles={"judge": "self"},
                          options={"borda_p": "0.5"}, executor="ray", replica_env=["HF_HOME"],
                          output_dir="runs/x")
    d = cfg.to_dict()
    assert d["model"] == "mock:m" and d["tasks"] == ["gsm8k"] and d["replica_env"] == ["HF_HOME"]
    assert RunConfig.from_dict(json.loads(json.dumps(d))) == cfg
    assert RunConfig.build(tasks="gsm8k").to_dict()["model"] == "embedded"
    assert RunConfig.from_dict({"tasks": ["gsm8k"], "model": "embedded"}).model is None
    assert RunConfig.build(tasks="gsm8k", model="hf:embedded").model is None  # one spelling of the embedded model


@pytest.mark.parametrize("given, message", [
    ({"tasks": ["gsm8k"], "max_token": 5}, "has unknown key(s) max_token; known keys: tasks, model"),
    ({"model": "mock:m"}, "names no tasks; add tasks: [NAME, ...]"),
    ({"tasks": ["gsm8k"], "limit": "3"}, "limit is str '3', which is not a valid limit"),
    ({"tasks": ["gsm8k"], "token_stats": 1}, "token_stats is int 1"),
    ({"tasks": ["gsm8k"], "limit": 0}, "--limit must be a positive number of docs, got 0"),
    ({"tasks": ["gsm8k"], "top_p": 0}, "--temperature must be >= 0 and --top-p in (0, 1]"),
    ({"tasks": ["gsm8k"], "replicas": 2, "executor": "local"}, "--replicas, --ray-address and --replica-env need"),
    ({"tasks": ["gsm8k"], "options": {"nope": 1}}, "unknown run option(s) nope"),
    ({"tasks": ["gsm8k"], "protocol": "nope"}, "nope"),
])
def test_a_bad_config_is_one_line_naming_the_key(given, message):
    with pytest.raises(UsageError) as e:
        RunConfig.from_dict(given, "--config x.yaml")
    assert message in str(e.value) and "\n" not in str(e.value)


def test_load_config_reads_a_yaml_file_a_results_json_and_a_run_dir(tmp_path):
    (tmp_path / "run.yaml").write_text("tasks: [gsm8k]\nmodel: mock:m\nlimit: 2\nmax_tokens: 16\n")
    cfg = load_config(tmp_path / "run.yaml")
    assert (cfg.tasks, cfg.model, cfg.limit, cfg.max_tokens, cfg.rounds) == (("gsm8k",), "mock:m", 2, 16, 1)
    (tmp_path / "r").mkdir()
    written = Results(model=dict.fromkeys(MODEL_FIELDS), config=cfg.to_dict(), tasks={})
    (tmp_path / "r" / "results.json").write_text(json.dumps(written.to_dict()))
    assert load_config(tmp_path / "r") == load_config(tmp_path / "r" / "results.json") == cfg
    (tmp_path / "old").mkdir()  # written before results schema 2: read through the one reader, so refused
    (tmp_path / "old" / "results.json").write_text(json.dumps({"model": {}, "config": cfg.to_dict(), "tasks": {}}))
    with pytest.raises(UsageError, match=r"written before results schema 2; convert it with `evalsuite upgrade "):
        load_config(tmp_path / "old")
    (tmp_path / "bad.yaml").write_text("tasks: [gsm8k\n")
    with pytest.raises(UsageError, match=r"--config .*bad.yaml: not valid YAML"):
        load_config(tmp_path / "bad.yaml")
    with pytest.raises(UsageError, match="cannot be read"):
        load_config(tmp_path / "missing.yaml")


def test_flags_beside_config_override_only_what_they_name(tmp_path):
    (tmp_path / "run.yaml").write_text("tasks: [gsm8k]\nmodel: mock:m\nlimit: 2\nmax_tokens: 16\n"
                                       "options: {borda_p: '2'}\n")
    argv = ["run", "--config", str(tmp_path / "run.yaml"), "--limit", "1", "--live-every", "0"]
    args = build_parser(argv).parse_args(argv)
    from evalsuite.cli import _given_dests

    args._given = _given_dests(args.run_parser, argv[1:])
    cfg = run_config(args)
    assert (cfg.limit, cfg.max_tokens, cfg.model) == (1, 16, "mock:m")
    assert cfg.options == {"borda_p": "2", "live_every": "0"}
    from evalsuite.protocols.options import RunOptions

    assert RunConfig.build(cfg, options=RunOptions.parse({"full": True}), limit=None).options == {
        "borda_p": "2", "live_every": "0", "full": True}


def test_evaluate_records_the_config_it_ran_and_reruns_from_it(tmp_path):
    res = evaluate("gsm8k", model="mock:m", model_args="reply=#### 18", limit=2, max_tokens=16,
                   output_dir=tmp_path / "a", progress=False, log=lambda m: None)
    written = json.loads((tmp_path / "a" / "results.json").read_text())["config"]
    assert written == res.config == res.run_config.to_dict()
    assert written["output_dir"] == str(tmp_path / "a") and written["limit"] == 2
    again = evaluate(config=load_config(tmp_path / "a"), output_dir=tmp_path / "b", progress=False,
                     log=lambda m: None)
    assert again.run_config == RunConfig.from_dict({**written, "output_dir": str(tmp_path / "b")})
    assert (tmp_path / "a" / "samples.jsonl").read_bytes() == (tmp_path / "b" / "samples.jsonl").read_bytes()


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "evalsuite", *args], capture_output=True, text=True, timeout=600)


def test_cli_config_errors_are_one_line(tmp_path):
    (tmp_path / "run.yaml").write_text("tasks: [gsm8k]\nlimit: many\n")
    proc = _cli("run", "--config", str(tmp_path / "run.yaml"), "--no-progress")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "limit is str 'many'" in proc.stderr
    proc = _cli("run", "--model", "mock:m", "--no-progress")
    assert proc.returncode == 2 and "no task given; pass --tasks" in proc.stderr, proc.stderr


@pytest.mark.slow
def test_rerun_from_results_json_reproduces_samples_byte_for_byte_on_the_embedded_model(tmp_path):
    first = _cli("run", "--tasks", "gsm8k", "--limit", "2", "--max-tokens", "16", "--output-dir",
                 str(tmp_path / "a"), "--no-progress")
    assert first.returncode == 0, first.stderr
    again = _cli("run", "--config", str(tmp_path / "a" / "results.json"), "--output-dir", str(tmp_path / "b"),
                 "--no-progress")
    assert again.returncode == 0, again.stderr
    assert "model calls: 2 generated, 0 read from the store" in again.stdout  # a fresh store: generated again
    assert (tmp_path / "a" / "samples.jsonl").read_bytes() == (tmp_path / "b" / "samples.jsonl").read_bytes()
    a, b = (json.loads((tmp_path / d / "results.json").read_text()) for d in "ab")
    assert {**a["config"], "output_dir": None} == {**b["config"], "output_dir": None}
    assert a["model"]["revision"] == b["model"]["revision"]


def test_an_option_that_implies_a_protocol_selects_it_and_refuses_another(monkeypatch):
    """`flag(..., protocol=NAME)`: given alone it picks the protocol (as --confidence picks confidence); with a
    different --protocol the run is refused naming the flag. No protocol name is special-cased in config.py."""
    from dataclasses import dataclass

    import evalsuite.options as options_mod
    from evalsuite.options import Options, flag, implied_protocols

    @dataclass(frozen=True)
    class JudgeOptions(Options):
        judge_rubric: str | None = flag(None, "a rubric", protocol="direct")

    monkeypatch.setattr(options_mod, "RUN_OPTION_CLASSES", [*options_mod.RUN_OPTION_CLASSES, JudgeOptions])
    assert implied_protocols({"judge_rubric": "strict"}) == {"--judge-rubric": "direct"}
    assert implied_protocols({"judge_rubric": None}) == {}
    assert RunConfig(tasks="gsm8k", options={"confidence": "verbal"}).protocol == "confidence"
    with pytest.raises(UsageError, match="--confidence works with --protocol confidence, not direct"):
        RunConfig(tasks="gsm8k", protocol="direct", options={"confidence": "verbal"})
