# tools/examples/classify_onnx (C++, OpenCV's DNN module, none of fer's code) on a
# model exported by `fer export`: its probabilities equal `fer predict`'s on
# the same files, with the same top class, and the class names come from the
# model's metadata. Within 1e-5 (the 6 decimals both print, and float
# rounding) where the example's grey 48x48 face is fer's bit for bit: grey
# PNGs of 48x48, 96x96 (halved) and 37x53 (upscaled), a colour JPEG of 48x48;
# within 1e-4 where a few pixels may differ by one grey level
# (tools/examples/classify_onnx.cpp says why): a grey PNG, a grey JPEG and a colour
# JPEG shrunk by other factors, colour PNGs. The
# model is the scratch recipe's network (configs/fer2013_scratch.yaml, which
# equalizes) trained three steps on the synthetic set, as in
# test_export_onnx.sh.
source "$(dirname "$0")/lib.bash"
example=${FER_BUILD_DIR:-$(dirname "$fer")}/examples/classify_onnx
[ -x "$example" ] || {
  echo "skipped: $example not built (OpenCV with dnn not found at configure time, or FER_BUILD_EXAMPLES=OFF)"
  exit 77
}
need_python cv2 numpy
cd "$work"

/usr/bin/python3 - <<'PY'
import cv2, numpy as np
rng = np.random.default_rng(7)
for i, (h, w, name) in enumerate([(48, 48, "grey48.png"), (96, 96, "grey96.png"), (37, 53, "grey37x53.png"),
                                  (100, 80, "grey100x80.png"), (200, 150, "grey200x150.jpg")]):
    yy, xx = np.mgrid[0:h, 0:w]
    f = 90 + 60 * np.sin(xx / (4.0 + i)) * np.cos(yy / (6.0 + i)) + rng.normal(0, 25, (h, w))
    cv2.ellipse(f, (w // 2, h // 2), (w // 3, h // 3 + i), 0, 0, 360, 200 - 20 * i, 2)
    cv2.imwrite(name, np.clip(f, 0, 255).astype(np.uint8))
for h, w in [(48, 48), (64, 72)]:
    c = np.clip(rng.normal(120, 50, (h, w, 3)), 0, 255).astype(np.uint8)
    cv2.imwrite(f"colour{h}x{w}.jpg", c)
    cv2.imwrite(f"colour{h}x{w}.png", c)
PY
exact=(grey48.png grey96.png grey37x53.png colour48x48.jpg)
close=(grey100x80.png grey200x150.jpg colour64x72.jpg colour48x48.png colour64x72.png)
images=("${exact[@]}" "${close[@]}")

short=(--set data.path=synthetic --set data.synthetic_train=8 --set data.synthetic_val=8
       --set data.synthetic_test=8 --set data.batch_size=8 --set augment.enabled=false
       --set schedule.0.epochs=1 --set schedule.1.epochs=1 --set schedule.2.epochs=1)
rc=0
"$fer" train "$src/configs/fer2013_scratch.yaml" --run-dir run "${short[@]}" > train.log 2>&1 || rc=$?
check "scratch network trained three steps (exit $rc)" [ $rc -eq 0 ]
[ $rc -eq 0 ] || { tail -3 train.log; finish; }
"$fer" export --checkpoint run/best.h5 --out model.onnx
"$fer" predict --checkpoint run/best.h5 --json "${images[@]}" > fer.json

rc=0
"$example" model.onnx "${images[@]}" > example.txt 2> example.err || rc=$?
cat example.txt example.err
check "classify_onnx exits 0 (got $rc)" [ $rc -eq 0 ]

compare() { # compare N_EXACT: the example's table against fer predict's JSON
  /usr/bin/python3 - "$@" <<'PY'
import json, sys
n_exact = int(sys.argv[1])
fer = json.load(open("fer.json"))
lines = open("example.txt").read().splitlines()
header = lines[0].split()
names = header[2:]
ok = names == fer["classes"]
print(f"  class names: example {names}, fer {fer['classes']}")
worst = [0.0, 0.0]
for i, (pred, line) in enumerate(zip(fer["predictions"], lines[1:])):
    image, top, *probs = line.split()
    diff = max(abs(float(p) - pred["probabilities"][n]) for p, n in zip(probs, names))
    tol = 1e-5 if i < n_exact else 1e-4
    worst[i >= n_exact] = max(worst[i >= n_exact], diff)
    same = image == pred["image"] and top == pred["top"]
    ok = ok and same and diff <= tol
    print(f"  {image}: top {top} (fer {pred['top']}), largest |example - fer predict| {diff:.2e} (tolerance {tol:g})")
ok = ok and len(lines) - 2 == len(fer["predictions"])
print(f"  largest difference {worst[0]:.2e} where the faces are the same, {worst[1]:.2e} where not")
sys.exit(0 if ok else 1)
PY
}
check "classify_onnx = fer predict within 1e-5 (1e-4), same top class, names from the metadata" \
  compare ${#exact[@]}
check "it says the model equalizes (metadata equalize: true)" grep -q "^(equalized" example.txt

# ---- failures: one line, exit code ----------------------------------------
fails() { # fails CODE PATTERN ARGS...
  local want=$1 pattern=$2 rc=0
  shift 2
  "$example" "$@" > out.txt 2> err.txt || rc=$?
  echo "  classify_onnx $*: exit $rc: $(head -1 err.txt)"
  [ $rc -eq "$want" ] && [ "$(wc -l < err.txt)" -eq 1 ] && grep -q -- "$pattern" err.txt
}
check "no image: usage, exit 2" fails 2 "usage" model.onnx
check "a missing image: exit 1 naming it" fails 1 "none.png: cannot read" model.onnx none.png
check "a missing model: exit 1 naming it" fails 1 "nope.onnx: cannot open" nope.onnx grey48.png
"$fer" export --checkpoint run/best.h5 --out pre.onnx --input preprocessed > /dev/null
check "a --input preprocessed model is refused, saying how to export" \
  fails 1 "export it with .fer export --input raw" pre.onnx grey48.png
finish
