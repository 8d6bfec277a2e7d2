"""The `evalsuite` command: `run` and `tasks` (reports and leaderboards register their own subcommands)."""
from __future__ import annotations

import argparse
import sys
from typing import Sequence

from evalsuite.errors import UsageError


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None


class _Parser(argparse.ArgumentParser):
    """argparse that reports bad flags as one line and exit code 2 (its own convention too)."""

    def error(self, message: str) -> None:
        sys.stderr.write(f"evalsuite: error: {message} (see `evalsuite {self.prog.split()[-1]} --help`)\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="evalsuite", description=__doc__)
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="run tasks with a model and write results")
    run.add_argument("--tasks", required=True, help="comma-separated task or group names (see `evalsuite tasks`)")
    run.add_argument("--model", default=None, help="hf:PATH_OR_ID, vllm:PATH_OR_ID or openai:MODEL@URL "
                     "(default: the embedded SmolLM2-135M-Instruct)")
    run.add_argument("--model-args", default=None, help="backend options, key=value,... (e.g. dtype=bfloat16,batch_size=16)")
    run.add_argument("--protocol", default=None, help="direct, cot, ... (default: the task card's)")
    run.add_argument("--limit", type=_int, default=None, help="first N docs of each task")
    run.add_argument("--output-dir", default=None, help="run directory (re-running into it resumes)")
    run.add_argument("--max-tokens", type=_int, default=512)
    run.add_argument("--temperature", type=float, default=0.0)
    run.add_argument("--top-p", type=float, default=1.0)
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--samples", type=_int, default=1, help="samples per doc")
    run.add_argument("--rounds", type=_int, default=1, help="correction rounds for multi-round protocols")
    run.add_argument("--data-source", choices=["local", "hub"], default="local")
    run.add_argument("--data-dir", default=None, help="folder with the task data files (default: shipped data)")
    run.add_argument("--no-token-stats", action="store_true", help="skip per-token entropy/self-certainty")
    run.add_argument("--no-progress", action="store_true")
    run.add_argument("--executor", choices=["local", "ray"], default=None,
                     help="local: this process; ray: replicas on a Ray cluster or a local Ray "
                          "(pip install -e \".[ray]\"; default: ray when --replicas > 1)")
    run.add_argument("--replicas", type=_int, default=None, metavar="N",
                     help="Ray replicas, each a warm copy of the model (default: GPUs / (tensor x pipeline parallel "
                          "size), or one per node on CPUs)")
    run.add_argument("--ray-address", default=None, metavar="ADDR",
                     help="Ray cluster to join (default: $RAY_ADDRESS, else start a local Ray)")
    run.add_argument("--data-parallel", type=_int, default=None, metavar="N",
                     help="shorthand for --executor ray --replicas N")
    from evalsuite.registry import COMMANDS, RUN_OPTIONS, load_plugins

    load_plugins()
    for flag, kw in sorted(RUN_OPTIONS.items()):
        run.add_argument(flag, dest="opt_" + flag.lstrip("-").replace("-", "_"), **{"default": None, **kw})
    run.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    tasks = sub.add_parser("tasks", help="list registered tasks with their size and answer type")
    tasks.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    for name, (help_text, configure, _) in sorted(COMMANDS.items()):
        sp = sub.add_parser(name, help=help_text)
        sp.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        configure(sp)
    return p


def cmd_tasks(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from evalsuite.tasks.cards import GroupCard, catalog

    table = Table(title="evalsuite tasks")
    for col in ("task", "docs", "answer type", "scorer", "protocol", "description"):
        table.add_column(col)
    for name, card in sorted(catalog().items()):
        if isinstance(card, GroupCard):
            table.add_row(name, "group", "", "", "", f"{card.description} [{', '.join(card.tasks)}]")
        else:
            desc = card.description + (f" (unavailable: {card.unavailable})" if card.unavailable else "")
            table.add_row(name, str(card.size), card.answer_type, card.scorer, card.protocol, desc)
    Console(width=160).print(table)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from evalsuite.api import evaluate
    from evalsuite.reporting.outputs import print_summary

    res = evaluate(
        tasks=args.tasks, model=args.model, model_args=args.model_args, limit=args.limit,
        output_dir=args.output_dir, protocol=args.protocol, max_tokens=args.max_tokens,
        temperature=args.temperature, top_p=args.top_p, seed=args.seed, samples=args.samples,
        rounds=args.rounds, data_source=args.data_source, data_dir=args.data_dir,
        token_stats=not args.no_token_stats, progress=not args.no_progress,
        executor=args.executor or ("ray" if args.data_parallel else None),
        replicas=args.replicas or args.data_parallel, ray_address=args.ray_address,
        options={k[4:]: v for k, v in vars(args).items() if k.startswith("opt_") and v is not None},
        log=lambda m: print(m, file=sys.stderr),
    )
    print_summary(res.metrics)
    st = res.stats
    print(f"model calls: {st.generated} generated, {st.from_store} read from the store; "
          f"{st.gen_tokens} tokens at {st.tokens_per_s:.1f} tok/s; outputs in {res.output_dir}")
    return 0


COMMANDS = {"run": cmd_run, "tasks": cmd_tasks}


def main(argv: Sequence[str] | None = None) -> int:
    from evalsuite.registry import COMMANDS as PLUGIN_COMMANDS

    args = build_parser().parse_args(argv)
    try:
        if args.command in COMMANDS:
            return COMMANDS[args.command](args)
        return PLUGIN_COMMANDS[args.command][2](args)
    except UsageError as e:
        if getattr(args, "debug", False):
            raise
        sys.stderr.write(f"evalsuite: error: {e}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("evalsuite: interrupted; everything generated so far is in the sample store\n")
        return 130
