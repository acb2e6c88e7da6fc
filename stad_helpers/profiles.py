"""The two model profiles: which configs the tutorial trains.

`profile` picks the models: "cpu" = slim models trained from scratch (minutes on
a laptop), "gpu" = the original tutorial's R50 models, fine-tuned from
pretrained weights. Where they run is a separate choice (`device`).

Used in: 00_setup to 05_your_own_data (`Tutorial(profile=...)`, `stad run-all
--profile`), 03_action_detector (`profile_configs`).
"""

from __future__ import annotations

from pathlib import Path

from .errors import StadError

CONFIGS = Path(__file__).resolve().parent.parent / "configs"

# What each profile trains. The CPU profile learns the synthetic dataset from
# scratch with slim models; the GPU profile is the tutorial's own models, which
# start from pretrained weights (`stad_helpers.weights`: fetched into torch's cache
# before any stage runs, or beforehand with `stad weights fetch [--from DIR]`).
# Config files are found by pattern so that a retuned schedule (which renames the
# file, e.g. `-600it_`) needs no code change; each pattern must match one file.
PROFILES: dict[str, dict[str, str]] = {
    "cpu": {
        "det_config": "det/faster-rcnn_r18-slim_fpn_*_synth-multisports-person.py",
        "action_config": "action/slowonly_r18-slim_*_synth-multisports-*.py",
    },
    "gpu": {
        "det_config": "det/faster-rcnn_r50-caffe_fpn_*_multisports-person.py",
        "action_config": "action/slowonly_k400-pretrained-r50_*_multisports-rgb.py",
    },
}
PROFILE_HELP = ("cpu = slim models trained from scratch; gpu = the original "
                "tutorial's R50 models with pretrained weights")


def profile_configs(profile: str) -> dict[str, Path]:
    """{"det_config": path, "action_config": path} of a profile (`PROFILES`).

    Args:
        profile: `"cpu"` (slim models, synthetic data) or `"gpu"` (the
            tutorial's R50 models).

    Returns:
        The two config files under `configs/`.

    Raises:
        StadError: An unknown profile, or not exactly one config file matching
            the profile's pattern.
    """
    if profile not in PROFILES:
        raise StadError(
            f"unknown profile {profile!r}; expected one of {sorted(PROFILES)} "
            f"({PROFILE_HELP})")
    found = {}
    for key, pattern in PROFILES[profile].items():
        matches = sorted(CONFIGS.glob(pattern))
        if len(matches) != 1:
            raise StadError(f"expected one config matching {pattern!r}, found "
                            f"{[m.name for m in matches]}", CONFIGS)
        found[key] = matches[0]
    return found
