# jobs/fer2013-sota end to end on a slice of FER2013: prepares the data,
# trains configs/fer2013_sota.yaml on 2 ranks through jobs/fer-train-job (one
# epoch on 256 images), prints the curve and evaluates best.h5 on PrivateTest
# without and with test-time augmentation (flip here; ten crops cost ten
# passes over PrivateTest, and test_augment_crop checks them). Skips when
# the data is absent.
source "$(dirname "$0")/lib.bash"
csv=$src/../shared/data/fer2013.csv.gz
[ -f "$csv" ] || { echo "skipped: $csv is absent (the real FER2013 data)"; exit 77; }
cd "$work"
short=(--set data.limit_train=256 --set data.limit_val=128 --set schedule.0.epochs=1 --set logging.every_steps=2)
set +e
FER_BIN=$fer FER_NP=2 FER_TTA="none flip" DATA=data/fer2013.h5 "$src/jobs/fer2013-sota" "$csv" run "${short[@]}" \
  > job.log 2>&1
rc=$?
set -e
sed -n '/^epoch  minutes/,$p' job.log
check "the job exits 0 (got $rc)" [ $rc -eq 0 ]
check "it trained the sota recipe on 2 ranks" grep -q "2 rank(s)" job.log
config=$(h5dump -A -g /config run/best.h5)
for key in "name: sgd" "lr_schedule: {name: cosine" "random_crop:" "random_erasing:" "ema: 0.999" "label_smoothing: 0.1"; do
  check "best.h5's config has '$key'" grep -q "$key" <<< "$config"
done
check "epochs.csv has 1 epoch" [ "$(($(wc -l < run/epochs.csv) - 1))" -eq 1 ]
check "best.h5 evaluated twice on 3589 PrivateTest images" [ "$(grep -c "on 3589 samples" job.log)" -eq 2 ]
check "without TTA: eval-PrivateTest.json" [ -f run/eval-PrivateTest.json ]
check "with flips: eval-PrivateTest-tta-flip.json" [ -f run/eval-PrivateTest-tta-flip.json ]
finish
