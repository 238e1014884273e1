#!/usr/bin/env bash
# One command, no key needed: Claude Enterprise analytics -> Meltano -> DuckDB -> dbt -> a report.
#
#   bash scripts/demo.sh                 # sandbox, unless TAP_CLAUDE_ENTERPRISE_API_KEY is set
#   bash scripts/demo.sh --sandbox       # always the local sandbox (synthetic organization)
#   bash scripts/demo.sh --api           # always the real API (needs TAP_CLAUDE_ENTERPRISE_API_KEY)
#   bash scripts/demo.sh --install-only  # just prepare the environments (used by CI)
#   bash scripts/demo.sh --help
#
# Needs Python 3.10-3.13 and the package registries, nothing else. It keeps a venv with
# Meltano, this tap, DuckDB and plotly (the report's charts) in .meltano/demo-venv, and
# Meltano's plugin venvs (the loaders, dbt) in
# .meltano/ (both git-ignored), so a second run only syncs. scripts/demo.py does the rest.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${DEMO_VENV:-$ROOT/.meltano/demo-venv}"
# The report opens the DuckDB file with the duckdb that target-duckdb wrote it with
# (meltano.yml pins the same version for the loader, and says why it is not newer).
MELTANO_REQ="meltano==4.4.1"
DUCKDB_REQ="duckdb==1.2.2"
export MELTANO_SEND_ANONYMOUS_USAGE_STATS=false

say() { printf 'demo: %s\n' "$*" >&2; }

find_python() {
    local candidate
    for candidate in "${PYTHON:-}" python3.11 python3.12 python3.13 python3.10 python3; do
        [ -n "$candidate" ] || continue
        command -v "$candidate" >/dev/null 2>&1 || continue
        if "$candidate" -c 'import sys; sys.exit(not ((3, 10) <= sys.version_info[:2] < (3, 14)))' 2>/dev/null; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

bootstrap() {
    local stamp="$VENV/.demo-stamp" want
    want="$(cat "$ROOT/pyproject.toml" 2>/dev/null | cksum | cut -d' ' -f1) $MELTANO_REQ $DUCKDB_REQ"
    if [ -x "$VENV/bin/meltano" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        return 0
    fi
    local python
    if ! python="$(find_python)"; then
        say "needs Python 3.10-3.13 (set PYTHON=/path/to/python3.11)"
        exit 2
    fi
    say "preparing $VENV with $("$python" -V 2>&1) (Meltano, the tap, DuckDB, plotly)"
    local started=$SECONDS
    [ -x "$VENV/bin/python" ] || "$python" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check uv
    # uv resolves and installs in seconds; plain pip is the fallback.
    if ! "$VENV/bin/uv" pip install --quiet --python "$VENV/bin/python" \
            -e "$ROOT[report]" "$MELTANO_REQ" "$DUCKDB_REQ"; then
        say "uv failed; retrying with pip"
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
            -e "$ROOT[report]" "$MELTANO_REQ" "$DUCKDB_REQ"
    fi
    echo "$want" >"$stamp"
    say "environment ready in $((SECONDS - started)) s"
}

bootstrap
exec "$VENV/bin/python" "$ROOT/scripts/demo.py" --project "$ROOT" "$@"
