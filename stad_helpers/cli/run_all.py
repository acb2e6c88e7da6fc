"""`stad run-all`: the whole tutorial, end to end (what `make tutorial` runs)."""

from __future__ import annotations

from ._common import existing_dir, existing_file, nonnegative_int


def register(sub) -> None:
    p = sub.add_parser("run-all", help="run the whole tutorial end to end")
    p.add_argument("--profile", choices=("cpu", "gpu"), default="cpu",
                   help="the models: cpu = slim models trained from scratch; gpu "
                        "= the original tutorial's R50 models with pretrained "
                        "weights (default: cpu)")
    p.add_argument("--device", metavar="DEVICE",
                   help="where the models run: cpu, cuda or cuda:N (default: cuda "
                        "when torch sees a GPU, else cpu); either profile runs on "
                        "either")
    p.add_argument("--data", type=existing_dir,
                   help="MultiSports-layout folder (default: synthetic)")
    p.add_argument("--work-dir", default="work_dirs/tutorial",
                   help="where everything is written: new, empty, or one "
                        "run-all made (default: work_dirs/tutorial)")
    p.add_argument("--demo-video", type=existing_file,
                   help="video for the demo (default: the first video of the "
                        "val split, the GT's test_videos)")
    p.add_argument("--seed", type=nonnegative_int, default=0,
                   help="seed of the synthetic dataset")
    p.set_defaults(func=_run)


def _run(args) -> int:
    from ..pipeline import format_summary, run_all

    result = run_all(profile=args.profile, data=args.data, work_dir=args.work_dir,
                     demo_video=args.demo_video, seed=args.seed,
                     device=args.device)
    print(format_summary(result))
    print(f"summary: {result.work_dir / 'summary.json'}")
    return 0
