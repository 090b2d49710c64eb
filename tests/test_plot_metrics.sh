# tools/plot_metrics draws a tiny run's accuracy and loss curves to a valid PNG
# of the expected size, finds the phase change, and fails cleanly without
# epochs.csv.
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/stop_helpers.bash"
need_python matplotlib
plot=$src/tools/plot_metrics
cd "$work"

set +e
"$fer" train "$src/configs/tiny.yaml" --run-dir run > train.log 2>&1; rc=$?
/usr/bin/python3 "$plot" run > plot.log 2>&1; rc_default=$?
/usr/bin/python3 "$plot" run --out elsewhere.png > plot-out.log 2>&1; rc_out=$?
/usr/bin/python3 "$plot" missing > missing.log 2>&1; rc_missing=$?
set -e
cat plot.log
check "tiny run exits 0 (got $rc)" [ $rc -eq 0 ]
check "plot_metrics exits 0 (got $rc_default)" [ $rc_default -eq 0 ]
check "it found the switch to phase finetune at epoch 2" grep -q "phase finetune from epoch 2" plot.log
# png_ok FILE: PNG signature, an IHDR of 1100x420 (11x4.2 in at 100 dpi) and
# 20 KB..2 MB (curves and text, not an empty canvas).
png_ok() {
  /usr/bin/python3 - "$1" <<'PY'
import os, struct, sys
path = sys.argv[1]
data = open(path, "rb").read()
ok_sig = data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
w, h = struct.unpack(">II", data[16:24]) if ok_sig else (0, 0)
size = os.path.getsize(path)
print(f"{path}: PNG signature {ok_sig}, {w}x{h}, {size} bytes (want 1100x420, 20000..2000000)")
sys.exit(0 if ok_sig and (w, h) == (1100, 420) and 20000 <= size <= 2000000 else 1)
PY
}
check "default output run/curves.png is a plausible PNG" png_ok run/curves.png
check "--out writes elsewhere.png (got $rc_out)" png_ok elsewhere.png
check "a run directory without epochs.csv fails with 1 (got $rc_missing)" [ $rc_missing -eq 1 ]
check "and says why" grep -q "epochs.csv" missing.log
finish
