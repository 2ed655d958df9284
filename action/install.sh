#!/usr/bin/env bash
# Install evalwheel from the action's own repository checkout (it is not on a package index).
# Inputs (environment): EVALWHEEL_SOURCE (the repository folder: the action's path), EVALWHEEL_EXTRAS (e.g. "local"),
# PYTHON (default python3), PIP_EXTRA_ARGS (e.g. --dry-run in the action's own tests).
set -euo pipefail
src="${EVALWHEEL_SOURCE:?EVALWHEEL_SOURCE must name the evalwheel repository folder}"
if [ ! -f "$src/pyproject.toml" ]; then
  echo "::error::$src is not an evalwheel checkout (no pyproject.toml)" >&2
  exit 2
fi
target="$src"
if [ -n "${EVALWHEEL_EXTRAS:-}" ]; then
  target="$src[${EVALWHEEL_EXTRAS}]"
fi
# shellcheck disable=SC2086  # PIP_EXTRA_ARGS is a list of flags
"${PYTHON:-python3}" -m pip install --quiet ${PIP_EXTRA_ARGS:-} "$target"
echo "installed evalwheel from $target"
