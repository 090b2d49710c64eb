# fer eval with several --checkpoint options (an ensemble) and --probs: two
# tiny models trained here (the same synthetic data, different batch sizes)
# are evaluated alone and together. The ensemble's probabilities must be the
# mean of the members' (checked in Python from their --probs files), its
# accuracy and confusion those of that mean; a checkpoint twice must score as
# it does alone; the result is the same on 2 ranks; members that see
# different test sets, a missing member and too many members are refused.
source "$(dirname "$0")/lib.bash"
need_python json csv
cd "$work"
set +e
"$fer" train "$src/configs/tiny.yaml" --run-dir a > a.log 2>&1; rc_a=$?
"$fer" train "$src/configs/tiny.yaml" --run-dir b --set data.batch_size=16 > b.log 2>&1; rc_b=$?
"$fer" train "$src/configs/tiny.yaml" --run-dir c --set seed=2 > c.log 2>&1; rc_c=$?
set -e
check "three tiny trainings exit 0 (got $rc_a, $rc_b, $rc_c)" [ $rc_a -eq 0 -a $rc_b -eq 0 -a $rc_c -eq 0 ]
[ $rc_a -eq 0 ] && [ $rc_b -eq 0 ] && [ $rc_c -eq 0 ] || { tail -5 a.log b.log c.log; finish; }

set +e
"$fer" eval --checkpoint a/best.h5 --out ea --probs ea.probs.csv > ea.log 2>&1; r1=$?
"$fer" eval --checkpoint b/best.h5 --out eb --probs eb.probs.csv > eb.log 2>&1; r2=$?
"$fer" eval --checkpoint a/best.h5 --checkpoint b/best.h5 --out eab --probs eab.probs.csv > eab.log 2>&1; r3=$?
mpirun_fer 2 eval --checkpoint a/best.h5 --checkpoint=b/best.h5 --out eab2 --probs eab2.probs.csv > eab2.log 2>&1; r4=$?
"$fer" eval --checkpoint a/best.h5 --checkpoint a/best.h5 --out eaa > eaa.log 2>&1; r5=$?
"$fer" eval --checkpoint a/best.h5 --checkpoint b/best.h5 --tta flip > eflip.log 2>&1; r6=$?
set -e
check "eval alone, together, on 2 ranks, twice the same, with flips: all exit 0 (got $r1 $r2 $r3 $r4 $r5 $r6)" \
  [ "$r1$r2$r3$r4$r5$r6" = 000000 ]
check "the ensemble names its members" grep -q "ensemble of 2 checkpoints, softmax probabilities averaged: a/best.h5 b/best.h5" eab.log
check "the ensemble's default files name it: a/eval-PrivateTest-tta-flip-ensemble2.json" \
  test -s a/eval-PrivateTest-tta-flip-ensemble2.json

check "ensemble = mean of the members' probabilities; its scores are the mean's" /usr/bin/python3 - <<'PY'
import csv, json, math
def probs(path):
    rows = list(csv.reader(open(path)))
    return rows[0], [(int(r[0]), int(r[1]), [float(x) for x in r[2:]]) for r in rows[1:]]
ha, a = probs("ea.probs.csv"); hb, b = probs("eb.probs.csv"); he, e = probs("eab.probs.csv")
assert ha == hb == he and len(a) == len(b) == len(e) > 0, "headers or row counts differ"
worst, k = 0.0, len(ha) - 2
confusion = [[0] * k for _ in range(k)]
hits, loss = 0, 0.0
for (ia, la, pa), (ib, lb, pb), (ie, le, pe) in zip(a, b, e):
    assert ia == ib == ie and la == lb == le, "images or labels differ"
    mean = [(x + y) / 2 for x, y in zip(pa, pb)]
    worst = max(worst, max(abs(m - x) for m, x in zip(mean, pe)))
    best = max(range(k), key=lambda j: (mean[j], -j))
    confusion[la][best] += 1
    hits += best == la
    loss -= math.log(max(mean[la], 1e-30))
j = json.load(open("eab.json"))
n = len(e)
print("  %d images, %d classes: max |mean of members - ensemble| %.2e (tol 1e-6); accuracy from the "
      "mean %.4f, fer %.4f; loss %.6f, fer %.6f" % (n, k, worst, hits / n, j["accuracy"], loss / n, j["loss"]))
assert worst <= 1e-6
assert j["confusion"] == confusion and abs(j["accuracy"] - hits / n) < 1e-12
assert abs(j["loss"] - loss / n) <= 1e-5 * max(1.0, abs(loss / n))
PY
check "ensemble equal on 1 and 2 ranks (confusion, accuracy; probabilities to 1e-6)" /usr/bin/python3 - <<'PY'
import csv, json
a, b = json.load(open("eab.json")), json.load(open("eab2.json"))
assert a["confusion"] == b["confusion"] and a["accuracy"] == b["accuracy"]
pa = [list(map(float, r[2:])) for r in list(csv.reader(open("eab.probs.csv")))[1:]]
pb = [list(map(float, r[2:])) for r in list(csv.reader(open("eab2.probs.csv")))[1:]]
worst = max(abs(x - y) for ra, rb in zip(pa, pb) for x, y in zip(ra, rb))
print("  np1 accuracy %.4f, np2 %.4f; max probability difference %.1e" % (a["accuracy"], b["accuracy"], worst))
assert len(pa) == len(pb) and worst <= 1e-6
PY
check "a checkpoint twice scores as it does alone (confusion, accuracy; loss to 1e-5)" /usr/bin/python3 - <<'PY'
import json
a, aa = json.load(open("ea.json")), json.load(open("eaa.json"))
print("  alone accuracy %.4f loss %.6f; twice accuracy %.4f loss %.6f" % (a["accuracy"], a["loss"], aa["accuracy"], aa["loss"]))
assert a["confusion"] == aa["confusion"] and a["accuracy"] == aa["accuracy"]
assert abs(a["loss"] - aa["loss"]) <= 1e-5 * max(1.0, a["loss"])
PY

# ---- refusals ---------------------------------------------------------------
set +e
"$fer" eval --checkpoint a/best.h5 --checkpoint c/best.h5 > ec.log 2>&1; rc_c=$?
"$fer" eval --checkpoint a/best.h5 --checkpoint missing.h5 > em.log 2>&1; rc_m=$?
many=(); for i in $(seq 17); do many+=(--checkpoint a/best.h5); done
"$fer" eval "${many[@]}" > e17.log 2>&1; rc_17=$?
set -e
echo "other test set: $(cat ec.log)"
echo "missing member: $(cat em.log)"
echo "17 members: $(head -1 e17.log)"
refused() { # refused RC EXPECTED LOG TEXT: exit code EXPECTED and one line with TEXT
  [ "$1" -eq "$2" ] && grep -qF -- "$4" "$3" && [ "$(grep -c . "$3")" -le 2 ]
}
check "members with different test sets: exit 1, one line naming the member and both sets" \
  refused $rc_c 1 ec.log "c/best.h5: scores synthetic (seed 2) PrivateTest where the first checkpoint scores synthetic (seed 1) PrivateTest"
check "a missing member: exit 1 naming it" refused $rc_m 1 em.log "missing.h5"
check "17 members: usage error (exit 2)" refused $rc_17 2 e17.log "at most 16"
check "no ensemble files after a refusal" test ! -e a/eval-PrivateTest-ensemble2.json
finish
