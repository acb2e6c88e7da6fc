"""`stad weights fetch|list`: the pretrained checkpoints a profile starts from.

Thin layer over `stad_helpers.weights`: `fetch` fills torch's hub cache (where
MMEngine looks) from the internet or from a folder of files you brought (`--from
DIR`), checking each file's SHA-256 against its name; `list` says what is cached.
"""

from __future__ import annotations

import argparse

from ._common import existing_dir, existing_file


def register(sub) -> None:
    p = sub.add_parser("weights", help="fetch or list the pretrained checkpoints "
                                       "a profile needs (offline use)")
    weights = p.add_subparsers(dest="weights_command", metavar="ACTION")
    weights.required = True
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--profile", choices=("cpu", "gpu"), default="gpu",
                        help="whose configs' checkpoints (default: gpu; cpu needs "
                             "none)")
    common.add_argument("--config", type=existing_file, action="append", default=[],
                        metavar="CONFIG",
                        help="also the checkpoints this config names (repeatable)")
    f = weights.add_parser("fetch", parents=[common],
                           help="download (or copy from --from DIR) into the cache")
    f.add_argument("--from", dest="from_dir", type=existing_dir, metavar="DIR",
                   help="a folder holding the files (e.g. a USB stick); what is "
                        "not there is downloaded")
    f.add_argument("--no-download", action="store_true",
                   help="only copy from --from DIR; never use the network")
    f.set_defaults(func=_fetch)
    ls = weights.add_parser("list", parents=[common],
                            help="each checkpoint, its URL and whether it is cached")
    ls.set_defaults(func=_list)


def _weights(args: argparse.Namespace):
    from ..pipeline import profile_configs
    from ..weights import required

    configs = [*profile_configs(args.profile).values(), *args.config]
    return required(configs)


def _fetch(args: argparse.Namespace) -> int:
    from ..weights import cache_hint, fetch

    needed = _weights(args)
    paths = fetch(needed, from_dir=args.from_dir, download=not args.no_download)
    for path in paths:
        print(f"ok  {path}")
    print(f"{len(paths)} checkpoint(s) ready; {cache_hint()}")
    return 0


def _list(args: argparse.Namespace) -> int:
    from ..weights import cache_hint, cached_report

    report = cached_report(_weights(args))
    for w, cached in report:
        print(f"{'cached' if cached else 'absent':<7} {w.file_name}")
        print(f"{'':8}{w.url}")
        print(f"{'':8}({w.where})")
    absent = sum(not cached for _, cached in report)
    print(f"{len(report)} checkpoint(s), {absent} absent; {cache_hint()}")
    if absent:
        print("fetch them: stad weights fetch"
              + ("" if args.profile == "gpu" else f" --profile {args.profile}"))
    return 0
