#!/bin/bash
# make test-cluster: a real single-node Slurm on loopback (Debian's slurmctld, slurmd,
# slurm-client, munge; no systemd), a job array of fervid-array.sbatch over a corpus built from
# the samples, one running task cancelled with scancel and resubmitted, then checks:
#   - the outputs equal a single-process run's, byte for byte (timelines) and by status (sidecars);
#   - the resubmitted task redid only what its shard had not finished;
#   - `fervid collect` sees every input, all complete.
# Everything it starts (munged if it was not running, slurmctld, slurmd, jobs) it stops by PID.
# Needs root (packages, the munge key). Usage: tools/cluster/test-cluster.sh [FERVID_BINARY]
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
fervid=${1:-${FERVID_BIN:-$root/.build/release/fervid}}
samples=${FERVID_SAMPLES:-$root/samples}
tasks=3
say() { echo "test-cluster: $*" >&2; }
fail() { say "FAIL: $*"; exit 1; }
# A sidecar that says complete (`status`; sidecars without one: `complete: true`).
is_complete() {
    [ -f "$1" ] || return 1
    grep -Eq '"status" *: *"complete"' "$1" && return 0
    ! grep -q '"status"' "$1" && grep -Eq '"complete" *: *true' "$1"
}

[ -x "$fervid" ] || fail "no fervid binary at $fervid (make build)"
[ "$(id -u)" = 0 ] || fail "needs root (Debian packages, /etc/munge/munge.key)"
for s in WolfgangLanger_Pexels.mp4 single_face.mp4 no_face.mp4; do
    [ -f "$samples/$s" ] || fail "sample $samples/$s missing (make samples)"
done

# --- packages ---------------------------------------------------------------------------------
need=()
for p in slurmctld slurmd slurm-client munge; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
    say "installing ${need[*]}"
    made_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        # Keep the packages' scripts from starting daemons: this script starts its own.
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        made_policy=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null \
        || { [ $made_policy = 1 ] && rm -f /usr/sbin/policy-rc.d; fail "apt-get install ${need[*]}"; }
    [ $made_policy = 1 ] && rm -f /usr/sbin/policy-rc.d
fi

# --- scratch, cleanup -------------------------------------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/fervid-cluster.XXXXXX")
pids=()        # daemons this script started: "pid:comm"
jobs_started=()
cleanup() {
    local rc=$?
    set +e
    for j in "${jobs_started[@]}"; do timeout 10 scancel "$j" 2>/dev/null; done
    # Stop in reverse order of starting, each by its recorded PID and only if it is still that program.
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        local pid=${pids[$i]%%:*} comm=${pids[$i]#*:}
        if [ "$(cat /proc/$pid/comm 2>/dev/null)" = "$comm" ]; then
            kill "$pid" 2>/dev/null
            for _ in $(seq 50); do [ -e /proc/$pid ] || break; sleep 0.1; done
            [ -e /proc/$pid ] && kill -9 "$pid" 2>/dev/null
            wait "$pid" 2>/dev/null
        fi
    done
    if [ $rc -eq 0 ]; then rm -rf "$work"; else say "logs kept in $work"; fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for port in 6817 6818; do
    port_busy $port && fail "port $port is in use (another Slurm on this host?); Slurm's ports are fixed"
done

# --- munge ------------------------------------------------------------------------------------
if [ ! -s /etc/munge/munge.key ]; then
    mkdir -p /etc/munge
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
    chown munge:munge /etc/munge/munge.key
    chmod 0400 /etc/munge/munge.key
fi
mkdir -p /run/munge /var/log/munge /var/lib/munge
chown munge:munge /run/munge /var/log/munge /var/lib/munge 2>/dev/null || true
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    # munged as the munge user, in the foreground so that its PID is the one recorded.
    setpriv --reuid=munge --regid=munge --clear-groups munged --foreground --force \
        > "$work/munged.log" 2>&1 &
    pids+=("$!:munged")
    for _ in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
fi
munge -n | unmunge >/dev/null || fail "munge does not work (see $work/munged.log)"

# --- slurm.conf -------------------------------------------------------------------------------
host=$(hostname -s)
cpus=$(nproc)
mem=$(awk '/MemTotal/ { printf "%d", $2 / 1024 * 0.9 }' /proc/meminfo)
mkdir -p "$work/state" "$work/spool" "$work/logs" "$work/out"
export SLURM_CONF=$work/slurm.conf
cat > "$SLURM_CONF" <<CONF
ClusterName=fervidtest
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=cred_expire=10
CredType=cred/munge
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MinJobAge=5
SchedulerParameters=batch_sched_delay=0,sched_interval=2
KillWait=5
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF

slurmctld -D -f "$SLURM_CONF" > "$work/slurmctld.out" 2>&1 &
pids+=("$!:slurmctld")
slurmd -D -f "$SLURM_CONF" > "$work/slurmd.out" 2>&1 &
pids+=("$!:slurmd")
state=""
for _ in $(seq 60); do
    state=$(timeout 5 sinfo -h -n "$host" -o %T 2>/dev/null | head -1 || true)
    case $state in
        idle) break ;;
        down* | drain* | unknown*) timeout 5 scontrol update nodename="$host" state=resume 2>/dev/null || true ;;
    esac
    sleep 0.5
done
[ "$state" = idle ] || fail "node $host is '$state', not idle (see $work/slurmctld.log, $work/slurmd.log)"
say "slurm up: node $host idle, $cpus CPUs"

# --- corpus -----------------------------------------------------------------------------------
# Six inputs in a tree (links to the samples), a manifest of absolute paths. Sorted, task 0 of 3
# gets positions 0 and 3: a short clip, then the 20 s interview (cancelled while on it).
corpus=$work/corpus
mkdir -p "$corpus/day1/room-a" "$corpus/day1/room-b" "$corpus/day2"
ln -s "$samples/single_face.mp4" "$corpus/day1/room-a/clip1.mp4"
ln -s "$samples/no_face.mp4" "$corpus/day1/room-a/clip2.mp4"
ln -s "$samples/no_face.mp4" "$corpus/day1/room-b/empty.MOV"
ln -s "$samples/WolfgangLanger_Pexels.mp4" "$corpus/day2/interview.mp4"
ln -s "$samples/single_face.mp4" "$corpus/day2/single.mp4"
ln -s "$samples/WolfgangLanger_Pexels.mp4" "$corpus/day2/zz-interview.mp4"
find "$corpus" -type l | LC_ALL=C sort > "$work/manifest.txt"
inputs=$(wc -l < "$work/manifest.txt")
options=(--faces center --quiet)

say "reference: one process over the manifest"
"$fervid" analyze --manifest "$work/manifest.txt" -o "$work/ref/" --threads 1 "${options[@]}" \
    > "$work/ref.out" 2> "$work/ref.err" || fail "single-process run failed: $(tail -3 "$work/ref.err")"

# --- the array --------------------------------------------------------------------------------
sbatch_common=(--parsable --cpus-per-task=1 --output="$work/logs/%A_%a.log"
               "$root/tools/cluster/fervid-array.sbatch" "$work/manifest.txt" "$work/out")
job=$(FERVID=$fervid timeout 20 sbatch --array=0-$((tasks - 1)) "${sbatch_common[@]}" "${options[@]}")
jobs_started+=("$job")
say "submitted array job $job ($tasks tasks, $inputs inputs)"

# Task 0 is cancelled as soon as it begins its second input (the interview: its sidecar appears
# when it starts): its first input is complete and must not be redone, the second is cut short.
victim=0
second_sidecar=$work/out/day2/interview.emotions.csv.json
for _ in $(seq 1200); do
    [ -f "$second_sidecar" ] && break
    sleep 0.05
done
[ -f "$second_sidecar" ] || fail "task $victim never began its second input"
timeout 10 scancel "${job}_${victim}"
say "cancelled task ${job}_${victim} mid-input"

# Wait for the array to drain.
for _ in $(seq 600); do
    [ -z "$(timeout 5 squeue -h -j "$job" 2>/dev/null)" ] && break
    sleep 0.5
done
[ -z "$(timeout 5 squeue -h -j "$job" 2>/dev/null)" ] || fail "array $job still queued after 5 minutes"

# What the cancelled shard finished before the cancel must not be redone.
declare -A before=()
finished=0
shard_inputs=()
for ((i = victim; i < inputs; i += tasks)); do shard_inputs+=("$(sed -n "$((i + 1))p" "$work/manifest.txt")"); done
for input in "${shard_inputs[@]}"; do
    rel=${input#$corpus/}; csv=$work/out/${rel%.*}.emotions.csv
    if is_complete "$csv.json"; then before[$csv]=$(stat -c %y "$csv"; sha256sum < "$csv.json"); finished=$((finished + 1)); fi
done
say "task $victim had finished $finished of its ${#shard_inputs[@]} inputs"
[ $finished -lt ${#shard_inputs[@]} ] || fail "the cancelled task had finished its shard: the cancel came too late to test anything"
[ $finished -ge 1 ] || fail "the cancelled task had finished nothing: nothing to check for not being redone"

say "resubmitting task $victim"
job2=$(FERVID=$fervid FERVID_SHARDS=$tasks timeout 20 sbatch --array=$victim "${sbatch_common[@]}" "${options[@]}")
jobs_started+=("$job2")
for _ in $(seq 600); do
    [ -z "$(timeout 5 squeue -h -j "$job2" 2>/dev/null)" ] && break
    sleep 0.5
done
[ -z "$(timeout 5 squeue -h -j "$job2" 2>/dev/null)" ] || fail "resubmitted task still queued after 5 minutes"

for csv in ${finished:+"${!before[@]}"}; do
    now=$(stat -c %y "$csv"; sha256sum < "$csv.json")
    [ "$now" = "${before[$csv]}" ] || fail "$csv was redone by the resubmitted task"
done

# --- checks -----------------------------------------------------------------------------------
failures=0
while read -r input; do
    rel=${input#$corpus/}; stem=${rel%.*}
    out=$work/out/$stem.emotions.csv ref=$work/ref/$stem.emotions.csv
    if ! cmp -s "$out" "$ref"; then say "differs from the single-process run: $stem"; failures=$((failures + 1)); fi
    is_complete "$out.json" || { say "not complete: $stem"; failures=$((failures + 1)); }
done < "$work/manifest.txt"
[ $failures = 0 ] || fail "$failures outputs wrong (logs: $work/logs)"

"$fervid" collect "$work/out" -o "$work/corpus.csv" --manifest "$work/manifest.txt" 2> "$work/collect.err" || fail "collect: $(cat "$work/collect.err")"
rows=$(($(wc -l < "$work/corpus.csv") - 1))
complete=$(awk -F, 'NR > 1 && $2 == "complete"' "$work/corpus.csv" | wc -l)
[ "$rows" = "$inputs" ] || fail "collect has $rows rows for $inputs inputs"
[ "$complete" = "$inputs" ] || fail "collect: $complete of $inputs complete"
while read -r input; do
    grep -qF "$input," "$work/corpus.csv" || fail "collect lacks $input"
done < "$work/manifest.txt"

say "ok: $inputs inputs over $tasks array tasks, task $victim cancelled and resubmitted; outputs equal one process's; collect: $rows rows, all complete"
