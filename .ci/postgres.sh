#!/usr/bin/env bash
# Start a local PostgreSQL server for the tests (idempotent) and print the URL they use.
# Debian's packages: the cluster runs as the postgres user; tests connect over TCP on loopback.
set -euo pipefail
# Only the URL goes to stdout (the caller captures it): every other command's output, such as
# pg_ctlcluster's "Removed stale pid file.", is sent to stderr.
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
if [ "$(id -u)" -eq 0 ]; then AS_PG="runuser -u postgres --"; else AS_PG="sudo -u postgres"; fi
VER="$(ls /usr/lib/postgresql | sort -n | tail -1)"
if ! $SUDO pg_lsclusters -h 2>/dev/null | grep -q "^$VER main"; then
  $SUDO pg_createcluster "$VER" main >&2
fi
if ! $SUDO pg_lsclusters -h | grep -q "^$VER main .* online"; then
  $SUDO pg_ctlcluster "$VER" main start >&2
fi
for _ in $(seq 1 30); do
  $AS_PG psql -qtAc "select 1" >/dev/null 2>&1 && break || sleep 1
done
$AS_PG psql -qtAc "select 1 from pg_roles where rolname='evalwheel'" | grep -q 1 || \
  $AS_PG psql -qc "create role evalwheel login superuser password 'evalwheel'" >/dev/null
$AS_PG psql -qtAc "select 1 from pg_database where datname='evalwheel_test'" | grep -q 1 || \
  $AS_PG psql -qc "create database evalwheel_test owner evalwheel" >/dev/null
echo "postgresql+psycopg://evalwheel:evalwheel@127.0.0.1:5432/evalwheel_test"
