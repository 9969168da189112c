#!/usr/bin/env bash
# Runs every fuzz target for <seconds> each, from its corpus and with its dictionary, and
# fails on the first crash, leak, timeout or broken invariant. Builds nothing: build the
# fuzz preset first (cmake --preset fuzz && cmake --build --preset fuzz).
#
#   tests/fuzz/run.sh <seconds> [target...]      (default: every target)
#
# Corpora live in build/fuzz/corpus/<target> (seeded by make_corpus.py when missing, and
# grown by each run); a failing input is saved as build/fuzz/artifacts/<target>/crash-*,
# and reproduced with: build/fuzz/fuzzers/<target> <that file>.
set -euo pipefail
cd "$(dirname "$0")/../.."

seconds="${1:?usage: tests/fuzz/run.sh <seconds> [target...]}"
shift
build="${FUZZ_BUILD:-build/fuzz}"
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(fuzz_frame fuzz_query fuzz_json_body fuzz_http fuzz_image)

for t in "${targets[@]}"; do
  [[ -x "$build/fuzzers/$t" ]] || { echo "run.sh: $build/fuzzers/$t is not built (cmake --build --preset fuzz)" >&2; exit 2; }
done
[[ -d "$build/corpus" ]] || python3 tests/fuzz/make_corpus.py "$build"

export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:allocator_may_return_null=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

# Per target: the dictionary and the libFuzzer options that fit its input.
options() {
  case "$1" in
    fuzz_frame) echo "-dict=tests/fuzz/frame.dict -max_len=70000 -timeout=10" ;;
    fuzz_query) echo "-dict=tests/fuzz/http.dict -max_len=4096 -timeout=10" ;;
    fuzz_json_body) echo "-dict=tests/fuzz/json.dict -max_len=20000 -timeout=10" ;;
    # Past the 16 KiB header limit, so 431 is reachable.
    fuzz_http) echo "-dict=tests/fuzz/http.dict -max_len=20000 -timeout=10" ;;
    # A worker's job has 30 s; a slow image is a finding long before that. Its memory limit
    # is 1 GiB: no single allocation may be larger.
    fuzz_image) echo "-max_len=65536 -timeout=25 -malloc_limit_mb=1024" ;;
  esac
}

summary=()
status=0
for t in "${targets[@]}"; do
  corpus="$build/corpus/$t"
  artifacts="$build/artifacts/$t"
  mkdir -p "$corpus" "$artifacts"
  log="$build/artifacts/$t.log"
  echo "== $t for ${seconds}s"
  # shellcheck disable=SC2046
  if "$build/fuzzers/$t" $(options "$t") -max_total_time="$seconds" \
      -print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus" >"$log" 2>&1; then
    result=ok
  else
    result=FAILED
    status=1
    tail -n 60 "$log"
  fi
  done_line=$(grep -aE "^#[0-9]+[[:space:]]+DONE" "$log" | tail -1 || true)
  [[ -n "$done_line" ]] || done_line=$(grep -aE '^#[0-9]+[[:space:]]' "$log" | tail -1 || true)
  execs=$(grep -aE '^stat::number_of_executed_units' "$log" | awk '{print $2}' || true)
  summary+=("$(printf '%-15s %-6s execs=%-10s %s' "$t" "$result" "${execs:-?}" \
    "$(echo "$done_line" | grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9a-zA-Z]+' || true)")")
done

echo "== fuzzing summary (${seconds}s per target; logs in $build/artifacts)"
printf '%s\n' "${summary[@]}"
exit $status
