#!/usr/bin/env bash
# Runs a command against a throw-away PostgreSQL cluster, for pgstore's tests:
#
#   .ci/postgres.sh COMMAND [ARG...]
#
# It installs Debian's postgresql package if no server is found (as root),
# creates a cluster in a new temporary directory that listens only on a unix
# socket in that directory, runs COMMAND with LIVEFOLD_PG_URL naming it, then
# stops the cluster and removes the directory, also when COMMAND fails or the
# script is interrupted. The exit status is COMMAND's. Run as root, the
# cluster runs as the postgres user the package creates, since PostgreSQL
# refuses to run as root. The cluster trades durability for speed (fsync
# off): it holds test data only. With LIVEFOLD_PG_DURABLE=1 it keeps
# PostgreSQL's durable defaults instead, for benchmarks:
#
#   LIVEFOLD_PG_DURABLE=1 .ci/postgres.sh sh -c 'cd bench && go run . -only postgres'
#
# From pgstore/, its tests with the race detector:
#
#   ../.ci/postgres.sh go test -race -count=1 ./...
set -euo pipefail

if [ $# -eq 0 ]; then
  echo "usage: $0 COMMAND [ARG...]" >&2
  exit 2
fi

find_bindir() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
      echo "$d"
      return 0
    fi
  done
  return 1
}

bindir=$(find_bindir || true)
if [ -z "$bindir" ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "$0: no PostgreSQL server under /usr/lib/postgresql; install Debian's postgresql package" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  bindir=$(find_bindir)
fi

dir=$(mktemp -d -t livefold-pg.XXXXXX)
as_owner() { "$@"; }
if [ "$(id -u)" -eq 0 ]; then
  chown postgres: "$dir"
  as_owner() { runuser -u postgres -- "$@"; }
fi

stop() {
  # immediate: the data is thrown away, there is nothing to flush.
  (cd "$dir" && as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop) >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT
trap 'exit 130' INT TERM

# The postgres user may not read the caller's directory: run from the
# temporary one.
(
  cd "$dir"
  as_owner "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 --locale=C -N >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; exit 1; }
  speed="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  if [ "${LIVEFOLD_PG_DURABLE:-}" = 1 ]; then
    speed=""
  fi
  as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start -o \
    "-c listen_addresses='' -c unix_socket_directories='$dir' $speed -c max_connections=200" \
    >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
)

export LIVEFOLD_PG_URL="host=$dir port=5432 user=postgres dbname=postgres sslmode=disable"
set +e
"$@"
status=$?
set -e
exit "$status"
