#!/usr/bin/env bash
# Post (or update) one sticky pull-request comment holding the evalwheel summary, through the GitHub REST API.
# Inputs: SUMMARY (markdown file), GITHUB_TOKEN, GITHUB_REPOSITORY (owner/name), PR_NUMBER,
# GITHUB_API_URL (default https://api.github.com). The comment is found again by a hidden marker (comment.py:
# every page of the PR's comments is searched; a summary over GitHub's 65,536-character limit is cut).
set -euo pipefail
summary="${SUMMARY:?SUMMARY must name the markdown file}"
repo="${GITHUB_REPOSITORY:?}"
pr="${PR_NUMBER:?PR_NUMBER is only set on pull_request events}"
token="${GITHUB_TOKEN:?GITHUB_TOKEN is needed to comment}"
if [ ! -f "$summary" ]; then
  echo "no summary at $summary: nothing to post"
  exit 0
fi
exec python3 "$(dirname "$0")/comment.py"
