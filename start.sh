#!/usr/bin/env bash
# start.sh — build and start queuectl on Docker: PostgreSQL, the schema migration, the workers, the
# dashboard and an app container with the CLI; wait until everything is up; then open a shell in the
# app container (`queuectl` is on its PATH). Running it again applies changes and keeps the data.
#
# Usage: ./start.sh [--workers N] [--detach] [--no-build]
#   -w, --workers N  worker containers to run (default: as many as run now, else 2)
#   -d, --detach     start and return, without opening the shell
#       --no-build   use the image built before instead of (re)building it
# Settings: .env (created from .env.example on the first run). Stop with ./stop.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; }
die() { echo "start.sh: $*" >&2; exit 1; }

workers=""
detach=0
build=1
while [ $# -gt 0 ]; do
  case "$1" in
    -w | --workers) [ $# -ge 2 ] || die "--workers needs a number"; workers=$2; shift 2 ;;
    --workers=*) workers=${1#*=}; shift ;;
    -d | --detach) detach=1; shift ;;
    --no-build) build=0; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done
if [ -n "$workers" ] && ! [[ "$workers" =~ ^[0-9]+$ && "$workers" -le 100 ]]; then
  echo "start.sh: --workers must be a whole number from 0 to 100" >&2
  exit 2
fi

# --- Docker and Compose ------------------------------------------------------------------------------
command -v docker >/dev/null 2>&1 || die "docker is not installed: see https://docs.docker.com/engine/install/"
if docker compose version >/dev/null 2>&1; then
  COMPOSE=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
  COMPOSE=(docker-compose)
else
  die "Docker Compose is not installed (neither 'docker compose' nor 'docker-compose'): see https://docs.docker.com/compose/install/"
fi
docker info >/dev/null 2>&1 || die "the Docker engine does not answer: is it running, and may $(id -un) use it (docker group)?"

# --- settings ----------------------------------------------------------------------------------------
if [ ! -f .env ]; then
  cp .env.example .env
  echo "created .env from .env.example"
fi
# The dashboard listens on the container's network and refuses to without a token: make one, once.
token=${QUEUECTL_DASHBOARD_TOKEN:-$(sed -n 's/^QUEUECTL_DASHBOARD_TOKEN=//p' .env | tail -1)}
if [ -z "$token" ]; then
  token=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
  if grep -q '^QUEUECTL_DASHBOARD_TOKEN=' .env; then
    sed -i.bak "s/^QUEUECTL_DASHBOARD_TOKEN=.*/QUEUECTL_DASHBOARD_TOKEN=$token/" .env && rm -f .env.bak
  else
    printf 'QUEUECTL_DASHBOARD_TOKEN=%s\n' "$token" >>.env
  fi
  echo "wrote a new dashboard token to .env (QUEUECTL_DASHBOARD_TOKEN)"
elif [ "${#token}" -lt 16 ]; then
  die "QUEUECTL_DASHBOARD_TOKEN must have at least 16 characters (or leave it empty in .env and one is made)"
fi
# Each service's database role gets a random password, once (migrate creates the roles with them).
for var in QUEUECTL_WORKER_PASSWORD QUEUECTL_APP_PASSWORD QUEUECTL_DASHBOARD_PASSWORD QUEUECTL_ENQUEUER_PASSWORD; do
  [ -z "${!var:-}" ] || continue
  [ -z "$(sed -n "s/^$var=//p" .env | tail -1)" ] || continue
  pw=$(od -An -N18 -tx1 /dev/urandom | tr -d ' \n')
  if grep -q "^$var=" .env; then
    sed -i.bak "s/^$var=.*/$var=$pw/" .env && rm -f .env.bak
  else
    printf '%s=%s\n' "$var" "$pw" >>.env
  fi
  echo "wrote a new password for the $(printf '%s' "$var" | sed 's/^QUEUECTL_//; s/_PASSWORD$//' | tr '[:upper:]' '[:lower:]') role to .env ($var)"
done
# The dashboard runs in the `dashboard` profile; --profile also works where .env does not set it.
PROFILE=(--profile dashboard)

# The project name Compose uses (COMPOSE_PROJECT_NAME, from the shell or .env, else the folder name).
project=${COMPOSE_PROJECT_NAME:-$(sed -n 's/^COMPOSE_PROJECT_NAME=//p' .env | tail -1)}
project=${project:-$(basename "$PWD")}
project=$(printf '%s' "$project" | tr '[:upper:]' '[:lower:]' | tr -cd 'a-z0-9_-')
service_containers() { # all containers of a service of this project, running or stopped
  docker ps -aq --filter "label=com.docker.compose.project=$project" --filter "label=com.docker.compose.service=$1"
}
if [ -z "$workers" ]; then
  # As many as the stack had (a stopped stack keeps its containers), else 2.
  workers=$(service_containers worker | grep -c . || true)
  [ "$workers" -gt 0 ] || workers=2
fi

# --- build and start ---------------------------------------------------------------------------------
if [ "$build" = 1 ]; then
  # Every queuectl service runs the same image: build it once, through the `migrate` service.
  "${COMPOSE[@]}" build migrate
fi
echo "starting PostgreSQL, the migration, $workers worker(s), the dashboard and the app container"
# `up` waits for PostgreSQL to be healthy and the migration to finish before it starts the rest.
if ! "${COMPOSE[@]}" "${PROFILE[@]}" up -d --remove-orphans --scale "worker=$workers"; then
  "${COMPOSE[@]}" logs --tail 20 migrate postgres >&2 || true
  die "the stack did not start (logs above; more with: ${COMPOSE[*]} logs)"
fi

# --- wait until it works -----------------------------------------------------------------------------
q() { "${COMPOSE[@]}" exec -T app queuectl "$@"; }
deadline=$((SECONDS + 90))
until q status --json >/dev/null 2>&1; do
  [ $SECONDS -lt $deadline ] || die "the app container cannot reach the database (see: ${COMPOSE[*]} logs app postgres)"
  sleep 1
done
registered() {
  # Workers alive on the database from this stack's worker containers (hostname = short container id).
  local hosts
  hosts=$(docker ps -q --no-trunc --filter "label=com.docker.compose.project=$project" \
    --filter "label=com.docker.compose.service=worker" | cut -c1-12 | paste -sd, -)
  # node runs in the app container: the host needs nothing but Docker.
  q worker list --json | "${COMPOSE[@]}" exec -T app node -e '
    const w = JSON.parse(require("fs").readFileSync(0, "utf8"));
    const hosts = process.argv[1].split(",");
    process.exit(w.filter((x) => hosts.includes(x.host) && x.state === "running").length >= Number(process.argv[2]) ? 0 : 1);' \
    "$hosts" "$workers"
}
[ "$workers" = 0 ] || until registered >/dev/null 2>&1; do
  [ $SECONDS -lt $deadline ] || die "the workers did not register (see: ${COMPOSE[*]} logs worker)"
  sleep 1
done
port=$("${COMPOSE[@]}" port dashboard 3000 2>/dev/null | sed 's/.*://' || true)
until "${COMPOSE[@]}" exec -T dashboard node -e \
  'fetch("http://127.0.0.1:3000/healthz").then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' >/dev/null 2>&1; do
  [ $SECONDS -lt $deadline ] || die "the dashboard does not answer (see: ${COMPOSE[*]} logs dashboard)"
  sleep 1
done

echo
volume=$(docker inspect -f '{{range .Mounts}}{{if eq .Destination "/var/lib/postgresql"}}{{.Name}}{{end}}{{end}}' "$(service_containers postgres | head -1)" 2>/dev/null || true)
echo "queuectl is up: $workers worker(s); PostgreSQL keeps its data in the Docker volume ${volume:-${project}_pgdata}"
echo "  dashboard:  http://127.0.0.1:${port:-3000}/  (token: QUEUECTL_DASHBOARD_TOKEN in .env)"
echo "  CLI:        ${COMPOSE[*]} exec app queuectl status"
echo "  scale:      ./start.sh --workers 4   (or: ${COMPOSE[*]} up -d --scale worker=4)"
echo "  check:      ${COMPOSE[*]} exec app ./verify.sh"
echo "  stop:       ./stop.sh   (keeps the data; --purge deletes it)"
if [ "$detach" = 1 ]; then exit 0; fi
if [ ! -t 0 ] || [ ! -t 1 ]; then
  echo "(not a terminal: no shell opened; run: ${COMPOSE[*]} exec app bash)"
  exit 0
fi
echo
echo "opening a shell in the app container (exit leaves everything running)"
exec "${COMPOSE[@]}" exec app bash
