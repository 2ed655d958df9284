"""The review queue: list, label form (keyboard-driven), assignment, agreement, export, golden promotion."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from pydantic import ValidationError

from evalwheel.fileio import confined
from evalwheel.review.export import labelled_items_for, labels_jsonl, require_known_check
from evalwheel.review.golden import disagreements, promote_to_golden
from evalwheel.review.models import DIMENSIONS, SCALE, LabelInput
from evalwheel.review.queue import build_candidates, latest_runs, monitor_candidates
from evalwheel.review.store import ReviewError
from evalwheel.types import FailureMode, Output, SampleResult, Score
from evalwheel.web import queries
from evalwheel.web.pages import review_store, transcript_context
from evalwheel.web.render import error_page, page
from evalwheel.web.security import csrf_valid, same_secret

router = APIRouter()


def _identity(request: Request) -> Any:
    return request.state.identity


def _forbidden_csrf(request: Request) -> Response:
    return error_page(request, 403, "Form expired", "The form's CSRF token is missing or wrong; reload the page.")


@router.get("/review", response_class=HTMLResponse)
def queue_page(
    request: Request,
    p: Annotated[int | None, Query(ge=1, le=100_000)] = None,
    status: Annotated[str, Query(pattern="^(open|done|golden)$")] = "open",
) -> Response:
    rs = review_store(request)
    me = _identity(request).reviewer
    page_no = max(1, p or 1)
    rows, total = rs.queue(
        reviewer=me if status == "open" else None,
        status=status,
        limit=queries.PAGE_SIZE,
        offset=(page_no - 1) * queries.PAGE_SIZE,
    )
    raters, humans = queries.agreement_figures(rs)
    return page(
        request,
        "review.html",
        rows=rows,
        total=total,
        p=page_no,
        page_size=queries.PAGE_SIZE,
        status=status,
        counts=rs.counts(),
        reviewers=rs.list_reviewers(),
        raters=raters,
        humans=humans,
        title="Review queue",
    )


@router.post("/review/sync")
def sync_queue(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
    if not csrf_valid(request, csrf):
        return _forbidden_csrf(request)
    rs = review_store(request)
    rs.enqueue(build_candidates(rs.runs, latest_runs(rs.runs)) + monitor_candidates(rs.runs.url))
    return RedirectResponse("/review", status_code=303)


@router.post("/review/assign")
def assign_pairs(
    request: Request,
    csrf: Annotated[str, Form()] = "",
    reviewers: Annotated[str, Form(max_length=1000)] = "",
    limit: Annotated[int, Form(ge=1, le=10_000)] = 50,
) -> Response:
    if not csrf_valid(request, csrf):
        return _forbidden_csrf(request)
    names = [n.strip() for n in reviewers.replace(",", " ").split() if n.strip()]
    try:
        review_store(request).assign_pairs(names, limit=limit)
    except ReviewError as exc:
        return error_page(request, 400, "Cannot assign", str(exc))
    return RedirectResponse("/review", status_code=303)


def _result_of(item: Any) -> SampleResult:
    """The queued snapshot as a result, so the transcript partial renders it like the sample page."""
    return SampleResult(
        run_id=item.run_id,
        sample_id=item.sample_id,
        partition=item.partition or "distribution",
        epoch=item.epoch,
        status="passed",
        scores=[Score.model_validate(s) for s in item.scores],
        output=None if item.output is None else Output.model_validate(item.output),
    )


@router.get("/review/items/{item_id}", response_class=HTMLResponse)
def item_page(request: Request, item_id: int) -> Response:
    rs = review_store(request)
    item = rs.get_item(item_id)
    labels = rs.labels_for(item_id)
    me = _identity(request).reviewer
    mine = labels.get(me) if me else None
    result = _result_of(item)
    checks = [s for s in result.scores if s.passed is not None or s.reason]
    return page(
        request,
        "item.html",
        item=item,
        labels=labels,
        mine=mine,
        result=result,
        checks=checks,
        t=transcript_context(result, item.sample),
        dimensions=DIMENSIONS,
        scale=SCALE,
        taxonomy=[m.value for m in FailureMode],
        golden=rs.golden_record(item_id),
        problems=disagreements(list(labels.values())),
        next_id=rs.next_item(me, item_id) if me else None,
        title=f"Review item {item_id}",
    )


def _label_from_form(form: dict[str, Any], taxonomy: list[str], check_names: list[str]) -> LabelInput:
    """The label form's fields as a validated LabelInput (ValueError / ValidationError on bad values)."""
    checks = {n: str(form[f"check:{n}"]) for n in check_names if form.get(f"check:{n}")}
    dims: dict[str, int] = {}
    for d in DIMENSIONS:
        raw = str(form.get(f"dim:{d}", "")).strip()
        if raw and raw not in {str(v) for v in SCALE}:  # int() said only "invalid literal for int() with base 10"
            choices = f"{', '.join(map(str, SCALE[:-1]))} or {SCALE[-1]}"
            raise ValueError(f"dim:{d}: {raw[:40]!r} is not a score on the {SCALE[0]}-{SCALE[-1]} scale ({choices})")
        if raw:
            dims[d] = int(raw)
    escalate_raw = str(form.get("escalate", ""))
    escalate = {"yes": True, "no": False}.get(escalate_raw)
    return LabelInput.model_validate(
        {
            "checks": checks,
            "dimensions": dims,
            "taxonomy": taxonomy,
            "escalate": escalate,
            "notes": str(form.get("notes", "")),
            "corrected_reply": str(form.get("corrected_reply", "")).strip() or None,
        }
    )


@router.post("/review/items/{item_id}/label")
async def save_label(request: Request, item_id: int) -> Response:
    form = await request.form()
    if not csrf_valid(request, str(form.get("csrf", ""))):
        return _forbidden_csrf(request)
    me = _identity(request).reviewer
    if me is None:
        return error_page(request, 403, "Reviewer needed", "Log in with your reviewer token to label.")
    rs = review_store(request)
    item = rs.get_item(item_id)
    data: dict[str, Any] = {k: v for k, v in form.multi_items() if k != "taxonomy"}
    taxonomy = [str(v) for k, v in form.multi_items() if k == "taxonomy"]
    names = [str(s["name"]) for s in item.scores]
    try:
        label = _label_from_form(data, taxonomy, names)
    except (ValidationError, ValueError) as exc:
        return error_page(request, 400, "Invalid label", str(exc))
    rs.save_label(item_id, me, label)
    nxt = rs.next_item(me, item_id)
    target = f"/review/items/{nxt}" if nxt is not None and form.get("go") == "next" else f"/review/items/{item_id}"
    return RedirectResponse(target + "?saved=1", status_code=303)


@router.post("/review/items/{item_id}/golden")
def golden_promote(
    request: Request,
    item_id: int,
    csrf: Annotated[str, Form()] = "",
    dataset: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    if not csrf_valid(request, csrf):
        return _forbidden_csrf(request)
    ident = _identity(request)
    approver = ident.reviewer or ("admin" if ident.admin else None)
    if approver is None:
        return error_page(request, 403, "Reviewer needed", "Log in with a reviewer token to approve golden samples.")
    base: Path = request.app.state.golden_dir
    target = confined(base, dataset.strip())
    if target is None or not dataset.strip().endswith(".jsonl"):
        return error_page(
            request,
            400,
            "Bad dataset path",
            f"the golden dataset must be a .jsonl path inside {base} (got {dataset[:200]!r})",
        )
    try:
        promote_to_golden(review_store(request), item_id, target, approver)
    except (ReviewError, ValueError) as exc:
        return error_page(request, 400, "Cannot promote", str(exc))
    return RedirectResponse(f"/review/items/{item_id}", status_code=303)


@router.get("/review/export.jsonl")
def export(request: Request, check: Annotated[str, Query(min_length=1, max_length=200)]) -> Response:
    rs = review_store(request)
    require_known_check(rs, check)  # ReviewError -> 400 naming the known checks (as `review export`), not an empty file
    found, skipped = labelled_items_for(rs, check)
    body = labels_jsonl(found)
    return PlainTextResponse(
        body,
        media_type="application/x-ndjson",
        headers={
            "Content-Disposition": f'attachment; filename="labels-{len(found)}.jsonl"',
            "X-Skipped-Disputed": str(skipped),
        },
    )


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> Response:
    return page(request, "login.html", message=None, title="Log in")


@router.post("/login")
def login(
    request: Request, token: Annotated[str, Form(max_length=500)] = "", csrf: Annotated[str, Form()] = ""
) -> Response:
    if not csrf_valid(request, csrf):
        return _forbidden_csrf(request)
    app = request.app
    ok = (app.state.server_token is not None and same_secret(token, app.state.server_token)) or (
        review_store(request).reviewer_for_token(token) is not None
    )
    if not ok:
        return page(request, "login.html", status_code=401, message="Unknown token.", title="Log in")
    response = RedirectResponse("/review", status_code=303)
    response.set_cookie("ew_token", token, httponly=True, samesite="strict")
    return response


@router.post("/logout")
def logout(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
    if not csrf_valid(request, csrf):
        return _forbidden_csrf(request)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie("ew_token")
    return response
