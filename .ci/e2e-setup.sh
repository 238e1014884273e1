#!/usr/bin/env bash
# What the Meltano end-to-end tests (tests/test_e2e_meltano.py, marker e2e) need beyond the
# test venv: the PostgreSQL 15 server programs, and Meltano with every plugin of meltano.yml.
# Optional: the tests install Meltano themselves when it is missing; running this first
# keeps that time out of the test timings. Safe to run again (it then only checks).
set -euo pipefail
cd "$(dirname "$0")/.."

have_initdb() {
    command -v initdb >/dev/null 2>&1 || compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
}

if ! have_initdb; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "e2e-setup: installing the PostgreSQL 15 server programs" >&2
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >/dev/null
    else
        echo "e2e-setup: the e2e tests need initdb/pg_ctl (PostgreSQL 15 server programs)" >&2
        exit 1
    fi
fi

# .meltano/demo-venv (Meltano 4.4.1, this tap, DuckDB) and `meltano install`: seconds when
# already there, a minute or two from an empty package cache.
started=$SECONDS
bash scripts/demo.sh --install-only
echo "e2e-setup: Meltano and its plugins ready in $((SECONDS - started)) s" >&2
