"""The read-only pages: runs, one run, one sample, compare, trends, graders."""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from evalwheel.review.store import ReviewStore
from evalwheel.stats.intervals import proportion_ci
from evalwheel.web import queries
from evalwheel.web.render import page

router = APIRouter()


def review_store(request: Request) -> ReviewStore:
    store: ReviewStore = request.app.state.review
    return store


def _page_no(value: int | None) -> int:
    return max(1, value or 1)


@router.get("/", response_class=HTMLResponse)
def runs_page(
    request: Request,
    spec: Annotated[str | None, Query(max_length=200)] = None,
    arm: Annotated[str | None, Query(max_length=100)] = None,
    p: Annotated[int | None, Query(ge=1, le=100_000)] = None,
) -> Response:
    store = review_store(request).runs
    rows, total = queries.list_runs(store, spec=spec or None, arm=arm or None, page=_page_no(p))
    specs, arms = queries.spec_and_arm_names(store)
    return page(
        request,
        "runs.html",
        rows=rows,
        total=total,
        specs=specs,
        arms=arms,
        spec=spec or "",
        arm=arm or "",
        p=_page_no(p),
        page_size=queries.PAGE_SIZE,
        title="Runs",
    )


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(request: Request, run_id: str, p: Annotated[int | None, Query(ge=1, le=100_000)] = None) -> Response:
    rs = review_store(request)
    info = queries.get_run(rs.runs, run_id)
    view, all_failing = queries.run_view(rs.runs, info)
    failing, failing_total = queries.failing_page(all_failing, _page_no(p))
    _, humans = queries.agreement_figures(rs, run_id)
    return page(
        request,
        "run.html",
        view=view,
        info=info,
        failing=failing,
        failing_total=failing_total,
        p=_page_no(p),
        page_size=queries.PAGE_SIZE,
        humans=humans,
        title=f"Run {info.run_id}",
    )


def _turn_tags(trajectory: list[Any]) -> list[list[str]]:
    from evalwheel.graders.pedagogy.tagger import tag_turn

    tags: list[list[str]] = []
    for i, t in enumerate(trajectory):
        if t.role == "assistant":
            tags.append(sorted(a.value for a in tag_turn(t.content, i).actions))
        else:
            tags.append(list(t.tags))
    return tags


def _sample_of(rs: ReviewStore, run_id: str, sample_id: str) -> dict[str, Any] | None:
    """The sample as the reviewer queue snapshotted it, else as the run's dataset file has it now."""
    item_id = rs.item_for_result(run_id, sample_id)
    if item_id is not None:
        snap = rs.get_item(item_id).sample
        if snap is not None:
            return snap
    return _dataset_samples(rs.runs.get_run(run_id)).get(sample_id)


_datasets = queries._LRU(size=2)
DATASET_INDEX_MAX_BYTES = 20_000_000


def _dataset_samples(info: Any) -> dict[str, dict[str, Any]]:
    """Every sample of the run's dataset file by id, read once per file version (path, size, mtime) and kept
    for the two most recent files; larger files are not indexed (the page then shows no reference)."""
    from pathlib import Path

    from evalwheel.review.queue import snapshot_samples

    path = info.metadata.get("dataset")
    if not isinstance(path, str) or not Path(path).is_file():
        return {}
    stat = Path(path).stat()
    if stat.st_size > DATASET_INDEX_MAX_BYTES:
        return {}
    return _datasets.get((path, stat.st_size, stat.st_mtime_ns), lambda: snapshot_samples(info, None))


def transcript_context(result: Any, sample: dict[str, Any] | None) -> dict[str, Any]:
    """What the transcript partial needs: turns with tags and evidence, the input, reference and calls."""
    from evalwheel.types import Turn

    output = result.output
    trajectory = list(output.trajectory) if output is not None and output.trajectory else []
    evidence: dict[int | None, list[str]] = defaultdict(list)
    for s in result.scores:
        for e in s.evidence:
            evidence[e.turn_index].append(e.snippet)
    prompt: Any = None
    if sample is not None:
        raw = sample.get("input")
        if isinstance(raw, dict) and "trajectory" in raw and not trajectory:
            trajectory = [Turn.model_validate(t) for t in raw["trajectory"]]
        elif isinstance(raw, list) and not trajectory:
            trajectory = [Turn.model_validate(t) for t in raw]
        elif isinstance(raw, str):
            prompt = raw
    return {
        "turns": list(zip(trajectory, _turn_tags(trajectory), strict=True)),
        "evidence": evidence,
        "prompt": prompt,
        "text": output.text if output is not None else None,
        "reference": None if sample is None else sample.get("reference"),
        "context": None if sample is None else sample.get("context"),
    }


@router.get("/runs/{run_id}/samples/{sample_id:path}", response_class=HTMLResponse)
def sample_page(
    request: Request, run_id: str, sample_id: str, epoch: Annotated[int, Query(ge=0, le=10_000)] = 0
) -> Response:
    rs = review_store(request)
    info = queries.get_run(rs.runs, run_id)
    result, cost = queries.get_result(rs.runs, run_id, sample_id, epoch)
    sample = _sample_of(rs, run_id, sample_id)
    item_id = rs.item_for_result(run_id, sample_id)
    return page(
        request,
        "sample.html",
        info=info,
        result=result,
        t=transcript_context(result, sample),
        cost=cost,
        epochs=queries.epochs_of(rs.runs, run_id, sample_id),
        item_id=item_id,
        title=f"{sample_id} in {run_id}",
    )


@router.get("/compare", response_class=HTMLResponse)
def compare_page(
    request: Request,
    a: Annotated[str | None, Query(max_length=300)] = None,
    b: Annotated[str | None, Query(max_length=300)] = None,
) -> Response:
    rs = review_store(request)
    recent = rs.runs.list_runs(limit=100)
    if not a or not b:
        return page(request, "compare.html", cmp=None, recent=recent, a=a or "", b=b or "", title="Compare")
    from evalwheel.web.compare import compare_view

    view = compare_view(rs.runs, a, b)
    return page(request, "compare.html", cmp=view, pending=view is None, recent=recent, a=a, b=b, title="Compare")


def _run_alerts(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A run whose pass rate falls below the previous run's 95% Wilson interval (same arm) is marked."""
    last: dict[str, dict[str, Any]] = {}
    alerts: list[dict[str, Any]] = []
    for pt in points:
        prev = last.get(pt["arm"])
        if prev is not None and pt["pass_rate"] is not None and prev["scored"]:
            low = proportion_ci(prev["passed"], prev["scored"]).low
            if low is not None and pt["pass_rate"] < low:
                alerts.append(
                    {
                        "run_id": pt["run_id"],
                        "started_at": pt["started_at"],
                        "pass_rate": pt["pass_rate"],
                        "message": f"pass rate {pt['pass_rate']:.3f} below the previous run's interval (low {low:.3f})",
                    }
                )
        if pt["pass_rate"] is not None:
            last[pt["arm"]] = pt
    return alerts


@router.get("/trends", response_class=HTMLResponse)
def trends_page(request: Request, spec: Annotated[str | None, Query(max_length=200)] = None) -> Response:
    rs = review_store(request)
    specs, _ = queries.spec_and_arm_names(rs.runs)
    chosen = spec or (specs[0] if specs else None)
    points = queries.trend_points(rs.runs, chosen) if chosen else []
    alerts = _run_alerts(points)
    from evalwheel.web.monitoring import monitor_trends

    windows = monitor_trends(request)
    return page(
        request,
        "trends.html",
        specs=specs,
        spec=chosen or "",
        points=points,
        alerts=alerts,
        windows=windows,
        title="Trends",
    )


@router.get("/graders", response_class=HTMLResponse)
def graders_page(request: Request) -> Response:
    rs = review_store(request)
    _, humans = queries.agreement_figures(rs)
    return page(request, "graders.html", humans=humans, title="Graders vs humans")
