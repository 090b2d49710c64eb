#!/bin/bash
# `fer prepare` and `fer augment` from the command line: exit codes (0 ok,
# 1 failure with one line on stderr, 2 usage), the file:line error format,
# --skip-bad, the synthetic set, the CSV -> HDF5 -> preview path.
set -u
FER=${FER_BINARY:?}
SRC=${FER_SOURCE_DIR:?}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
failures=0

# expect CODE DESCRIPTION -- command...: runs it, checks the exit code.
expect() {
    local want=$1 what=$2
    shift 3
    "$@" >"$WORK/out" 2>"$WORK/err"
    local got=$?
    if [ "$got" = "$want" ]; then
        echo "ok: $what (exit $got)"
    else
        echo "FAIL: $what: exit $got, want $want; stderr: $(cat "$WORK/err")"
        failures=$((failures + 1))
    fi
}

# expect_text FILE TEXT DESCRIPTION: $WORK/FILE (out, err, ...) contains TEXT.
expect_text() {
    if grep -qF -- "$2" "$WORK/$1"; then
        echo "ok: $3"
    else
        echo "FAIL: $3: '$2' not in std$1: $(cat "$WORK/$1")"
        failures=$((failures + 1))
    fi
}

pixels() { awk -v n="$1" -v s="$2" 'BEGIN { for (i = 0; i < n; i++) printf "%s%d", (i ? " " : ""), (i * 7 + s) % 256 }'; }

{
    echo "emotion,pixels,Usage"
    echo "3,$(pixels 2304 0),Training"
    echo "5,$(pixels 2304 1),PublicTest"
    echo "1,$(pixels 2303 2),Training"
    echo "0,$(pixels 2304 3),PrivateTest"
} >"$WORK/bad.csv"

expect 0 "prepare --help" -- "$FER" prepare --help
expect_text out "usage: fer prepare INPUT --out FILE.h5" "prepare --help prints usage"
expect 2 "prepare without arguments" -- "$FER" prepare
expect 2 "prepare without --out" -- "$FER" prepare "$WORK/bad.csv"
expect 1 "prepare of a malformed CSV" -- "$FER" prepare "$WORK/bad.csv" --out "$WORK/bad.h5"
expect_text err "fer: $WORK/bad.csv:4: expected 2304 pixels, got 2303" "error names file:line and the problem"
if [ "$(wc -l <"$WORK/err")" = 1 ] && [ ! -e "$WORK/bad.h5" ]; then
    echo "ok: one line on stderr, no output file"
else
    echo "FAIL: stderr has $(wc -l <"$WORK/err") lines or bad.h5 was written"
    failures=$((failures + 1))
fi
expect 0 "prepare --skip-bad" -- "$FER" prepare "$WORK/bad.csv" --out "$WORK/ok.h5" --skip-bad
expect_text out "3 images of 48x48, 1 bad entry skipped" "--skip-bad counts the skipped row"
expect_text out "PublicTest" "counts table printed"
expect 1 "prepare of a missing file" -- "$FER" prepare "$WORK/none.csv" --out "$WORK/x.h5"
expect_text err "fer: $WORK/none.csv: No such file or directory" "missing input named"

expect 0 "prepare --synthetic" -- "$FER" prepare --synthetic 14,7,7 --out "$WORK/syn.h5"
tr -s ' ' <"$WORK/out" >"$WORK/squeezed"
expect_text squeezed "Training 2 2 2 2 2 2 2 14" "synthetic counts per class"
expect 2 "prepare --synthetic with a bad size list" -- "$FER" prepare --synthetic 14,7 --out "$WORK/s.h5"

# augment: one transform, bad input, bad options.
"$FER" prepare --synthetic 1,0,0 --out "$WORK/one.h5" >/dev/null
expect 0 "augment --help" -- "$FER" augment --help
expect 1 "augment of a missing image" -- "$FER" augment --in "$WORK/none.png" --out "$WORK/o.png"
expect_text err "fer: $WORK/none.png: cannot open image" "missing image named"
expect 2 "augment --fill bogus" -- "$FER" augment --in a.png --out b.png --fill bogus
expect 2 "augment --theta abc" -- "$FER" augment --in a.png --out b.png --theta abc
expect 2 "augment without --out" -- "$FER" augment --in a.png
expect 2 "augment --out not a PNG" -- "$FER" augment --in a.png --out b.jpg
printf '\x89PNG\r\n\x1a\n binary' >"$WORK/binary.csv"
expect 1 "prepare of a binary file" -- "$FER" prepare "$WORK/binary.csv" --out "$WORK/b.h5"
expect_text err "binary.csv:1: missing header: expected 'emotion,pixels,Usage', got '?PNG'" "binary input shown safely"

# Preview grid from the HDF5 file written above and from the synthetic set.
cat >"$WORK/aug.yaml" <<'YAML'
seed: 3
model:
  input_size: 48
data:
  equalize: true
augment:
  enabled: true
  rotation_range: 40
  zoom_range: 0.4
  width_shift_range: 0.2
  height_shift_range: 0.2
  shear_range: 0.1
  horizontal_flip: true
  fill_mode: nearest
YAML
expect 0 "augment --preview from a prepared file" -- \
    "$FER" augment --config "$WORK/aug.yaml" --data "$WORK/ok.h5" --preview 16 --out "$WORK/grid.png"
expect_text out "16 tiles of 48x48" "preview reports its tiles"
expect 0 "augment --preview of the synthetic set" -- \
    "$FER" augment --config "$WORK/aug.yaml" --data synthetic --preview 24 --out "$WORK/grid2.png" --seed 9
# PNG width and height are big-endian at bytes 16..23 of the file.
size=$(od -An -tu1 -j16 -N8 "$WORK/grid2.png" | awk '{ print $3 * 256 + $4, $7 * 256 + $8 }')
if [ "$size" = "402 152" ]; then
    echo "ok: preview of 24 tiles is 402x152 (3 rows of 8 tiles of 48 + 2 pixel gaps)"
else
    echo "FAIL: preview size '$size', want '402 152'"
    failures=$((failures + 1))
fi
expect 1 "augment --preview of a missing data set" -- \
    "$FER" augment --config "$WORK/aug.yaml" --data "$WORK/none.h5" --preview 8 --out "$WORK/g.png"

echo "test_data_cli: $failures failure(s)"
[ "$failures" = 0 ]
