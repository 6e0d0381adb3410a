"""`python -m devstack up|run|reset`: the local stack from the command line."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading

from devstack.layout import profile as get_profile
from devstack.stack import Stack, reset


def _raise_interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def _stop(stack: Stack) -> None:
    """Stop every process, deaf to further interrupts: a terminal's Ctrl-C reaches us twice (directly
    and forwarded by `uv run`), and a second KeyboardInterrupt must not cut the orderly stop short."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    stack.down()


def cmd_up(args: argparse.Namespace) -> int:
    stack = Stack(get_profile(args.profile))
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        elapsed = stack.up()
        print(stack.banner(elapsed), flush=True)
        stop = threading.Event()
        while not stop.wait(1.0):
            stack.supervisor.check_alive()
    except KeyboardInterrupt:
        print("\n[devstack] stopping…", flush=True)
    finally:
        _stop(stack)
        print("[devstack] stopped", flush=True)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Bring a stack up, run one command against it, tear it down; exit with the command's code."""
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        raise SystemExit("usage: devstack run [--profile P] [--fresh] -- COMMAND…")
    prof = get_profile(args.profile)
    if args.fresh:
        reset(prof)
    stack = Stack(prof)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        elapsed = stack.up()
        print(f"[devstack] {prof.name} stack ready in {elapsed:.1f}s at {prof.edge_url}", flush=True)
        return subprocess.run(command, env={**os.environ, **stack.client_env()}).returncode
    except KeyboardInterrupt:
        return 130
    finally:
        _stop(stack)


def cmd_test(args: argparse.Namespace) -> int:
    """`make test`: a fresh test stack, every suite against it, one summary line."""
    from devstack.testrun import run_suites

    prof = get_profile("test")
    reset(prof)
    stack = Stack(prof)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        elapsed = stack.up()
        print(f"[devstack] test stack ready in {elapsed:.1f}s at {prof.edge_url}", flush=True)
        return run_suites({**os.environ, **stack.client_env()}, prof.data_dir / "reports")
    except KeyboardInterrupt:
        return 130
    finally:
        _stop(stack)


def cmd_reset(args: argparse.Namespace) -> int:
    reset(get_profile(args.profile))
    print(f"[devstack] removed .data/{args.profile}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="devstack", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="start the whole platform and wait for Ctrl-C")
    up.add_argument("--profile", default="dev")
    up.set_defaults(func=cmd_up)
    run = sub.add_parser("run", help="start a stack, run a command against it, stop it")
    run.add_argument("--profile", default="test")
    run.add_argument("--fresh", action="store_true", help="wipe the profile's data first")
    run.add_argument("command", nargs=argparse.REMAINDER)
    run.set_defaults(func=cmd_run)
    test = sub.add_parser("test", help="fresh test stack, every test suite, one summary line")
    test.set_defaults(func=cmd_test)
    rst = sub.add_parser("reset", help="wipe a profile's data")
    rst.add_argument("--profile", default="dev")
    rst.set_defaults(func=cmd_reset)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
