#!/usr/bin/env bash
# What a CI VM runs, as root: set up, doctor (fail fast with the fix), the suites with a JUnit report
# at reports/junit.xml, and a sweep of dead runs' namespaces on exit, whatever happened.
#
#   sudo ci/run.sh                  every suite; JUnit at reports/junit.xml
#   sudo CTH_SHARD=2/3 ci/run.sh    one shard; also a blob at reports/blobs/ for `vitest --merge-reports`
#   sudo ci/run.sh -t 'udp'         extra arguments go to `vitest run`
#
# CTH_REPORT_DIR changes the reports folder; CTH_SKIP_SETUP=1 skips scripts/setup.sh (packages, npm ci).
# The reporters are the config's (harness/fixtures/reporters.ts), chosen from the environment: default
# and JUnit with CI set, plus GitHub annotations (GITHUB_ACTIONS=true) and the step summary
# (GITHUB_STEP_SUMMARY) in GitHub Actions, plus the blob of a shard. Extra `--reporter` arguments
# would replace them all.
set -euo pipefail
cd "$(dirname "$0")/.."

export CI="${CI:-true}"
reports="${CTH_REPORT_DIR:-reports}"

vitest_pid=""
on_exit() {
  local status=$?
  # The sweeper spares a live run's namespaces: let vitest die before sweeping.
  if [ -n "$vitest_pid" ] && kill -0 "$vitest_pid" 2>/dev/null; then
    echo "ci: stopping vitest (pid $vitest_pid)"
    kill -TERM "$vitest_pid" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$vitest_pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$vitest_pid" 2>/dev/null || true
    wait "$vitest_pid" 2>/dev/null || true
  fi
  echo "ci: sweeping namespaces left by dead runs"
  npm run --silent sweep || echo "ci: sweep failed" >&2
  exit "$status"
}
trap on_exit EXIT
# A cancelled job gets SIGINT/SIGTERM: exit through the trap so the sweep still runs.
trap 'exit 130' INT
trap 'exit 143' TERM

if [ "${CTH_SKIP_SETUP:-0}" != 1 ]; then
  ./scripts/setup.sh
fi

echo "ci: doctor"
npm run --silent doctor

echo "ci: typecheck"
npm run --silent typecheck

mkdir -p "$reports"
# Read by vitest.config.ts: the JUnit file goes to $CTH_REPORT_DIR/junit.xml, a shard's blob to $CTH_BLOB_REPORT.
export CTH_REPORT_DIR="$reports"
args=()
if [ -n "${CTH_SHARD:-}" ]; then
  if [[ ! "$CTH_SHARD" =~ ^[1-9][0-9]*/[1-9][0-9]*$ ]]; then
    echo "ci: CTH_SHARD must look like 1/3, got '$CTH_SHARD'" >&2
    exit 2
  fi
  export CTH_SHARD
  export CTH_BLOB_REPORT="$reports/blobs/blob-${CTH_SHARD/\//-of-}.json"
  args+=("--shard=$CTH_SHARD")
fi

echo "ci: vitest run ${args[*]} $*"
# In the background, so a signal reaches the trap at once and the trap can wait for vitest to end.
node_modules/.bin/vitest run ${args[@]+"${args[@]}"} "$@" &
vitest_pid=$!
status=0
wait "$vitest_pid" || status=$?
vitest_pid=""
echo "ci: JUnit report at $reports/junit.xml"
exit "$status"
