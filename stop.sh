#!/usr/bin/env bash
# stop.sh — stop the queuectl containers started by ./start.sh. Workers get SIGTERM and finish the
# jobs they are running first (up to WORKER_STOP_GRACE_PERIOD, 60 s by default). The PostgreSQL data
# stays in its Docker volume: ./start.sh brings everything back as it was.
#
# Usage: ./stop.sh [--purge]
#   --purge  also delete the containers, the network and the data volume (every job, for good)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; }
die() { echo "stop.sh: $*" >&2; exit 1; }

purge=0
while [ $# -gt 0 ]; do
  case "$1" in
    --purge) purge=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done

command -v docker >/dev/null 2>&1 || die "docker is not installed: see https://docs.docker.com/engine/install/"
if docker compose version >/dev/null 2>&1; then
  COMPOSE=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
  COMPOSE=(docker-compose)
else
  die "Docker Compose is not installed (neither 'docker compose' nor 'docker-compose'): see https://docs.docker.com/compose/install/"
fi
docker info >/dev/null 2>&1 || die "the Docker engine does not answer: is it running, and may $(id -un) use it (docker group)?"

# Every profile, so the dashboard is included however it was started.
PROFILE=(--profile dashboard)
if [ "$purge" = 1 ]; then
  "${COMPOSE[@]}" "${PROFILE[@]}" down --volumes --remove-orphans
  echo "stopped queuectl and deleted its containers and data volume"
else
  # `stop`, not `down`: the containers stay (with their logs), and `start.sh` finds the worker count.
  "${COMPOSE[@]}" "${PROFILE[@]}" stop
  echo "stopped queuectl; the data is kept (./start.sh starts it again, ./stop.sh --purge deletes it)"
fi
