# jobs/fer2013-sota end to end on a slice of FER2013 (256 Training, 128
# PublicTest and 400 PrivateTest faces): prepares the data, trains
# configs/fer2013_sota.yaml on 2 ranks through jobs/fer-train-job (one
# epoch), prints the curve and evaluates best.h5 on PrivateTest without and
# with test-time augmentation (flip here; test_augment_crop checks ten
# crops); then the seed's network under the same recipe (--seed-network).
# Skips when the data is absent.
source "$(dirname "$0")/lib.bash"
csv=$src/../shared/data/fer2013.csv.gz
[ -f "$csv" ] || { echo "skipped: $csv is absent (the real FER2013 data)"; exit 77; }
cd "$work"
fer2013_slice slice.csv 256 128 400
short=(--set schedule.0.epochs=1 --set logging.every_steps=2)
set +e
FER_BIN=$fer FER_NP=2 FER_TTA="none flip" DATA=data/fer2013.h5 "$src/jobs/fer2013-sota" slice.csv run "${short[@]}" \
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
check "it trained on the 256 Training and 128 PublicTest faces" grep -q "256 training and 128 validation samples" job.log
check "best.h5 evaluated twice on the 400 PrivateTest faces" [ "$(grep -c "on 400 samples" job.log)" -eq 2 ]
check "without TTA: eval-PrivateTest.json" [ -f run/eval-PrivateTest.json ]
check "with flips: eval-PrivateTest-tta-flip.json" [ -f run/eval-PrivateTest-tta-flip.json ]

# --seed-network: the seed's layers under the same recipe, one evaluation.
set +e
FER_BIN=$fer FER_NP=2 FER_TTA=none DATA=data/fer2013.h5 "$src/jobs/fer2013-sota" --seed-network slice.csv seed \
  "${short[@]}" > seed.log 2>&1
rc=$?
set -e
check "--seed-network exits 0 (got $rc)" [ $rc -eq 0 ]
check "it trained configs/fer2013_sota_seed.yaml" grep -q "configs/fer2013_sota_seed.yaml" seed.log
config=$(h5dump -A -g /config seed/best.h5)
for key in "name: block3_conv3" "name: global_average_pooling2d_1" "name: sgd" "ema: 0.999"; do
  check "its best.h5's config has '$key'" grep -q "$key" <<< "$config"
done
check "its best.h5 evaluated on the 400 PrivateTest faces" grep -q "on 400 samples" seed.log
finish
