# cmake --install into a temporary prefix, then the quickstart used from there
# alone: the prefix's bin/ first on PATH, in a directory outside the source
# tree, `fer-train-job quickstart.yaml` (the shipped config found by name;
# shortened with --set) trains with the installed fer, which the job scripts
# find through LIBEXECDIR/fer/layout even without PATH; then evaluation, the
# Slurm eval script run outside Slurm, and the metric plot.
source "$(dirname "$0")/lib.bash"
: "${FER_BUILD_DIR:?FER_BUILD_DIR must point at the build tree}"
prefix=$work/prefix
set +e
cmake --install "$FER_BUILD_DIR" --prefix "$prefix" > install.log 2>&1; rc=$?
set -e
check "cmake --install exits 0 (got $rc)" [ $rc -eq 0 ]
[ $rc -eq 0 ] || { tail -5 install.log; finish; }

for f in bin/fer bin/fer-mpirun bin/fer-train-job bin/fer-visualize bin/fer-plot-metrics \
  libexec/fer/jobs/fer-mpirun libexec/fer/jobs/fer2013-scratch libexec/fer/slurm/train.sbatch \
  libexec/fer/slurm/eval.sbatch libexec/fer/slurm/pipeline.sh libexec/fer/tools/plot_metrics; do
  check "installed and executable: $f" test -x "$prefix/$f"
done
for f in share/fer/configs/quickstart.yaml share/fer/configs/fer2013_vgg16_nin.yaml \
  share/doc/fer/README.md share/doc/fer/docs/deploy.md libexec/fer/layout \
  share/bash-completion/completions/fer share/bash-completion/completions/fer-train-job; do
  check "installed: $f" test -f "$prefix/$f"
done
check "no installed text file names the source tree ($src)" \
  bash -c '! grep -rIl -- "$1" "$2"' _ "$src" "$prefix"

mkdir "$work/elsewhere"
cd "$work/elsewhere"
export PATH="$prefix/bin:$PATH" FER_NP=1
unset FER_BIN FER_ROOT
check "fer on PATH is the installed one ($(command -v fer))" [ "$(command -v fer)" = "$prefix/bin/fer" ]

short=(--set data.synthetic_train=64 --set data.synthetic_val=32 --set data.synthetic_test=32
       --set data.batch_size=32 --set schedule.0.epochs=1 --set schedule.1.epochs=1)
set +e
fer-train-job quickstart.yaml run "${short[@]}" > train.log 2>&1; rc=$?
set -e
check "fer-train-job quickstart.yaml trains from $PWD (exit $rc)" [ $rc -eq 0 ]
check "the run directory holds best.h5 and epochs.csv" test -s run/best.h5 -a -s run/epochs.csv
[ $rc -eq 0 ] || { tail -5 train.log; finish; }
echo "  $(tail -1 train.log)"

eval_ok() { # eval_ok LOG COMMAND...: exit 0 and an accuracy line
  local log=$1 rc=0; shift
  "$@" > "$log" 2>&1 || rc=$?
  echo "  $* -> exit $rc: $(grep -i -m1 accuracy "$log")"
  [ $rc -eq 0 ] && grep -qi accuracy "$log"
}
check "fer eval of the run" eval_ok eval.log fer eval --checkpoint run/best.h5
# Without the prefix on PATH: the scripts find the installed fer through
# their own location (bin/ symlinks -> libexec/fer/jobs, then layout).
bare=/usr/bin:/bin
check "fer-mpirun finds the installed fer without PATH" \
  eval_ok mpirun.log env PATH=$bare "$prefix/bin/fer-mpirun" -n 1 eval --checkpoint run/best.h5
check "slurm/eval.sbatch runs outside Slurm from the installation" \
  eval_ok sbatch.log env PATH=$bare "$prefix/libexec/fer/slurm/eval.sbatch" run
if /usr/bin/python3 -c 'import matplotlib' 2>/dev/null; then
  check "fer-plot-metrics draws the curves" fer-plot-metrics run --out curves.png
  check "curves.png written" test -s curves.png
else
  echo "note: /usr/bin/python3 lacks matplotlib: fer-plot-metrics not run"
fi
finish
