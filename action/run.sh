#!/usr/bin/env bash
# Run an eval spec with its gates; never stops the job itself (the last step re-raises the exit code), so the
# JUnit report and the summary are published even when a gate fails.
# Inputs: SPEC, OUT_DIR (default evalwheel-out), EVALWHEEL_ARGS (extra `evalwheel run` flags), EVALWHEEL (the
# command, default evalwheel). Writes exit_code / junit / summary to $GITHUB_OUTPUT and the summary to
# $GITHUB_STEP_SUMMARY when those files are given (as on GitHub runners).
set -uo pipefail
spec="${SPEC:?SPEC must name the eval spec}"
out="${OUT_DIR:-evalwheel-out}"
mkdir -p "$out"
# shellcheck disable=SC2086  # EVALWHEEL_ARGS is a list of flags
"${EVALWHEEL:-evalwheel}" run "$spec" --no-progress --junit "$out/junit.xml" --markdown "$out/summary.md" \
  ${EVALWHEEL_ARGS:-}
code=$?
echo "evalwheel exit code: $code"
if [ -n "${GITHUB_OUTPUT:-}" ]; then
  {
    echo "exit_code=$code"
    echo "junit=$out/junit.xml"
    echo "summary=$out/summary.md"
  } >> "$GITHUB_OUTPUT"
fi
if [ -n "${GITHUB_STEP_SUMMARY:-}" ] && [ -f "$out/summary.md" ]; then
  cat "$out/summary.md" >> "$GITHUB_STEP_SUMMARY"
fi
exit 0
