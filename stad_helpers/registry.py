"""Register MMDetection's and MMAction2's modules (and ours) with MMEngine, once.

Configs name types as strings (`FasterRCNN`, `AVADataset`, ...); the registries
must be filled before a Runner builds them. The action detector mixes scopes
(an mmdet `FastRCNN` around an mmaction backbone), so both are registered.
"""

from __future__ import annotations

_DONE = False


def register_all() -> None:
    """Register MMDetection's and MMAction2's modules (models, datasets,
    transforms, metrics) in their registries, once per process, without changing
    MMEngine's default scope; call it before building a model or Runner from a
    config that names them (`type="FasterRCNN"`, `type="AVADataset"`).
    """
    global _DONE
    if _DONE:
        return
    import mmaction.utils
    import mmdet.utils

    mmdet.utils.register_all_modules(init_default_scope=False)
    mmaction.utils.register_all_modules(init_default_scope=False)
    _DONE = True
