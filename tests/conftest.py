from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

# Rich sizes tables to the terminal; give CLI tests a stable, wide one.
os.environ.setdefault("COLUMNS", "200")

import pytest

from scripted_judge import close_judges

ROOT = Path(__file__).resolve().parents[1]
SESSIONS_DIR = ROOT / "examples" / "studymode" / "sessions"
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def sessions_dir() -> Path:
    return SESSIONS_DIR


@pytest.fixture(autouse=True)
async def _close_judge_clients() -> AsyncIterator[None]:
    """Close the judge clients a test opened on the scripted judge server (tests/scripted_judge.py)."""
    yield
    await close_judges()
