"""The composite GitHub Action (action.yml): its shell steps run here as a runner would run them, with the
GitHub-provided files ($GITHUB_OUTPUT, $GITHUB_STEP_SUMMARY) and, for the PR comment, a test double of the
GitHub REST API (aiohttp, the same HTTP protocol)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ACTION = yaml.safe_load((ROOT / "action.yml").read_text())


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    (tmp_path / "gh_output").touch()
    (tmp_path / "gh_summary").touch()
    return {
        **os.environ,
        "PATH": f"{BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "GITHUB_OUTPUT": str(tmp_path / "gh_output"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "gh_summary"),
        **extra,
    }


def _outputs(tmp_path: Path) -> dict[str, str]:
    lines = (tmp_path / "gh_output").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)


def test_action_is_composite_and_its_scripts_exist() -> None:
    assert ACTION["runs"]["using"] == "composite"
    runs = [s.get("run", "") for s in ACTION["runs"]["steps"]]
    for script in ("install.sh", "run.sh", "comment.sh"):
        assert any(f"action/{script}" in r for r in runs) and (ROOT / "action" / script).is_file()
    install = next(s for s in ACTION["runs"]["steps"] if "install.sh" in s.get("run", ""))
    assert install["env"]["EVALWHEEL_SOURCE"] == "${{ github.action_path }}"  # from the repository, no index
    example = yaml.safe_load((ROOT / "examples/ci/github-actions.yml").read_text())
    uses = [s.get("uses") for s in example["jobs"]["eval"]["steps"]]
    assert "./" in uses and not any("pip install evalwheel" in str(s) for s in example["jobs"]["eval"]["steps"])


def test_install_step_installs_from_the_repository_checkout(tmp_path: Path) -> None:
    env = _env(tmp_path, EVALWHEEL_SOURCE=str(ROOT), PYTHON=sys.executable,
               PIP_EXTRA_ARGS="--dry-run --no-deps --no-build-isolation --no-index")  # fmt: skip
    proc = subprocess.run(["bash", str(ROOT / "action/install.sh")], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "Would install evalwheel" in proc.stdout + proc.stderr or "installed evalwheel from" in proc.stdout
    bad = subprocess.run(["bash", str(ROOT / "action/install.sh")], env={**env, "EVALWHEEL_SOURCE": str(tmp_path)},
                         capture_output=True, text=True)  # fmt: skip
    assert bad.returncode == 2 and "not an evalwheel checkout" in bad.stderr


def test_run_step_writes_outputs_and_summary(tmp_path: Path) -> None:
    env = _env(tmp_path, SPEC=str(ROOT / "examples/support/spec.yaml"), OUT_DIR=str(tmp_path / "out"),
               EVALWHEEL_ARGS=f"--no-judges --store {tmp_path / 'r.sqlite'}")  # fmt: skip
    proc = subprocess.run(["bash", str(ROOT / "action/run.sh")], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    out = _outputs(tmp_path)
    assert out["exit_code"] == "0" and Path(out["junit"]).is_file()
    assert "<testsuite" in Path(out["junit"]).read_text()
    assert (tmp_path / "gh_summary").read_text() == Path(out["summary"]).read_text() != ""


@pytest.mark.slow  # two CLI start-ups and a run: ~6 s on a busy 2-core machine
def test_failing_gate_is_reported_then_raised(tmp_path: Path) -> None:
    (tmp_path / "d.jsonl").write_text('{"id": "a", "partition": "golden", "input": "q", "reference": "yes"}\n')
    (tmp_path / "rec.jsonl").write_text('{"id": "a", "output": "no"}\n')
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "name: tiny\ndataset: d.jsonl\nsolver: {type: recorded, path: rec.jsonl}\ngraders: [{name: exact}]\n"
    )
    env = _env(tmp_path, SPEC=str(spec), OUT_DIR=str(tmp_path / "out"), EVALWHEEL_ARGS=f"--store {tmp_path / 'r.db'}")
    proc = subprocess.run(["bash", str(ROOT / "action/run.sh")], env=env, capture_output=True, text=True)
    assert proc.returncode == 0  # the step itself continues so reports are published
    code = _outputs(tmp_path)["exit_code"]
    assert code == "1" and "golden" in (tmp_path / "gh_summary").read_text()
    final = next(s for s in ACTION["runs"]["steps"] if s.get("name") == "Fail with evalwheel's exit code")
    for value, expected in ((code, 1), ("0", 0), ("3", 3), ("", 2)):
        done = subprocess.run(["bash", "-c", final["run"]], env={**env, "CODE": value}, capture_output=True, text=True)
        assert done.returncode == expected, (value, done.stdout)


class FakeGitHub:
    """The two REST endpoints the comment step uses (a test double of the GitHub API, same protocol)."""

    def __init__(self) -> None:
        self.comments: list[dict[str, Any]] = []
        self.calls: list[str] = []
        self.url = ""

    async def list_comments(self, request: web.Request) -> web.Response:
        """Pages of `per_page` (GitHub's maximum is 100), with GitHub's `Link: <...>; rel="next"` header."""
        assert request.headers["Authorization"] == "Bearer t0ken"
        self.calls.append(f"GET {request.path}")
        per_page = min(int(request.query.get("per_page", "30")), 100)
        page = int(request.query.get("page", "1"))
        rows = self.comments[(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(self.comments):
            headers["Link"] = f'<{request.url.with_query(per_page=per_page, page=page + 1)}>; rel="next"'
        return web.json_response(rows, headers=headers)

    async def create(self, request: web.Request) -> web.Response:
        self.calls.append(f"POST {request.path}")
        body = await request.json()
        self.comments.append({"id": 41 + len(self.comments), "body": body["body"]})
        return web.json_response(self.comments[-1], status=201)

    async def update(self, request: web.Request) -> web.Response:
        self.calls.append(f"PATCH {request.path}")
        body = await request.json()
        comment = next(c for c in self.comments if str(c["id"]) == request.match_info["cid"])
        comment["body"] = body["body"]
        return web.json_response(comment)


async def _run_comment_step(tmp_path: Path, gh: FakeGitHub, texts: list[str]) -> None:
    """comment.sh once per text (each written as the summary file), against `gh` served over HTTP."""
    app = web.Application()
    app.router.add_get("/repos/acme/app/issues/7/comments", gh.list_comments)
    app.router.add_post("/repos/acme/app/issues/7/comments", gh.create)
    app.router.add_patch("/repos/acme/app/issues/comments/{cid}", gh.update)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    summary = tmp_path / "summary.md"
    env = _env(tmp_path, SUMMARY=str(summary), GITHUB_TOKEN="t0ken", GITHUB_REPOSITORY="acme/app", PR_NUMBER="7",
               GITHUB_API_URL=f"http://127.0.0.1:{port}")  # fmt: skip
    try:
        for text in texts:
            summary.write_text(text, encoding="utf-8")
            proc = await asyncio.create_subprocess_exec(
                "bash", str(ROOT / "action/comment.sh"), env=env,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            _, err = await proc.communicate()
            assert proc.returncode == 0, err.decode()
    finally:
        await runner.cleanup()


async def test_comment_step_finds_its_comment_beyond_the_first_page(tmp_path: Path) -> None:
    """On a PR with 250 comments the sticky one (an early comment, on page 1 of 3 at 100 per page, or here on
    page 2) is updated, not duplicated: only the first page used to be searched."""
    gh = FakeGitHub()
    gh.comments = [{"id": i, "body": f"review comment {i}"} for i in range(1, 251)]
    gh.comments[149]["body"] = "<!-- evalwheel-summary -->\nold summary"
    await _run_comment_step(tmp_path, gh, ["**gates**: golden 0.9"])
    assert [c.split(" ")[0] for c in gh.calls] == ["GET", "GET", "PATCH"]
    assert len(gh.comments) == 250 and gh.comments[149]["body"].endswith("golden 0.9")


async def test_comment_step_cuts_a_summary_over_githubs_limit(tmp_path: Path) -> None:
    """GitHub refuses bodies over 65,536 characters (422): the summary is cut at a line, with a note, and posted."""
    gh = FakeGitHub()
    lines = [f"| sample-{i:05d} | failed | {'x' * 80} |" for i in range(2000)]  # ~200,000 characters
    await _run_comment_step(tmp_path, gh, ["\n".join(lines)])
    [comment] = gh.comments
    body = comment["body"]
    assert len(body) <= 65_536 and body.startswith("<!-- evalwheel-summary -->\n| sample-00000 |")
    assert "summary cut" in body and "| sample-01999 |" not in body
    kept = body.split("\n")[1:-2]  # whole table lines only, then a blank line and the note
    assert kept and all(line.endswith("|") for line in kept)


async def test_comment_step_posts_then_updates_one_sticky_comment(tmp_path: Path) -> None:
    gh = FakeGitHub()
    await _run_comment_step(tmp_path, gh, ["**gates**: golden 1.0 ✅", "**gates**: golden 0.8 ❌"])
    assert [c.split(" ")[0] for c in gh.calls] == ["GET", "POST", "GET", "PATCH"]
    [comment] = gh.comments
    assert comment["body"].endswith("golden 0.8 ❌") and "<!-- evalwheel-summary -->" in comment["body"]
    assert json.dumps(comment)  # valid JSON round trip of what the script sent
