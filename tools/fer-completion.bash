# bash completion for fer, fer-mpirun and fer-train-job. The subcommands come
# from `fer help` and each one's options from `fer CMD --help`, so they follow
# the fer that is run; option values with a fixed set are listed here.
# Installed as DATADIR/bash-completion/completions/fer (and links for the job
# scripts), where bash-completion finds it beside a bin/ on PATH; or source it.

shopt -s extglob # the file patterns below; bash-completion sets it too

_fer_commands() { "$1" help 2>/dev/null | sed -n 's/^  \([a-z][a-z-]*\)  .*/\1/p'; }

_fer_options() { "$1" "$2" --help 2>/dev/null | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u; }

# Files matching the extended pattern $2 (e.g. 'h5' or 'yaml|yml'), and
# directories, completing $1.
_fer_files() {
    local IFS=$'\n'
    if [ "$2" = '*' ]; then
        COMPREPLY=($(compgen -f -- "$1"))
    else
        COMPREPLY=($(compgen -d -- "$1") $(compgen -f -X "!*.@($2)" -- "$1"))
    fi
    compopt -o filenames 2>/dev/null || true # fails outside a completion (tests)
}

# The shipped configs of an installed fer ($1): BINDIR/../share/fer/configs.
_fer_shipped_configs() {
    local bin dir
    bin=$(command -v "$1" 2>/dev/null) || return 0
    dir=$(dirname "$bin")/../share/fer/configs
    [ -d "$dir" ] && (cd "$dir" && ls -- *.yaml 2>/dev/null)
}

# Completes the value of option $1 into COMPREPLY; fails when $1 takes no
# value this script knows.
_fer_value() {
    local opt=$1 cur=$2
    case $opt in
    --checkpoint | --weights) _fer_files "$cur" h5 ;;
    --resume) _fer_files "$cur" h5; COMPREPLY+=($(compgen -W auto -- "$cur")) ;;
    --config) _fer_files "$cur" 'yaml|yml' ;;
    --input) COMPREPLY=($(compgen -W "raw preprocessed" -- "$cur")) ;;
    --tta) COMPREPLY=($(compgen -W "none flip tencrop" -- "$cur")) ;;
    --precision) COMPREPLY=($(compgen -W "fp32 bf16 auto" -- "$cur")) ;;
    --fill) COMPREPLY=($(compgen -W "nearest constant reflect wrap" -- "$cur")) ;;
    --usage) COMPREPLY=($(compgen -W "Training PublicTest PrivateTest" -- "$cur")) ;;
    --image | --in) _fer_files "$cur" 'png|PNG|jpg|JPG|jpeg|JPEG' ;;
    --out | --data | --run-dir | --synthetic | --probs) _fer_files "$cur" '*' ;;
    --set | --opset | --batch | --steps | --step | --seed | --count | --layer | --per-class | --scale | \
        --threads | --stop-after-steps | --grad-tol | --min-cosine | --max-rel-l2 | --max-flips | \
        --theta | --tx | --ty | --zx | --zy | --shear | --cval | --preview)
        COMPREPLY=() ;; # free values: nothing to offer
    *) return 1 ;;
    esac
}

# Completes word COMP_CWORD of a command line whose fer arguments start at
# word $2, for the fer binary $1.
_fer_complete() {
    local fer=$1 first=$2 cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]} cmd="" at=0 i
    for ((i = first; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in -*) ;; *) cmd=${COMP_WORDS[i]} at=$i && break ;; esac
    done
    if [ -z "$cmd" ]; then
        COMPREPLY=($(compgen -W "$(_fer_commands "$fer") help --help --version" -- "$cur"))
        return
    fi
    if [[ $cur == --*=* ]]; then # --option=value as one word
        _fer_value "${cur%%=*}" "${cur#*=}" && return
    fi
    if [ "$prev" = = ] && [ $((COMP_CWORD - 2)) -gt "$at" ]; then # split at '=' (COMP_WORDBREAKS)
        _fer_value "${COMP_WORDS[COMP_CWORD - 2]}" "$cur" && return
    fi
    if [ "$cur" = = ] && [[ $prev == --* ]]; then
        _fer_value "$prev" "" && return
    fi
    [ "$COMP_CWORD" -gt "$at" ] && [[ $prev == --* ]] && _fer_value "$prev" "$cur" && return
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$(_fer_options "$fer" "$cmd") --help" -- "$cur"))
        return
    fi
    case $cmd in
    help) COMPREPLY=($(compgen -W "$(_fer_commands "$fer")" -- "$cur")) ;;
    viz) [ "$COMP_CWORD" -eq $((at + 1)) ] && COMPREPLY=($(compgen -W "filters saliency" -- "$cur")) ;;
    train | summary | bench | check-reference) _fer_files "$cur" 'yaml|yml' ;;
    predict) _fer_files "$cur" 'png|PNG|jpg|JPG|jpeg|JPEG' ;;
    *) _fer_files "$cur" '*' ;;
    esac
}

_fer() { _fer_complete "${COMP_WORDS[0]}" 1; }

# fer-mpirun [-n NP] COMMAND ...: fer's own completion after the launcher's.
_fer_mpirun() {
    local first=1
    [ "${COMP_WORDS[1]:-}" = -n ] && first=3
    if [ "$COMP_CWORD" -lt "$first" ]; then
        COMPREPLY=()
        return
    fi
    _fer_complete fer "$first"
}

# fer-train-job CONFIG RUN_DIR [fer train options...]
_fer_train_job() {
    local cur=${COMP_WORDS[COMP_CWORD]}
    case $COMP_CWORD in
    1) _fer_files "$cur" 'yaml|yml'; COMPREPLY+=($(compgen -W "$(_fer_shipped_configs fer)" -- "$cur")) ;;
    2) _fer_files "$cur" '*' ;;
    *)
        local -a COMP_WORDS=(fer train "${COMP_WORDS[@]:3}")
        local COMP_CWORD=$((COMP_CWORD - 1))
        _fer_complete fer 1
        ;;
    esac
}

complete -F _fer fer
complete -F _fer_mpirun fer-mpirun
complete -F _fer_train_job fer-train-job
