#!/bin/bash
# `fer augment` (one given transform, four fill modes, equalize) against
# Keras 2.2's formula done by scipy.ndimage (tests/ref/augment_ref.py):
# within 1 grey level at every pixel.
set -eu
FER=${FER_BINARY:?}
SRC=${FER_SOURCE_DIR:?}
if [ ! -x /usr/bin/python3 ]; then
    echo "skipped: /usr/bin/python3 not found (needs python3-scipy and python3-opencv)"
    exit 77
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
CSV="$SRC/../shared/data/fer2013.csv.gz"
/usr/bin/python3 "$SRC/tests/ref/augment_ref.py" "$FER" "$WORK" "$CSV"
