# jobs/fer2013-scratch, the documented real-data command, end to end on a
# slice of FER2013 (512 Training, 256 PublicTest and 400 PrivateTest faces):
# prepares the data, trains the scratch recipe on 2 ranks through
# jobs/fer-train-job (each of its three phases cut to one epoch), prints the
# curve and evaluates best.h5 on PrivateTest.
# Skips when the data is absent.
source "$(dirname "$0")/lib.bash"
csv=$src/../shared/data/fer2013.csv.gz
[ -f "$csv" ] || { echo "skipped: $csv is absent (the real FER2013 data)"; exit 77; }
cd "$work"
fer2013_slice slice.csv 512 256 400
short=(--set schedule.0.epochs=1
  --set schedule.1.epochs=1 --set schedule.2.epochs=1 --set logging.every_steps=4)
set +e
FER_BIN=$fer FER_NP=2 DATA=data/fer2013.h5 "$src/jobs/fer2013-scratch" slice.csv run "${short[@]}" > job.log 2>&1
rc=$?
set -e
sed -n '/^epoch  minutes/,$p' job.log
check "the job exits 0 (got $rc)" [ $rc -eq 0 ]
check "it prepared the data set" [ -f data/fer2013.h5 ]
check "it trained on 2 ranks" grep -q "2 rank(s)" job.log
check "epochs.csv has the three phases' 3 epochs" [ "$(($(wc -l < run/epochs.csv) - 1))" -eq 3 ]
check "the curve table has 3 rows" [ "$(sed -n '/^epoch  minutes/,/^fer/p' job.log | grep -c '^ *[0-9]')" -eq 3 ]
check "it trained on the 512 Training and 256 PublicTest faces" grep -q "512 training and 256 validation samples" job.log
check "best.h5 evaluated on the 400 PrivateTest faces" grep -q "on 400 samples" job.log
check "the confusion matrix and recall were written" [ -f run/eval-PrivateTest.json ] && [ -f run/eval-PrivateTest.csv ]
finish
