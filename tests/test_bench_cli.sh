#!/bin/bash
# `fer bench` from the command line, on the tiny config (a smoke test, not a
# timing: the benchmark is a program): it exits 0 and prints the three mode
# rows with positive images/s, the peak line, the memory line and one table
# row per layer whose times add up to no more than the step; usage errors
# exit 2; a config whose first phase trains every layer prints "-" for the
# frozen backbone.
source "$(dirname "$0")/lib.bash"

out=$work/out
if "$fer" bench "$src/configs/tiny.yaml" --batch 4 --steps 2 --threads 1 >"$out" 2>"$work/err"; then
    echo "ok: fer bench configs/tiny.yaml exits 0"
else
    echo "FAIL: fer bench failed: $(cat "$work/err")"
    failures=$((failures + 1))
fi
cat "$out"
for mode in "full training" "frozen backbone" "inference"; do
    check "row '$mode' with images/s > 0" \
        awk -v m="$mode" 'index($0, m) == 1 { split(substr($0, length(m) + 1), f, " "); ok = f[2] > 0 } END { exit !ok }' "$out"
done
check "SGEMM peak line" grep -qE '^SGEMM peak: [0-9.]+ GFLOP/s' "$out"
check "BLAS line: main's kernel setup, passed to the command" grep -qE '^BLAS: OpenBLAS .* core [A-Za-z0-9]+ \(' "$out"
check "peak memory line" grep -qE '^peak memory: [0-9]+ MiB RSS' "$out"
layers=$(grep -c '^  *- *{ *name:' "$src/configs/tiny.yaml" || true)
rows=$(awk '/^layer /{t=1; next} /^sum of layers/{t=0} t' "$out" | wc -l)
check "one table row per layer ($layers layers, $rows rows)" test "$layers" -gt 0 -a "$rows" -eq "$layers"
# With 2 steps a median is a mean, so the layers' sums cannot exceed the
# step's; the slack covers the table's rounding (step ms has one decimal).
check "per-layer forward + backward within the step" \
    awk '/^full training/ { step = $3 } /^sum of layers/ { sum = $4 + $5 } END { exit !(sum > 0 && sum <= step * 1.02 + 0.06) }' "$out"

for args in "--batch 0" "--steps x" "--threads -1" "extra-argument" "--bogus"; do
    rc=0
    "$fer" bench "$src/configs/tiny.yaml" $args >/dev/null 2>&1 || rc=$?
    check "usage error '$args' exits 2 (got $rc)" test "$rc" -eq 2
done
rc=0
"$fer" bench >/dev/null 2>&1 || rc=$?
check "missing CONFIG exits 2 (got $rc)" test "$rc" -eq 2

"$fer" bench "$src/configs/tiny.yaml" --batch 2 --steps 1 --threads 1 --set schedule.0.trainable=all >"$out" 2>&1 ||
    true
check "first phase trains all: frozen row is '-'" grep -qE '^frozen backbone +- ' "$out"
finish
