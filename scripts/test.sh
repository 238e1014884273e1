#!/usr/bin/env bash
# The test command: set up .venv with the tap and its test dependencies, then run the
# whole suite (unit, sandbox, fault-injection, Meltano + PostgreSQL end-to-end).
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -k reports -x`.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[test]"
.venv/bin/ruff check tap_claude_enterprise tests scripts report
exec .venv/bin/python -m pytest "$@"
