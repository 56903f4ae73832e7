#!/usr/bin/env bash
# Set up (first run) and run the whole test suite against SQLite and PostgreSQL.
# Extra arguments go to pytest (e.g. ./scripts/test.sh tests/api -x).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup-venv.sh

# PostgreSQL on 127.0.0.1:5432 with the database "test" (trust auth).
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
  for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
if ! psql -h 127.0.0.1 -U postgres -d test -c 'SELECT 1' >/dev/null 2>&1; then
  psql -h 127.0.0.1 -U postgres -d postgres -c 'CREATE DATABASE test' >/dev/null
fi

exec .venv/bin/python -m pytest "$@"
