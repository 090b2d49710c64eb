# The transfer recipe end to end on configs/tiny.yaml: a weights file in the
# exact layout of Keras's released VGG16 "notop" file (root-level layer_names,
# block1_conv1_W_1:0 / _b_1:0 names, a block4 layer our model lacks), made
# here with random values, is loaded by `fer train --weights`; phase 1 (head
# only) must leave the VGG blocks exactly as loaded while the head changes, and
# phase 2 (all layers) must change them.
source "$(dirname "$0")/lib.bash"
need_python numpy h5py
cd "$work"
/usr/bin/python3 - "$src/configs/tiny.yaml" <<'PY'
import sys, h5py, numpy as np
rng = np.random.default_rng(5)
# tiny.yaml's VGG blocks: (name, in, out)
blocks = [("block1_conv1", 3, 4), ("block1_conv2", 4, 4), ("block2_conv1", 4, 8), ("block2_conv2", 8, 8),
          ("block3_conv1", 8, 8), ("block3_conv2", 8, 8), ("block3_conv3", 8, 8), ("block4_conv1", 8, 16)]
with h5py.File("vgg_notop.h5", "w") as f:
    names = ["input_1"] + [b[0] for b in blocks] + ["block1_pool"]
    f.attrs["layer_names"] = np.array([n.encode() for n in names])
    f.attrs["keras_version"] = b"1.2.2"
    for name, cin, cout in blocks:
        g = f.create_group(name)
        w, b = name + "_W_1:0", name + "_b_1:0"
        g.attrs["weight_names"] = np.array([w.encode(), b.encode()])
        g.create_dataset(w, data=rng.normal(0, 0.2, (3, 3, cin, cout)).astype("float32"))
        g.create_dataset(b, data=rng.normal(0, 0.05, (cout,)).astype("float32"))
    for n in ["input_1", "block1_pool"]:
        f.create_group(n).attrs["weight_names"] = np.array([], dtype="S1")
PY
# A weights file that is absent stops training before the first step with
# one line that names the setting.
set +e
"$fer" train "$src/configs/tiny.yaml" --run-dir absent --weights nope.h5 > absent.log 2>&1
rc=$?
set -e
echo "absent weights file: exit $rc: $(grep -v '^fer: rank' absent.log | head -3)"
check "an absent weights file exits 1 (got $rc)" [ $rc -eq 1 ]
check "its message names model.weights and the file" \
  grep -qx 'fer: pretrained weights (model.weights or --weights; "" trains from scratch): nope.h5: No such file or directory' absent.log
check "no checkpoint was written" [ ! -e absent/latest ]
set +e
# Phase 2 at the seed's fine-tuning rate (1e-4), as the seed recipe does.
"$fer" train "$src/configs/tiny.yaml" --run-dir run --weights vgg_notop.h5 --set checkpoint.keep_last=5 \
  --set schedule.1.optimizer.lr=1e-4 > train.log 2>&1
rc=$?
set -e
check "training with --weights exits 0 (got $rc)" [ $rc -eq 0 ]
check "the log names the loaded layers" grep -q "loaded 7 layers from vgg_notop.h5" train.log
check "the log names the ignored layer" grep -q "block4_conv1" train.log
check "the log names layers kept at their initialization" grep -q "kept the initialization" train.log
compare() {
  /usr/bin/python3 - <<'PY'
import h5py, numpy as np, sys
ref = h5py.File("vgg_notop.h5", "r")
e1 = h5py.File("run/ckpt-0001-000000.h5", "r")["model_weights"]
e3 = h5py.File("run/ckpt-0003-000000.h5", "r")["model_weights"]
ok = True
for name in ["block1_conv1", "block2_conv2", "block3_conv3"]:
    k = ref[name][name + "_W_1:0"][()]
    k1 = e1[name][name]["kernel:0"][()]
    k3 = e3[name][name]["kernel:0"][()]
    d1, d3 = np.abs(k1 - k).max(), np.abs(k3 - k).max()
    print(f"{name}: after phase 1 max |w - loaded| {d1:.3g} (expect 0), after phase 2 {d3:.3g} (expect > 0)")
    ok &= d1 == 0 and d3 > 0
h1 = e1["conv2d_1"]["conv2d_1"]["kernel:0"][()]
h0 = h5py.File("run/ckpt-0001-000000.h5", "r")  # the head must have moved from its init in phase 1
d = np.abs(e3["dense_1"]["dense_1"]["kernel:0"][()] - e1["dense_1"]["dense_1"]["kernel:0"][()]).max()
print(f"dense_1 changed between epoch 1 and 3 by {d:.3g} (expect > 0)")
ok &= d > 0
sys.exit(0 if ok else 1)
PY
}
check "frozen blocks unchanged in phase 1, changed in phase 2" compare
set +e
"$fer" train "$src/configs/tiny.yaml" --run-dir bad --weights train.log > bad.log 2>&1; rcb=$?
set -e
check "a weights file that is not HDF5 is an error (exit 1, got $rcb)" [ $rcb -eq 1 ]
check "the error names the file" grep -q "train.log" bad.log
finish
