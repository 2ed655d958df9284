from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

# Rich sizes tables to the terminal; give CLI tests a stable, wide one.
os.environ.setdefault("COLUMNS", "200")

import pytest

from scripted_judge import close_judges

pytest_plugins = ["pytester"]  # tests/test_pytest_plugin.py drives pytest sessions of its own

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


PG_URL = os.environ.get("EVALWHEEL_TEST_PG_URL", "")


def _fresh_postgres_database() -> tuple[str, str]:
    """A new empty database on the test server, so each test starts clean; returns (url, name)."""
    import uuid

    from sqlalchemy import create_engine, text

    name = f"ew_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return PG_URL.rsplit("/", 1)[0] + "/" + name, name


def _drop_postgres_database(name: str) -> None:
    from sqlalchemy import create_engine, text

    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A store URL on each backend: a SQLite file, and a fresh database on the real PostgreSQL server.

    Postgres cases skip when EVALWHEEL_TEST_PG_URL is unset (CI's .ci/run always sets it).
    """
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.sqlite'}"
        return
    if not PG_URL:
        pytest.skip("EVALWHEEL_TEST_PG_URL not set (CI starts a PostgreSQL server and sets it)")
    url, name = _fresh_postgres_database()
    yield url
    _drop_postgres_database(name)
