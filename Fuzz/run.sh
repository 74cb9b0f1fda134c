#!/usr/bin/env bash
# Fuzzes HTTPRequestParser with libFuzzer for SECONDS (default 60).
#   Fuzz/run.sh 300
# Builds with swiftc directly (no Package.swift target needed). Findings land in Fuzz/findings/;
# turn each into a test in Tests/HTTPServerTests/Parser/HTTPRequestParserFuzzRegressionTests.swift.
set -euo pipefail
seconds="${1:-60}"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
build="$root/.build-fuzz"
mkdir -p "$build" "$here/findings" "$root/Fuzz/corpus-run"
sources=("$root"/Sources/HTTPServer/Parser/*.swift "$root/Sources/HTTPServer/HTTPLimits.swift"
         "$root/Sources/HTTPServer/Support/HTTPStatus.swift" "$here/HTTPParserFuzz.swift")
swiftc -parse-as-library -sanitize=fuzzer,address -O -g -module-name HTTPParserFuzz \
    "${sources[@]}" -o "$build/http-parser-fuzz"
# The run corpus starts from the committed seeds and grows in Fuzz/corpus-run (git-ignored).
cp -n "$here"/corpus/* "$root/Fuzz/corpus-run/" 2>/dev/null || true
"$build/http-parser-fuzz" "$root/Fuzz/corpus-run" \
    -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=4096 \
    -artifact_prefix="$here/findings/" -print_final_stats=1
