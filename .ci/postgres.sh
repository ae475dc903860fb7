#!/usr/bin/env bash
# Starts the machine's PostgreSQL when it is not answering and waits for it.
set -euo pipefail

ready() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }

command -v pg_isready >/dev/null || { echo "postgres: pg_isready not found; install postgresql" >&2; exit 1; }
if ready; then
	echo "PostgreSQL is running on 127.0.0.1:5432"
	exit 0
fi
version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
[ -n "$version" ] || { echo "postgres: no cluster under /etc/postgresql" >&2; exit 1; }
echo "starting PostgreSQL $version"
pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
for _ in $(seq 1 60); do
	ready && { echo "PostgreSQL is up"; exit 0; }
	sleep 0.5
done
echo "postgres: did not become ready on 127.0.0.1:5432" >&2
exit 1
