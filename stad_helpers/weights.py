"""Pretrained weights: which remote checkpoints a run needs, fetched before it starts.

MMEngine downloads the checkpoints a config names (`load_from`, an `init_cfg` of
type `Pretrained`, a backbone's `pretrained`) only when training reaches them, into
torch's hub cache, `torch.hub.get_dir()/checkpoints/<file name>` (mmengine's
`load_from_http` -> `torch.hub.load_state_dict_from_url`); offline that is a
`URLError` deep inside the Runner. Here the configs are read first: `required`
lists every remote checkpoint they name (URL, file name, SHA-256 prefix from the
file name as OpenMMLab publishes them), `preflight` resolves each one before any
stage starts (cached, a local file, or downloaded; offline it stops with one line
saying how to fix it), and `fetch` fills the cache from the internet or from a
folder of files somebody brought (a USB stick), checking every file.

`stad weights fetch [--profile gpu] [--from DIR]` and `stad weights list` are the
CLI; `stad doctor` lists which of the GPU profile's weights are cached.

Used in: 00_setup (`stad doctor`), 02_person_detector and 03_action_detector
(through `stad_helpers.pipeline`, which calls `preflight`); `stad train`.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import StadError

# OpenMMLab (and torch hub) file names end in `-<first 8+ hex digits of SHA-256>.pth`.
_HASH_IN_NAME = re.compile(r"-([0-9a-f]{8,64})\.[A-Za-z0-9]+$")
_CHUNK = 1 << 20  # 1 MiB: copy/hash granularity
_VERIFIED: dict[tuple[str, int, int], bool] = {}  # (path, size, mtime_ns) -> ok


@dataclass(frozen=True)
class RemoteWeights:
    """A checkpoint a config names by URL (or by an `open-mmlab://`-style alias).

    `url`: where it is downloaded from (aliases resolved with MMEngine's own tables);
    `reference`: the value as written in the config; `where`: which config and key
    name it (`faster-rcnn_...py: load_from`).
    """

    url: str
    reference: str
    where: str

    @property
    def file_name(self) -> str:
        """The cached file's name: the URL's last path part, as torch hub names it."""
        return posixpath.basename(urllib.parse.urlparse(self.url).path)

    @property
    def sha256_prefix(self) -> str | None:
        """The SHA-256 prefix the file name carries (`...-d022e227.pth`), if any."""
        match = _HASH_IN_NAME.search(self.file_name)
        return match.group(1) if match else None

    def cached_path(self, cache: str | os.PathLike | None = None) -> Path:
        """Where MMEngine looks for (and downloads) this file."""
        return Path(cache or cache_dir()) / self.file_name

    def is_cached(self, cache: str | os.PathLike | None = None) -> bool:
        """Whether `cached_path(cache)` exists (its checksum is not checked here;
        `ensure` checks it).
        """
        return self.cached_path(cache).is_file()


def cache_dir() -> Path:
    """torch hub's checkpoint folder (`$TORCH_HOME/hub/checkpoints` by default).

    MMEngine's `load_from_http` downloads into and reads from this folder (it
    passes no `model_dir`), so a file placed here is used without any download.
    """
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints"


# ---------------------------------------------------------------------------
# Which checkpoints a config names
# ---------------------------------------------------------------------------
def checkpoint_references(cfg) -> list[tuple[str, str]]:
    """(key, value) of every checkpoint an MMEngine config names, in file order.

    Looks at `load_from`, every `init_cfg` of type `Pretrained` (its `checkpoint`)
    and every string `pretrained` inside `model`, as MMEngine's Runner and
    MMDetection/MMAction2's backbones read them. Keys are dotted
    (`model.backbone.init_cfg.checkpoint`).
    """
    found: list[tuple[str, str]] = []

    def walk(value: Any, key: str) -> None:
        if isinstance(value, Mapping):
            if value.get("type") == "Pretrained" and isinstance(
                    value.get("checkpoint"), str):
                found.append((f"{key}.checkpoint", value["checkpoint"]))
            for k, v in value.items():
                if k == "pretrained" and isinstance(v, str) and v:
                    found.append((f"{key}.{k}", v))
                else:
                    walk(v, f"{key}.{k}")
        elif isinstance(value, (list, tuple)):
            for i, v in enumerate(value):
                walk(v, f"{key}[{i}]")

    walk(cfg.get("model"), "model")
    if isinstance(cfg.get("load_from"), str) and cfg.get("load_from"):
        found.append(("load_from", cfg.get("load_from")))
    return found


def _mmengine_table(name: str) -> dict[str, str]:
    import mmengine

    return json.loads((Path(mmengine.__path__[0]) / "hub" / name).read_text())


def resolve(reference: str) -> str:
    """The URL (or local path) MMEngine will load for a config's checkpoint value.

    `http(s)://` stays as is; `open-mmlab://`, `openmmlab://`, `torchvision://`,
    `modelzoo://` and `mmcls://` go through MMEngine's model tables
    (`mmengine/hub/*.json`, plus `~/.cache/mmengine/open_mmlab.json`); anything
    else is a local path. Raises `StadError` for a name no table knows.

    Args:
        reference: A config's `load_from` / `init_cfg.checkpoint` value.

    Returns:
        The URL, or `reference` itself for a local path.

    Raises:
        StadError: A prefixed name that no MMEngine table knows.
    """
    from mmengine.runner import checkpoint as mm

    for prefix in ("open-mmlab://", "openmmlab://"):
        if reference.startswith(prefix):
            name = reference[len(prefix):]
            name = mm.get_deprecated_model_names().get(name, name)
            table = mm.get_external_models()
            if name not in table:
                raise StadError(f"MMEngine knows no model {reference!r}")
            target = table[name]
            if target.startswith(("http://", "https://")):
                return target
            return os.path.join(mm._get_mmengine_home(), target)
    for prefix in ("torchvision://", "modelzoo://", "mmcls://"):
        if reference.startswith(prefix):
            name = reference[len(prefix):]
            # MMEngine's get_torchvision_models imports torchvision; read its table.
            table = _mmengine_table(
                "mmcls.json" if prefix == "mmcls://" else "torchvision_0.12.json")
            if name not in table:
                raise StadError(f"MMEngine knows no model {reference!r}")
            return table[name]
    return reference


def references(
    configs: Sequence[str | os.PathLike],
    cfg_options: Sequence[dict | None] | dict | None = None,
) -> list[tuple[str, str, str]]:
    """(where, reference, resolved) for every checkpoint the configs name.

    `cfg_options`: one dict merged into every config, or one dict (or None) per
    config, in MMEngine's `--cfg-options` form (`{"load_from": None}`).
    Raises `StadError` for a config that is missing or does not parse.

    Returns:
        One `(where, reference, resolved)` per checkpoint value: `where` names
        the config and key (`faster-rcnn_...py: load_from`), `reference` is the
        value as written, `resolved` the URL or local path (`resolve`).

    Raises:
        StadError: A config is missing or does not parse, or names an alias no
            MMEngine table knows.
        ValueError: A list of `cfg_options` of another length than `configs`.
    """
    from .train import load_config

    configs = list(configs)
    if cfg_options is None or isinstance(cfg_options, Mapping):
        options: list[dict | None] = [cfg_options] * len(configs)
    else:
        options = list(cfg_options)
        if len(options) != len(configs):
            raise ValueError(f"{len(configs)} configs but {len(options)} cfg_options")
    out = []
    for config, opts in zip(configs, options):
        cfg = load_config(config, dict(opts) if opts else None)
        for key, ref in checkpoint_references(cfg):
            out.append((f"{Path(config).name}: {key}", ref, resolve(ref)))
    return out


def required(
    configs: Sequence[str | os.PathLike],
    cfg_options: Sequence[dict | None] | dict | None = None,
) -> list[RemoteWeights]:
    """Every remote checkpoint the configs name, once per URL, in config order.

    This is the registry of what a run needs: read from the configs themselves, so a
    `--cfg-options load_from=...` is followed. Local paths are left out (see
    `preflight`, which checks they exist).

    Raises:
        StadError: A config cannot be read, or names a checkpoint alias no
            MMEngine table knows.
    """
    seen: dict[str, RemoteWeights] = {}
    for where, ref, target in references(configs, cfg_options):
        if target.startswith(("http://", "https://")) and target not in seen:
            seen[target] = RemoteWeights(target, ref, where)
    return list(seen.values())


def profile_weights(profile: str) -> list[RemoteWeights]:
    """The remote checkpoints a profile's configs (`pipeline.PROFILES`) start from.

    The CPU profile trains from scratch (none); the GPU profile fine-tunes the
    tutorial's COCO person Faster R-CNN and MultiSports SlowOnly R50.

    Args:
        profile: `"cpu"` or `"gpu"`.

    Raises:
        StadError: An unknown profile, or a profile config that cannot be read.
    """
    from .pipeline import profile_configs

    return required(list(profile_configs(profile).values()))


# ---------------------------------------------------------------------------
# Resolve: cached, copied from a folder, or downloaded
# ---------------------------------------------------------------------------
def _how_to_fix(w: RemoteWeights, cache: Path) -> str:
    return (f"run `stad weights fetch` where there is internet (or `stad weights "
            f"fetch --from DIR` with the file on a stick), or copy {w.file_name} "
            f"to {cache}")


def _sha256(path: Path, progress: bool = False) -> str:
    import hashlib

    from tqdm.auto import tqdm

    digest = hashlib.sha256()
    with open(path, "rb") as fh, tqdm(
            total=path.stat().st_size, unit="B", unit_scale=True, unit_divisor=1024,
            desc=f"checking {path.name}", disable=not progress, leave=False) as bar:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
            bar.update(len(chunk))
    return digest.hexdigest()


def checksum_problem(w: RemoteWeights, path: str | os.PathLike,
                     progress: bool = False) -> str | None:
    """None when `path`'s SHA-256 starts with the prefix in `w`'s file name (or
    the name carries none), else what is wrong. Remembers files already checked
    (same path, size and modification time) for the rest of the process."""
    path = Path(path)
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if w.sha256_prefix is None or _VERIFIED.get(key):
        return None
    digest = _sha256(path, progress)
    if not digest.startswith(w.sha256_prefix):
        return (f"SHA-256 is {digest[:16]}..., expected {w.sha256_prefix}... (from "
                "the file name): not the published file, or truncated")
    _VERIFIED[key] = True
    return None


def load_problem(path: str | os.PathLike) -> str | None:
    """None when `path` loads with torch's `weights_only=True` (tensors, plain
    Python values and the MMEngine types `compat` allows), else why not.

    MMEngine loads a URL's cached file with `weights_only=False` (torch hub's
    default), i.e. it unpickles anything; files from a folder somebody brought are
    checked this way before they enter the cache.
    """
    import mmengine.runner.checkpoint  # noqa: F401 (installs compat's allowlist)
    import torch

    try:
        try:
            torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as exc:
            if "mmap" not in str(exc):
                raise
            torch.load(path, map_location="cpu", weights_only=True)  # legacy format
    except Exception as exc:  # noqa: BLE001 - anything refused is reported
        text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
        unsupported = re.search(r"Unsupported global: GLOBAL (\S+)", text)
        if unsupported:
            return f"it holds {unsupported.group(1)}, not only tensors and values"
        first = (text.strip().splitlines() or [""])[0][:160]
        return f"{type(exc).__name__}: {first}"
    return None


def _copy(src: Path, dest: Path, progress: bool) -> None:
    """Copy `src` to `dest` whole or not at all, with a progress bar."""
    from tqdm.auto import tqdm

    from .fileio import atomic_path

    with atomic_path(dest) as tmp, open(src, "rb") as fin, open(tmp, "wb") as fout, \
            tqdm(total=src.stat().st_size, unit="B", unit_scale=True,
                 unit_divisor=1024, desc=dest.name, disable=not progress) as bar:
        while chunk := fin.read(_CHUNK):
            fout.write(chunk)
            bar.update(len(chunk))


def _find_in(folder: Path, name: str) -> Path | None:
    direct = folder / name
    if direct.is_file():
        return direct
    return next((p for p in sorted(folder.rglob(name)) if p.is_file()), None)


def ensure(
    w: RemoteWeights,
    from_dir: str | os.PathLike | None = None,
    download: bool = True,
    progress: bool = True,
    cache: str | os.PathLike | None = None,
) -> Path:
    """Make `w` present and checked in the cache; return its cached path.

    In order: the cached file (checked; a corrupt one is replaced, or reported
    when nothing could replace it), a file of that name in `from_dir` (anywhere
    below it; its checksum checked and that it loads as plain weights,
    `load_problem`; then copied atomically), a download (resumable, progress bar,
    checked; a bad download is removed). Raises `StadError` in one line: offline
    or `download=False` with nothing found (naming the URL and how to fix it), a
    file in `from_dir` or a download whose SHA-256 does not match its name, a file
    in `from_dir` that does not load as plain weights.

    Args:
        w: The checkpoint (from `references` / `profile_weights`).
        from_dir: A folder to take the file from instead of the network.
        download: Allow downloading.
        progress: Show a tqdm bar.
        cache: The cache folder (default `cache_dir()`, torch hub's
            `checkpoints/`).

    Returns:
        The checked file's path in the cache.

    Raises:
        StadError: As listed above (nothing found offline, a checksum mismatch,
            a file that does not load as plain weights).
    """
    from .data.download import download as http_download

    cache = Path(cache or cache_dir())
    dest = cache / w.file_name
    if dest.is_file():
        problem = checksum_problem(w, dest, progress)
        if problem is None:
            return dest
        if not download and from_dir is None:
            raise StadError(f"{problem}; delete it and run `stad weights fetch`", dest)
        dest.unlink()  # not the published file: MMEngine would load it unchecked
        if progress:
            print(f"{dest}: {problem}; removed, fetching it again")
    if from_dir is not None:
        folder = Path(from_dir)
        if not folder.is_dir():
            raise StadError("--from folder not found", folder)
        found = _find_in(folder, w.file_name)
        if found is not None:
            problem = checksum_problem(w, found, progress)
            if problem:
                raise StadError(problem, found)
            problem = load_problem(found)
            if problem:
                raise StadError(f"refused: it does not load as plain weights "
                                f"({problem}); if you trust where it comes from, "
                                f"copy it to {cache} yourself", found)
            _copy(found, dest, progress)
            return dest
    if not download:
        raise StadError(f"{w.url} is not downloaded ({w.where}); "
                        + _how_to_fix(w, cache))
    try:
        http_download(w.url, dest, progress=progress)
    except StadError as exc:
        if str(exc).startswith("cannot reach"):  # data.download's offline message
            reason = str(exc).split(";")[0].removeprefix("cannot reach ")
            raise StadError(f"cannot download {w.url} ({w.where}): no connection to "
                            f"{reason}; " + _how_to_fix(w, cache)) from None
        raise
    problem = checksum_problem(w, dest, progress)
    if problem:
        dest.unlink()
        raise StadError(f"{problem} (downloaded from {w.url}; removed, run again to "
                        "download it anew)", dest)
    return dest


def fetch(
    weights: Iterable[RemoteWeights],
    from_dir: str | os.PathLike | None = None,
    download: bool = True,
    progress: bool = True,
    cache: str | os.PathLike | None = None,
) -> list[Path]:
    """`ensure` every checkpoint of `weights`; return their cached paths.

    Raises:
        StadError: For the first checkpoint `ensure` cannot provide.
    """
    return [ensure(w, from_dir, download, progress, cache) for w in weights]


def preflight(
    configs: Sequence[str | os.PathLike],
    cfg_options: Sequence[dict | None] | dict | None = None,
    download: bool = True,
    progress: bool = True,
) -> list[Path]:
    """Resolve every checkpoint the configs name before any work starts.

    Call it before training or inference stages (`stad train`, `run_all`). Local
    paths must exist; remote ones are taken from the cache, else downloaded (see
    `ensure`). `cfg_options`: as for `references` (one dict for all configs, or one
    per config). Returns the local files, in config order. Raises `StadError` in
    one line when a file is missing, offline, or corrupt.

    Args:
        configs: Config files (MMEngine format).
        cfg_options: Overrides, one dict for all or one per config.
        download: Allow downloading missing files.
        progress: Show tqdm bars.

    Returns:
        The local checkpoint paths, in config order (each file once).

    Raises:
        StadError: A config is unreadable, a local checkpoint is missing, or a
            remote one cannot be had (see `ensure`).
    """
    out: list[Path] = []
    done: set[str] = set()
    for where, ref, target in references(configs, cfg_options):
        if target in done:
            continue
        done.add(target)
        if target.startswith(("http://", "https://")):
            out.append(ensure(RemoteWeights(target, ref, where), download=download,
                              progress=progress))
        elif "://" in target:
            continue  # s3://, pavi://, ...: MMEngine's backends, not ours to check
        else:
            path = Path(target).expanduser()
            if not path.is_file():
                raise StadError(f"checkpoint file not found ({where})", path)
            out.append(path)
    return out


def local_checkpoint(value: str | os.PathLike, where: str = "--checkpoint",
                     download: bool = True, progress: bool = True) -> str:
    """A checkpoint argument as a local file: a URL or `open-mmlab://`-style alias
    is resolved, cached and checked as `preflight` does (offline: one-line
    `StadError` with the fix); anything else is returned as given. `where` names the
    argument in messages. For commands that take `--checkpoint URL`, as the original
    tutorial's demo does.

    Returns:
        A local path (the cached file for a URL or alias), as a string.

    Raises:
        StadError: An unknown alias, or a remote checkpoint that cannot be had
            (offline, checksum mismatch; see `ensure`).
    """
    text = os.fspath(value)
    target = resolve(text)
    if not target.startswith(("http://", "https://")):
        return target
    return str(ensure(RemoteWeights(target, text, where), download=download,
                      progress=progress))


def cached_report(
    weights: Iterable[RemoteWeights], cache: str | os.PathLike | None = None,
) -> list[tuple[RemoteWeights, bool]]:
    """(weights, is it in the cache) for each; no checksum, no download."""
    return [(w, w.is_cached(cache)) for w in weights]


def cache_hint(cache: str | os.PathLike | None = None) -> str:
    """One line saying where the cache is, for messages and `stad weights list`."""
    return f"cache: {Path(cache or cache_dir())} (TORCH_HOME moves it)"

