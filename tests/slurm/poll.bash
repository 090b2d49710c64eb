# Waiting on Slurm jobs and files with deadlines, for the Slurm tests
# (sourced). Every wait gives up after its timeout: a test never hangs. They
# run in the calling shell (no $(...)), so its signal traps run within 0.2 s.

job_field() { # job_field JOB FIELD: a field of `scontrol show job`, e.g. JobState
    scontrol show job "$1" 2>/dev/null | grep -oP "\\b$2=\\K\\S+" | head -1
}

wait_until() { # wait_until SECONDS COMMAND...: retries every 0.2 s
    local deadline=$(($(date +%s) + $1))
    shift
    until "$@"; do
        [ "$(date +%s)" -lt "$deadline" ] || return 1
        sleep 0.2
    done
}

job_in() { # job_in JOB STATE...: the job is in one of the states
    local s
    s=$(job_field "$1" JobState)
    shift
    for want in "$@"; do [ "$s" = "$want" ] && return 0; done
    return 1
}

job_ended() { job_in "$1" COMPLETED FAILED CANCELLED TIMEOUT NODE_FAIL OUT_OF_MEMORY BOOT_FAIL DEADLINE; }

# shellcheck disable=SC2034 # $ended is for the caller
wait_ended() { # wait_ended JOB SECONDS: sets $ended to the final state (or TIMEOUT-WAITING)
    ended=TIMEOUT-WAITING
    if wait_until "$2" job_ended "$1"; then ended=$(job_field "$1" JobState); fi
}

requeued() { # requeued JOB RESTARTS: pending again after RESTARTS restarts
    job_in "$1" PENDING && [ "$(job_field "$1" Restarts)" = "$2" ]
}

our_steps() { # slurmstepd processes of the cluster of $SLURM_CONF are running
    local p
    for p in /proc/[0-9]*; do
        [ "$(cat "$p/comm" 2>/dev/null)" = slurmstepd ] || continue
        { tr '\0' '\n' <"$p/environ"; } 2>/dev/null | grep -qx "SLURM_CONF=$SLURM_CONF" && return 0
    done
    return 1
}
no_steps() { ! our_steps; }

latest_epoch_at_least() { # latest_epoch_at_least RUN_DIR N: RUN_DIR/latest names epoch >= N
    local name
    name=$(cat "$1/latest" 2>/dev/null) || return 1
    name=${name#ckpt-}
    [ "$((10#${name%%-*}))" -ge "$2" ] 2>/dev/null
}
