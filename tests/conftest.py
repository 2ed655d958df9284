from __future__ import annotations

import os
from pathlib import Path

# Rich sizes tables to the terminal; give CLI tests a stable, wide one.
os.environ.setdefault("COLUMNS", "200")

import pytest

ROOT = Path(__file__).resolve().parents[1]
SESSIONS_DIR = ROOT / "examples" / "studymode" / "sessions"
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def sessions_dir() -> Path:
    return SESSIONS_DIR
