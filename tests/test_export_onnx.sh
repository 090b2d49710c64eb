# fer export checked by consumers fer did not write (tests/export_onnx_check.py):
# onnx's checker and strict shape inference accept the file, and OpenCV's DNN
# module gives the probabilities `fer predict` gives on the same synthetic
# faces within 1e-4, at batch 1 and 8, for the seed network
# (configs/fer2013_vgg16_nin.yaml, 96x96: the graph upscales) and the scratch
# recipe's (configs/fer2013_scratch.yaml, 48x48, here with a batch
# normalization epsilon of 0.25 so that an export ignoring the model's epsilon
# fails), each trained two steps from random weights on the synthetic set.
source "$(dirname "$0")/lib.bash"
need_python onnx cv2 numpy
cd "$work"

# Eight 48x48 grey "faces": smooth patterns, noise and an outline.
/usr/bin/python3 - <<'PY'
import cv2, numpy as np
rng = np.random.default_rng(5)
yy, xx = np.mgrid[0:48, 0:48]
for i in range(8):
    f = 90 + 60 * np.sin(xx / (3 + i)) * np.cos(yy / (4 + i)) + rng.normal(0, 25, (48, 48))
    cv2.ellipse(f, (24, 24), (14 + i, 18), 0, 0, 360, 180 - 10 * i, 2)
    cv2.imwrite("face%d.png" % i, np.clip(f, 0, 255).astype(np.uint8))
PY
faces=(face*.png)

short=(--set data.path=synthetic --set data.synthetic_train=8 --set data.synthetic_val=8
       --set data.synthetic_test=8 --set data.batch_size=8 --set augment.enabled=false
       --set schedule.0.epochs=1 --set schedule.1.epochs=1)
set +e
"$fer" train "$src/configs/fer2013_vgg16_nin.yaml" --run-dir seed --set model.weights= "${short[@]}" \
  > seed.log 2>&1; rc1=$?
"$fer" train "$src/configs/fer2013_scratch.yaml" --run-dir scratch "${short[@]}" --set schedule.2.epochs=1 \
  --set model.layers.12.epsilon=0.25 > scratch.log 2>&1; rc2=$?
set -e
check "seed and scratch networks trained two steps (exit $rc1, $rc2)" [ $rc1 -eq 0 -a $rc2 -eq 0 ]
[ $rc1 -eq 0 -a $rc2 -eq 0 ] || { tail -3 seed.log scratch.log; finish; }

compare() { # compare NAME EXPORT-ARGS...: export, predict, check with onnx and OpenCV
  local name=$1 run=$2; shift 2
  "$fer" export --checkpoint $run/best.h5 --out $name.onnx "$@" &&
    "$fer" predict --checkpoint $run/best.h5 --json "${faces[@]}" > $name.json &&
    /usr/bin/python3 "$src/tests/export_onnx_check.py" $name.onnx "${input:-raw}" $name.json 1e-4
}
check "seed network, raw input: onnx accepts, OpenCV = fer predict" compare seed seed
check "scratch network, raw input: onnx accepts, OpenCV = fer predict" compare scratch scratch
input=preprocessed check "seed network, preprocessed input, opset 17" \
  compare seed_pre seed --input=preprocessed --opset 17
check "scratch network, opset 15" compare scratch15 scratch --opset=15

# ---- the command line -------------------------------------------------------
expect_exit() { # expect_exit CODE PATTERN ARGS...: fer export exits CODE, stderr matches
  local want=$1 pattern=$2 rc=0; shift 2
  "$fer" export "$@" > out.txt 2> err.txt || rc=$?
  echo "  fer export $*: exit $rc: $(head -1 err.txt)"
  [ $rc -eq "$want" ] && grep -q -- "$pattern" err.txt
}
check "opset 12 refused (usage)" expect_exit 2 "--opset: expected an integer in \[13, 17\]" --checkpoint seed/best.h5 --out x.onnx --opset 12
check "opset 1x refused (usage)" expect_exit 2 "'1x'" --checkpoint seed/best.h5 --out x.onnx --opset 1x
check "unknown input refused (usage)" expect_exit 2 "raw or preprocessed" --checkpoint seed/best.h5 --out x.onnx --input rgb
check "missing --out refused (usage)" expect_exit 2 "required" --checkpoint seed/best.h5
check "missing checkpoint fails naming it" expect_exit 1 "nope.h5" --checkpoint nope.h5 --out x.onnx
check "unwritable output fails naming it" expect_exit 1 "no/such/dir" --checkpoint seed/best.h5 --out no/such/dir/x.onnx
check "no file left by the failures" [ ! -e x.onnx ]
finish
