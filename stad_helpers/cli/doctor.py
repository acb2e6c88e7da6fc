"""`stad doctor`: what the environment has, and how to fix what it lacks."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("doctor",
                       help="check the installed stack (versions, ops, GPU, video)")
    p.set_defaults(func=_run)


def _run(args) -> int:
    from ..doctor import format_report, run_checks

    checks = run_checks()
    print(format_report(checks))
    return 1 if any(c.failed for c in checks) else 0
