#!/usr/bin/env bash
# Makes sure PostgreSQL answers at 127.0.0.1:5432 (database `test`) before the tests run.
# CI machines start it before the session; a stopped one is started here. Where PostgreSQL is not
# installed at all, the PostgreSQL tests skip with a reason instead.
set -u
host=${PGHOST:-127.0.0.1}
port=${PGPORT:-5432}
if pg_isready -q -h "$host" -p "$port" 2>/dev/null; then exit 0; fi
if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
  echo "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start || true
  for _ in $(seq 1 30); do
    pg_isready -q -h "$host" -p "$port" && exit 0
    sleep 1
  done
fi
echo "PostgreSQL is not reachable at $host:$port; its tests will skip" >&2
exit 0
