#!/usr/bin/env bash
# The tour of the box: uploads the example datasets, submits the example jobs and prints
# each result beside NumPy's, prints the dashboard URL, then SIGKILLs the leading
# scheduler while a job runs and shows the standby take over and finish that job once.
# Runs on the host (against the forwarded ports; the leader's process is found and killed
# through `vagrant ssh`) or inside the box (`bash /vagrant/vagrant/demo.sh`).
# Exits non-zero when any result differs from NumPy's.
#
# Environment: FEMTO_URLS (the schedulers, default "http://127.0.0.1:8080 http://127.0.0.1:8081"),
# FEMTO_API_TOKEN or FEMTO_TOKEN_FILE (default: the box's /etc/femto/token),
# FEMTO_PYTHON (a Python with NumPy; default the box's femto venv, the checkout's .venv,
# or python3), FEMTO_DEMO_TIMEOUT (seconds to wait for anything, default 300),
# FEMTO_DEMO_PID_DIR (a directory of PORT.pid files naming the schedulers' processes here,
# instead of systemd's MainPID of femto-PORT.service: for tests).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
read -r -a urls <<<"${FEMTO_URLS:-http://127.0.0.1:8080 http://127.0.0.1:8081}"
timeout=${FEMTO_DEMO_TIMEOUT:-300}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

say() { printf '\n== %s\n' "$*"; }
die() {
    echo "demo: $*" >&2
    exit 1
}

# Runs a shell command as root in the box: here when this is the box (systemd runs
# femto's units), else through `vagrant ssh`.
in_box() {
    if [ -f /etc/systemd/system/femto-localmesos.service ] ||
        compgen -G '/etc/systemd/system/femto-[0-9]*.service' >/dev/null; then
        if [ "$(id -u)" = 0 ]; then sh -c "$1"; else sudo -n sh -c "$1"; fi
    else
        command -v vagrant >/dev/null || die "not in the box, and no vagrant to reach it"
        (cd "$here" && vagrant ssh -c "sudo sh -c '$1'" -- -q) | tr -d '\r'
    fi
}

pick_python() {
    local candidate
    for candidate in "${FEMTO_PYTHON:-}" /opt/femto/venv/bin/python "$repo/.venv/bin/python" python3; do
        [ -n "$candidate" ] || continue
        if "$candidate" -c 'import numpy' 2>/dev/null; then
            echo "$candidate"
            return 0
        fi
    done
    die "no Python with NumPy here: set FEMTO_PYTHON, or run inside the box" \
        "(vagrant ssh -c 'bash /vagrant/vagrant/demo.sh')"
}
python=$(pick_python)
check() { "$python" "$here/demo_check.py" "$@"; }
field() { check field "$1"; }

if [ -z "${FEMTO_API_TOKEN:-}" ]; then
    token_file=${FEMTO_TOKEN_FILE:-/etc/femto/token}
    if [ -r "$token_file" ]; then
        FEMTO_API_TOKEN=$(cat "$token_file")
    else
        FEMTO_API_TOKEN=$(in_box "cat $token_file")
    fi
fi
# The token goes to curl in a file, not on its command line, where `ps` would show it.
(
    umask 077
    printf 'Authorization: Bearer %s\n' "$FEMTO_API_TOKEN" >"$work/auth"
)

# api METHOD URL [curl arguments]: the response body; fails on an HTTP error, showing it.
api() {
    local method=$1 url=$2
    shift 2
    curl -sS --fail-with-body --max-time 60 -H "@$work/auth" -X "$method" "$@" "$url"
}

# Polls COMMAND (a shell function) every half second until it succeeds.
wait_until() {
    local what=$1 deadline=$((SECONDS + timeout))
    shift
    until "$@"; do
        [ $SECONDS -lt $deadline ] || die "timed out after ${timeout}s waiting for $what"
        sleep 0.5
    done
}

leader_known() {
    local url
    for url in "${urls[@]}"; do
        [ -n "$(api GET "$url/v1/leader" 2>/dev/null | field leader)" ] || return 1
    done
}

# The scheduler URL (of FEMTO_URLS) whose port is the leader's.
leader_url() {
    local leader port url
    leader=$(api GET "${urls[0]}/v1/leader" | field leader)
    port=${leader##*:}
    for url in "${urls[@]}"; do
        if [ "${url##*:}" = "$port" ]; then
            echo "$url"
            return 0
        fi
    done
    die "the leader $leader is none of $FEMTO_URLS"
}

# run_job URL SPEC NAME: submits SPEC, waits for the job to end, saves it as NAME.job.json.
job_done() { [[ $(api GET "$1/v1/jobs/$2" | tee "$3" | field state) =~ ^(FINISHED|FAILED|CANCELLED)$ ]]; }
submit() { api POST "$1/v1/jobs" -H 'Content-Type: application/json' --data-binary "@$2" | field id; }
run_job() {
    local url=$1 spec=$2 name=$3 id output
    id=$(submit "$url" "$spec")
    wait_until "job $id ($name)" job_done "$url" "$id" "$work/$name.job.json"
    output=$(field result.dataset <"$work/$name.job.json")
    if [ -n "$output" ]; then
        api GET "$url/v1/datasets/$output/data" -o "$work/$output.npy"
    fi
}

say "Schedulers: ${urls[*]}"
wait_until "both schedulers to know their leader" leader_known
leader=$(leader_url)
echo "leader: $leader"

# So that the tour can be run again: the datasets it uploads and the jobs' outputs go first.
outputs=$(for spec in "$repo"/jobs/examples/*.json; do
    grep -q '"steps"' "$spec" || field output <"$spec"; done)
for name in events signal events-slow-copy $outputs; do
    api DELETE "$leader/v1/datasets/$name" >/dev/null 2>&1 || true
done

say "Datasets (generated here, uploaded in 8 partitions)"
for name in events signal; do
    check data "$name" "$work/$name.npy"
    api PUT "$leader/v1/datasets/$name?partitions=8" -H 'Content-Type: application/octet-stream' \
        --data-binary "@$work/$name.npy" >/dev/null
    echo "$name: $(api GET "$leader/v1/datasets/$name" | field shape) float64"
done

say "The example jobs (jobs/examples), each result beside NumPy's"
differ=0
for spec in "$repo"/jobs/examples/*.json; do
    # The example workflows (a "steps" object) are for `femto run` and POST /v1/workflows.
    grep -q '"steps"' "$spec" && continue
    name=$(basename "$spec" .json)
    run_job "$leader" "$spec" "$name"
    check compare "$spec" "$work/$name.job.json" "$work" || differ=1
done
[ $differ = 0 ] || die "a result differs from NumPy's"

say "Dashboard"
echo "$leader/#token=$FEMTO_API_TOKEN"

say "Failover: SIGKILL the leader while a job runs"
cat >"$work/failover.json" <<'SPEC'
{"name": "failover-slow-copy", "operation": "command",
 "params": {"argv": ["sh", "-c", "sleep 5; exec cat"], "timeout": 120},
 "inputs": ["events"], "output": "events-slow-copy",
 "resources": {"cpus": 0.25, "mem": 64}, "max_retries": 3}
SPEC
job_running() {
    local running
    running=$(api GET "$1/v1/jobs/$2" | field tasks.running)
    [ "${running:-0}" -gt 0 ]
}
id=$(submit "$leader" "$work/failover.json")
wait_until "job $id to run" job_running "$leader" "$id"
port=${leader##*:}
if [ -n "${FEMTO_DEMO_PID_DIR:-}" ]; then
    pid=$(cat "$FEMTO_DEMO_PID_DIR/$port.pid")
    echo "leader $leader: pid $pid; SIGKILL"
    kill -KILL "$pid"
else
    pid=$(in_box "systemctl show --property=MainPID --value femto-$port.service")
    [ "${pid:-0}" -gt 0 ] || die "femto-$port.service has no main process"
    echo "leader $leader: femto-$port.service, pid $pid; SIGKILL"
    in_box "kill -KILL $pid"
fi
killed_at=$SECONDS
standby=
for url in "${urls[@]}"; do
    [ "$url" = "$leader" ] || standby=$url
done
standby_leads() { [ "$(api GET "$standby/v1/leader" 2>/dev/null | field is_leader)" = true ]; }
wait_until "$standby to take the lead" standby_leads
echo "$standby leads, $((SECONDS - killed_at)) s after the kill"
wait_until "job $id to end" job_done "$standby" "$id" "$work/failover.job.json"
output=$(field result.dataset <"$work/failover.job.json")
[ -z "$output" ] || api GET "$standby/v1/datasets/$output/data" -o "$work/$output.npy"
check compare "$work/failover.json" "$work/failover.job.json" "$work" ||
    die "the job that ran through the failover differs from NumPy's"
api GET "$standby/v1/jobs/$id/tasks" >"$work/failover.tasks.json"
check attempts "$work/failover.job.json" "$work/failover.tasks.json"

say "Done: every result equals NumPy's"
