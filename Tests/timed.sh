#!/usr/bin/env bash
# Usage: Tests/timed.sh LABEL COMMAND [ARG...]
# Runs COMMAND, then prints "== step LABEL: N s" and exits with COMMAND's status: `make test` wraps each
# step in it, so a CI log says where its minutes went (CI's budget is a whole run well under 20 min).
label="$1"; shift
start=$(date +%s)
"$@"
status=$?
echo "== step $label: $(( $(date +%s) - start )) s$([ $status = 0 ] || echo " (exit $status)")"
exit $status
