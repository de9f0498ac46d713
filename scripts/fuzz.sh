#!/usr/bin/env bash
# fuzz.sh: the libFuzzer targets (native/fuzz, docs/reliability.md) for a bounded time each, then a
# replay of the seed corpora. Without clang, only the replay (gcc builds the same targets).
#
#   FUZZ_SECONDS   seconds per target (default 60)
#   FUZZ_TARGETS   targets to run (default "line session irc ws http tls")
#   FUZZ_JOBS      parallel fuzzing processes per target (default 1)
#   FUZZ_DIR       build directory (default build-fuzz)
#
# New inputs go to build-fuzz/corpus/<target>/ (a scratch corpus, seeded from the repository's);
# a crash leaves build-fuzz/crash-* and fails the run: minimise it (fuzz_<t> -minimize_crash=1),
# fix the bug, and add the input to native/fuzz/corpus/<t>/ so the replay keeps it fixed.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-openssl.sh || exit 1
ROOT=$PWD
SECONDS_EACH=${FUZZ_SECONDS:-60}
TARGETS=${FUZZ_TARGETS:-line session irc ws http tls}
JOBS=${FUZZ_JOBS:-1}
OUT=${FUZZ_DIR:-build-fuzz}
summary=()
failed=0
t_start=$(date +%s)

have_clang() {
  command -v clang++ >/dev/null 2>&1 || return 1
  local probe
  probe=$(mktemp -d)
  printf 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }\n' >"$probe/t.cc"
  clang++ -fsanitize=fuzzer "$probe/t.cc" -o "$probe/t" >/dev/null 2>&1
  local rc=$?
  rm -rf "$probe"
  return $rc
}

if have_clang; then
  echo "== fuzz: building libFuzzer targets with clang ($OUT)"
  if ! { timeout 600 env CC=clang CXX=clang++ cmake -S . -B "$OUT" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null &&
         timeout 600 cmake --build "$OUT" -j"$(nproc)" --target $(for t in $TARGETS; do printf 'fuzz_%s replay_%s ' "$t" "$t"; done) 2>&1 |
           grep -E 'error|Built target'; [ "${PIPESTATUS[0]}" -eq 0 ]; }; then
    echo "fuzz: FAILED (build)"
    exit 1
  fi
  for t in $TARGETS; do
    echo
    echo "== fuzz: fuzz_$t for ${SECONDS_EACH}s"
    work=$OUT/corpus/$t
    mkdir -p "$work" "$OUT/artifacts/$t"
    log=$OUT/fuzz-$t.log
    # -max_len bounds an input (the session target reads at most 64 KiB anyway); rss_limit guards the
    # machine; -timeout flags an input that hangs the engine; leaks are checked per input.
    # -use_value_profile guides on compared values (queue bytes against maxOutputBytes, fault kinds):
    # with it the session target found the overflow-list use-after-free of issue #8 in ~80 s.
    # With FUZZ_JOBS > 1, libFuzzer runs that many fork()ed workers sharing the corpus (-fork).
    par=()
    [ "$JOBS" -gt 1 ] && par=(-fork="$JOBS")
    timeout $((SECONDS_EACH + 120)) "$OUT/fuzz_$t" -max_total_time="$SECONDS_EACH" -max_len=8192 -timeout=10 -use_value_profile=1 \
      -rss_limit_mb=2048 -detect_leaks=1 -print_final_stats=1 "${par[@]}" \
      -artifact_prefix="$OUT/artifacts/$t/" "$work" "native/fuzz/corpus/$t" >"$log" 2>&1
    rc=$?
    runs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{s+=$2} END {print s+0}')
    speed=$(grep -E '^stat::average_exec_per_sec' "$log" | awk '{s+=$2} END {print s+0}')
    cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1)
    crashes=$(ls "$OUT/artifacts/$t" 2>/dev/null | grep -cE '^(crash|leak|timeout|oom)-' || true)
    if [ "$rc" -eq 0 ] && [ "$crashes" -eq 0 ]; then
      summary+=("$(printf 'fuzz_%-8s ok    %s runs, %s exec/s, %s, corpus %s files' "$t" "$runs" "$speed" "${cov:-cov: ?}" "$(ls "$work" | wc -l)")")
    else
      failed=$((failed + 1))
      summary+=("$(printf 'fuzz_%-8s FAIL  exit %s, %s finding(s) in %s' "$t" "$rc" "$crashes" "$OUT/artifacts/$t")")
      grep -E 'ERROR|FUZZ_CHECK|SUMMARY|Test unit written' "$log" | head -10
    fi
  done
else
  echo "== fuzz: clang with libFuzzer not found: replay only (apt-get install clang libclang-rt-14-dev)"
  OUT=${FUZZ_REPLAY_DIR:-build-cmake}
  if ! { timeout 600 cmake -S . -B "$OUT" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null &&
         timeout 600 cmake --build "$OUT" -j"$(nproc)" --target $(for t in $TARGETS; do printf 'replay_%s ' "$t"; done) 2>&1 |
           grep -E 'error|Built target'; [ "${PIPESTATUS[0]}" -eq 0 ]; }; then
    echo "fuzz: FAILED (build)"
    exit 1
  fi
fi

# The repository's corpora through the replay drivers (the regression test ctest also runs).
for t in $TARGETS; do
  echo
  echo "== fuzz: replay_$t over native/fuzz/corpus/$t"
  if out=$("$OUT/replay_$t" "native/fuzz/corpus/$t" 2>&1); then
    summary+=("$(printf 'replay_%-6s ok    %s' "$t" "$(echo "$out" | tail -1)")")
  else
    failed=$((failed + 1))
    summary+=("$(printf 'replay_%-6s FAIL' "$t")")
    echo "$out" | tail -20
  fi
done

echo
echo "== fuzz summary ($(( $(date +%s) - t_start )) s)"
printf '%s\n' "${summary[@]}"
if [ "$failed" -eq 0 ]; then echo "fuzz: OK"; exit 0; fi
echo "fuzz: FAILED"
exit 1
