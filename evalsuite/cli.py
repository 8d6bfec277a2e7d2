"""The `evalsuite` command: `run` and `tasks` (reports and leaderboards register their own subcommands)."""
from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

from evalsuite.config import RunConfig, default, load_config
from evalsuite.errors import UsageError
from evalsuite.registry import (BACKENDS, COMMANDS as PLUGIN_COMMANDS, EXECUTORS, PLUGINS_VAR, RUN_OPTION_GROUPS,
                                RUN_OPTIONS, load_plugins)


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None


class _Parser(argparse.ArgumentParser):
    """argparse that reports bad flags as one line and exit code 2 (its own convention too)."""

    def error(self, message: str) -> None:
        sys.stderr.write(f"evalsuite: error: {message} (see `{self.prog} --help`)\n")
        raise SystemExit(2)


class _DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows `(default: X)` where a flag has a real default (not None, not an off switch, not already in the help)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        off = action.default is None or action.default is False or action.default == argparse.SUPPRESS
        if off or "default" in text:
            return text
        return super()._get_help_string(action)


def _configure_run(run: argparse.ArgumentParser, with_plugins: bool = True) -> None:
    """`evalsuite run`'s flags in groups: tasks and data, model, generation, protocol, output, execution, then the
    fields of each `@run_options` class (under its group heading; only `with_plugins`, which imports
    the plugin modules: another subcommand's parse skips them)."""
    g = {name: run.add_argument_group(name) for name in
         ("tasks and data", "model", "generation", "protocol", "output", "execution")}
    g["tasks and data"].add_argument("--tasks", default=None, metavar="LIST",
                                     help="comma-separated task or group names (see `evalsuite tasks`; required "
                                          "unless --config names them)")
    g["tasks and data"].add_argument("--config", default=None, metavar="FILE",
                                     help="rerun a run: its results.json (or run dir), or a YAML file of the same "
                                          "`config` keys; flags given beside it override its values")
    g["tasks and data"].add_argument("--limit", type=_int, default=None, metavar="N", help="first N docs of each task")
    g["tasks and data"].add_argument("--data-source", choices=["local", "hub"], default=default("data_source"),
                                     help="shipped files, or the hub copy")
    g["tasks and data"].add_argument("--data-dir", default=None, metavar="DIR",
                                     help="folder with the task data files (default: shipped data; also "
                                          "$EVALSUITE_DATA_DIR)")
    g["tasks and data"].add_argument("--include-path", action="append", default=None, metavar="DIR",
                                     help="also read task cards from DIR (repeatable; also $EVALSUITE_TASKS_PATH)")
    model = g["model"].add_argument("--model", default=None, metavar="SPEC",
                                    help="hf:PATH_OR_ID, vllm:PATH_OR_ID or openai:MODEL@URL (default: the embedded "
                                         "SmolLM2-135M-Instruct)")
    g["model"].add_argument("--plugins", default=None, metavar="MODULE,...",
                            help="import these modules first: backends, protocols, scorers and metrics from outside "
                                 "the package (also $EVALSUITE_PLUGINS; installed packages declare theirs under the "
                                 "`evalsuite.plugins` entry point)")
    g["model"].add_argument("--model-args", default=None, metavar="K=V,...",
                            help="backend options, key=value,... (e.g. dtype=bfloat16,batch_size=16)")
    _role_flags(g["model"])
    gen = g["generation"]
    gen.add_argument("--max-tokens", type=_int, default=default("max_tokens"), metavar="N", help="token budget of each reply")
    gen.add_argument("--temperature", type=float, default=default("temperature"), metavar="T", help="0 is greedy")
    gen.add_argument("--top-p", type=float, default=default("top_p"), metavar="P", help="nucleus sampling mass")
    gen.add_argument("--seed", type=int, default=default("seed"), metavar="N", help="base seed; each sample derives its own")
    gen.add_argument("--samples", type=_int, default=default("samples"), metavar="N", help="samples per doc")
    gen.add_argument("--no-token-stats", action="store_true", help="skip per-token entropy/self-certainty")
    g["protocol"].add_argument("--protocol", default=None, metavar="NAME",
                               help="direct, cot, self_refine, ... (default: the task card's; see `evalsuite tasks`)")
    g["protocol"].add_argument("--rounds", type=_int, default=default("rounds"), metavar="K",
                               help="correction rounds for multi-round protocols")
    g["output"].add_argument("--output-dir", default=None, metavar="DIR",
                             help="run directory; re-running into it resumes (default: runs/run-DATE-TIME)")
    g["output"].add_argument("--no-progress", action="store_true", help="no progress bar")
    executor = _execution_flags(g["execution"])
    if with_plugins:
        _plugin_flags(run, g, model, executor)


def _plugin_flags(run: argparse.ArgumentParser, g: dict, model: argparse.Action, executor: argparse.Action) -> None:
    """What the plugin modules add: the registered backends and executors named in --model's and --executor's
    help, and each `@run_options` field as a flag under its group heading."""
    load_plugins()
    model.help += f"; backends: {', '.join(sorted(BACKENDS))}"
    executor.help += f"; executors: {', '.join(sorted(EXECUTORS))}"
    for flag, kw in sorted(RUN_OPTIONS.items(), key=lambda item: (RUN_OPTION_GROUPS.get(item[0], ""), item[0])):
        name = RUN_OPTION_GROUPS.get(flag) or "protocol options"
        group = g.get(name) or g.setdefault(name, run.add_argument_group(name))
        group.add_argument(flag, dest="opt_" + flag.lstrip("-").replace("-", "_"), **{"default": None, **kw})
    run.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def _role_flags(group: argparse._ArgumentGroup) -> None:
    """`--role` and `--role-args`: the models of the roles a protocol asks (evalsuite/roles.py)."""
    group.add_argument("--role", action="append", default=None, metavar="NAME=SPEC",
                       help="the model of a role the protocol asks (repeatable), e.g. critic=hf:PATH, "
                            "observer=mock:o, or arguer=self for the run's own model")
    group.add_argument("--role-args", action="append", default=None, metavar="NAME=K=V,...",
                       help="backend options of a role's model (repeatable), e.g. critic=batch_size=4")


def _execution_flags(group: argparse._ArgumentGroup) -> argparse.Action:
    """The `execution` group of `evalsuite run`: threads, executor and Ray settings; returns `--executor`."""
    group.add_argument("--threads", type=_int, default=None, metavar="N",
                       help="torch CPU threads of the hf backend (default: $OMP_NUM_THREADS if set, else "
                            "the cores this process may use); on a shared machine try 1")
    executor = group.add_argument("--executor", default=None, metavar="NAME",
                       help="local: this process; ray: replicas on a Ray cluster or a local Ray "
                            "(pip install -e \".[ray]\"; default: ray when --replicas > 1)")
    group.add_argument("--replicas", type=_int, default=None, metavar="N",
                       help="Ray replicas, each a warm copy of the model (default: GPUs / (tensor x "
                            "pipeline parallel size), or one per node on CPUs)")
    group.add_argument("--ray-address", default=None, metavar="ADDR",
                       help="Ray cluster to join: HEAD:PORT, or auto on a node of the cluster (default: "
                            "$RAY_ADDRESS, else a local Ray of this run's own)")
    group.add_argument("--replica-env", action="append", default=None, metavar="NAME",
                       help="also send the driver's $NAME to every Ray replica (repeatable; HF_*, "
                            "TRANSFORMERS_*, VLLM_*, EVALSUITE_*, thread settings and the openai key "
                            "variable are always sent)")
    group.add_argument("--data-parallel", type=_int, default=None, metavar="N",
                       help="shorthand for --executor ray --replicas N")
    return executor


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The whole parser; given the command line, the run flags that plugins declare are added only for `run`."""
    command = None if argv is None else next((a for a in argv if not a.startswith("-")), "")
    p = _Parser(prog="evalsuite", description=__doc__)
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="run tasks with a model and write results", formatter_class=_DefaultsFormatter,
                         description="Run tasks with a model; write results.json, results.csv, samples.jsonl and "
                                     "report.html into --output-dir (re-running into it resumes).")
    _configure_run(run, with_plugins=command in (None, "run"))
    p.set_defaults(run_parser=run)
    load_plugins(("commands",))

    tasks = sub.add_parser("tasks", help="list registered tasks with their size and answer type")
    tasks.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    tasks.add_argument("--include-path", action="append", default=None, metavar="DIR",
                       help="also read task cards from DIR (repeatable; also $EVALSUITE_TASKS_PATH)")
    for name, (help_text, configure, _) in sorted(PLUGIN_COMMANDS.items()):
        sp = sub.add_parser(name, help=help_text)
        sp.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        configure(sp)
    return p


def cmd_tasks(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from evalsuite.tasks.card_code import scorer_label  # local: task cards (yaml) load only for `tasks`
    from evalsuite.tasks.cards import GroupCard, catalog  # local: task cards (yaml) load only for `tasks`

    table = Table(title="evalsuite tasks")
    for col in ("task", "docs", "answer type", "scorer", "protocol", "description"):
        table.add_column(col)
    for name, card in sorted(catalog().items()):
        if isinstance(card, GroupCard):
            table.add_row(name, "group", "", "", "", f"{card.description} [{', '.join(card.tasks)}]")
        else:
            desc = card.description + (f" (unavailable: {card.unavailable})" if card.unavailable else "")
            table.add_row(name, str(card.size), card.answer_type, scorer_label(card.scorer), card.protocol, desc)
    Console(width=160).print(table)
    return 0


_SETTINGS = {"tasks": "tasks", "model": "model", "model_args": "model_args", "limit": "limit",
             "output_dir": "output_dir", "protocol": "protocol", "max_tokens": "max_tokens",
             "temperature": "temperature", "top_p": "top_p", "seed": "seed", "samples": "samples", "rounds": "rounds",
             "data_source": "data_source", "data_dir": "data_dir", "threads": "threads", "executor": "executor",
             "replicas": "replicas", "ray_address": "ray_address", "replica_env": "replica_env", "role": "roles",
             "role_args": "role_args", "no_token_stats": "token_stats", "data_parallel": "replicas",
             "include_path": "include_path", "plugins": "plugins"}
"""`evalsuite run` flag dest -> the RunConfig field it sets (the `opt_*` dests set `options`)."""
_DERIVED = ("no_token_stats", "data_parallel")


def run_config(args: argparse.Namespace):
    """The RunConfig of `evalsuite run`'s flags: over `--config FILE`'s when given, with only the flags given on
    the command line overriding it (`args._given`, the dests the user typed)."""
    kw = {field: getattr(args, dest) for dest, field in _SETTINGS.items() if dest not in _DERIVED}
    kw["token_stats"] = not args.no_token_stats
    kw["include_path"] = args.include_path or ()
    kw["plugins"] = args.plugins or ()
    kw["executor"] = args.executor or ("ray" if args.data_parallel is not None else None)
    kw["replicas"] = args.replicas if args.replicas is not None else args.data_parallel
    kw["options"] = {k[4:]: v for k, v in vars(args).items() if k.startswith("opt_") and v is not None}
    if not args.config:
        return RunConfig.build(None, **kw)
    given = getattr(args, "_given", set())
    fields = {_SETTINGS[d] for d in given if d in _SETTINGS}
    if "data_parallel" in given:
        fields.add("executor")
    return RunConfig.build(load_config(args.config), **{k: v for k, v in kw.items() if k in fields or
                                                        (k == "options" and v)})


def cmd_run(args: argparse.Namespace) -> int:
    from evalsuite.api import evaluate  # local: the engine loads only for `run`
    from evalsuite.reporting.outputs import print_summary  # local: numpy loads only for `run`

    res = evaluate(config=run_config(args), progress=not args.no_progress, log=lambda m: print(m, file=sys.stderr))
    print_summary(res.metrics)
    st = res.stats
    print(f"model calls: {st.generated} generated, {st.from_store} read from the store; "
          f"{st.gen_tokens} tokens at {st.tokens_per_s:.1f} tok/s; outputs in {res.output_dir}")
    return 0


def _given_dests(run: argparse.ArgumentParser, argv: list[str]) -> set[str]:
    """The dests of the `run` flags typed on the command line: argparse sets a default only on a namespace that
    lacks the attribute, so one parse over a namespace pre-filled with a marker leaves the untyped ones marked."""
    unset = object()
    ns = argparse.Namespace(**{a.dest: None if isinstance(a, argparse._AppendAction) else unset
                               for a in run._actions if a.dest != "help"})
    run.parse_args(argv, namespace=ns)
    return {k for k, v in vars(ns).items() if v is not unset and v is not None}


COMMANDS = {"run": cmd_run, "tasks": cmd_tasks}


def _crash_log(args: argparse.Namespace) -> str | None:
    """Write the current traceback to a fresh log (in the run's output dir when it exists, else the temp dir)."""
    import tempfile
    import traceback

    text = f"evalsuite {' '.join(sys.argv[1:])}\n\n{traceback.format_exc()}"
    out = getattr(args, "output_dir", None)
    for folder in ([out] if out and os.path.isdir(out) else []) + [tempfile.gettempdir()]:
        try:
            fd, path = tempfile.mkstemp(prefix="evalsuite-error-", suffix=".log", dir=folder)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            return path
        except OSError:
            continue
    return None


def _plugins_first(argv: list[str]) -> None:
    """`--plugins M` is read before the parser is built, so the plugins' backends, protocols and run flags are in
    it (and in `run --help`); it goes into $EVALSUITE_PLUGINS, which Ray replicas receive too."""
    given = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "--plugins"]
    given += [a.split("=", 1)[1] for a in argv if a.startswith("--plugins=")]
    if given:
        old = [m for m in os.environ.get(PLUGINS_VAR, "").split(",") if m]
        os.environ[PLUGINS_VAR] = ",".join(dict.fromkeys([*old, *",".join(given).split(",")]))


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    _plugins_first(argv)
    try:
        args = build_parser(argv).parse_args(argv)
        if args.command == "run" and args.config:
            args._given = _given_dests(args.run_parser, argv[argv.index("run") + 1:])
    except UsageError as e:
        sys.stderr.write(f"evalsuite: error: {' '.join(str(e).splitlines())}\n")
        return 2
    try:
        if getattr(args, "include_path", None):
            from evalsuite.tasks.roots import add_task_folders  # local: evalsuite.tasks loads yaml, which --help skips

            add_task_folders(args.include_path)
        if args.command in COMMANDS:
            return COMMANDS[args.command](args)
        return PLUGIN_COMMANDS[args.command][2](args)
    except UsageError as e:
        if getattr(args, "debug", False):
            raise
        sys.stderr.write(f"evalsuite: error: {' '.join(str(e).splitlines())}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("evalsuite: interrupted; everything generated so far is in the sample store\n")
        return 130
    except BrokenPipeError:  # the reader of stdout left (`evalsuite tasks | head`): nothing is wrong here
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as e:  # an unexpected error is a bug: one line for the user, the traceback in a log
        if getattr(args, "debug", False):
            raise
        log = _crash_log(args)
        why = " ".join(f"{type(e).__name__}: {e}".split())[:200]
        where = (f"traceback in {log}, or re-run with --debug" if log else "re-run with --debug for the traceback")
        sys.stderr.write(f"evalsuite: internal error ({why}); {where}; please report it\n")
        return 1
