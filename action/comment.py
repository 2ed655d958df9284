"""Post (or update) the one sticky pull-request comment holding the evalwheel summary (GitHub REST API).

Run by comment.sh with the environment it checked: SUMMARY, GITHUB_TOKEN, GITHUB_REPOSITORY, PR_NUMBER and
GITHUB_API_URL. Standard library only: the step runs before (or without) evalwheel's own install.

Why a script and not two curl calls: a busy pull request has more than one page of comments, and the sticky
comment is usually among the oldest, so every page is searched (the `Link: rel="next"` header GitHub sends);
searching only the first page posted a second summary on each push once a PR had 100 comments. And GitHub
refuses a comment body over 65,536 characters (HTTP 422, which failed the step and posted nothing): a summary
that long is cut at a line boundary, with a note saying so.
"""

from __future__ import annotations

import json
import os
import re
import sys
import urllib.request
from collections.abc import Iterator
from typing import Any

MARKER = "<!-- evalwheel-summary -->"
MAX_BODY = 65_536  # GitHub's limit on a comment body, in characters
PER_PAGE = 100
_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="next"')


def compose(summary: str, limit: int = MAX_BODY) -> str:
    """The comment body: the marker, then the summary, cut at a line boundary to fit `limit` characters."""
    body = f"{MARKER}\n{summary}"
    if len(body) <= limit:
        return body
    note = (
        f"\n\n_(summary cut: {len(summary):,} characters is over GitHub's {limit:,}-character comment limit; "
        "the full summary is in the job summary)_"
    )
    room = limit - len(MARKER) - 1 - len(note)
    cut = summary[:room]
    if "\n" in cut:
        cut = cut[: cut.rindex("\n")]
    return f"{MARKER}\n{cut}{note}"


def request(method: str, url: str, token: str, data: dict[str, Any] | None = None) -> tuple[Any, str]:
    """(decoded JSON reply, the Link header) of one API call; HTTP errors propagate with their status."""
    body = None if data is None else json.dumps(data).encode()
    req = urllib.request.Request(url, data=body, method=method)
    req.add_header("Authorization", f"Bearer {token}")
    req.add_header("Accept", "application/vnd.github+json")
    if body is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read() or b"null"), resp.headers.get("Link", "")


def comments(api: str, repo: str, pr: str, token: str) -> Iterator[dict[str, Any]]:
    """Every comment of the pull request, page after page, following the API's `next` links."""
    url: str | None = f"{api}/repos/{repo}/issues/{pr}/comments?per_page={PER_PAGE}"
    while url:
        page, link = request("GET", url, token)
        if not isinstance(page, list):
            raise SystemExit(f"unexpected reply listing comments of {repo}#{pr}: {str(page)[:200]}")
        yield from page
        match = _NEXT.search(link)
        url = match.group(1) if match else None


def main() -> int:
    env = os.environ
    api = env.get("GITHUB_API_URL") or "https://api.github.com"
    repo, pr, token = env["GITHUB_REPOSITORY"], env["PR_NUMBER"], env["GITHUB_TOKEN"]
    with open(env["SUMMARY"], encoding="utf-8") as fh:
        body = compose(fh.read())
    existing = next((c["id"] for c in comments(api, repo, pr, token) if MARKER in (c.get("body") or "")), None)
    if existing is not None:
        request("PATCH", f"{api}/repos/{repo}/issues/comments/{existing}", token, {"body": body})
        print(f"updated comment {existing}")
    else:
        request("POST", f"{api}/repos/{repo}/issues/{pr}/comments", token, {"body": body})
        print("posted a new comment")
    return 0


if __name__ == "__main__":
    sys.exit(main())
