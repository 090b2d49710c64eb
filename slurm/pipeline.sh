#!/usr/bin/env bash
# Submits one run as a chain of Slurm jobs; each starts only when the one
# before it succeeded (--dependency=afterok), and a step that fails cancels
# every step after it (--kill-on-invalid-dep=yes, whatever the cluster's
# DependencyParameters say):
#   prepare    fer prepare INPUT (only with --input or --synthetic)
#   train      slurm/train.sbatch (requeues itself on preemption, resumes)
#   eval       slurm/eval.sbatch on RUN_DIR/best.h5
#   visualize  jobs/fer-visualize RUN_DIR
#
# Usage: slurm/pipeline.sh [--input CSV_OR_DIR | --synthetic A,B,C] [--data FILE.h5]
#                          [--usage USAGE] CONFIG RUN_DIR [fer train args...]
#   --input, --synthetic  what `fer prepare` converts; without them there is no
#                         prepare step and the config's data.path is used
#   --data FILE.h5        where prepare writes the data set, read by train and
#                         eval (default RUN_DIR/data.h5)
#   --usage USAGE         the split eval scores (default: the config's test_usage)
# Prints one line "STEP JOBID" per job submitted. Logs: RUN_DIR/logs/STEP-JOBID.out.
# Environment: FER_SBATCH_ARGS (every job, e.g. "-p PARTITION -A ACCOUNT"),
# FER_TRAIN_SBATCH_ARGS (e.g. "-n 16 -t 12:00:00 --signal=B:USR1@600"),
# FER_EVAL_SBATCH_ARGS; FER_LAUNCHER and FER_BIN as for slurm/train.sbatch.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export FER_ROOT=$root FER_LAUNCHER=${FER_LAUNCHER:-srun}
usage() {
    sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'
    exit "$1"
}
absolute() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac }

input=() data="" eval_args=()
while [ $# -gt 0 ]; do
    case $1 in
    --input) input=("$(absolute "${2:?--input needs a path}")") && shift 2 ;;
    --synthetic) input=(--synthetic "${2:?--synthetic needs A,B,C}") && shift 2 ;;
    --data) data=$(absolute "${2:?--data needs a path}") && shift 2 ;;
    --usage) eval_args+=(--usage "${2:?--usage needs a name}") && shift 2 ;;
    -h | --help) usage 0 ;;
    -*) echo "pipeline.sh: unknown option $1" >&2 && usage 2 ;;
    *) break ;;
    esac
done
[ $# -ge 2 ] || usage 2
config=$(absolute "$1") run_dir=$(absolute "$2")
shift 2
train_args=("$@")
mkdir -p "$run_dir/logs"

submitted=()
submit() { # submit STEP AFTER sbatch-args...: AFTER is a job id or ""
    local step=$1 after=$2 id
    shift 2
    local args=(--parsable -J "fer-$step" -o "$run_dir/logs/$step-%j.out")
    [ -z "$after" ] || args+=(--dependency="afterok:$after" --kill-on-invalid-dep=yes)
    # shellcheck disable=SC2086
    if ! id=$(sbatch "${args[@]}" ${FER_SBATCH_ARGS:-} "$@"); then
        echo "pipeline.sh: submitting $step failed; cancelling ${submitted[*]:-nothing}" >&2
        [ ${#submitted[@]} -eq 0 ] || scancel "${submitted[@]}"
        exit 1
    fi
    id=${id%%;*}
    submitted+=("$id")
    echo "$step $id"
    last=$id
}
wrap() { printf '%q ' "$@"; }

last=""
if [ ${#input[@]} -gt 0 ]; then
    data=${data:-$run_dir/data.h5}
    submit prepare "" -n 1 --wrap "$(wrap "$root/jobs/fer-mpirun" -n 1 prepare "${input[@]}" --out "$data")"
fi
if [ -n "$data" ]; then
    train_args=(--set "data.path=$data" "${train_args[@]}")
    eval_args+=(--data "$data")
fi
# shellcheck disable=SC2086
submit train "$last" ${FER_TRAIN_SBATCH_ARGS:-} "$root/slurm/train.sbatch" "$config" "$run_dir" "${train_args[@]}"
# shellcheck disable=SC2086
submit eval "$last" ${FER_EVAL_SBATCH_ARGS:-} "$root/slurm/eval.sbatch" "$run_dir" "${eval_args[@]}"
submit visualize "$last" -n 1 --wrap "$(wrap "$root/jobs/fer-visualize" "$run_dir")"
