#!/usr/bin/env bash
# Usage: Fuzz/run.sh [SECONDS] [TARGET...]
# Builds and runs the libFuzzer targets, one after another, SECONDS each (default 60), then prints one
# summary line per target. Exits non-zero if any target crashed or failed to build.
#   Fuzz/run.sh                 every target, 60 s each
#   Fuzz/run.sh 300 tar         one target, 300 s
#   Fuzz/run.sh 20              what CI runs
# Targets: safetensors-header multipart tar peft-config kohya-adapter model-directory http (see Fuzz/README.md).
#
# Builds with swiftc directly (no Package.swift target): AdapterFormats is compiled once from every
# .swift file under Sources/AdapterFormats (found by globbing, so new files join by themselves) into
# .build-fuzz/AdapterFormats, and its four targets link it; the HTTP and multipart targets compile the
# few HTTPServer files they need into their own executable. A build is reused while a hash of its
# source files, flags and compiler is unchanged.
#
# Each target's run corpus, Fuzz/corpus-run/<target>/ (git-ignored), starts from the committed seeds in
# Fuzz/corpus/<target>/ and grows from run to run. Crashes land in Fuzz/findings/<target>-crash-… (also
# git-ignored); Fuzz/README.md says how to turn one into a regression test. FUZZ_FLAGS, if set, is
# passed on to every libFuzzer run (e.g. FUZZ_FLAGS="-fork=2 -ignore_crashes=1" to use both cores and
# keep fuzzing past a known crash; the executed count is then not reported).
set -uo pipefail   # not -e: a crash in one target must not stop the others or the summary

here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
build="$root/.build-fuzz"
all_targets=(safetensors-header multipart tar peft-config kohya-adapter model-directory http form-body)

usage() { sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

seconds=60
targets=()
for arg in "$@"; do
    case "$arg" in
        -h|--help) usage ;;
        all) targets+=("${all_targets[@]}") ;;
        *[!0-9]*|'')
            if [[ " ${all_targets[*]} " == *" $arg "* ]]; then targets+=("$arg")
            else echo "run.sh: unknown target '$arg' (known: ${all_targets[*]})" >&2; exit 2; fi ;;
        *) seconds="$arg" ;;
    esac
done
(( ${#targets[@]} )) || targets=("${all_targets[@]}")

swiftc="${SWIFTC:-swiftc}"
flags=(-parse-as-library -sanitize=fuzzer,address -O -g -wmo -num-threads 2)
compiler="$("$swiftc" --version 2>&1)"

# The harness file, its libFuzzer -max_len, and which sources it is built with.
harness() {
    case "$1" in
        safetensors-header) echo SafetensorsHeaderFuzz ;; multipart) echo MultipartFuzz ;; tar) echo TarFuzz ;;
        peft-config) echo PEFTConfigFuzz ;; kohya-adapter) echo KohyaAdapterFuzz ;; http) echo HTTPParserFuzz ;;
        model-directory) echo ModelDirectoryFuzz ;; form-body) echo FormBodyFuzz ;;
    esac
}
max_len() {
    case "$1" in
        safetensors-header|tar|kohya-adapter|model-directory) echo 65536 ;; multipart) echo 16384 ;; peft-config) echo 8192 ;; http) echo 4096 ;; form-body) echo 16384 ;;
    esac
}
uses_adapter_formats() { [[ "$1" == safetensors-header || "$1" == tar || "$1" == peft-config || "$1" == kohya-adapter || "$1" == model-directory ]]; }
# Sources compiled into the target's own module (besides the harness).
own_sources() {
    case "$1" in
        http) printf '%s\n' "$root"/Sources/HTTPServer/Parser/*.swift "$root/Sources/HTTPServer/HTTPLimits.swift" \
                            "$root/Sources/HTTPServer/Support/HTTPStatus.swift" "$here/$(harness "$1").swift" ;;
        form-body) printf '%s\n' "$root/Sources/HTTPServer/Request/FormBody.swift" "$root/Sources/HTTPServer/Parser/HTTPByteClass.swift" \
                                 "$root/Sources/HTTPServer/Parser/PercentDecoding.swift" "$here/$(harness "$1").swift" ;;
        multipart) printf '%s\n' "$root"/Sources/HTTPServer/Multipart/*.swift "$here/Support/FuzzSupport.swift" \
                                 "$here/$(harness "$1").swift" ;;
        *) printf '%s\n' "$here/Support/FuzzSupport.swift" "$here/$(harness "$1").swift" ;;
    esac
}

# A hash of the compiler, the flags, and each file's path and contents.
fingerprint() {
    { printf '%s\n' "$compiler" "${flags[*]}" "$@"; for f in "$@"; do printf '%s\n' "${f#"$root"/}"; cat "$f"; done; } \
        | sha256sum | cut -d' ' -f1
}

# AdapterFormats as a static library and module, shared by its four targets. Prints its fingerprint.
adapter_formats_fingerprint=""
build_adapter_formats() {
    local dir="$build/AdapterFormats"
    mkdir -p "$dir"
    local sources
    mapfile -t sources < <(find "$root/Sources/AdapterFormats" -name '*.swift' | LC_ALL=C sort)
    local hash; hash="$(fingerprint "${sources[@]}")"
    if [[ -f "$dir/libAdapterFormats.a" && "$(cat "$dir/fingerprint" 2>/dev/null)" == "$hash" ]]; then
        adapter_formats_fingerprint="$hash"; return 0
    fi
    rm -f "$dir/fingerprint"
    local start=$SECONDS
    if ! (cd "$dir" && "$swiftc" "${flags[@]}" -module-name AdapterFormats -emit-library -static -emit-module \
            -emit-module-path "$dir/AdapterFormats.swiftmodule" "${sources[@]}" -o "$dir/libAdapterFormats.a") \
            >"$dir/build.log" 2>&1; then
        grep -v "Cannot export local symbol" "$dir/build.log" | tail -30 >&2
        return 1
    fi
    echo "$hash" >"$dir/fingerprint"
    echo "built AdapterFormats (${#sources[@]} files) in $((SECONDS - start)) s"
    adapter_formats_fingerprint="$hash"
}

# Builds the target's executable unless an up-to-date one exists. Sets build_seconds ("cached" if reused).
build_target() {
    local t="$1" dir="$build/$1" bin="$build/$1/$1-fuzz"
    mkdir -p "$dir"
    local sources link=()
    mapfile -t sources < <(own_sources "$t")
    if uses_adapter_formats "$t"; then
        build_adapter_formats || return 1
        link=(-I "$build/AdapterFormats" -L "$build/AdapterFormats" -lAdapterFormats)
    fi
    local hash; hash="$(printf '%s\n' "$(fingerprint "${sources[@]}")" "$adapter_formats_fingerprint" | sha256sum | cut -d' ' -f1)"
    if [[ -x "$bin" && "$(cat "$dir/fingerprint" 2>/dev/null)" == "$hash" ]]; then
        build_seconds=cached; return 0
    fi
    rm -f "$dir/fingerprint"
    local start=$SECONDS
    if ! (cd "$dir" && "$swiftc" "${flags[@]}" -module-name "$(harness "$t")" "${link[@]}" "${sources[@]}" -o "$bin") \
            >"$dir/build.log" 2>&1; then
        grep -v "Cannot export local symbol" "$dir/build.log" | tail -30 >&2
        return 1
    fi
    echo "$hash" >"$dir/fingerprint"
    build_seconds=$((SECONDS - start))
}

# One libFuzzer run; sets the summary fields.
run_target() {
    local t="$1" bin="$build/$1/$1-fuzz" corpus="$here/corpus-run/$1" log="$build/$1/fuzz.log"
    mkdir -p "$corpus" "$here/findings"
    # The run corpus starts from the committed seeds and grows in Fuzz/corpus-run (git-ignored).
    if [[ -d "$here/corpus/$t" ]]; then cp -n "$here/corpus/$t"/* "$corpus/" 2>/dev/null || true; fi
    local dict=()
    if [[ -f "$here/dict/$t.dict" ]]; then dict=(-dict="$here/dict/$t.dict"); fi
    local start=$SECONDS marker="$build/$t/run-started"
    touch "$marker"
    # SWIFT_BACKTRACE: the Swift runtime's own crash handler reads the crashed stack in a way ASan
    # reports as a second error; libFuzzer's handler prints the symbolized stack instead.
    # shellcheck disable=SC2086  # FUZZ_FLAGS is a list of flags
    SWIFT_BACKTRACE=enable=no "$bin" "$corpus" -max_total_time="$seconds" -max_len="$(max_len "$t")" -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$here/findings/$t-" -print_final_stats=1 "${dict[@]}" ${FUZZ_FLAGS:-} >"$log" 2>&1
    local rc=$?
    ran_seconds=$((SECONDS - start))
    executed="$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | tail -1 | awk '{print $2}')"
    local status; status="$(grep -E '(cov|ft): [0-9]+' "$log" | tail -1)"
    cov="$(grep -o 'cov: [0-9]*' <<<"$status" | awk '{print $2}')"
    ft="$(grep -o 'ft: [0-9]*' <<<"$status" | awk '{print $2}')"
    corpus_files="$(find "$corpus" -type f | wc -l)"
    # With FUZZ_FLAGS="-fork=… -ignore_crashes=1" libFuzzer exits 0 after crashes: count what it wrote.
    local found; found="$(find "$here/findings" -name "$t-*" -newer "$marker" | wc -l)"
    if (( rc == 0 && found == 0 )); then
        result=ok
    elif (( rc == 0 )); then
        result="CRASH $found new files in Fuzz/findings/$t-*"
    else
        local artifact; artifact="$(grep -o 'Test unit written to .*' "$log" | tail -1 | sed 's/Test unit written to //')"
        result="CRASH ${artifact#"$root"/}"
        echo "---- $t: libFuzzer exited $rc; from $log:" >&2
        grep -E 'Fatal error|ERROR: |SUMMARY: |deadly signal|^ *#[0-7] |Test unit written|Base64' "$log" | head -30 >&2
    fi
}

summary=()
failed=0
for t in "${targets[@]}"; do
    echo "== $t"
    build_seconds=""
    if ! build_target "$t"; then
        summary+=("$(printf '%-19s %8s %12s %7s %7s %7s  %s' "$t" - - - - - 'BUILD FAILED')")
        failed=1
        continue
    fi
    echo "build: ${build_seconds}$([[ $build_seconds == cached ]] || echo ' s'); fuzzing for $seconds s"
    run_target "$t"
    [[ "$result" == ok ]] || failed=1
    summary+=("$(printf '%-19s %8s %12s %7s %7s %7s  %s' "$t" "$ran_seconds" "${executed:--}" "${cov:--}" "${ft:--}" "$corpus_files" "$result")")
done

echo
printf '%-19s %8s %12s %7s %7s %7s  %s\n' target seconds executed cov ft corpus result
printf '%s\n' "${summary[@]}"
exit "$failed"
