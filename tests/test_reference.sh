#!/bin/bash
# fer's forward and backward pass against independent code: reference-state
# files written by tools/torch_reference.py (PyTorch, float64) are checked
# with `fer check-reference` on the tiny network (every ReLU / max-pool
# decision kept 1e-5 of its layer's RMS from its threshold, so float32 cannot
# branch differently: strict tolerances) and on the full seed network at
# 96x96 (millions of decisions: a few flip in float32, so gradients are held
# to 1e-1 while logits and loss stay strict). Both also check the measures a
# few flipped decisions do not dominate: cosine similarity, relative L2 error
# and the count of ReLU / max-pool decisions that differ, at thresholds a few
# times what float32 fer reaches (docs/reference-check.md). Then it proves the
# check can fail: one weight, one expected gradient, one moving statistic or
# one ReLU input changed in a copy, or a threshold tighter than float32 fer
# meets, must make it exit 1; and a file without the decision inputs (as
# older generators wrote) still loads.
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

# Thresholds on the measures beyond the max error, a few times what float32
# fer reaches on these files (measured: tiny 1 - cosine <= 3e-12, rel L2 <=
# 4e-6, no decision differs; full 96x96 1 - cosine <= 2e-5, rel L2 <= 7e-3,
# 3 of 2.5e6 and 17 of 2.0e7 decisions differ).
tiny_measures=(--min-cosine 0.9999999 --max-rel-l2 1e-5 --max-flips 0)
full_measures=(--grad-tol 1e-1 --min-cosine 0.9999 --max-rel-l2 2e-2 --max-flips 60)

# expect EXIT NAME [PATTERN] -- ARGS...: runs fer check-reference ARGS, shows
# its measures and verdict and requires the exit code (and, for 1, a
# reference mismatch, not some other failure, whose message matches PATTERN
# when given).
expect() {
    local want=$1 name=$2 pattern=""
    shift 2
    if [ "$1" != "--" ]; then
        pattern=$1
        shift
    fi
    shift
    "$fer" check-reference "$@" >"$tmp/out.txt" 2>"$tmp/err.txt"
    local rc=$?
    local verdict
    verdict=$(cat "$tmp/err.txt")
    [ -n "$verdict" ] || verdict=$(tail -n 1 "$tmp/out.txt")
    if [ "$rc" -ne "$want" ] || { [ "$want" -eq 1 ] && ! grep -q -- "reference mismatch: $pattern" "$tmp/err.txt"; }; then
        echo "FAIL $name: exit $rc, expected $want${pattern:+ with '$pattern'}"
        cat "$tmp/out.txt" "$tmp/err.txt"
        failures=$((failures + 1))
    else
        echo "ok   $name: exit $rc: $verdict"
        grep -E "^  all gradients|^  all decisions|^decisions: not counted|^lowest cosine" "$tmp/out.txt" |
            sed 's/^ */       /'
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
$tmp/tiny24-b3-bf16.h5 $tiny 3 1 1e-5 --bf16-operands
$tmp/tiny24-b8-bf16.h5 $tiny 8 2 1e-5 --bf16-operands
CASES

expect 0 "tiny 24x24 batch 3" -- "$tmp/tiny24-b3.h5" --config "$tiny" "${tiny_measures[@]}"
expect 0 "tiny 24x24 batch 8" -- "$tmp/tiny24-b8.h5" --config "$tiny" "${tiny_measures[@]}"
expect 0 "tiny 48x48 batch 1" -- "$tmp/tiny48-b1.h5" --config "$tiny" --set model.input_size=48 \
    "${tiny_measures[@]}"
expect 0 "tiny 48x48 batch 3" -- "$tmp/tiny48-b3.h5" --config "$tiny" --set model.input_size=48 \
    "${tiny_measures[@]}"
expect 0 "full 96x96 batch 1" -- "$tmp/full96-b1.h5" --config "$full" "${full_measures[@]}"
expect 0 "full 96x96 batch 8" -- "$tmp/full96-b8.h5" --config "$full" "${full_measures[@]}"

# bf16 products (precision: bf16, on this CPU's bf16 kernel or else the
# portable one) against a float64 reference whose products take the same
# bf16-rounded operands (torch_reference.py --bf16-operands): held as tight
# as float32 is against float64. Against the plain float64 reference the
# rounding of bf16 itself must show.
grep -qw 'avx512_bf16\|amx_bf16' /proc/cpuinfo 2>/dev/null || export FER_BF16_KERNEL=reference
# (Measured: 1 - cosine <= 4e-15 for all gradients, no decision differs,
# rel L2 <= 4.4e-5 per tensor, the largest where the reference is ~1e-4.)
bf16=(--set precision=bf16)
bf16_measures=(--min-cosine 0.9999999 --max-rel-l2 1e-4 --max-flips 0)
expect 0 "tiny 24x24 batch 3, bf16 products" -- "$tmp/tiny24-b3-bf16.h5" --config "$tiny" "${bf16[@]}" \
    "${bf16_measures[@]}"
expect 0 "tiny 24x24 batch 8, bf16 products" -- "$tmp/tiny24-b8-bf16.h5" --config "$tiny" "${bf16[@]}" \
    "${bf16_measures[@]}"
expect 1 "tiny 24x24 batch 3, bf16 products against the plain float64 reference" "worst tensor" -- \
    "$tmp/tiny24-b3.h5" --config "$tiny" "${bf16[@]}" "${bf16_measures[@]}"

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
perturb relu-input "$tmp/tiny24-b3.h5" /expected/decision_inputs/block2_conv1 negate
perturb pool-input "$tmp/tiny24-b3.h5" /expected/decision_inputs/block2_pool 2
perturb old-format "$tmp/tiny24-b3.h5" -expected/decision_inputs delete
expect 1 "tiny, one kernel weight changed" -- "$tmp/weight.h5" --config "$tiny"
expect 1 "tiny, one expected gradient off by 1%" -- "$tmp/gradient.h5" --config "$tiny"
expect 1 "tiny, one moving mean changed" -- "$tmp/statistic.h5" --config "$tiny"
expect 1 "full, one expected gradient changed" -- "$tmp/full-gradient.h5" --config "$full" --grad-tol 1e-1
expect 1 "tiny, one reference ReLU input negated" "1 ReLU / max-pool decisions differ" -- \
    "$tmp/relu-input.h5" --config "$tiny" "${tiny_measures[@]}"
expect 1 "tiny, one reference max-pool input made its window's max" "1 ReLU / max-pool decisions differ" -- \
    "$tmp/pool-input.h5" --config "$tiny" "${tiny_measures[@]}"
expect 1 "tiny, one expected gradient off by 1%, cosine and rel L2 alone" ".*relative L2 error" -- \
    "$tmp/gradient.h5" --config "$tiny" --grad-tol 1 --max-rel-l2 1e-3
expect 1 "full 96x96, cosine required above float32's" ".*: cosine 0[.]9999[0-9]* < --min-cosine" -- "$tmp/full96-b1.h5" \
    --config "$full" --grad-tol 1e-1 --min-cosine 0.999999
expect 1 "full 96x96, rel L2 required below float32's" ".*relative L2 error" -- "$tmp/full96-b1.h5" \
    --config "$full" --grad-tol 1e-1 --max-rel-l2 1e-4
expect 1 "full 96x96, no differing decision allowed" "3 ReLU / max-pool decisions differ" -- \
    "$tmp/full96-b1.h5" --config "$full" --grad-tol 1e-1 --max-flips 0
expect 0 "tiny, a file without decision inputs (older generator)" -- "$tmp/old-format.h5" --config "$tiny"
if "$fer" check-reference "$tmp/old-format.h5" --config "$tiny" --max-flips 0 >/dev/null 2>"$tmp/err.txt"; then
    echo "FAIL: --max-flips on a file without decision inputs passed"
    failures=$((failures + 1))
elif ! grep -q "old-format.h5: --max-flips needs /expected/decision_inputs" "$tmp/err.txt"; then
    echo "FAIL: --max-flips without decision inputs: unexpected message: $(cat "$tmp/err.txt")"
    failures=$((failures + 1))
else
    echo "ok   --max-flips without decision inputs: $(cat "$tmp/err.txt")"
fi

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
