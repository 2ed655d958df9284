from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SESSIONS_DIR = ROOT / "examples" / "studymode" / "sessions"
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def sessions_dir() -> Path:
    return SESSIONS_DIR
