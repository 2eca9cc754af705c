#!/usr/bin/env bash
# Runs a command with the CPU Lambda gives a function of the given memory size: one vCPU at
# 1,769 MB, so 128 MB is 7.24 % of one core (256: 14.5 %, 512: 28.9 %, 1,024: 57.9 %).
#
#   scripts/cpu-share.sh 128 target/release/list-bookings
#   scripts/cpu-share.sh 1769 some-command --with args     # a whole core
#
# A cgroup v1 `cpu` group per size (omnilab-lambda-<MB>) with a 100 ms period and the share of
# it as quota; the command is exec'd inside it, so its pid and its children are the group's.
# Needs root and the cgroup v1 cpu controller mounted read-write (these machines have both:
# the team's tooling notes). The quota does not carry over from one 100 ms period to the next:
# a burst of more than the share waits for the next period, which shows as p99 spikes near
# 90 ms when requests come back to back. Report means and CPU time beside percentiles.
set -euo pipefail

if [ $# -lt 2 ] || ! [[ "$1" =~ ^[0-9]+$ ]] || [ "$1" -lt 1 ]; then
    echo "usage: scripts/cpu-share.sh <memory MB> <command> [args...]" >&2
    exit 2
fi
memory=$1
shift

controller=$(awk '$3 == "cgroup" && $4 ~ /(^|,)cpu(,|$)/ {print $2; exit}' /proc/mounts)
if [ -z "$controller" ] || [ ! -w "$controller" ]; then
    echo "cpu-share: no writable cgroup v1 cpu controller (root is needed)" >&2
    exit 1
fi
group="$controller/omnilab-lambda-$memory"
mkdir -p "$group"
period=100000
# memory / 1769 of one core, in microseconds of each period (at least 1 ms: the kernel's floor).
quota=$((memory * period / 1769))
((quota >= 1000)) || quota=1000
if ((memory >= 1769)); then
    quota=-1
fi
echo "$period" >"$group/cpu.cfs_period_us"
echo "$quota" >"$group/cpu.cfs_quota_us"
echo $$ >"$group/cgroup.procs"
exec "$@"
