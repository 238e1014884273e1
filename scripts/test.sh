#!/usr/bin/env bash
# The test command: set up .venv with the tap and its test dependencies, lint and type-check,
# then run tests.
#   bash scripts/test.sh                lint + every test (what CI runs)
#   bash scripts/test.sh --fast         lint + the fast suite only: what plain `pytest` runs
#                                       (units and in-process sandbox syncs)
#   bash scripts/test.sh --slow         lint + the slow suite only, `-m "e2e or slow"`: Meltano
#                                       and its plugins, PostgreSQL, dbt, Chromium, package
#                                       builds (marker e2e), real waits of a minute (slow)
#   bash scripts/test.sh -k reports -x  other arguments go to pytest
# pytest runs on two pytest-xdist workers (pyproject's addopts; $TEST_WORKERS changes it): the
# Meltano/dbt tests, which share this checkout's Meltano project, stay on one of them, in order
# (tests/conftest.py). Exit code 5: no test was selected.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=all
args=()
for arg in "$@"; do
    case "$arg" in
        --fast) mode=fast ;;
        --slow) mode=slow ;;
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
.venv/bin/mypy tap_claude_enterprise  # the package's types ([tool.mypy] in pyproject.toml)

workers=()
if [ -n "${TEST_WORKERS:-}" ]; then
    workers=(-n "$TEST_WORKERS")
fi
case "$mode" in
    fast) selection=() ;;  # pyproject's addopts deselect e2e and slow
    slow) selection=(-m "e2e or slow") ;;
    all) selection=(-m "") ;;  # an empty -m selects every test
esac
exec .venv/bin/python -m pytest ${selection[@]+"${selection[@]}"} ${workers[@]+"${workers[@]}"} \
    ${args[@]+"${args[@]}"}
