"""Shared fixtures. Importing stad_helpers first installs the compat fixes."""

from __future__ import annotations

from pathlib import Path

import pytest
from _paths import ROOT

import stad_helpers  # noqa: F401  (compat fixes before any OpenMMLab import)


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT
