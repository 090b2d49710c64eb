#!/bin/bash
# fer's forward and backward pass against independent code: reference-state
# files written by tools/torch_reference.py (PyTorch, float64) are checked
# with `fer check-reference` on the tiny network (every ReLU / max-pool
# decision kept 1e-5 of its layer's RMS from its threshold, so float32 cannot
# branch differently: strict tolerances) and on the full seed network at
# 96x96 (millions of decisions: a few flip in float32, so gradients are held
# to 1e-1 while logits and loss stay strict). Then it proves the check can
# fail: one weight, one expected gradient or one moving statistic changed in a
# copy must make it exit 1.
set -u
src=${FER_SOURCE_DIR:?FER_SOURCE_DIR is not set}
fer=${FER_BINARY:?FER_BINARY is not set}
py=/usr/bin/python3

if [ ! -x "$py" ]; then
    echo "skipped: $py is not installed"
    exit 77
fi
if ! missing=$("$py" -c '
import importlib.util, sys
gone = [m for m in ("torch", "h5py", "numpy", "yaml") if importlib.util.find_spec(m) is None]
print(" ".join(gone)); sys.exit(1 if gone else 0)' 2>&1); then
    echo "skipped: $py lacks $missing (Debian: python3-torch python3-h5py python3-numpy python3-yaml)"
    exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/fer-reference-XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
tiny=$src/configs/tiny.yaml
full=$src/configs/fer2013_vgg16_nin.yaml
failures=0

# expect EXIT NAME ARGS...: runs fer check-reference ARGS, shows its verdict
# and requires the exit code (and, for 1, a reference mismatch, not some
# other failure).
expect() {
    local want=$1 name=$2
    shift 2
    "$fer" check-reference "$@" >"$tmp/out.txt" 2>"$tmp/err.txt"
    local rc=$?
    local verdict
    verdict=$(cat "$tmp/err.txt")
    [ -n "$verdict" ] || verdict=$(tail -n 1 "$tmp/out.txt")
    if [ "$rc" -ne "$want" ] || { [ "$want" -eq 1 ] && ! grep -q "reference mismatch" "$tmp/err.txt"; }; then
        echo "FAIL $name: exit $rc, expected $want"
        cat "$tmp/out.txt" "$tmp/err.txt"
        failures=$((failures + 1))
    else
        echo "ok   $name: exit $rc: $verdict"
    fi
}

echo "generating reference files (tools/torch_reference.py)"
"$py" "$src/tests/ref/make_references.py" "$src/tools" <<CASES || { echo "FAIL: generating references"; exit 1; }
$tmp/tiny24-b3.h5 $tiny 3 1 1e-5
$tmp/tiny24-b8.h5 $tiny 8 2 1e-5
$tmp/tiny48-b1.h5 $tiny 1 3 1e-5 model.input_size=48
$tmp/tiny48-b3.h5 $tiny 3 4 1e-5 model.input_size=48
$tmp/full96-b1.h5 $full 1 5 0
$tmp/full96-b8.h5 $full 8 6 0
CASES

expect 0 "tiny 24x24 batch 3" "$tmp/tiny24-b3.h5" --config "$tiny"
expect 0 "tiny 24x24 batch 8" "$tmp/tiny24-b8.h5" --config "$tiny"
expect 0 "tiny 48x48 batch 1" "$tmp/tiny48-b1.h5" --config "$tiny" --set model.input_size=48
expect 0 "tiny 48x48 batch 3" "$tmp/tiny48-b3.h5" --config "$tiny" --set model.input_size=48
expect 0 "full 96x96 batch 1" "$tmp/full96-b1.h5" --config "$full" --grad-tol 1e-1
expect 0 "full 96x96 batch 8" "$tmp/full96-b8.h5" --config "$full" --grad-tol 1e-1

# perturb NAME FROM DATASET DELTA: a copy of FROM with one value changed.
perturb() {
    "$py" "$src/tests/ref/perturb.py" "$2" "$tmp/$1.h5" "$3" "$4" >/dev/null || {
        echo "FAIL: cannot perturb $3 in $2"
        failures=$((failures + 1))
    }
}
perturb weight "$tmp/tiny24-b3.h5" /model_weights/block1_conv1/block1_conv1/kernel:0 0.5
perturb gradient "$tmp/tiny24-b3.h5" /expected/gradients/conv2d_2/conv2d_2/kernel:0 0.01
perturb statistic "$tmp/tiny24-b3.h5" \
    /model_weights/batch_normalization_1/batch_normalization_1/moving_mean:0 1
perturb full-gradient "$tmp/full96-b1.h5" /expected/gradients/block1_conv1/block1_conv1/kernel:0 0.5
expect 1 "tiny, one kernel weight changed" "$tmp/weight.h5" --config "$tiny"
expect 1 "tiny, one expected gradient off by 1%" "$tmp/gradient.h5" --config "$tiny"
expect 1 "tiny, one moving mean changed" "$tmp/statistic.h5" --config "$tiny"
expect 1 "full, one expected gradient changed" "$tmp/full-gradient.h5" --config "$full" --grad-tol 1e-1

echo "not HDF5" >"$tmp/text.h5"
if "$fer" check-reference "$tmp/text.h5" --config "$tiny" 2>"$tmp/err.txt"; then
    echo "FAIL: a text file was accepted"
    failures=$((failures + 1))
elif ! grep -q "text.h5: not an HDF5 file" "$tmp/err.txt"; then
    echo "FAIL: text file: unexpected message: $(cat "$tmp/err.txt")"
    failures=$((failures + 1))
else
    echo "ok   text file: $(cat "$tmp/err.txt")"
fi

if [ "$failures" -ne 0 ]; then
    echo "test_reference: $failures check(s) failed"
    exit 1
fi
echo "test_reference: all checks passed"
