# tools/fer-completion.bash (installed as bash-completion's "fer"): the words it
# offers for command lines of fer, fer-mpirun and fer-train-job, with fer and
# the shipped configs in a scratch prefix laid out as `cmake --install` does.
source "$(dirname "$0")/lib.bash"
mkdir -p "$work/p/bin" "$work/p/share/fer" "$work/cwd/run"
ln -s "$fer" "$work/p/bin/fer"
ln -s "$src/configs" "$work/p/share/fer/configs"
: > "$work/cwd/run/best.h5"
: > "$work/cwd/run/notes.txt"
cd "$work/cwd"
export PATH="$work/p/bin:$PATH"
source "$src/tools/fer-completion.bash"

# offers "EXPECTED WORDS" FUNCTION WORDS...: completing the last word gives
# exactly the expected words (sorted, space-separated).
offers() {
    local want=$1 f=$2 got
    shift 2
    COMP_WORDS=("$@") COMP_CWORD=$(($# - 1)) COMPREPLY=()
    "$f"
    got=$(printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ' | sed 's/ $//')
    echo "  [$*] -> '$got'"
    [ "$got" = "$want" ]
}
commands=$("$fer" help | sed -n 's/^  \([a-z][a-z-]*\)  .*/\1/p' | sort | tr '\n' ' ' | sed 's/ $//')
check "fer <TAB>: the commands of fer help, help, --help, --version" \
    offers "$(printf '%s\n' $commands help --help --version | sort | tr '\n' ' ' | sed 's/ $//')" _fer fer ""
check "fer ex<TAB>" offers "export" _fer fer ex
check "fer export --<TAB>: the options of its --help" \
    offers "--checkpoint --help --input --opset --out" _fer fer export --
check "fer export --input <TAB>" offers "preprocessed raw" _fer fer export --input ""
check "fer export --input=p<TAB> (split at =)" offers "preprocessed" _fer fer export --input = p
check "fer eval --checkpoint run/<TAB>: .h5 files only" offers "run/best.h5" _fer fer eval --checkpoint run/
check "fer bench --precision <TAB>" offers "auto bf16 fp32" _fer fer bench --precision ""
check "fer viz <TAB>" offers "filters saliency" _fer fer viz ""
check "fer train --ru<TAB>" offers "--run-dir" _fer fer train --ru
check "fer-mpirun -n 2 ev<TAB>" offers "eval" _fer_mpirun fer-mpirun -n 2 ev
check "fer-mpirun -n 2 eval --chec<TAB>" offers "--checkpoint" _fer_mpirun fer-mpirun -n 2 eval --chec
check "fer-train-job qu<TAB>: a shipped config by name" offers "quickstart.yaml" _fer_train_job fer-train-job qu
check "fer-train-job CONFIG RUN --res<TAB>: fer train's options" \
    offers "--resume" _fer_train_job fer-train-job quickstart.yaml run --res
finish
