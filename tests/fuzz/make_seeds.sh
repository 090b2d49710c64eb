#!/usr/bin/env bash
# Regenerates the seed corpora in tests/fuzz/corpus (committed; run by hand
# after a format change). Usage: tests/fuzz/make_seeds.sh FUZZ_BUILD_DIR
# The HDF5 files and fer-written images come from fuzz_make_seeds (fer's own
# writers) and h5repack; text seeds are written here; more image variants (progressive
# and RGB JPEG, palette, 16-bit, interlaced and alpha PNG) need Debian's python3-pil.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: make_seeds.sh FUZZ_BUILD_DIR}
corpus=$here/corpus
mkdir -p "$corpus"/{csv,config,png,jpeg,dataset_h5,checkpoint}
"$build/tests/fuzz/fuzz_make_seeds" "$corpus"
# The same in HDF5's oldest object format, whose metadata has no checksums:
# a mutated header there reaches fer's checks instead of failing HDF5's.
# HDF5 1.10.8 crashes on many such files itself, so they live in corpus-deep/,
# which the smoke test leaves out.
deep=$here/corpus-deep
mkdir -p "$deep"/{checkpoint,dataset_h5}
h5repack --low=0 --high=1 "$corpus/checkpoint/tiny.h5" "$deep/checkpoint/tiny_v0_headers.h5"
h5repack --low=0 --high=1 -f NONE "$corpus/dataset_h5/prepared_6x6.h5" "$deep/dataset_h5/prepared_6x6_v0_headers.h5"

# CSV: the Kaggle layout, small pixel values to keep rows short.
python3 - "$corpus/csv" <<'PY'
import gzip, sys
out = sys.argv[1]
def row(label, usage, r, quote=False, bad=None, n=2304):
    px = " ".join(str((i + r) % 10) for i in range(n))
    if bad is not None:
        px = px[:20] + " " + bad + px[20:]
    if quote:
        return f'{label},"{px}","{usage}"'
    return f"{label},{px},{usage}"
head = "emotion,pixels,Usage"
files = {
    "plain.csv": [head, row(3, "Training", 0), row(0, "PublicTest", 1)],
    "crlf.csv": [head, row(6, "PrivateTest", 2)],
    "quoted.csv": [head, row(1, "Training", 3, quote=True)],
    "bad_rows.csv": [head, row(2, "Training", 4, bad="256"), row(9, "Training", 5), row(4, "Training", 6, n=2000),
                     row(5, "Nowhere", 7), row(3, "PublicTest", 8)],
    "header_only.csv": [head],
    "no_usage.csv": ["emotion,pixels", "2," + " ".join("7" for _ in range(2304))],
}
for name, lines in files.items():
    eol = "\r\n" if name == "crlf.csv" else "\n"
    with open(f"{out}/{name}", "w", newline="") as f:
        f.write(eol.join(lines) + eol)
with open(f"{out}/plain.csv", "rb") as f, gzip.open(f"{out}/plain.csv.gz", "wb") as g:
    g.write(f.read())
PY

# Config: the shipped configurations; some followed by --set overrides
# (NUL-separated, see fuzz_config.c).
for f in "$here"/../../configs/*.yaml "$here"/../configs/*.yaml; do cp "$f" "$corpus/config/"; done
printf '%s\0%s\0%s\0%s\0%s' "$(cat "$here/../../configs/tiny.yaml")" model.layers.0.filters=8 \
    'schedule.0.optimizer={lr: 0.1, momentum: 0.5}' data.batch_size=16 'augment.fill_mode=reflect' \
    > "$corpus/config/tiny_with_sets.yaml"
printf '%s\0%s\0%s' "$(cat "$here/../../configs/tiny.yaml")" 'model.layers=[{name: d, type: dense}]' \
    'schedule=[{name: a, epochs: 1, trainable: d, optimizer: {name: adam}}]' > "$corpus/config/tiny_replace_lists.yaml"

# Images in forms fer does not write itself.
/usr/bin/python3 - "$corpus" <<'PY' || echo "make_seeds.sh: no PIL, fer-written images only"
import sys
from PIL import Image
out = sys.argv[1]
grey = Image.frombytes("L", (10, 12), bytes((i * 5) % 256 for i in range(120)))
rgb = Image.merge("RGB", (grey, grey.rotate(90), grey.transpose(Image.FLIP_LEFT_RIGHT)))
rgb.save(f"{out}/jpeg/rgb_progressive.jpg", quality=70, progressive=True)
rgb.save(f"{out}/jpeg/rgb_420.jpg", quality=60, subsampling=2)
rgb.convert("CMYK").save(f"{out}/jpeg/cmyk.jpg", quality=60)
rgb.convert("P").save(f"{out}/png/palette.png")
rgb.convert("RGBA").save(f"{out}/png/rgba.png")
grey.convert("LA").save(f"{out}/png/grey_alpha.png")
grey.convert("1").save(f"{out}/png/bilevel.png")
grey.convert("I;16").save(f"{out}/png/grey16.png")
rgb.save(f"{out}/png/interlaced.png", interlace=1)
PY
ls -l "$corpus"/*
