# kill -9 at random moments (startup, steps, validation, checkpoint writes)
# never leaves a broken file under a checkpoint name: after every kill each
# ckpt-*.h5 reads whole (h5dump checks every dataset's Fletcher-32 checksum),
# the newest loads into the model (fer eval), and a leftover temporary file is
# never taken for a checkpoint. Training resumed after each kill ends with
# weights and optimizer state bit-identical to an uninterrupted run.
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/stop_helpers.bash"
cfg=$src/configs/tiny.yaml
# 6 epochs of 8 steps, a checkpoint every 4 steps: kills often land in writes.
run_args=(--set schedule.1.epochs=5 --set checkpoint.every_steps=4)
kills=8
cd "$work"

set +e
"$fer" train "$cfg" "${run_args[@]}" --run-dir straight > straight.log 2>&1; rc=$?
set -e
check "uninterrupted run exits 0 (got $rc)" [ $rc -eq 0 ]

# all_checkpoints_read DIR: every ckpt-*.h5 reads whole.
all_checkpoints_read() {
  local f
  for f in "$1"/ckpt-*.h5; do
    [ -e "$f" ] || continue
    h5dump "$f" > /dev/null 2>&1 || { echo "unreadable: $f"; return 1; }
  done
}
# newest_loads DIR: the checkpoint `latest` names exists and loads into the model.
newest_loads() {
  local ckpt
  ckpt=$(newest_checkpoint "$1")
  [ -z "$ckpt" ] && return 0 # killed before the first checkpoint
  "$fer" eval --checkpoint "$ckpt" --out "$work/probe" > probe.log 2>&1 || { cat probe.log; return 1; }
}

# rows_or_timeout CSV N PID MS: waits until CSV holds N data rows, MS
# milliseconds pass, or PID ends; says which.
rows_or_timeout() {
  local start=${EPOCHREALTIME/./} now
  while kill -0 "$3" 2>/dev/null; do
    [ "$(rows_in "$1")" -lt "$2" ] || { echo "step $2"; return; }
    now=${EPOCHREALTIME/./}
    [ $(((now - start) / 1000)) -lt "$4" ] || { echo "$4 ms"; return; }
    sleep 0.005
  done
  echo "its end"
}

in_write=0 finished_early=0 broken=0
for i in $(seq $kills); do
  rows_before=$(rows_in run/steps.csv)
  "$fer" train "$cfg" "${run_args[@]}" --run-dir run --resume auto > kill$i.log 2>&1 &
  pid=$!
  # Odd rounds kill after 50-1200 ms: mostly startup and loading. Even rounds
  # kill 0-30 ms after a random step (1-8 new ones): in a step, in validation
  # or in a checkpoint write (one follows every 4th step). At most 8 new steps
  # a round keep the kills landing in training on a fast machine.
  if [ $((i % 2)) -eq 1 ]; then
    when=$(rows_or_timeout run/steps.csv $((rows_before + 8)) $pid "$(random_int 50 1200)")
  else
    when=$(rows_or_timeout run/steps.csv $((rows_before + $(random_int 1 8))) $pid 20000)
  fi
  sleep "0.0$(random_int 0 3)"
  kill -KILL $pid 2>/dev/null || finished_early=$((finished_early + 1))
  { wait $pid; } 2>/dev/null || true
  # A temporary file of this process means the kill hit a checkpoint (or
  # latest, best.h5) write between create and rename.
  tmp=$({ find run -maxdepth 1 -name "*.tmp.$pid" 2>/dev/null || true; } | wc -l)
  [ "$tmp" -eq 0 ] || in_write=$((in_write + 1))
  echo "kill $i after $when: $(rows_in run/steps.csv) step rows, latest $(cat run/latest 2>/dev/null || echo none), $tmp temporary file(s) left"
  all_checkpoints_read run && newest_loads run || broken=$((broken + 1))
done
echo "$kills kills: $in_write during a write, $finished_early after the run had ended"
check "every checkpoint readable and the newest loadable after each kill" [ $broken -eq 0 ]

# A temporary file that looks newer than every checkpoint is never a candidate.
printf 'partial' > run/ckpt-9999-999999.h5.tmp.1
set +e
"$fer" train "$cfg" "${run_args[@]}" --run-dir run --resume auto > final.log 2>&1; rc=$?
set -e
check "resume after the last kill finishes (got $rc)" [ $rc -eq 0 ]
check "no temporary file was considered" bash -c "! grep -q '\.tmp\.' final.log"
final_ref=$(newest_checkpoint straight) final=$(newest_checkpoint run)
echo "comparing $final_ref with $final"
check "weights and statistics bit-identical" h5diff -r "$final_ref" "$final" /model_weights /model_weights
check "optimizer state bit-identical" h5diff -r "$final_ref" "$final" /optimizer /optimizer
check "epochs.csv has 6 epochs" [ "$(rows_in run/epochs.csv)" -eq 6 ]
finish
