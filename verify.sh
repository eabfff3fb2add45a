#!/usr/bin/env bash
# verify.sh — one end-to-end run over every queuectl feature, against the database queuectl is
# configured for. Runs unchanged in three places:
#   - in the app container of the compose stack (`./verify.sh` there; the image carries this file),
#   - on a host with DATABASE_URL set,
#   - on a bare host without DATABASE_URL: queuectl's embedded PostgreSQL, under a temporary
#     QUEUECTL_HOME unless one is set; a server this run started is stopped at the end.
# Uses `queuectl` from the PATH, else `node dist/cli/main.js` next to this script.
#
# It does not disturb what is already there: its jobs live in their own queue (verify-<time>-<pid>),
# it starts its own workers for that queue and stops only those, by PID; other workers on the same
# database (the stack's) may take its jobs too, and every check holds whichever worker runs a job.
# `queuectl worker stop` asks EVERY worker on the database to stop, so that check only runs when no
# other worker is alive (else it prints "skip"); graceful draining is always checked by SIGTERM on
# this run's own workers. A config value it changes is restored; the jobs that end in the DLQ are
# retried until they succeed, so the DLQ is left as it was. Finished jobs stay in the history. Every
# job sets its own timeout, so a job_timeout_ms configured on the database does not change the run.
#
# Prints one line per check and, last, "N passed, M failed"; exits 1 when any check failed.
# Options: --no-worker-stop  never run the `queuectl worker stop` check
#          -h, --help
set -uo pipefail

usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; }
WORKER_STOP_CHECK=auto
for arg in "$@"; do
  case "$arg" in
    --no-worker-stop) WORKER_STOP_CHECK=no ;;
    -h | --help) usage; exit 0 ;;
    *) echo "verify.sh: unknown option '$arg' (see --help)" >&2; exit 2 ;;
  esac
done

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if command -v queuectl >/dev/null 2>&1; then
  QCTL=(queuectl)
elif [ -f "$here/dist/cli/main.js" ]; then
  QCTL=(node "$here/dist/cli/main.js")
else
  echo "verify.sh: queuectl is not on the PATH and $here/dist/cli/main.js does not exist (run npm ci first)" >&2
  exit 2
fi
command -v node >/dev/null 2>&1 || { echo "verify.sh: node is not on the PATH" >&2; exit 2; }

START_S=$(date +%s)
HOST=${HOSTNAME:-$(uname -n)}
Q="verify-$(date +%s)-$$"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/queuectl-verify.XXXXXX")
PASSED=0
FAILED=0
OUR_PIDS=()          # worker processes this run started (background workers are not our children)
CONFIG_RESTORE=""    # "key value" to put back on exit
MADE_HOME=""         # a temporary QUEUECTL_HOME this run created
STOP_LOCAL_SERVER="" # the embedded server was not running before: stop it at the end
SCHEDULE_REMOVE=""   # a schedule this run added: removed on exit, whatever happened
MADE_ROLES=()        # database roles this run created (db grant --create): revoked and dropped on exit

# ---------------------------------------------------------------------------------------------------
# helpers

pass() { PASSED=$((PASSED + 1)); printf 'ok    %s\n' "$1"; }
fail() { FAILED=$((FAILED + 1)); printf 'FAIL  %s%s\n' "$1" "${2:+ — $2}"; }
skip() { printf 'skip  %s\n' "$1"; }
now() { date +%s.%N | cut -c1-14; }

# qrun ARGS...: runs queuectl; sets OUT (stdout), ERR (stderr), RC (exit code).
qrun() {
  OUT=$("${QCTL[@]}" "$@" 2>"$WORK/stderr")
  RC=$?
  ERR=$(cat "$WORK/stderr")
}
# qrun_in FILE ARGS...: the same with stdin from FILE.
qrun_in() {
  local f=$1
  shift
  OUT=$("${QCTL[@]}" "$@" <"$f" 2>"$WORK/stderr")
  RC=$?
  ERR=$(cat "$WORK/stderr")
}

# A tiny JSON evaluator (node is there wherever queuectl runs): jv EXPR reads JSON on stdin, binds it
# to `d` and prints the value of EXPR (strings raw, the rest as JSON). `t(iso)` = seconds since epoch.
cat >"$WORK/jv.cjs" <<'EOF'
const src = require("fs").readFileSync(0, "utf8");
let d;
try { d = JSON.parse(src); } catch { console.log(`not JSON: ${JSON.stringify(src.slice(0, 200))}`); process.exit(3); }
const t = (iso) => (iso ? Date.parse(iso) / 1000 : NaN);
let r;
try { r = new Function("d", "t", `return (${process.argv[2]});`)(d, t); } catch (e) { console.log(`check threw: ${e.message}`); process.exit(3); }
process.stdout.write(r === undefined || r === null ? "" : typeof r === "string" ? r : JSON.stringify(r));
EOF
jv() { node "$WORK/jv.cjs" "$1"; }

# check NAME JSON EXPR: passes when EXPR (over d = JSON) is true; else EXPR's value is the reason.
check() {
  local name=$1 json=$2 expr=$3 r
  r=$(printf '%s' "$json" | jv "$expr")
  if [ "$r" = true ]; then pass "$name"; else fail "$name" "${r:-false}"; fi
}
# expect_rc NAME CODE: checks the last qrun's exit code and that an error is one line, no stack trace.
expect_rc() {
  local name=$1 want=$2
  if [ "$RC" != "$want" ]; then
    fail "$name" "exit code $RC, expected $want (stderr: ${ERR:0:200})"
  elif [ "$want" != 0 ] && { [ "$(printf '%s\n' "$ERR" | grep -c .)" != 1 ] || printf '%s' "$ERR" | grep -q '^ *at '; }; then
    fail "$name" "exit code $want but stderr is not one clear line: ${ERR:0:300}"
  else
    pass "$name"
  fi
}
# wait_until SECONDS CMD...: runs CMD until it succeeds or the time is up.
wait_until() {
  local deadline
  deadline=$(($(date +%s) + $1))
  shift
  until "$@"; do
    [ "$(date +%s)" -ge "$deadline" ] && return 1
    sleep 0.3
  done
}
alive() { [ -d "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
jobs_json() { qrun list --queue "$Q" --limit 1000 --json; JOBS=$OUT; }
# all_settled EXPR: refreshes JOBS and evaluates EXPR over them.
jobs_where() { jobs_json; [ "$RC" = 0 ] && [ "$(printf '%s' "$JOBS" | jv "$1")" = true ]; }

cleanup() {
  local pid
  for pid in "${OUR_PIDS[@]}"; do alive "$pid" && kill -TERM "$pid" 2>/dev/null; done
  for pid in "${OUR_PIDS[@]}"; do
    for _ in $(seq 1 50); do alive "$pid" || break; sleep 0.2; done
    alive "$pid" && kill -KILL "$pid" 2>/dev/null
  done
  if [ -n "$SCHEDULE_REMOVE" ]; then "${QCTL[@]}" schedule remove "$SCHEDULE_REMOVE" >/dev/null 2>&1 || true; fi
  if [ -n "$CONFIG_RESTORE" ]; then
    # shellcheck disable=SC2086 # "key value"
    "${QCTL[@]}" config set $CONFIG_RESTORE >/dev/null 2>&1 || echo "verify.sh: could not restore config $CONFIG_RESTORE" >&2
  fi
  for role in "${MADE_ROLES[@]}"; do "${QCTL[@]}" db revoke "$role" --drop >/dev/null 2>&1 || echo "verify.sh: could not drop role $role" >&2; done
  if [ -n "$STOP_LOCAL_SERVER" ]; then "${QCTL[@]}" db stop >/dev/null 2>&1 || true; fi
  if [ -n "$MADE_HOME" ]; then rm -rf "$MADE_HOME"; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------------------
# where we run

if [ -z "${DATABASE_URL:-}" ]; then
  if [ -z "${QUEUECTL_HOME:-}" ]; then
    MADE_HOME=$(mktemp -d "${TMPDIR:-/tmp}/queuectl-verify-home.XXXXXX")
    export QUEUECTL_HOME=$MADE_HOME
  fi
  pidfile="$QUEUECTL_HOME/pg/data/postmaster.pid"
  if ! { [ -f "$pidfile" ] && alive "$(head -1 "$pidfile")"; }; then STOP_LOCAL_SERVER=1; fi
  where="the embedded PostgreSQL under $QUEUECTL_HOME"
else
  where="DATABASE_URL $(printf '%s' "$DATABASE_URL" | sed -E 's#://([^:/@]+):[^@]*@#://\1:***@#')"
fi
echo "verify: queue $Q on $where, queuectl = ${QCTL[*]}"

# ---------------------------------------------------------------------------------------------------
# schema, config, invalid input, exit codes

qrun db migrate
OWNER=1
if [ "$RC" = 4 ] && printf '%s' "$ERR" | grep -q "may not run 'db migrate'"; then
  # A role made by `db grant` (the stack's app container is an admin): the schema stays with its owner.
  OWNER=""
  expect_rc "db migrate: refused for a role that does not own the schema (exit 4, one line)" 4
  qrun status --json
else
  expect_rc "db migrate applies pending migrations (or says the schema is up to date)" 0
  qrun db status --json
  check "db status --json: every migration applied" "$OUT" 'Array.isArray(d) && d.length > 0 && d.every((m) => m.applied === true) || JSON.stringify(d)'
fi
if [ "$RC" != 0 ]; then
  fail "the database answers" "$ERR"
  printf '%s passed, %s failed\n' "$PASSED" "$FAILED"
  exit 1
fi

qrun config list --json
check "config list --json: the nine settings" "$OUT" \
  '["max_retries","backoff_base","backoff_max_s","job_timeout_ms","poll_interval_ms","lease_ms","output_limit_bytes","backoff_jitter","retention_completed"].every((k) => typeof d[k] === "number") || JSON.stringify(d)'
CONFIG=$OUT
BASE=$(printf '%s' "$CONFIG" | jv 'd.backoff_base')
BACKOFF_MAX=$(printf '%s' "$CONFIG" | jv 'd.backoff_max_s')

# ---------------------------------------------------------------------------------------------------
# the workload, part 1: enqueued before this run's workers start, so that priorities compete for slots

# Backoff: attempt n failing waits backoff_base^n s (capped by backoff_max_s). Use two retries when
# that stays short, one when only the first delay does; skip the timing otherwise.
# shellcheck disable=SC2016 # JavaScript, not shell
read -r RETRIES GAPS < <(node -e '
  const [b, max] = process.argv.slice(1).map(Number);
  const g = (n) => Math.min(b ** n, max);
  if (g(1) + g(2) <= 20) console.log(2, `${g(1)},${g(2)}`);
  else if (g(1) <= 20) console.log(1, `${g(1)}`);
  else console.log(0, "");' "$BASE" "$BACKOFF_MAX")
GAP_SUM=$(node -e 'console.log(Math.ceil(process.argv[1].split(",").filter(Boolean).map(Number).reduce((a, b) => a + b, 0)))' "$GAPS")

# Priorities: one transaction from stdin, JSON lines, shuffled.
: >"$WORK/prio.jsonl"
for p in 3 1 6 2 5 4; do
  printf '{"id":"%s-prio-%s","command":"sleep 0.4; echo prio-%s","queue":"%s","priority":%s,"timeout":60000}\n' "$Q" "$p" "$p" "$Q" "$p" >>"$WORK/prio.jsonl"
done
qrun_in "$WORK/prio.jsonl" enqueue - --json
check "enqueue - (JSON lines on stdin) --json: {\"ids\": [6 ids]}" "$OUT" 'Array.isArray(d.ids) && d.ids.length === 6 || JSON.stringify(d)'

# Parallel: a JSON array from --file. A job also appends its id to a file here when a worker on this
# machine runs it (a worker in another container has no such folder and only echoes).
PAR_N=16
# shellcheck disable=SC2016 # JavaScript, not shell
node -e '
  const [q, n, f] = process.argv.slice(1);
  const jobs = Array.from({ length: Number(n) }, (_, i) => ({ id: `${q}-par-${i}`, queue: q,
    timeout: 60000, command: `{ echo ${q}-par-${i} >> ${f}; } 2>/dev/null; echo par-${i}; sleep 0.3` }));
  require("fs").writeFileSync(process.argv[4], JSON.stringify(jobs));' "$Q" "$PAR_N" "$WORK/par.log" "$WORK/par.json"
qrun enqueue --file "$WORK/par.json" --json
check "enqueue --file (JSON array) --json: {\"ids\": [$PAR_N ids]}" "$OUT" "Array.isArray(d.ids) && d.ids.length === $PAR_N || JSON.stringify(d)"

qrun enqueue "{\"id\":\"$Q-ok\",\"command\":\"echo hello from $Q\",\"queue\":\"$Q\",\"timeout\":60000}" --json
check "enqueue '<json>' --json: {\"id\": ...}" "$OUT" "d.id === '$Q-ok' || JSON.stringify(d)"

printf '{"id":"%s-file","command":"echo read from a file","queue":"%s","timeout":60000}\n' "$Q" "$Q" >"$WORK/job.json"
qrun enqueue "$WORK/job.json"
if [ "$RC" = 0 ] && [ "$OUT" = "$Q-file" ]; then pass "enqueue FILE (a path as the argument) prints the id"; else fail "enqueue FILE (a path as the argument) prints the id" "rc $RC: $OUT $ERR"; fi

# ---------------------------------------------------------------------------------------------------
# this run's workers: two processes, two slots each, this queue only

qrun worker start --count 2 --concurrency 2 --queue "$Q" --json
check "worker start --count 2 --json: [{pid, log}] x2" "$OUT" 'Array.isArray(d) && d.length === 2 && d.every((w) => Number.isInteger(w.pid) && typeof w.log === "string") || JSON.stringify(d)'
read -r -a BG_PIDS < <(printf '%s' "$OUT" | jv 'Array.isArray(d) ? d.map((w) => w.pid).join(" ") : ""')
OUR_PIDS+=("${BG_PIDS[@]}")
qrun worker list --json
check "worker list --json shows them, with host, pid, state, concurrency, queues, started_at, heartbeat_at" "$OUT" \
  "(() => { const ours = d.filter((w) => w.host === '$HOST' && [${BG_PIDS[*]/%/,}].includes(w.pid));
     return ours.length === 2 && ours.every((w) => w.concurrency === 2 && JSON.stringify(w.queues) === JSON.stringify(['$Q'])
       && typeof w.id === 'string' && typeof w.state === 'string' && !isNaN(t(w.started_at)) && !isNaN(t(w.heartbeat_at)))
       || JSON.stringify(d); })()"
OUR_WORKER_IDS=$(printf '%s' "$OUT" | jv "d.filter((w) => w.host === '$HOST' && [${BG_PIDS[*]/%/,}].includes(w.pid)).map((w) => w.id)")

# Failing jobs, enqueued now that workers are there (priority 10: they start at once). They must fail
# now but succeed later, when retried from the DLQ: their commands pass once the clock reaches GATE.
GATE=$(($(date +%s) + 5 + GAP_SUM))
# shellcheck disable=SC2016 # the job's shell expands it, not this one
gated_fail() { printf '[ "$(date +%%s)" -ge %s ] || { echo "before the gate"; exit %s; }; echo "%s"' "$GATE" "$1" "$2"; }
SLEEP_MARK="37.$((RANDOM % 9000 + 1000))"
# Flags, and flags overriding the fields of a JSON argument.
qrun enqueue '{"command":"exit 9","max_retries":5,"priority":1,"timeout":60000}' --id "$Q-retry" --queue "$Q" --priority 10 \
  --max-retries "$RETRIES" --command "$(gated_fail 3 "retried and passed")"
expect_rc "enqueue '<json>' with flags overriding its fields" 0
qrun enqueue --id "$Q-timeout" --queue "$Q" --priority 10 --max-retries 0 --timeout 1000 \
  --command "if [ \"\$(date +%s)\" -lt $GATE ]; then sleep $SLEEP_MARK; fi; echo no sleep after the gate"
expect_rc "enqueue --command with --timeout --max-retries --priority" 0
qrun enqueue --id "$Q-dlq" --queue "$Q" --priority 10 --max-retries 0 --timeout 60000 --command "$(gated_fail 4 "passed after dlq retry")"
expect_rc "enqueue --command with --id --queue" 0
qrun show "$Q-retry" --json
check "flags override the JSON argument (max_retries $RETRIES, priority 10, command)" "$OUT" \
  "d.max_retries === $RETRIES && d.priority === 10 && d.command.includes('retried and passed') || JSON.stringify({max_retries: d.max_retries, priority: d.priority, command: d.command})"

# Scheduled jobs: --delay and run_at. Idle workers are there: a job run early would start now.
qrun enqueue --id "$Q-delay" --queue "$Q" --delay 6s --timeout 60000 --command "echo delayed"
expect_rc "enqueue --delay 6s" 0
RUN_AT=$(node -e 'console.log(new Date(Date.now() + 6000).toISOString())')
qrun enqueue "{\"id\":\"$Q-runat\",\"command\":\"echo scheduled\",\"queue\":\"$Q\",\"run_at\":\"$RUN_AT\",\"timeout\":60000}"
expect_rc "enqueue with run_at" 0
qrun show "$Q-runat" --json
check "show --json: every field of a job; a scheduled job waits (pending, no attempt)" "$OUT" \
  '["id","queue","command","state","priority","attempts","max_retries","timeout_ms","run_at","created_at","updated_at","started_at","finished_at","worker_id","exit_code","last_error","duration_ms"].every((k) => k in d) && d.state === "pending" && d.attempts === 0 && Array.isArray(d.history) && d.history.length === 0 || JSON.stringify(d)'

# While the jobs run: settings, invalid input and exit codes.
qrun config get output_limit_bytes --json
check "config get K --json: {key, value}" "$OUT" 'd.key === "output_limit_bytes" && typeof d.value === "number" || JSON.stringify(d)'
ORIG_LIMIT=$(printf '%s' "$OUT" | jv 'd.value')
if [ "$RC" = 0 ] && [ -n "$ORIG_LIMIT" ]; then
  CONFIG_RESTORE="output_limit_bytes $ORIG_LIMIT"
  qrun config set output_limit_bytes $((ORIG_LIMIT + 1))
  expect_rc "config set changes a setting" 0
  if printf '%s' "$OUT" | grep -q "running workers apply it from their next claim"; then pass "config set says when running workers apply it"; else fail "config set says when running workers apply it" "$OUT"; fi
  qrun config get output_limit_bytes --json
  check "config get returns the new value" "$OUT" "d.value === $((ORIG_LIMIT + 1)) || JSON.stringify(d)"
  qrun config set output_limit_bytes "$ORIG_LIMIT"
  qrun config get output_limit_bytes --json
  if [ "$RC" = 0 ] && [ "$(printf '%s' "$OUT" | jv 'd.value')" = "$ORIG_LIMIT" ]; then
    CONFIG_RESTORE=""
    pass "config set restores the original value ($ORIG_LIMIT)"
  else
    fail "config set restores the original value ($ORIG_LIMIT)" "$OUT $ERR"
  fi
fi
ORIG_RETRIES=$(printf '%s' "$CONFIG" | jv 'd.max_retries')
qrun config set max_retries -1
expect_rc "config set with an invalid value exits 2" 2
qrun config get max_retries --json
check "... and changes nothing" "$OUT" "d.value === $ORIG_RETRIES || JSON.stringify(d)"
qrun config get no_such_key
expect_rc "config get of an unknown key exits 3" 3

qrun enqueue "{\"id\":\"$Q-bad\",\"command\":\"true\",\"queue\":\"$Q\",\"colour\":\"red\"}"
expect_rc "enqueue with an unknown field exits 2" 2
qrun enqueue --command "true" --queue "$Q" --priority high
expect_rc "enqueue with a non-numeric --priority exits 2" 2
qrun show "$Q-bad"
expect_rc "... and inserts nothing (show of that id exits 3)" 3
qrun dlq retry "$Q-no-such-job"
expect_rc "dlq retry of an unknown job exits 3" 3
qrun list --state sleeping
expect_rc "list with an unknown state exits 2" 2
OUT=$(DATABASE_URL=postgresql://verify@127.0.0.1:9/none timeout 30 "${QCTL[@]}" status 2>"$WORK/stderr")
RC=$?
ERR=$(cat "$WORK/stderr")
expect_rc "an unreachable database exits 1" 1


SETTLED="(() => { const s = Object.fromEntries(d.map((j) => [j.id, j.state]));
  const done = (id) => s[id] === 'completed', dead = (id) => s[id] === 'dead';
  return d.filter((j) => /-(prio|par)-/.test(j.id)).every((j) => j.state === 'completed')
    && ['$Q-ok', '$Q-file', '$Q-delay', '$Q-runat'].every(done) && ['$Q-retry', '$Q-timeout', '$Q-dlq'].every(dead); })()"
if wait_until $((GAP_SUM + 25)) jobs_where "$SETTLED"; then
  pass "every job reached its end state (completed, or dead after its retries)"
else
  fail "every job reached its end state (completed, or dead after its retries)" "$(printf '%s' "$JOBS" | jv 'd.map((j) => j.id.split("-").pop() + ":" + j.state).join(" ")')"
fi

# ---------------------------------------------------------------------------------------------------
# what happened

check "scheduled jobs ran, and not before their run_at" "$JOBS" \
  "(() => { const s = d.filter((j) => j.id === '$Q-delay' || j.id === '$Q-runat');
     return s.length === 2 && s.every((j) => j.state === 'completed' && t(j.started_at) >= t(j.run_at)) || JSON.stringify(s.map((j) => [j.id, j.run_at, j.started_at])); })()"

qrun show "$Q-ok" --json
check "a job that exits 0 is completed, 1 attempt, exit code 0, its output captured" "$OUT" \
  "d.state === 'completed' && d.attempts === 1 && d.exit_code === 0 && d.history.length === 1 && (d.history[0].output || '').includes('hello from $Q') || JSON.stringify(d)"
check "show --json history: attempt, worker_id, started_at, finished_at, exit_code, error, output" "$OUT" \
  "['attempt','worker_id','started_at','finished_at','exit_code','error','output'].every((k) => k in d.history[0]) || JSON.stringify(d.history)"
qrun show "$Q-ok"
if [ "$RC" = 0 ] && printf '%s' "$OUT" | grep -q "hello from $Q" && printf '%s' "$OUT" | grep -q completed; then
  pass "show (table) prints the fields, the history and the output"
else
  fail "show (table) prints the fields, the history and the output" "rc $RC: ${OUT:0:300}"
fi

check "priority: a job never started after a lower-priority one of the same batch (higher runs first)" "$JOBS" \
  "(() => { const p = d.filter((j) => j.id.includes('-prio-'));
     if (p.length !== 6) return 'found ' + p.length + ' priority jobs';
     for (const a of p) for (const b of p) if (a.priority > b.priority && t(a.started_at) > t(b.started_at) + 0.2)
       return 'priority ' + a.priority + ' started ' + (t(a.started_at) - t(b.started_at)).toFixed(2) + ' s after priority ' + b.priority;
     return true; })()"

check "parallel: all $PAR_N jobs completed, each in exactly one attempt" "$JOBS" \
  "(() => { const p = d.filter((j) => j.id.includes('-par-'));
     return p.length === $PAR_N && p.every((j) => j.state === 'completed' && j.attempts === 1) || JSON.stringify(p.map((j) => [j.id, j.state, j.attempts])); })()"
check "parallel: run by several workers at once (overlapping runs, 2+ workers)" "$JOBS" \
  "(() => { const p = d.filter((j) => j.id.includes('-par-'));
     const workers = new Set(p.map((j) => j.worker_id));
     const overlap = p.some((a) => p.some((b) => a !== b && a.worker_id !== b.worker_id && t(a.started_at) < t(b.finished_at) && t(b.started_at) < t(a.finished_at)));
     return workers.size >= 2 && overlap || 'workers ' + [...workers].join(',') + ', overlap ' + overlap; })()"
# Compared as sorted lists: a job run twice appears twice in the file.
LOCAL_PAR=$(printf '%s' "$JOBS" | jv "d.filter((j) => j.id.includes('-par-') && (j.worker_id || '').startsWith('$HOST-')).map((j) => j.id).sort().join('\\n')" | LC_ALL=C sort)
RAN_HERE=$(LC_ALL=C sort "$WORK/par.log" 2>/dev/null)
if [ "$RAN_HERE" = "$LOCAL_PAR" ]; then
  pass "parallel: no duplicates: each job run on this machine appended its id exactly once ($(printf '%s' "$RAN_HERE" | grep -c .) here)"
else
  fail "parallel: no duplicates" "appended: [$(printf '%s' "$RAN_HERE" | tr '\n' ' ')] expected: [$(printf '%s' "$LOCAL_PAR" | tr '\n' ' ')]"
fi

qrun show "$Q-retry" --json
if [ "$RETRIES" -gt 0 ]; then
  check "retries: a failing job ran 1 + max_retries ($RETRIES) times, then went to the DLQ (dead)" "$OUT" \
    "d.state === 'dead' && d.attempts === $((RETRIES + 1)) && d.history.length === $((RETRIES + 1)) && d.history.every((a) => a.exit_code === 3) || JSON.stringify(d)"
  check "backoff: waits between attempts ≈ backoff_base^n s ($GAPS s; base $BASE)" "$OUT" \
    "(() => { const want = [$GAPS]; const got = want.map((_, i) => t(d.history[i + 1].started_at) - t(d.history[i].finished_at));
       return got.every((g, i) => g >= want[i] - 0.25 && g <= want[i] + 1.5) || 'waited ' + got.map((g) => g.toFixed(2)).join(', ') + ' s'; })()"
else
  skip "backoff timing: backoff_base $BASE makes the first retry wait more than 20 s"
fi

qrun show "$Q-timeout" --json
check "timeout: the command is killed at its timeout (1 s, not its 37 s sleep), the attempt fails" "$OUT" \
  "d.state === 'dead' && d.history.length === 1 && /tim/i.test(d.history[0].error || '') && t(d.history[0].finished_at) - t(d.history[0].started_at) < 6 || JSON.stringify(d)"
if printf '%s' "$OUT" | jv 'd.worker_id || ""' | grep -q "^$HOST-"; then
  left=0
  for f in /proc/[0-9]*/cmdline; do
    if tr '\0' ' ' 2>/dev/null <"$f" | grep -q "^sleep $SLEEP_MARK"; then left=$((left + 1)); fi
  done
  if [ "$left" = 0 ]; then pass "timeout: no 'sleep $SLEEP_MARK' process is left on this machine"; else fail "timeout: the timed-out command's process is gone" "$left left"; fi
fi

qrun dlq list --limit 1000 --json
check "dlq list --json: the dead jobs with job_id, queue, command, attempts, last_error, failed_at" "$OUT" \
  "(() => { const e = d.filter((x) => x.queue === '$Q');
     return e.length === 3 && ['$Q-retry','$Q-timeout','$Q-dlq'].every((id) => e.some((x) => x.job_id === id))
       && e.every((x) => typeof x.command === 'string' && Number.isInteger(x.attempts) && typeof x.last_error === 'string' && !isNaN(t(x.failed_at)))
       || JSON.stringify(e); })()"

# ---------------------------------------------------------------------------------------------------
# graceful stop by SIGTERM: this run's workers finish what they hold and take nothing new

qrun worker list --json
OTHER_SLOTS=$(printf '%s' "$OUT" | jv "d.filter((w) => !(w.host === '$HOST' && [${BG_PIDS[*]/%/,}].includes(w.pid)) && (w.queues.length === 0 || w.queues.includes('$Q'))).reduce((n, w) => n + w.concurrency, 0)")
OTHER_WORKERS=$(printf '%s' "$OUT" | jv "d.filter((w) => !(w.host === '$HOST' && [${BG_PIDS[*]/%/,}].includes(w.pid))).length")
# Enough 3-second jobs to fill every slot that can take them, plus one that nobody may start.
DRAIN_N=$((${OTHER_SLOTS:-0} + 4 + 1))
# shellcheck disable=SC2016 # JavaScript, not shell
node -e '
  const [q, n] = process.argv.slice(1);
  console.log(JSON.stringify(Array.from({ length: Number(n) }, (_, i) => ({ id: `${q}-drain-${i}`, queue: q, timeout: 60000, command: `sleep 6; echo drained-${i}` }))));' \
  "$Q" "$DRAIN_N" >"$WORK/drain.json"
qrun enqueue --file "$WORK/drain.json" --json
held_by_ours() {
  jobs_json
  HELD=$(printf '%s' "$JOBS" | jv "d.filter((j) => j.id.includes('-drain-') && j.state === 'processing' && $OUR_WORKER_IDS.includes(j.worker_id)).map((j) => j.id).join(' ')")
  [ "$(printf '%s' "$HELD" | wc -w)" -ge 4 ]
}
if wait_until 10 held_by_ours; then
  TERM_AT=$(now)
  kill -TERM "${BG_PIDS[@]}" 2>/dev/null
  both_gone() { ! alive "${BG_PIDS[0]}" && ! alive "${BG_PIDS[1]}"; }
  if wait_until 20 both_gone; then
    GONE_AT=$(now)
    pass "SIGTERM: both workers exited once their running jobs were done ($(node -e "console.log(($GONE_AT - $TERM_AT).toFixed(1))") s)"
  else
    fail "SIGTERM: both workers exited" "still running 20 s after SIGTERM"
  fi
  jobs_json
  # A job they held but had only claimed ahead, not started, is given back uncounted on SIGTERM: another
  # worker (the stack's, beside this run) may be running it now, still in its first attempt.
  check "SIGTERM: the jobs they held when stopped (${HELD// /, }) completed, in their first attempt (or were given back unstarted)" "$JOBS" \
    "'$HELD'.split(' ').every((id) => { const j = d.find((x) => x.id === id); return j && j.attempts === 1 && (j.state === 'completed' || !$OUR_WORKER_IDS.includes(j.worker_id)); }) || JSON.stringify(d.filter((j) => j.id.includes('-drain-')).map((j) => [j.id, j.state, j.attempts, j.worker_id]))"
  check "SIGTERM: they started no job after the signal" "$JOBS" \
    "d.filter((j) => $OUR_WORKER_IDS.includes(j.worker_id) && t(j.started_at) > $TERM_AT + 0.3).map((j) => j.id).join(' ') || true"
  if [ "${OTHER_SLOTS:-0}" = 0 ]; then
    check "SIGTERM: the job that did not fit stays pending" "$JOBS" \
      "d.filter((j) => j.id.includes('-drain-') && j.state === 'pending').length === 1 || JSON.stringify(d.filter((j) => j.id.includes('-drain-')).map((j) => [j.id, j.state]))"
  fi
else
  fail "SIGTERM drain: this run's workers took jobs" "they hold: [$HELD]"
fi

# `queuectl worker stop` reaches every worker through the database: only when no other is alive.
if [ "$WORKER_STOP_CHECK" = no ]; then
  skip "worker stop (--no-worker-stop)"
elif [ "${OTHER_WORKERS:-1}" != 0 ]; then
  skip "worker stop: $OTHER_WORKERS other worker(s) alive on this database; it would stop them too (graceful stop was checked by SIGTERM above)"
else
  qrun worker start --queue "$Q" --json
  read -r -a STOP_PIDS < <(printf '%s' "$OUT" | jv 'Array.isArray(d) ? d.map((w) => w.pid).join(" ") : ""')
  OUR_PIDS+=("${STOP_PIDS[@]}")
  # It takes the drain job left pending (6 s).
  running_one() { jobs_where "d.some((j) => j.id.includes('-drain-') && j.state === 'processing')"; }
  if [ "${#STOP_PIDS[@]}" = 1 ] && wait_until 10 running_one; then
    qrun worker stop --wait --timeout 30 --json
    check "worker stop --wait --json: the worker finished its job and stopped" "$OUT" \
      "d.stopping.length === 1 && d.still_running.length === 0 || JSON.stringify(d)"
    if alive "${STOP_PIDS[0]}"; then fail "worker stop: the process exited" "pid ${STOP_PIDS[0]} still alive"; else pass "worker stop: the process exited"; fi
    jobs_json
    check "worker stop: the job it was running completed; nothing is left processing" "$JOBS" \
      "d.filter((j) => j.id.includes('-drain-')).every((j) => j.state === 'completed') || JSON.stringify(d.filter((j) => j.id.includes('-drain-')).map((j) => [j.id, j.state]))"
  else
    fail "worker stop: a worker started and took the job left pending" "$OUT $ERR"
  fi
fi

# ---------------------------------------------------------------------------------------------------
# DLQ retry: the dead jobs pass now (their commands check the clock)

sleep "$(node -e "console.log(Math.max(0, $GATE + 0.3 - Date.now() / 1000).toFixed(2))")"
qrun dlq retry "$Q-dlq" --json
check "dlq retry <id> --json: {\"retried\": [id]}" "$OUT" "JSON.stringify(d.retried) === JSON.stringify(['$Q-dlq']) || JSON.stringify(d)"
qrun show "$Q-dlq" --json
check "dlq retry moves the job back to the queue" "$OUT" "['pending', 'processing', 'completed'].includes(d.state) || d.state"
qrun dlq retry "$Q-retry" "$Q-timeout" --json
check "dlq retry <id> <id>: both back in the queue" "$OUT" "Array.isArray(d.retried) && d.retried.length === 2 || JSON.stringify(d)"
qrun dlq list --limit 1000 --json
check "dlq list: none of this run's jobs left in the DLQ" "$OUT" "d.filter((x) => x.queue === '$Q').map((x) => x.job_id).join(' ') || true"

# A worker that exits by itself once nothing is runnable runs what is left here.
T0=$(now)
timeout 60 "${QCTL[@]}" worker start --foreground --exit-when-idle --queue "$Q" >"$WORK/idle-worker.log" 2>&1
RC=$?
if [ "$RC" = 0 ]; then
  pass "worker start --foreground --exit-when-idle ran what was left and exited by itself ($(node -e "console.log(($(now) - $T0).toFixed(1))") s)"
else
  fail "worker start --foreground --exit-when-idle" "exit code $RC: $(tail -3 "$WORK/idle-worker.log")"
fi
all_done() { jobs_where "d.every((j) => j.state === 'completed')"; }
if wait_until 15 all_done; then
  pass "every job of this run ended completed; nothing pending, processing, failed or dead"
else
  fail "every job of this run ended completed" "$(printf '%s' "$JOBS" | jv "d.filter((j) => j.state !== 'completed').map((j) => j.id + ':' + j.state).join(' ')")"
fi
qrun show "$Q-dlq" --json
check "the job retried from the DLQ ran again and succeeded" "$OUT" \
  "d.state === 'completed' && d.history.length >= 2 && d.history[d.history.length - 1].exit_code === 0 && (d.history[d.history.length - 1].output || '').includes('passed after dlq retry') || JSON.stringify(d)"

# ---------------------------------------------------------------------------------------------------
# operator tools: queue limit and pause, cancel, kill, unique jobs, retry rules, dlq retry --edit,
# requeue, wait, logs --follow, purge --dry-run, completion. Their jobs live in queues $Q-lim and
# $Q-ops (not $Q), run by two workers of ours (and any other worker on the database).

QL="$Q-lim"
QO="$Q-ops"
qrun queue set-concurrency "$QL" 1
expect_rc "queue set-concurrency <queue> 1" 0
OPS_PIDS=()
for i in 1 2; do
  "${QCTL[@]}" worker start --foreground --concurrency 3 --queue "$QL" --queue "$QO" >"$WORK/ops-worker-$i.log" 2>&1 &
  OPS_PIDS+=($!)
done
OUR_PIDS+=("${OPS_PIDS[@]}")

# Limit 1 across 2 workers x 3 slots: each job holds a directory as a lock; a second job running at
# the same time would find it taken and say so.
LIMIT_IDS=()
for i in 1 2 3 4; do
  qrun enqueue --timeout 120000 --id "$Q-lim-$i" --queue "$QL" --command "mkdir -p $WORK; if mkdir $WORK/lim.lock 2>/dev/null; then sleep 0.4; rmdir $WORK/lim.lock; else echo overlap >> $WORK/lim.overlap; fi"
  LIMIT_IDS+=("$Q-lim-$i")
done
qrun wait "${LIMIT_IDS[@]}" --timeout 60
expect_rc "wait <ids...>: every limited job completed (exit 0)" 0
if [ -e "$WORK/lim.overlap" ]; then fail "queue concurrency limit 1: no two of its jobs ran at once" "$(wc -l <"$WORK/lim.overlap") overlaps"; else pass "queue concurrency limit 1: no two of its jobs ran at once (4 jobs, 2 workers x 3 slots)"; fi
qrun queue list --json
check "queue list --json: {name, pending, running, concurrency_limit, paused}" "$OUT" \
  "d.some((q) => q.name === '$QL' && q.concurrency_limit === 1 && q.paused === false && q.pending === 0) || JSON.stringify(d)"

qrun queue pause "$QO"
expect_rc "queue pause <queue>" 0
qrun enqueue --timeout 120000 --id "$Q-paused" --queue "$QO" --command "echo ran after resume"
sleep 2
qrun show "$Q-paused" --json
check "a paused queue is not claimed" "$OUT" "d.state === 'pending' || d.state"
qrun queue resume "$QO"
qrun wait "$Q-paused" --timeout 30
expect_rc "queue resume: the job runs (wait exits 0)" 0

# cancel and kill reach the command wherever it runs
qrun enqueue --timeout 120000 --id "$Q-cancel" --queue "$QO" --command "sleep 60"
running() { qrun show "$1" --json; [ "$(printf '%s' "$OUT" | jv "d.state")" = processing ]; }
if wait_until 20 running "$Q-cancel"; then
  qrun wait "$Q-cancel" --timeout 0.3
  expect_rc "wait --timeout: exit 124 while the job still runs" 124
  T0=$(now)
  qrun cancel "$Q-cancel"
  expect_rc "cancel <running job>" 0
  # cancel returns once nothing of the command is left: only then may the job run again (requeue).
  if [ "$OUT" = "job '$Q-cancel' cancelled; its command has ended" ]; then pass "cancel: it waited for the command to end"; else fail "cancel: it waited for the command to end" "$OUT"; fi
  qrun wait "$Q-cancel" --timeout 20
  TOOK=$(node -e "console.log(($(now) - $T0).toFixed(2))")
  expect_rc "wait on a cancelled job exits 1" 1
  qrun show "$Q-cancel" --json
  # $TOOK includes starting the CLI twice (cancel, then wait); the command's own end is faster.
  check "cancel: the job is cancelled, not retried, and wait saw it end $TOOK s after cancel started" "$OUT" \
    "d.state === 'cancelled' && d.attempts === 1 && $TOOK < 6 || JSON.stringify([d.state, d.attempts, $TOOK])"
else
  fail "cancel: the job started" "$OUT"
fi
qrun cancel "$Q-cancel"
expect_rc "cancel <finished job>: exit 2" 2
qrun enqueue --timeout 120000 --id "$Q-kill" --queue "$QO" --command "trap 'echo got USR1; exit 0' USR1; while :; do sleep 0.1; done"
if wait_until 20 running "$Q-kill"; then
  qrun kill "$Q-kill" --signal USR1
  expect_rc "kill --signal USR1 <running job>" 0
  qrun wait "$Q-kill" --timeout 20
  expect_rc "the command trapped the signal and exited 0" 0
  qrun logs "$Q-kill"
  # The whole process group got the signal: the shell may also report its `sleep` child killed by it.
  if [ "$RC" = 0 ] && printf '%s\n' "$OUT" | grep -qx "got USR1"; then pass "logs <id>: the output of the attempt"; else fail "logs <id>" "$OUT $ERR"; fi
else
  fail "kill: the job started" "$OUT"
fi

# unique jobs
qrun enqueue --timeout 120000 --queue "$QO" --unique-key "$Q-uk" --command "sleep 60"
UK1=$OUT
qrun enqueue --timeout 120000 --queue "$QO" --unique-key "$Q-uk" --command "sleep 60"
if [ "$RC" = 0 ] && [ "$OUT" = "$UK1" ] && printf '%s' "$ERR" | grep -q "already active"; then pass "enqueue --unique-key: a second job with an active key returns the first one's id"; else fail "enqueue --unique-key" "$UK1 / $OUT / $ERR"; fi
qrun cancel "$UK1"

# retry rules, dlq retry --edit, requeue
qrun enqueue --timeout 120000 --id "$Q-noretry" --queue "$QO" --max-retries 3 --never-retry-on 2 --command "exit 2"
qrun wait "$Q-noretry" --timeout 30
expect_rc "--never-retry-on 2: the job died on exit 2 (wait exits 2)" 2
qrun show "$Q-noretry" --json
check "no retries for an exit code in no_retry_on despite max_retries 3" "$OUT" "d.state === 'dead' && d.attempts === 1 || JSON.stringify([d.state, d.attempts])"
qrun dlq retry "$Q-noretry" --edit '{"command":"echo edited","max_retries":0}'
expect_rc "dlq retry --edit" 0
qrun wait "$Q-noretry" --timeout 30
expect_rc "the edited job ran and completed" 0
qrun requeue "$Q-noretry"
expect_rc "requeue <completed job>" 0
qrun wait "$Q-noretry" --timeout 30
qrun show "$Q-noretry" --json
check "requeue: the job ran again with the same spec" "$OUT" "d.state === 'completed' && d.history.length === 3 && d.history[2].output === 'edited\n' || JSON.stringify(d.history)"

# logs --follow: lines arrive while the job runs
qrun enqueue --timeout 120000 --id "$Q-follow" --queue "$QO" --command "for i in 1 2 3 4 5 6; do echo tick-\$i; sleep 1; done"
"${QCTL[@]}" logs "$Q-follow" --follow >"$WORK/follow.out" 2>&1 &
FOLLOW_PID=$!
has_tick1() { grep -q tick-1 "$WORK/follow.out"; }
if wait_until 15 has_tick1; then
  qrun show "$Q-follow" --json
  check "logs --follow: the first line arrived while the job was still running" "$OUT" "d.state === 'processing' || d.state"
else
  fail "logs --follow: the first line arrived" "$(cat "$WORK/follow.out")"
fi
for _ in $(seq 1 50); do alive "$FOLLOW_PID" || break; sleep 0.2; done
wait "$FOLLOW_PID" 2>/dev/null
if [ "$(tr '\n' ' ' <"$WORK/follow.out")" = "tick-1 tick-2 tick-3 tick-4 tick-5 tick-6 " ]; then pass "logs --follow: every line, then exit when the job ended"; else fail "logs --follow" "$(cat "$WORK/follow.out")"; fi

# purge (dry run only: the database may hold other people's history), completion
qrun purge --state completed --older-than 3650d --dry-run
if [ "$RC" = 0 ] && printf '%s' "$OUT" | grep -q "^would delete [0-9]* completed jobs* (dry run: nothing deleted)$"; then pass "purge --dry-run"; else fail "purge --dry-run" "$OUT $ERR"; fi
qrun purge --state pending --older-than 1d
expect_rc "purge --state pending: refused (exit 2)" 2
qrun completion bash
if [ "$RC" = 0 ] && printf '%s' "$OUT" | grep -q "complete -F _queuectl queuectl"; then pass "completion bash"; else fail "completion bash" "${OUT:0:200} $ERR"; fi

qrun queue set-concurrency "$QL" none
for pid in "${OPS_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
# schedules, pipelines (dependencies) and the run environment, in a queue of their own

QP="$Q-p"
pjobs_where() { qrun list --queue "$QP" --limit 1000 --json; PJOBS=$OUT; [ "$RC" = 0 ] && [ "$(printf '%s' "$PJOBS" | jv "$1")" = true ]; }
qrun schedule add "$QP-tick" "61 * * * *" '{"command":"true"}'
expect_rc "schedule add with a bad cron expression exits 2" 2
qrun schedule add "$QP-tick" "* * * * *" '{"command":"true"}' --timezone Mars/Olympus
expect_rc "schedule add with an unknown time zone exits 2" 2
qrun schedule remove "$QP-no-such-schedule"
expect_rc "schedule remove of an unknown schedule exits 3" 3

qrun worker start --count 2 --concurrency 2 --queue "$QP" --json
read -r -a P_PIDS < <(printf '%s' "$OUT" | jv 'Array.isArray(d) ? d.map((w) => w.pid).join(" ") : ""')
OUR_PIDS+=("${P_PIDS[@]}")
sleep 1
SCHEDULE_REMOVE="$QP-tick"
T_ADD=$(now)
qrun schedule add "$QP-tick" "* * * * * *" "{\"command\":\"echo tick\",\"queue\":\"$QP\",\"timeout\":60000}" --json
check "schedule add (every second) --json: name, cron, next_run_at" "$OUT" "d.name === '$QP-tick' && d.cron === '* * * * * *' && !isNaN(t(d.next_run_at)) || JSON.stringify(d)"
sleep 4
qrun schedule pause "$QP-tick"
T_PAUSE=$(now)
expect_rc "schedule pause" 0
qrun schedule list --json
check "schedule list --json: paused, with its last job" "$OUT" \
  "(() => { const s = d.find((x) => x.name === '$QP-tick'); return s && s.paused === true && s.next_runs.length === 0 && typeof s.last_job_id === 'string' || JSON.stringify(s); })()"
TICKS="d.filter((j) => j.id.startsWith('$QP-tick@')).map((j) => t(j.id.slice(j.id.indexOf('@') + 1))).sort((a, b) => a - b)"
if wait_until 20 pjobs_where "d.filter((j) => j.id.startsWith('$QP-tick@')).every((j) => j.state === 'completed')"; then
  # One job per tick while it was active: consecutive seconds, none twice, no more than the seconds
  # between the add command starting and the pause command returning (CLI start-up makes that longer).
  check "an every-second schedule: one job per tick between add and pause (no tick twice, none skipped)" "$PJOBS" \
    "(() => { const ts = $TICKS, w = $T_PAUSE - $T_ADD; return ts.length >= 3 && ts.length <= Math.ceil(w) + 1
       && ts.every((x, i) => i === 0 || Math.round(x - ts[i - 1]) === 1) || JSON.stringify({ ticks: ts, window_s: w }); })()"
else
  fail "the schedule's jobs completed" "$(printf '%s' "$PJOBS" | jv "d.map((j) => j.id + ':' + j.state).join(' ')")"
fi
qrun schedule remove "$QP-tick"
expect_rc "schedule remove" 0
SCHEDULE_REMOVE=""

# Two pipelines in one batch (a job may depend on one earlier in the input): A -> B -> C, and D -> E
# -> F where D dies, which cancels E and F. D passes after GATE2, so the DLQ retry below leaves the
# DLQ as it was.
GATE2=$(($(date +%s) + 12))
# shellcheck disable=SC2016 # JavaScript, not shell
node -e '
  const [q, gate] = process.argv.slice(1);
  const job = (id, command, after, extra = {}) => JSON.stringify({ id: `${q}-${id}`, queue: q, timeout: 60000, command, ...(after ? { depends_on: [`${q}-${after}`] } : {}), ...extra });
  console.log([
    job("a", "sleep 2; echo A"), job("b", "echo B", "a"), job("c", "echo C", "b", { priority: 50 }),
    job("d", `sleep 2; [ "$(date +%s)" -ge ${gate} ] || exit 3`, null, { max_retries: 0 }), job("e", "echo E", "d"), job("f", "echo F", "e"),
  ].join("\n"));' "$QP" "$GATE2" >"$WORK/pipelines.jsonl"
qrun_in "$WORK/pipelines.jsonl" enqueue - --json
check "enqueue - : two pipelines (depends_on) in one batch" "$OUT" "Array.isArray(d.ids) && d.ids.length === 6 || JSON.stringify(d)"
qrun show "$QP-c" --json
check "show --json: C's chain (depends_on B; upstream B, A); waiting (deps_pending > 0) unless already run" "$OUT" \
  "d.depends_on[0].id === '$QP-b' && d.upstream.map((l) => l.id).join() === '$QP-b,$QP-a' && (d.state === 'pending' ? d.deps_pending > 0 : d.state === 'completed') || JSON.stringify(d)"
qrun enqueue --command "true" --queue "$QP" --after "$QP-no-such-job"
expect_rc "enqueue --after a job that does not exist exits 3" 3
if wait_until 30 pjobs_where "(() => { const s = Object.fromEntries(d.map((j) => [j.id, j.state])); return s['$QP-c'] === 'completed' && s['$QP-f'] === 'cancelled'; })()"; then
  check "the chain ran in order: B started after A finished, C after B" "$PJOBS" \
    "(() => { const j = Object.fromEntries(d.map((x) => [x.id.slice('$QP-'.length), x])); return t(j.b.started_at) >= t(j.a.finished_at) && t(j.c.started_at) >= t(j.b.finished_at) || JSON.stringify(j); })()"
  check "a dead job cancels the jobs after it, transitively" "$PJOBS" \
    "(() => { const s = Object.fromEntries(d.map((x) => [x.id.slice('$QP-'.length), x])); return s.d.state === 'dead' && s.e.state === 'cancelled' && s.f.state === 'cancelled' && s.e.attempts === 0 || JSON.stringify(s); })()"
  qrun show "$QP-e" --json
  check "show says why: 'cancelled: dependency D ended dead'" "$OUT" "d.last_error === 'cancelled: dependency $QP-d ended dead' || d.last_error"
else
  fail "the pipelines settled (C completed, F cancelled)" "$(printf '%s' "$PJOBS" | jv "d.map((j) => j.id + ':' + j.state).join(' ')")"
fi

# The run environment: named variables reach the command; secret-looking values are masked.
# shellcheck disable=SC2016 # expanded by the job's shell
qrun enqueue --id "$QP-env" --queue "$QP" --timeout 60000 --cwd / --env VERIFY_MODE=on --env VERIFY_TOKEN=tok-$$ --command 'echo "$(pwd) $VERIFY_MODE $VERIFY_TOKEN ${DATABASE_URL:-no-database-url}"'
expect_rc "enqueue --env NAME=value --cwd DIR" 0
if wait_until 20 pjobs_where "d.some((j) => j.id === '$QP-env' && j.state === 'completed')"; then
  qrun show "$QP-env" --json
  check "the command ran in its cwd with its env and none of the worker's (no DATABASE_URL); show masks VERIFY_TOKEN" "$OUT" \
    "d.cwd === '/' && d.env.VERIFY_MODE === 'on' && d.env.VERIFY_TOKEN === '***' && d.history[d.history.length - 1].output === '/ on tok-$$ no-database-url\n' || JSON.stringify({cwd: d.cwd, env: d.env, output: d.history.map((h) => h.output)})"
else
  fail "the env job completed" "$(printf '%s' "$PJOBS" | jv "d.filter((j) => j.id === '$QP-env').map((j) => j.state + ' ' + j.last_error).join()")"
fi
qrun config get env_allowlist --json
check "config get env_allowlist --json: a string (* = any name)" "$OUT" "typeof d.value === 'string' || JSON.stringify(d)"

# A job cancelled because its dependency died is not requeued alone: it would run before it.
qrun requeue "$QP-e"
expect_rc "requeue of a job whose dependency is dead: refused, exit 2" 2
case "$ERR" in *"runs after '$QP-d', which is dead"*) pass "requeue says which dependency stops it" ;; *) fail "requeue says which dependency stops it" "$ERR" ;; esac
# A job too large to start anywhere (exec takes at most 128 KiB per NAME=value) is refused at enqueue.
node -e 'process.stdout.write(JSON.stringify({ command: "true", env: { BIG: "x".repeat(70000) } }))' > "$WORK/big-env.json"
qrun enqueue --file "$WORK/big-env.json" --queue "$QP"
expect_rc "enqueue of a job whose env exceeds 64 KiB: refused, exit 2" 2

sleep "$(node -e "console.log(Math.max(0, $GATE2 + 0.3 - Date.now() / 1000).toFixed(2))")"
qrun dlq retry "$QP-d"
expect_rc "dlq retry of the pipeline's dead job" 0
if wait_until 20 pjobs_where "d.some((j) => j.id === '$QP-d' && j.state === 'completed')"; then
  pass "the retried job passed (the DLQ is as it was)"
else
  fail "the retried job passed" "$(printf '%s' "$PJOBS" | jv "d.filter((j) => j.id === '$QP-d').map((j) => j.state + ' ' + j.last_error).join()")"
fi
for pid in "${P_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done

# ---------------------------------------------------------------------------------------------------
# roles: an enqueuer may enqueue and read but not act; an admin's action lands in the audit trail

# role_url ROLE PASSWORD: this run's connection URL, logging in as ROLE.
role_url() {
  local base=${DATABASE_URL:-}
  [ -n "$base" ] || base="postgresql://postgres@127.0.0.1:$(sed -n 4p "$QUEUECTL_HOME/pg/data/postmaster.pid")/queuectl"
  node -e 'const u = new URL(process.argv[1]); u.username = process.argv[2]; u.password = process.argv[3]; console.log(u.toString())' "$base" "$1" "$2"
}
ENQ_URL=${QUEUECTL_VERIFY_ENQUEUER_URL:-}
ADMIN_URL=${DATABASE_URL:-} # this run's own connection acts as the admin unless a role is made for it
if [ -z "$ENQ_URL" ] && [ -n "$OWNER" ]; then
  for kind in enqueuer admin; do
    role="verify_${kind}_$$"
    pw=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
    QUEUECTL_ROLE_PASSWORD=$pw qrun db grant "$role" --as "$kind" --create
    if [ "$RC" != 0 ]; then skip "roles: this connection may not create roles ($ERR)"; break; fi
    MADE_ROLES+=("$role")
    if [ "$kind" = enqueuer ]; then ENQ_URL=$(role_url "$role" "$pw"); else ADMIN_URL=$(role_url "$role" "$pw"); fi
  done
  [ "${#MADE_ROLES[@]}" = 2 ] && pass "db grant --create: an enqueuer and an admin role for this run"
fi
if [ -n "$ENQ_URL" ]; then
  # Far in the future, so no worker takes it: the admin cancels it below.
  DATABASE_URL=$ENQ_URL qrun enqueue "{\"id\":\"$Q-role\",\"queue\":\"$Q\",\"command\":\"true\",\"timeout\":60000,\"run_at\":\"2099-01-01T00:00:00Z\"}"
  expect_rc "as an enqueuer: enqueue" 0
  DATABASE_URL=$ENQ_URL qrun show "$Q-role" --json
  check "as an enqueuer: show its job, pending" "$OUT" "d.id === '$Q-role' && d.state === 'pending' || JSON.stringify(d)"
  for args in "cancel $Q-role" "config set max_retries 3" "queue pause $Q" "purge --state completed --older-than 3650d" "dlq retry --all"; do
    # shellcheck disable=SC2086 # the words of a command
    DATABASE_URL=$ENQ_URL qrun $args
    if [ "$RC" = 4 ] && printf '%s' "$ERR" | grep -q "(enqueuer) may not run '${args%% *}"; then
      expect_rc "as an enqueuer: $args is refused (exit 4, one line naming the role)" 4
    else
      fail "as an enqueuer: $args is refused" "exit $RC: ${ERR:0:200}"
    fi
  done
  DATABASE_URL=$ENQ_URL qrun show "$Q-role" --json
  check "as an enqueuer: nothing changed (the job is still pending)" "$OUT" "d.state === 'pending' || d.state"
  DATABASE_URL=$ADMIN_URL qrun cancel "$Q-role" --json
  expect_rc "as an admin: cancel" 0
  DATABASE_URL=$ADMIN_URL qrun audit --action cancel --since 10m --json
  check "audit: the admin's cancel, with its role, OS user and host" "$OUT" \
    "d.some((r) => r.target === '$Q-role' && r.source === 'cli' && r.db_role.length > 0 && r.before.state === 'pending' && r.after.state === 'cancelled' && r.host.length > 0) || JSON.stringify(d.slice(0, 3))"
else
  skip "roles: no enqueuer role to try (QUEUECTL_VERIFY_ENQUEUER_URL unset and this role may not create one)"
fi

# ---------------------------------------------------------------------------------------------------
# the CLI as its users type it: group:command and suggestions, list --sort run-order, a worker with
# its own poll interval and JSON log lines, `run`, and progress a job reports through
# $QUEUECTL_PROGRESS. Jobs in queue $Q-cli, run by a worker of ours (and any other on the database).

QC="$Q-cli"
qrun worker:list --json
check "worker:list (an earlier QueueCTL's colon form) answers as worker list" "$OUT" 'Array.isArray(d) || JSON.stringify(d)'
qrun stauts
expect_rc "a mistyped command: exit 2, one line" 2
if printf '%s' "$ERR" | grep -q "did you mean status?"; then pass "a mistyped command gets the nearest one suggested"; else fail "a mistyped command gets the nearest one suggested" "$ERR"; fi

# Paused while they are listed, so that no worker on the database takes them first.
qrun queue pause "$QC"
for spec in "a 1" "b 9" "c 1"; do
  read -r name prio <<<"$spec"
  qrun enqueue --id "$QC-$name" --queue "$QC" --priority "$prio" --timeout 60000 --command "echo $name"
done
qrun list --queue "$QC" --state pending --sort run-order --json
check "list --sort run-order: the order workers take them (priority, then enqueue order)" "$OUT" \
  "d.map((j) => j.id).join(' ') === '$QC-b $QC-a $QC-c' || JSON.stringify(d.map((j) => j.id))"
qrun queue resume "$QC"

# --no-wait refuses only when no live worker serves the queue: a worker serving every queue (the
# stack's) would take it.
qrun worker list --json
if [ "$(printf '%s' "$OUT" | jv "d.filter((w) => w.state === 'running' && w.queues.length === 0).length")" = 0 ]; then
  qrun run --queue "$Q-noworker" --no-wait -- echo never
  expect_rc "run --no-wait with no worker for the queue: exit 1 at once" 1
  qrun list --queue "$Q-noworker" --json
  check "run --no-wait enqueued nothing" "$OUT" 'd.length === 0 || JSON.stringify(d)'
else
  skip "run --no-wait (a worker serving every queue is alive on this database)"
fi

"${QCTL[@]}" worker start --foreground --queue "$QC" --poll-interval 500 --log-format json >"$WORK/cli-worker.log" 2>&1 &
OUR_PIDS+=($!)
qrun wait "$QC-b" "$QC-a" "$QC-c" --timeout 60
expect_rc "worker start --poll-interval 500: its jobs complete" 0
# shellcheck disable=SC2016 # JavaScript, not shell
if node -e '
  const lines = require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
  const ids = (msg) => lines.filter((l) => l.msg === msg).map((l) => l.job);
  const want = [`${process.argv[2]}-a`, `${process.argv[2]}-b`, `${process.argv[2]}-c`];
  // Another worker on the database may have run some: those it ran must be logged as started and completed.
  const ran = want.filter((id) => ids("job started").includes(id));
  process.exit(ran.every((id) => ids("job completed").includes(id)) ? 0 : 1);' "$WORK/cli-worker.log" "$QC" 2>/dev/null; then
  pass "worker --log-format json: one JSON line per job started and completed"
else
  fail "worker --log-format json: one JSON line per job started and completed" "$(head -c 300 "$WORK/cli-worker.log")"
fi

# --log-format pretty: one readable line per event, as a foreground worker prints on a terminal.
qrun enqueue --id "$QC-pretty" --queue "$QC-pretty" --timeout 60000 --command "echo pretty"
"${QCTL[@]}" worker start --foreground --exit-when-idle --queue "$QC-pretty" --log-format pretty >"$WORK/pretty-worker.log" 2>&1
if grep -q "started    $QC-pretty  $QC-pretty, priority 0, attempt 1/" "$WORK/pretty-worker.log" && grep -q "completed  $QC-pretty  in " "$WORK/pretty-worker.log"; then
  pass "worker --log-format pretty: a readable line per job started and completed"
elif ! grep -q "started    $QC-pretty " "$WORK/pretty-worker.log" && qrun show "$QC-pretty" --json && [ "$(printf '%s' "$OUT" | jv 'd.worker_id')" != "" ]; then
  skip "worker --log-format pretty (another worker on the database ran the job)"
else
  fail "worker --log-format pretty: a readable line per job started and completed" "$(head -c 400 "$WORK/pretty-worker.log")"
fi

qrun run --queue "$QC" --max-retries 0 --timeout 60000 -- 'echo hello from run; exit 3'
if [ "$RC" = 3 ] && [ "$OUT" = "hello from run" ]; then pass "run: streams the job's output and exits with its exit code (3)"; else fail "run: streams the job's output and exits with its exit code (3)" "rc $RC: $OUT"; fi
qrun run --queue "$QC" --max-retries 0 --timeout 60000 -- echo fine
if [ "$RC" = 0 ] && [ "$OUT" = "fine" ]; then pass "run: exit 0 for a job that completed"; else fail "run: exit 0 for a job that completed" "rc $RC: $OUT $ERR"; fi

# Progress: stored at the holding worker's next heartbeat (every lease_ms / 3). The job runs until it
# is cancelled, on whichever host took it.
LEASE_S=$(($(printf '%s' "$CONFIG" | jv 'd.lease_ms') / 1000))
# shellcheck disable=SC2016 # expanded by the job's shell
qrun enqueue --id "$QC-progress" --queue "$QC" --timeout 120000 --max-retries 0 --command 'echo "40 copying table 3/7" > "$QUEUECTL_PROGRESS"; sleep 110'
progress_shown() { qrun show "$QC-progress" --json; [ "$(printf '%s' "$OUT" | jv 'd.progress_pct')" = 40 ]; }
if wait_until $((LEASE_S / 3 + 15)) progress_shown; then
  check "a job's \$QUEUECTL_PROGRESS report: show --json has its percentage and message" "$OUT" "d.state === 'processing' && d.progress_message === 'copying table 3/7' || JSON.stringify(d)"
  qrun list --queue "$QC" --state processing
  if printf '%s' "$OUT" | grep -q "^$QC-progress .* 40% "; then pass "list shows the job's progress in a column"; else fail "list shows the job's progress in a column" "$OUT"; fi
else
  fail "a job's \$QUEUECTL_PROGRESS report: show --json has its percentage and message" "not within $((LEASE_S / 3 + 15)) s: ${OUT:0:300}"
fi
qrun cancel "$QC-progress" --json
check "cancel ends the reporting job" "$OUT" "d.state === 'cancelled' || JSON.stringify(d)"

# ---------------------------------------------------------------------------------------------------
# status and list

qrun status --json
check "status --json: {jobs: {pending, processing, completed, failed, dead, cancelled}, workers, dlq}" "$OUT" \
  "['pending','processing','completed','failed','dead','cancelled'].every((s) => Number.isInteger(d.jobs[s])) && Number.isInteger(d.workers) && Number.isInteger(d.dlq) && d.jobs.completed >= $((PAR_N + 6)) || JSON.stringify(d)"
qrun status
if [ "$RC" = 0 ] && printf '%s' "$OUT" | grep -q completed; then pass "status (table)"; else fail "status (table)" "rc $RC: ${OUT:0:200} $ERR"; fi
qrun list --queue "$Q" --limit 5 --json
check "list --queue --limit 5 --json: 5 jobs of this queue, newest first" "$OUT" \
  "d.length === 5 && d.every((j) => j.queue === '$Q') && d.every((j, i) => i === 0 || t(d[i - 1].created_at) >= t(j.created_at)) || JSON.stringify(d.map((j) => [j.id, j.created_at]))"
qrun list --queue "$Q" --limit 3 --offset 3 --json
check "list --offset: the next page" "$OUT" "d.length === 3 || d.length"
qrun list --queue "$Q" --state completed --limit 1000 --json
check "list --state completed: only completed jobs" "$OUT" "d.length > 0 && d.every((j) => j.state === 'completed') || JSON.stringify(d.map((j) => j.state))"
qrun list --queue "$Q"
if [ "$RC" = 0 ] && printf '%s' "$OUT" | grep -q "$Q-"; then pass "list (table)"; else fail "list (table)" "rc $RC: ${OUT:0:200} $ERR"; fi
qrun worker list
expect_rc "worker list (table)" 0

# ---------------------------------------------------------------------------------------------------
# doctor: healthy or not depends on the server (autovacuum may be off, other sessions may hold
# transactions); what it must do either way: a report, exit 0 exactly when it found no problem.
qrun doctor --json
check "doctor --json: {healthy, findings, tables, connections}; exit 0 iff healthy" "$OUT" \
  "typeof d.healthy === 'boolean' && Array.isArray(d.findings) && d.findings.every((f) => f.check && f.message && f.remedy) && d.tables.some((t) => t.table === 'jobs') && Number.isInteger(d.connections.in_use) && (d.healthy === ($RC === 0)) || JSON.stringify(d).slice(0, 300)"
qrun doctor
if { [ "$RC" = 0 ] && printf '%s' "$OUT" | grep -q '^healthy'; } || { [ "$RC" = 1 ] && printf '%s' "$OUT" | grep -q '^problem [a-z-]*: .*Fix: ' && printf '%s' "$ERR" | grep -q 'problems\? found$'; }; then
  pass "doctor: one line per finding with its fix (or healthy)"
else
  fail "doctor: one line per finding with its fix (or healthy)" "rc $RC: ${OUT:0:200} $ERR"
fi

echo "verify: took $(($(date +%s) - START_S)) s"
printf '%s passed, %s failed\n' "$PASSED" "$FAILED"
[ "$FAILED" = 0 ]
