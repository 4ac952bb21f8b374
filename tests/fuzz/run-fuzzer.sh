#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs a libFuzzer target for a fixed number of iterations, starting from
# the corpus in the source tree; new inputs go to a scratch directory that
# is removed afterwards. A crash leaves its input in the scratch directory
# and the message names it.
#   run-fuzzer.sh FUZZER CORPUS_DIR RUNS
set -eu
fuzzer=$1 corpus=$2 runs=$3
scratch=$(mktemp -d "${TMPDIR:-/tmp}/bpfhub-fuzz-XXXXXX")
status=0
"$fuzzer" -runs="$runs" -seed=1 -max_len=65536 -timeout=10 -rss_limit_mb=1024 \
    -artifact_prefix="$scratch/" -print_final_stats=1 "$scratch" "$corpus" 2>"$scratch/log" || status=$?
tail -n 12 "$scratch/log"
if [ "$status" -ne 0 ]; then
    echo "fuzzer failed (exit $status); the crashing input is kept in $scratch" >&2
    exit "$status"
fi
rm -rf "$scratch"
