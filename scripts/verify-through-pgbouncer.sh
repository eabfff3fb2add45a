#!/usr/bin/env bash
# verify.sh with every connection going through PgBouncer in transaction mode (Debian's pgbouncer),
# in front of the PostgreSQL server on 127.0.0.1:5432 where `postgres` logs in without a password
# (as on CI's machine). The roles verify.sh creates log in to PgBouncer with their passwords, which
# it looks up in pg_shadow (auth_query). Uses a scratch database, dropped at the end.
#
#   bash scripts/verify-through-pgbouncer.sh [pool size, default 5]
set -euo pipefail
cd "$(dirname "$0")/.."
pool=${1:-5}
dir=$(mktemp -d)
port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
cat >"$dir/pgbouncer.ini" <<INI
[databases]
* = host=127.0.0.1 port=5432
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
pool_mode = transaction
default_pool_size = $pool
max_client_conn = 2000
auth_type = hba
auth_hba_file = $dir/hba.txt
auth_file = $dir/users.txt
auth_user = postgres
auth_query = SELECT usename, passwd FROM pg_shadow WHERE usename=\$1
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
INI
printf 'host all postgres 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 scram-sha-256\n' >"$dir/hba.txt"
printf '"postgres" ""\n' >"$dir/users.txt"
user=()
if [ "$(id -u)" = 0 ]; then chown -R postgres "$dir"; user=(-u postgres); fi
pgbouncer -d "${user[@]}" "$dir/pgbouncer.ini"
trap 'kill "$(cat "$dir/pgbouncer.pid")" 2>/dev/null; psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS queuectl_verify_pgbouncer WITH (FORCE)"; rm -rf "$dir"' EXIT
psql -h 127.0.0.1 -U postgres -qc 'DROP DATABASE IF EXISTS queuectl_verify_pgbouncer' -c 'CREATE DATABASE queuectl_verify_pgbouncer'
echo "verify.sh through PgBouncer (transaction mode, server pool $pool) on 127.0.0.1:$port"
DATABASE_URL="postgresql://postgres@127.0.0.1:$port/queuectl_verify_pgbouncer" ./verify.sh
