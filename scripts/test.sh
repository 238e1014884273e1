#!/usr/bin/env bash
# The test command: set up .venv with the tap and its test dependencies, lint, then run every
# test in two parts:
#   1. the fast suite, what plain `pytest` runs (units and in-process sandbox syncs);
#   2. the slow suite, `-m "e2e or slow"`: Meltano and its plugins, PostgreSQL, dbt, Chromium,
#      package builds (marker e2e) and real waits of a minute or so (marker slow).
# Usage:
#   bash scripts/test.sh                lint + everything
#   bash scripts/test.sh --fast         lint + the fast suite only (same as `pytest`)
#   bash scripts/test.sh --slow         lint + the slow suite only
#   bash scripts/test.sh -k reports -x  other arguments go to pytest (both parts)
# A part that selects no test (pytest's exit code 5, e.g. `-k` matching only fast tests) is
# not a failure, unless no part ran any test at all.
set -euo pipefail
cd "$(dirname "$0")/.."

parts=(fast slow)
args=()
for arg in "$@"; do
    case "$arg" in
        --fast) parts=(fast) ;;
        --slow) parts=(slow) ;;
        *) args+=("$arg") ;;
    esac
done

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[test]"
.venv/bin/ruff check tap_claude_enterprise tests scripts report

ran=0
for part in "${parts[@]}"; do
    marks=()  # fast: pyproject's addopts deselect e2e and slow
    if [ "$part" = slow ]; then
        marks=(-m "e2e or slow")
    fi
    echo "test.sh: the $part suite" >&2
    status=0
    .venv/bin/python -m pytest ${marks[@]+"${marks[@]}"} ${args[@]+"${args[@]}"} || status=$?
    case "$status" in
        0) ran=1 ;;
        5) echo "test.sh: no $part test selected" >&2 ;;
        *) exit "$status" ;;
    esac
done
if [ "$ran" = 0 ]; then
    echo "test.sh: no test selected" >&2
    exit 5
fi
