"""Screenshots of every review-workspace page for the README (docs/screenshots/*.png).

Fills a fresh store with a real `evalwheel run` of the Study Mode example (recorded human tutors, offline),
queues it for review, adds two reviewers who label a few items, serves it with `evalwheel serve`, and
photographs each page in Debian's Chromium driven by Playwright (no browser download).

    python scripts/web_screenshots.py [--out docs/screenshots] [--chromium /usr/bin/chromium]
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EVALWHEEL = [sys.executable, "-m", "evalwheel.cli"]
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def sh(*args: str, cwd: Path | None = None) -> str:
    return subprocess.run([*EVALWHEEL, *args], check=True, capture_output=True, text=True, cwd=cwd).stdout.strip()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    from evalwheel.review import LabelInput, ReviewStore

    folder = Path(tempfile.mkdtemp(prefix="ew-shots-"))
    example = folder / "studymode"
    shutil.copytree(ROOT / "examples" / "studymode", example)
    sh("dataset", "lock", str(example / "dataset.jsonl"))
    db = folder / "runs.sqlite"
    for arm in ("human", "human"):
        subprocess.run(
            [*EVALWHEEL, "run", str(example / "spec.yaml"), "--arm", arm, "--no-judges", "--store", str(db)],
            capture_output=True,
            text=True,
            cwd=folder,
        )
    support = ROOT / "examples" / "support" / "spec.yaml"
    subprocess.run(
        [*EVALWHEEL, "run", str(support), "--no-judges", "--store", str(db)], capture_output=True, cwd=folder
    )
    ana = sh("review", "add-reviewer", "ana", "--store", str(db))
    sh("review", "add-reviewer", "ben", "--store", str(db))
    sh("review", "sync", "--store", str(db))
    sh("review", "assign", "ana", "ben", "--store", str(db), "--limit", "20")
    rs = ReviewStore(db)
    items, _ = rs.queue(limit=6)
    for k, it in enumerate(items[1:]):
        for who in ("ana", "ben"):
            rs.save_label(
                it.item_id,
                who,
                LabelInput(
                    checks={"diagnosis_first": "fail" if (k + (who == "ben")) % 3 else "pass", "safety": "pass"},
                    dimensions={"accuracy": 2, "clarity": (k + len(who)) % 3},
                    escalate=k % 2 == 0,
                ),
            )
    runs = rs.runs.list_runs(limit=10)
    study = [r for r in runs if r.spec_name == "studymode"]
    failing = next(r.sample_id for r in rs.runs.iter_results(study[0].run_id) if r.status == "failed")
    port = free_port()
    proc = subprocess.Popen(
        [
            *EVALWHEEL,
            "serve",
            "--store",
            str(db),
            "--port",
            str(port),
            "--monitor-config",
            str(ROOT / "examples" / "support" / "monitor.yaml"),
        ],
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(base + "/login", timeout=2)
            break
        except OSError:
            time.sleep(0.1)
    # production traffic for the monitor page: the support example's replay (v1, then the broken v2 prompt)
    # into this server's mounted ingest, graded once by a monitoring worker
    support_dir = folder / "support"
    shutil.copytree(ROOT / "examples" / "support", support_dir)
    subprocess.run(
        [sys.executable, str(support_dir / "traffic.py"), "--endpoint", base, "--events", "400", "--break-at", "200"],
        check=True,
        capture_output=True,
        cwd=support_dir,
    )
    sh(
        "monitor",
        "worker",
        "--store",
        str(db),
        "--config",
        str(support_dir / "monitor.yaml"),
        "--once",
        "--no-judges",
        cwd=support_dir,
    )
    pages = {
        "runs": "/",
        "run": f"/runs/{study[0].run_id}",
        "sample": f"/runs/{study[0].run_id}/samples/{failing}",
        "compare": f"/compare?a={study[-1].run_id}&b={study[0].run_id}",
        "trends": "/trends?spec=studymode",
        "monitor": "/monitor",
        "review": "/review",
        "review-item": f"/review/items/{items[0].item_id}",
        "graders": "/graders",
    }
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=args.chromium, args=ARGS)
            ctx = browser.new_context(viewport={"width": 1400, "height": 900})
            page = ctx.new_page()
            page.set_default_timeout(120_000)  # a loaded machine: the first pages wait for the start-up warm-up
            page.goto(base + "/login")
            page.fill("input[name=token]", ana)
            with page.expect_navigation():
                page.keyboard.press("Enter")
            for name, path in pages.items():
                page.goto(base + path)
                if name == "compare":  # computed in the background; the page reloads itself until done
                    page.wait_for_selector("#compare", timeout=120_000)
                page.wait_for_load_state("networkidle")
                page.screenshot(path=str(args.out / f"{name}.png"))
                print(f"{args.out / (name + '.png')}")
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
