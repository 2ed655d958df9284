#!/usr/bin/env bash
# Post (or update) one sticky pull-request comment holding the evalwheel summary, through the GitHub REST API.
# Inputs: SUMMARY (markdown file), GITHUB_TOKEN, GITHUB_REPOSITORY (owner/name), PR_NUMBER,
# GITHUB_API_URL (default https://api.github.com). The comment is found again by a hidden marker.
set -euo pipefail
summary="${SUMMARY:?SUMMARY must name the markdown file}"
api="${GITHUB_API_URL:-https://api.github.com}"
repo="${GITHUB_REPOSITORY:?}"
pr="${PR_NUMBER:?PR_NUMBER is only set on pull_request events}"
token="${GITHUB_TOKEN:?GITHUB_TOKEN is needed to comment}"
if [ ! -f "$summary" ]; then
  echo "no summary at $summary: nothing to post"
  exit 0
fi
marker='<!-- evalwheel-summary -->'
body="$(python3 -c 'import json,sys; print(json.dumps({"body": sys.argv[1] + "\n" + open(sys.argv[2], encoding="utf-8").read()}))' "$marker" "$summary")"
auth=(-H "Authorization: Bearer $token" -H "Accept: application/vnd.github+json")
existing="$(curl -fsS "${auth[@]}" "$api/repos/$repo/issues/$pr/comments?per_page=100" \
  | python3 -c 'import json,sys; m=sys.argv[1]; print(next((str(c["id"]) for c in json.load(sys.stdin) if m in (c.get("body") or "")), ""))' "$marker")"
if [ -n "$existing" ]; then
  curl -fsS -X PATCH "${auth[@]}" "$api/repos/$repo/issues/comments/$existing" -d "$body" > /dev/null
  echo "updated comment $existing"
else
  curl -fsS -X POST "${auth[@]}" "$api/repos/$repo/issues/$pr/comments" -d "$body" > /dev/null
  echo "posted a new comment"
fi
