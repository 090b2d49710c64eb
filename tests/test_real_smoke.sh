# A short run on the real FER2013 data: prepare the Kaggle CSV, train the
# quickstart network on its first 640 Training images for 4 epochs, and check
# the training loss falls and evaluation works. Skips when the data is absent.
source "$(dirname "$0")/lib.bash"
csv=$src/../shared/data/fer2013.csv.gz
[ -f "$csv" ] || { echo "skipped: $csv is absent (the real FER2013 data)"; exit 77; }
cd "$work"
"$fer" prepare "$csv" --out fer2013.h5 > prepare.log
check "prepare reports 28709 Training images" grep -q "28709" prepare.log
set +e
"$fer" train "$src/configs/quickstart.yaml" --run-dir run --set data.path=fer2013.h5 \
  --set data.limit_train=640 --set data.limit_val=320 --set schedule.0.epochs=1 --set schedule.1.epochs=3 \
  --set logging.progress=none > train.log 2>&1
rc=$?
set -e
check "training on real data exits 0 (got $rc)" [ $rc -eq 0 ]
cat run/epochs.csv
falls() {
  awk -F, 'NR == 2 { first = $4 } END { last = $4; printf "train loss epoch 1 %.4f -> epoch 4 %.4f\n", first, last;
           exit !(last < first - 0.02) }' run/epochs.csv
}
check "training loss falls by more than 0.02" falls
set +e
"$fer" eval --checkpoint run/best.h5 --data fer2013.h5 --usage PrivateTest --out eval > eval.log 2>&1
rce=$?
set -e
check "eval on PrivateTest exits 0 (got $rce)" [ $rce -eq 0 ]
check "eval counted 3589 PrivateTest images" grep -q "on 3589 samples" eval.log
finish
