# fer eval's heat map, fer predict and fer viz end to end on a model trained
# here from configs/tiny.yaml (a few seconds): outputs exist with the
# documented shapes, parse, are deterministic, and are the same under
# mpirun -np 2 as on one rank; bad input fails with the documented codes.
source "$(dirname "$0")/lib.bash"
need_python json
cd "$work"
set +e
"$fer" train "$src/configs/tiny.yaml" --run-dir run > train.log 2>&1; rc=$?
set -e
check "tiny training exits 0 (got $rc)" [ $rc -eq 0 ]
[ $rc -eq 0 ] || { tail -5 train.log; finish; }
ck=run/best.h5

png_size() { # prints "W H" of a PNG (IHDR)
  /usr/bin/python3 -c 'import struct,sys; d=open(sys.argv[1],"rb").read(24); assert d[:8]==b"\x89PNG\r\n\x1a\n"; print(*struct.unpack(">II", d[16:24]))' "$1"
}

# ---- eval: heat map, and the same result on 2 ranks ------------------------
set +e
"$fer" eval --checkpoint $ck --out e1 > e1.log 2>&1; rc1=$?
mpirun_fer 2 eval --checkpoint $ck --out e2 > e2.log 2>&1; rc2=$?
set -e
check "eval exits 0 on 1 and 2 ranks (got $rc1, $rc2)" [ $rc1 -eq 0 -a $rc2 -eq 0 ]
check "eval says it wrote the heat map" grep -q "e1.png" e1.log
check "heat map PNG written (e1.png: $(png_size e1.png 2>/dev/null))" test -s e1.png
check "heat map identical on 1 and 2 ranks" cmp -s e1.png e2.png
check "eval JSON equal on 1 and 2 ranks (loss to 1e-6)" /usr/bin/python3 - e1.json e2.json <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
print("  np1 accuracy %.4f loss %.6f; np2 accuracy %.4f loss %.6f" % (a["accuracy"], a["loss"], b["accuracy"], b["loss"]))
assert a["confusion"] == b["confusion"] and a["accuracy"] == b["accuracy"] and a["per_class"] == b["per_class"]
assert abs(a["loss"] - b["loss"]) <= 1e-6 * max(1.0, abs(a["loss"]))
PY

# ---- saliency report --------------------------------------------------------
set +e
"$fer" viz saliency --checkpoint $ck --out sal --per-class 2 > sal.log 2>&1; rc1=$?
mpirun_fer 2 viz saliency --checkpoint $ck --out sal2 --per-class 2 > sal2.log 2>&1; rc2=$?
set -e
check "viz saliency exits 0 on 1 and 2 ranks (got $rc1, $rc2)" [ $rc1 -eq 0 -a $rc2 -eq 0 ]
n_face=$(ls sal | grep -c '_face\.png$' || true)
n_cam=$(ls sal | grep -c '_gradcam\.png$' || true)
n_sal=$(ls sal | grep -c '_saliency\.png$' || true)
echo "  saliency report: $n_face faces, $n_cam Grad-CAM overlays, $n_sal saliency maps"
check "one face, Grad-CAM and saliency PNG per sample, 1..14 samples" \
  [ "$n_face" -ge 1 -a "$n_face" -le 14 -a "$n_cam" -eq "$n_face" -a "$n_sal" -eq "$n_face" ]
first=$(ls sal/*_face.png | head -1)
check "pictures are 24x24 inputs at scale 6: $(png_size "$first")" [ "$(png_size "$first")" = "144 144" ]
check "index.html and overview.png written" test -s sal/index.html -a -s sal/overview.png
check "every image of index.html exists, and every PNG is on it" /usr/bin/python3 - sal <<'PY'
import os, re, sys
d = sys.argv[1]
html = open(os.path.join(d, "index.html")).read()
srcs = re.findall(r'<img src="([^"]+)"', html)
pngs = sorted(f for f in os.listdir(d) if f.endswith(".png") and f != "overview.png")
print("  index.html shows %d images, %d class rows" % (len(srcs), html.count('<th class="class">')))
assert sorted(srcs) == pngs and html.count('<th class="class">') == 7 and html.rstrip().endswith("</html>")
PY
check "saliency report identical on 1 and 2 ranks" diff -r sal sal2

# ---- predict ----------------------------------------------------------------
faces=(sal/*_face.png)
set +e
"$fer" predict --checkpoint $ck "${faces[@]}" > p.txt 2>p.err; rc1=$?
"$fer" predict --checkpoint $ck --json "${faces[@]}" "${faces[0]}" > p.json 2>>p.err; rc2=$?
"$fer" predict --checkpoint $ck --json --batch 1 "${faces[@]}" "${faces[0]}" > p1.json 2>>p.err; rc3=$?
"$fer" predict --checkpoint $ck --json "${faces[@]}" "${faces[0]}" > p_again.json 2>>p.err; rc4=$?
set -e
check "predict exits 0 (got $rc1 $rc2 $rc3 $rc4)" [ $rc1 -eq 0 -a $rc2 -eq 0 -a $rc3 -eq 0 -a $rc4 -eq 0 ]
check "table has a header and one row per image" [ "$(wc -l < p.txt)" -eq $((${#faces[@]} + 1)) ]
check "same images give the same JSON twice" cmp -s p.json p_again.json
check "JSON parses; probabilities in [0,1] sum to 1; top is the argmax; a repeated image repeats and batch 1 agrees (to the 6 printed decimals)" \
  /usr/bin/python3 - p.json p1.json ${#faces[@]} <<'PY'
import json, sys
a, b, n = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), int(sys.argv[3])
preds = a["predictions"]
assert len(preds) == n + 1 and len(a["classes"]) == 7
worst = 0.0
for p in preds:
    probs = [p["probabilities"][c] for c in a["classes"]]
    assert all(0.0 <= q <= 1.0 for q in probs)
    worst = max(worst, abs(sum(probs) - 1.0))
    assert a["classes"][p["top_index"]] == p["top"] and probs[p["top_index"]] == max(probs)
# Printed with 6 decimals: one unit of the last place is the tolerance.
assert max(abs(preds[0]["probabilities"][c] - preds[-1]["probabilities"][c]) for c in a["classes"]) <= 1.5e-6
diff = max(abs(p["probabilities"][c] - q["probabilities"][c]) for p, q in zip(preds, b["predictions"]) for c in a["classes"])
print("  %d predictions: max |sum - 1| %.1e (tol 1e-5), batch 64 vs 1 max diff %.1e (tol 1.5e-6)" % (len(preds), worst, diff))
assert worst <= 1e-5 and diff <= 1.5e-6
PY

# ---- filter visualization ---------------------------------------------------
set +e
"$fer" viz filters --checkpoint $ck --layer block3_conv3 --count 4 --steps 10 --out f1.png > f.log 2>&1; rc1=$?
"$fer" viz filters --checkpoint $ck --layer block3_conv3 --count 4 --steps 10 --out f2.png >> f.log 2>&1; rc2=$?
"$fer" viz filters --checkpoint $ck --count 3 --steps 10 --image "${faces[0]}" --out g.png >> f.log 2>&1; rc3=$?
set -e
check "viz filters exits 0 (got $rc1 $rc2 $rc3)" [ $rc1 -eq 0 -a $rc2 -eq 0 -a $rc3 -eq 0 ]
check "filter sheet deterministic" cmp -s f1.png f2.png
# 4 tiles -> 2x2 of 24x24 at scale 6, margins 12, gaps 8, title and captions.
check "filter sheet of 2x2 tiles: $(png_size f1.png)" [ "$(png_size f1.png | cut -d' ' -f1)" -ge 304 ]
check "filter sheet from an image written" test -s g.png

# ---- bad input ----------------------------------------------------------------
code() { set +e; "$@" > out.txt 2> err.txt; echo $?; set -e; }
check "predict on a missing image exits 1" [ "$(code "$fer" predict --checkpoint $ck nope.png)" -eq 1 ]
check "... with one line naming the file: $(cat err.txt)" [ "$(wc -l < err.txt)" -eq 1 -a -n "$(grep nope.png err.txt)" ]
echo "garbage" > bad.png
check "predict on a corrupt PNG exits 1" [ "$(code "$fer" predict --checkpoint $ck bad.png)" -eq 1 ]
check "predict without an image exits 2" [ "$(code "$fer" predict --checkpoint $ck)" -eq 2 ]
check "predict with a missing checkpoint exits 1" [ "$(code "$fer" predict --checkpoint none.h5 "${faces[0]}")" -eq 1 ]
check "viz with an unknown kind exits 2" [ "$(code "$fer" viz pictures --checkpoint $ck)" -eq 2 ]
check "viz filters with an unknown layer exits 2" \
  [ "$(code "$fer" viz filters --checkpoint $ck --layer nope --out x.png)" -eq 2 ]
check "viz filters asking more filters than the layer has exits 2" \
  [ "$(code "$fer" viz filters --checkpoint $ck --layer block1_conv1 --count 5 --out x.png)" -eq 2 ]
check "viz saliency into an unwritable place exits 1" \
  [ "$(code "$fer" viz saliency --checkpoint $ck --out /proc/fer-nope)" -eq 1 ]
check "predict --help and viz --help exit 0" [ "$(code "$fer" predict --help)" -eq 0 -a "$(code "$fer" viz --help)" -eq 0 ]
finish
