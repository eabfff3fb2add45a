#!/usr/bin/env bash
# test/containers/run.sh (npm run test:containers) — proves the container path on a real Docker
# engine, the way a user goes through it:
#   1. base images: the official ones, or local stand-ins where no registry is reachable
#      (../shared/container-standins/build.sh, when it exists);
#   2. ./start.sh --detach --workers 2, then ./verify.sh inside the app container;
#   3. the dashboard answers on 127.0.0.1 and wants its token;
#   4. `docker compose up -d --scale worker=4` while jobs run: the new workers take jobs;
#   5. `docker compose stop worker` while workers run jobs: the jobs finish, nothing left processing;
#   6. `queuectl worker stop --wait` in the stack: the workers drain and exit, Docker starts them again;
#   7. ./stop.sh, ./start.sh --detach: the jobs are still there, as many workers as before;
#   8. ./stop.sh --purge: containers and data volume gone.
# Its own Compose project (COMPOSE_PROJECT_NAME, default queuectl-containertest) and dashboard port, so
# a stack of the user's in the same folder is not touched. Prints one line per step with its duration,
# and last "containers: N passed, M failed".
# shellcheck disable=SC2016 # single quotes hold JavaScript for node -e, not shell
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
root=$PWD

export COMPOSE_PROJECT_NAME=${COMPOSE_PROJECT_NAME:-queuectl-containertest}
# Settings this test depends on, whatever a local .env says (the shell wins over .env).
export WORKER_CONCURRENCY=2 WORKER_STOP_TIMEOUT=50 WORKER_STOP_GRACE_PERIOD=60s
# Its own image tag too, so a user's `queuectl:local` is not replaced by this build.
export QUEUECTL_IMAGE=queuectl:containertest
export QUEUECTL_DASHBOARD_TOKEN=${QUEUECTL_DASHBOARD_TOKEN:-containertest-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')}
DASHBOARD_PORT=$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')
export DASHBOARD_PORT

T_ALL=$SECONDS
step_start=$SECONDS
say() { printf '[%3ds] %s\n' $((SECONDS - T_ALL)) "$*"; }
PASSED=0
ok() { PASSED=$((PASSED + 1)); say "ok    $* ($((SECONDS - step_start)) s)"; step_start=$SECONDS; }
die() { say "FAIL  $*"; exit 1; }

if docker compose version >/dev/null 2>&1; then COMPOSE=(docker compose); else COMPOSE=(docker-compose); fi
q() { "${COMPOSE[@]}" exec -T app queuectl "$@"; }
# jsonq EXPR: evaluates EXPR over the JSON on stdin (bound to d) and prints it.
jsonq() { node -e 'const d = JSON.parse(require("fs").readFileSync(0, "utf8")); const r = new Function("d", `return (${process.argv[1]});`)(d); console.log(typeof r === "string" ? r : JSON.stringify(r));' "$1"; }
worker_hosts() { # short ids (= hostnames) of the running worker containers of this project
  docker ps -q --filter "label=com.docker.compose.project=$COMPOSE_PROJECT_NAME" --filter "label=com.docker.compose.service=worker" | sort
}
# wait_for SECONDS WHAT CMD...
wait_for() {
  local limit=$1 what=$2 deadline
  shift 2
  deadline=$((SECONDS + limit))
  until "$@"; do
    [ $SECONDS -lt $deadline ] || die "$what (waited ${limit} s)"
    sleep 1
  done
}

made_env=""
[ -f .env ] || made_env=1
finish() {
  local rc=$?
  if [ "$rc" != 0 ]; then
    say "logs of the failed run:"
    "${COMPOSE[@]}" --profile dashboard logs --tail 30 2>&1 | tail -120 || true
  fi
  ./stop.sh --purge >/dev/null 2>&1 || true
  if [ -n "$made_env" ]; then rm -f .env; fi
  say "$([ "$rc" = 0 ] && echo "test:containers passed" || echo "test:containers FAILED") in $((SECONDS - T_ALL)) s"
  # The closing line CI reads: steps that passed, and the one that failed.
  printf 'containers: %s passed, %s failed\n' "$PASSED" "$([ "$rc" = 0 ] && echo 0 || echo 1)"
}
trap finish EXIT

# --- 1. base images -------------------------------------------------------------------------------
node_image=$(sed -n 's/^ARG NODE_IMAGE=//p' Dockerfile)
pg_image=postgres:$(sed -n 's/.*POSTGRES_VERSION:-\([0-9][0-9]*\).*/\1/p' docker-compose.yml | head -1)
standins=$root/../shared/container-standins
if [ -x "$standins/build.sh" ]; then
  "$standins/build.sh" "$node_image" "$pg_image"
  # The stand-in recipe lacks libatomic1, which Node >= 25 needs and the official node images ship.
  if ! docker run --rm "$node_image" node --version >/dev/null 2>&1; then
    printf 'FROM %s\nUSER root\nRUN apt-get update -qq && apt-get install -y -qq --no-install-recommends libatomic1 >/dev/null && rm -rf /var/lib/apt/lists/*\n' "$node_image" |
      docker build -q -t "$node_image" - >/dev/null
    docker run --rm "$node_image" node --version >/dev/null || die "the stand-in $node_image cannot run node"
    say "added libatomic1 to the stand-in $node_image (the official image has it)"
  fi
fi
docker info >/dev/null 2>&1 || die "no Docker engine answers"
ok "base images $node_image and $pg_image ready; compose: ${COMPOSE[*]}"

"${COMPOSE[@]}" --profile dashboard down --volumes --remove-orphans >/dev/null 2>&1 || true

# --- 2. start, verify ------------------------------------------------------------------------------
log=$(mktemp)
./start.sh --detach --workers 2 >"$log" 2>&1 || { cat "$log"; rm -f "$log"; die "./start.sh --detach --workers 2"; }
rm -f "$log"
[ "$(worker_hosts | grep -c .)" = 2 ] || die "2 worker containers run"
ok "./start.sh --detach --workers 2 (build, PostgreSQL healthy, migrated, workers registered, dashboard up)"

out=$("${COMPOSE[@]}" exec -T app ./verify.sh 2>&1) || { printf '%s\n' "$out"; die "./verify.sh in the app container"; }
ok "./verify.sh in the app container: $(printf '%s\n' "$out" | tail -1)"

# --- 3. dashboard ----------------------------------------------------------------------------------
code() { node -e 'fetch(process.argv[1], { headers: process.argv[2] ? { authorization: `Bearer ${process.argv[2]}` } : {} }).then((r) => console.log(r.status), () => console.log(0))' "$@"; }
base=http://127.0.0.1:$DASHBOARD_PORT
[ "$(code "$base/healthz")" = 200 ] || die "dashboard /healthz on $base"
[ "$(code "$base/api/overview")" = 401 ] || die "dashboard /api/overview without the token is refused"
[ "$(code "$base/api/overview" "$QUEUECTL_DASHBOARD_TOKEN")" = 200 ] || die "dashboard /api/overview with the token"
[ "$(code "$base/metrics" "$QUEUECTL_DASHBOARD_TOKEN")" = 200 ] || die "dashboard /metrics with the token"
ok "dashboard on $base: /healthz open, /api and /metrics need the token"

# --- 4. scale up while jobs run --------------------------------------------------------------------
SQ="scale-$$"
node -e 'const [q] = process.argv.slice(1); for (let i = 0; i < 48; i++) console.log(JSON.stringify({ id: `${q}-${i}`, queue: q, command: "sleep 2" }));' "$SQ" |
  q enqueue - >/dev/null
before=$(worker_hosts)
"${COMPOSE[@]}" up -d --scale worker=4 >/dev/null 2>&1 || die "docker compose up -d --scale worker=4"
after=$(worker_hosts)
new_hosts=$(comm -13 <(printf '%s\n' "$before") <(printf '%s\n' "$after") | paste -sd, -)
[ "$(printf '%s' "$new_hosts" | tr ',' '\n' | grep -c .)" = 2 ] || die "scaling added 2 worker containers (before: $before, after: $after)"
[ "$(comm -12 <(printf '%s\n' "$before") <(printf '%s\n' "$after") | grep -c .)" = 2 ] || die "the 2 running workers were kept, not recreated"
scale_done() { q list --queue "$SQ" --limit 1000 --json | jsonq 'd.length === 48 && d.every((j) => j.state === "completed")' | grep -qx true; }
wait_for 90 "the 48 jobs of $SQ completed" scale_done
took=$(q list --queue "$SQ" --limit 1000 --json | jsonq "(() => { const hosts = '$new_hosts'.split(','); const by = {};
  for (const j of d) { const h = j.worker_id.split('-')[0]; by[h] = (by[h] || 0) + 1; }
  const dup = d.filter((j) => j.attempts !== 1).length;
  return hosts.every((h) => by[h] > 0) && dup === 0 ? 'ok ' + JSON.stringify(by) : 'per worker ' + JSON.stringify(by) + ', jobs not in 1 attempt: ' + dup; })()")
case "$took" in ok*) ;; *) die "the new workers took jobs: $took" ;; esac
ok "up -d --scale worker=4 while 48 jobs ran: the 2 new workers took jobs, each job ran once (${took#ok })"

# --- 5. stop workers while they run jobs -----------------------------------------------------------
DQ="drain-$$"
node -e 'const [q] = process.argv.slice(1); for (let i = 0; i < 8; i++) console.log(JSON.stringify({ id: `${q}-${i}`, queue: q, command: "sleep 6; echo finished" }));' "$DQ" |
  q enqueue - >/dev/null
all_running() { q list --queue "$DQ" --state processing --limit 100 --json | jsonq 'd.length' | grep -qx 8; }
wait_for 20 "8 slots run the 8 jobs of $DQ" all_running
t_stop=$SECONDS
"${COMPOSE[@]}" stop worker >/dev/null 2>&1 || die "docker compose stop worker"
stop_s=$((SECONDS - t_stop))
[ "$(worker_hosts | grep -c .)" = 0 ] || die "every worker container stopped"
res=$(q list --queue "$DQ" --limit 100 --json | jsonq 'd.filter((j) => !(j.state === "completed" && j.attempts === 1 && j.exit_code === 0)).map((j) => j.id + ":" + j.state).join(" ") || "ok"')
[ "$res" = ok ] || die "the jobs running at SIGTERM finished: $res"
processing=$(q status --json | jsonq 'd.jobs.processing')
[ "$processing" = 0 ] || die "nothing left processing (processing: $processing)"
[ "$stop_s" -lt 40 ] || die "the workers drained in time: stop took $stop_s s (SIGTERM did not reach queuectl? Docker killed them at the grace period)"
ok "docker compose stop worker with 8 jobs running: all 8 finished in their first attempt, nothing processing, stopped in $stop_s s"

# --- 6. queuectl worker stop inside the stack ------------------------------------------------------
"${COMPOSE[@]}" start worker >/dev/null 2>&1 || die "docker compose start worker"
alive_workers() { q worker list --json | jsonq 'd.filter((w) => w.state === "running").length' | grep -qx "$1"; }
wait_for 60 "4 workers registered again" alive_workers 4
WQ="wstop-$$"
node -e 'const [q] = process.argv.slice(1); for (let i = 0; i < 4; i++) console.log(JSON.stringify({ id: `${q}-${i}`, queue: q, command: "sleep 4" }));' "$WQ" |
  q enqueue - >/dev/null
some_running() { q list --queue "$WQ" --state processing --limit 100 --json | jsonq 'd.length' | grep -qx 4; }
wait_for 20 "the 4 jobs of $WQ run" some_running
ids_before=$(q worker list --json | jsonq 'd.map((w) => w.id).sort().join(" ")')
res=$(q worker stop --wait --timeout 30 --json) || die "queuectl worker stop --wait"
[ "$(printf '%s' "$res" | jsonq 'd.stopping.length === 4 && d.still_running.length === 0')" = true ] || die "worker stop --wait: $res"
res=$(q list --queue "$WQ" --limit 100 --json | jsonq 'd.every((j) => j.state === "completed" && j.attempts === 1) || JSON.stringify(d.map((j) => [j.id, j.state, j.attempts]))')
[ "$res" = true ] || die "the jobs running at worker stop finished: $res"
restarted() { q worker list --json | jsonq "d.filter((w) => w.state === 'running' && !'$ids_before'.split(' ').includes(w.id)).length" | grep -qx 4; }
wait_for 60 "Docker restarted the 4 stopped workers (restart: unless-stopped)" restarted
ok "queuectl worker stop --wait: 4 workers drained their jobs and exited; Docker started 4 fresh ones"

# --- 7. stop, start: data kept ---------------------------------------------------------------------
counts_before=$(q status --json | jsonq 'JSON.stringify(d.jobs)')
./stop.sh >/dev/null 2>&1 || die "./stop.sh"
[ -z "$(docker ps -q --filter "label=com.docker.compose.project=$COMPOSE_PROJECT_NAME")" ] || die "./stop.sh stopped every container"
./start.sh --detach >/dev/null 2>&1 || die "./start.sh --detach after ./stop.sh"
counts_after=$(q status --json | jsonq 'JSON.stringify(d.jobs)')
[ "$counts_before" = "$counts_after" ] || die "the jobs are still there: before $counts_before, after $counts_after"
[ "$(q list --queue "$SQ" --state completed --limit 1000 --json | jsonq 'd.length')" = 48 ] || die "the 48 jobs of $SQ are still there"
[ "$(worker_hosts | grep -c .)" = 4 ] || die "./start.sh without --workers brought back the 4 workers"
ok "./stop.sh then ./start.sh --detach: every job still there ($counts_after), 4 workers again"

# --- 8. purge --------------------------------------------------------------------------------------
volume=${COMPOSE_PROJECT_NAME}_pgdata
./stop.sh --purge >/dev/null 2>&1 || die "./stop.sh --purge"
[ -z "$(docker ps -aq --filter "label=com.docker.compose.project=$COMPOSE_PROJECT_NAME")" ] || die "./stop.sh --purge removed the containers"
! docker volume inspect "$volume" >/dev/null 2>&1 || die "./stop.sh --purge removed the volume $volume"
./stop.sh >/dev/null 2>&1 || die "./stop.sh on a stopped, purged stack (idempotent)"
ok "./stop.sh --purge: containers and volume $volume gone; ./stop.sh again is a no-op"
