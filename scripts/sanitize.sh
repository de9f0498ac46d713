#!/usr/bin/env bash
# sanitize.sh: the engine under AddressSanitizer + UndefinedBehaviorSanitizer (docs/reliability.md).
#
#   1. build   cmake -DEPCHAT_SANITIZE=ON -DEPCHAT_NODE_ADDON=ON into build-asan/: the core, epchatd,
#              the fuzz replay drivers, the C unit tests, the stress tool and the addon (epchat.node,
#              compiled against /usr/include/node and node-addon-api, no cmake-js needed)
#   2. ctest   corpus replays + unit tests, LeakSanitizer on
#   3. node    the uvu suites against build-asan/epchat.node (EPCHAT_ADDON), with libasan preloaded
#              into node. LeakSanitizer off there: node itself keeps allocations alive to exit by
#              design (V8 heap, isolate data, the platform's worker threads, OpenSSL), so a leak
#              report at node's exit says nothing about us; the engine's own leaks are caught in 2
#              and 4, where the same code runs without node.
#   4. epchatd the standalone engine under ASan with LeakSanitizer on, loaded by the stress tool
#              (fanout, churn, slowreader, a few seconds each), then SIGTERM: it must exit 0
#   5. verdict every sanitizer report goes to build-asan/reports/ (log_path); any file there fails
#
# Environment: EPCHAT_ASAN_DIR (build-asan), STRESS_SECONDS (3 per scenario), TESTS (uvu file
# pattern, default every suite), SKIP_NODE=1 to leave out step 3.
# Bounded: each step has a timeout; the whole run takes ~4-6 min on 2 cores (most of it compiling).
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-openssl.sh || exit 1
ROOT=$PWD
OUT=${EPCHAT_ASAN_DIR:-build-asan}
REPORTS=$ROOT/$OUT/reports
STRESS_SECONDS=${STRESS_SECONDS:-3}
TESTS=${TESTS:-'\.test\.js$'}
LIBASAN=$(gcc -print-file-name=libasan.so)
export NO_COLOR=1

rm -rf "$REPORTS"
mkdir -p "$REPORTS"
summary=()
failed=0
t_start=$(date +%s)

note() { echo; echo "== sanitize: $*"; }
record() {  # record NAME ok|FAIL DETAIL
  summary+=("$(printf '%-10s %-4s %s' "$1" "$2" "$3")")
  [ "$2" = ok ] || failed=$((failed + 1))
}
reports_for() { ls "$REPORTS" 2>/dev/null | grep -c "^$1" || true; }

# Symbolized, complete reports; abort on the first error; log to files so reports from every process
# (including the servers the tests spawn) are collected.
asan_opts() {  # asan_opts PREFIX LEAKS(0|1)
  echo "log_path=$REPORTS/$1-asan:detect_leaks=$2:abort_on_error=1:halt_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1"
}
ubsan_opts() { echo "log_path=$REPORTS/$1-ubsan:print_stacktrace=1:halt_on_error=1"; }

# ---------------------------------------------------------------------------------------- 1. build
note "build ($OUT, ASan+UBSan)"
t0=$(date +%s)
if timeout 480 cmake -S . -B "$OUT" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEPCHAT_SANITIZE=ON -DEPCHAT_NODE_ADDON=ON >/dev/null &&
   timeout 480 cmake --build "$OUT" -j"$(nproc)" 2>&1 | grep -E 'error|warning|Built target'; [ "${PIPESTATUS[0]}" -eq 0 ] &&
   [ -f "$OUT/epchat.node" ] && [ -x "$OUT/epchatd" ]; then
  record build ok "$(( $(date +%s) - t0 )) s"
else
  record build FAIL "cmake build failed"
  echo; printf '%s\n' "${summary[@]}"; echo "sanitize: FAILED (build)"; exit 1
fi

# ---------------------------------------------------------------------------------------- 2. ctest
note "ctest: corpus replays and unit tests, LeakSanitizer on"
t0=$(date +%s)
ASAN_OPTIONS=$(asan_opts ctest 1) UBSAN_OPTIONS=$(ubsan_opts ctest) \
  timeout 300 ctest --test-dir "$OUT" --output-on-failure 2>&1 | tee "$REPORTS/../ctest.log" | tail -12
rc=${PIPESTATUS[0]}
n=$(reports_for ctest)
line=$(grep -E 'tests passed' "$REPORTS/../ctest.log" | tail -1)
if [ "$rc" -eq 0 ] && [ "$n" -eq 0 ]; then record ctest ok "${line:-passed}, $(( $(date +%s) - t0 )) s"
else record ctest FAIL "rc $rc, $n sanitizer report(s): ${line:-}"; fi

# ---------------------------------------------------------------------------------------- 3. node
if [ "${SKIP_NODE:-0}" != 1 ]; then
  note "node test suites against $OUT/epchat.node (libasan preloaded, leaks off: see header)"
  t0=$(date +%s)
  if ! timeout 120 npx tsc -p . ; then
    record node FAIL "tsc failed"
  else
    EPCHAT_ADDON=$ROOT/$OUT/epchat.node LD_PRELOAD=$LIBASAN \
      ASAN_OPTIONS=$(asan_opts node 0) UBSAN_OPTIONS=$(ubsan_opts node) \
      timeout 420 npx uvu dist/test "$TESTS" 2>&1 | tee "$REPORTS/../node.log" | grep -vE '^\s+[0-9]+: 0x' | tail -25
    rc=${PIPESTATUS[0]}
    n=$(reports_for node)
    total=$(grep -E '^\s*Total:' "$REPORTS/../node.log" | grep -oE '[0-9]+' | tail -1)
    passed=$(grep -E '^\s*Passed:' "$REPORTS/../node.log" | grep -oE '[0-9]+' | tail -1)
    if [ "$rc" -eq 0 ] && [ "$n" -eq 0 ]; then record node ok "${passed:-?}/${total:-?} tests, $(( $(date +%s) - t0 )) s"
    else record node FAIL "rc $rc, ${passed:-?}/${total:-?} tests passed, $n sanitizer report(s)"; fi
  fi
fi

# ---------------------------------------------------------------------------------------- 4. epchatd
note "epchatd under ASan+LSan, stress ${STRESS_SECONDS}s per scenario, then SIGTERM"
t0=$(date +%s)
D_OUT=$REPORTS/../epchatd.out
D_ERR=$REPORTS/../epchatd.err
ASAN_OPTIONS=$(asan_opts epchatd 1) UBSAN_OPTIONS=$(ubsan_opts epchatd) \
  "$OUT/epchatd" --host 127.0.0.1 --port 0 --flood-rate 0 --max-output-bytes 262144 >"$D_OUT" 2>"$D_ERR" &
dpid=$!
port=
for _ in $(seq 1 100); do
  port=$(sed -n 's/^listening .*:\([0-9]*\)$/\1/p' "$D_OUT" 2>/dev/null)
  [ -n "$port" ] && break
  sleep 0.1
done
stress_ok=1
stress_detail=
if [ -z "$port" ]; then
  stress_ok=0; stress_detail="epchatd did not start"
else
  for sc in "fanout --clients 50 --senders 10" "churn --parallel 20" "slowreader --clients 20"; do
    name=${sc%% *}
    # The stress tool is built with the sanitizers too; its own leaks are not ours to judge.
    if ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=$(ubsan_opts stress) \
       timeout $((STRESS_SECONDS + 60)) "$OUT/stress" --port "$port" --scenario $sc \
         --duration "$STRESS_SECONDS" --warmup 0.5 --timeout 60 >"$REPORTS/../stress-$name.log" 2>&1; then
      stress_detail+="$name ok; "
    else
      rc=$?
      # slowreader may legitimately see the slow client dropped; any other exit is a failure.
      stress_ok=0; stress_detail+="$name exit $rc; "
      tail -5 "$REPORTS/../stress-$name.log"
    fi
  done
fi
kill -TERM "$dpid" 2>/dev/null
drc=
for _ in $(seq 1 150); do
  if ! kill -0 "$dpid" 2>/dev/null; then wait "$dpid"; drc=$?; break; fi
  sleep 0.1
done
if [ -z "$drc" ]; then kill -KILL "$dpid" 2>/dev/null; wait "$dpid" 2>/dev/null; drc=timeout; fi
n=$(reports_for epchatd)
accepted=$(sed -n 's/^accepted //p' "$D_OUT")
msgs=$(sed -n 's/^messages_in //p' "$D_OUT")
if [ "$stress_ok" = 1 ] && [ "$drc" = 0 ] && [ "$n" -eq 0 ]; then
  record epchatd ok "${stress_detail}accepted ${accepted:-?}, messages_in ${msgs:-?}, exit 0 on SIGTERM, no leak, $(( $(date +%s) - t0 )) s"
else
  record epchatd FAIL "${stress_detail}exit ${drc}, $n sanitizer report(s)"
  tail -5 "$D_ERR"
fi

# ---------------------------------------------------------------------------------------- 5. verdict
reports=$(ls "$REPORTS" 2>/dev/null)
if [ -n "$reports" ]; then
  note "sanitizer reports"
  for f in $REPORTS/*; do echo "--- $f"; head -40 "$f"; done
fi
echo
echo "== sanitize summary ($(( $(date +%s) - t_start )) s)"
printf '%s\n' "${summary[@]}"
echo "reports: $(echo "$reports" | grep -c . || true) in $REPORTS"
if [ "$failed" -eq 0 ] && [ -z "$reports" ]; then
  echo "sanitize: OK (zero sanitizer reports, zero leaks)"
  exit 0
fi
echo "sanitize: FAILED"
exit 1
