# The command-line conventions (docs/commands.md): every option of every
# subcommand takes its value as `--opt VALUE` or `--opt=VALUE` with the same
# result; a flag without a value refuses `--flag=x`; every number option
# refuses a non-number, a number out of its range, trailing junk and an empty
# `--opt=` with exit 2 and one line naming the command and the option
# (src/cli/option_number.c), before any work.
source "$(dirname "$0")/lib.bash"
cd "$work"
tiny=$src/configs/tiny.yaml

# ---- the same run with either form -----------------------------------------
same_output() { # same_output WHAT FILE-A FILE-B: both exist and are identical
  cmp -s "$2" "$3" && echo "  $1: $2 = $3 ($(stat -c %s "$2") bytes)"
}
ok() { # ok ARGS...: fer exits 0
  if "$fer" "$@" > out.txt 2> err.txt; then return 0; fi
  echo "  fer $*: $(head -1 err.txt)"
  return 1
}
check "prepare --synthetic=8,8,8 --out=a.h5 --seed=3" ok prepare --synthetic=8,8,8 --out=a.h5 --seed=3
check "prepare --synthetic 8,8,8 --out b.h5 --seed 3" ok prepare --synthetic 8,8,8 --out b.h5 --seed 3
# HDF5 stores object times: the data sets' dumps, less the file name, must match.
h5dump a.h5 | tail -n +2 > a.dump
h5dump b.h5 | tail -n +2 > b.dump
check "prepare: both forms write the same data set (h5dump)" same_output prepare a.dump b.dump
check "summary --config=CONFIG --set=seed=3" ok summary --config="$tiny" --set=seed=3
check "train CONFIG --run-dir=run --set=data.synthetic_train=32" ok train "$tiny" --run-dir=run --set=data.synthetic_train=32
stopped() { # stopped ARGS...: fer exits 75 (stopped after a checkpoint)
  local rc=0
  "$fer" "$@" > out.txt 2> err.txt || rc=$?
  echo "  fer $*: exit $rc: $(tail -1 err.txt)"
  [ $rc -eq 75 ]
}
check "train --stop-after-steps=1 stops after one step (exit 75)" \
  stopped train "$tiny" --run-dir=run2 --set=data.synthetic_train=32 --stop-after-steps=1
[ -f run/best.h5 ] || {
  echo "no run/best.h5"
  finish
}
ckpt=run/best.h5
echo "  checkpoint: $ckpt"
check "eval --checkpoint=CKPT --data=a.h5 --usage=PublicTest --batch=4 --out=e" \
  ok eval --checkpoint="$ckpt" --data=a.h5 --usage=PublicTest --batch=4 --out=e
/usr/bin/python3 -c "
import zlib, struct
w = h = 48
raw = b''.join(b'\0' + bytes((x * 5 + y * 3) % 256 for x in range(w)) for y in range(h))
def chunk(t, d): return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d))
open('face.png', 'wb').write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 0, 0, 0, 0))
                             + chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b''))"
check "predict --checkpoint=CKPT --batch=2 --json" ok predict --checkpoint="$ckpt" --batch=2 --json face.png
cp out.txt p1.json
check "predict --checkpoint CKPT --batch 2 --json" ok predict --checkpoint "$ckpt" --batch 2 --json face.png
cp out.txt p2.json
check "predict: both forms print the same" same_output predict p1.json p2.json
check "predict -- IMAGE: an argument after -- is an image" ok predict --checkpoint="$ckpt" -- face.png
check "export --checkpoint=CKPT --out=m.onnx --opset=15 --input=raw" \
  ok export --checkpoint="$ckpt" --out=m.onnx --opset=15 --input=raw
check "export --checkpoint CKPT --out n.onnx --opset 15 --input raw" \
  ok export --checkpoint "$ckpt" --out n.onnx --opset 15 --input raw
check "export: both forms write the same file" same_output export m.onnx n.onnx
t_eq=(--theta=10 --tx=1.5 --ty=-2 --shear=3 --zx=1.1 --zy=0.9 --fill=constant --cval=77)
t_sp=(--theta 10 --tx 1.5 --ty -2 --shear 3 --zx 1.1 --zy 0.9 --fill constant --cval 77)
check "augment --in=... --out=... --theta=10 ... --flip-h --equalize" \
  ok augment --in=face.png --out=aug1.png "${t_eq[@]}" --flip-h --equalize
check "augment with the values as separate arguments" \
  ok augment --in face.png --out aug2.png "${t_sp[@]}" --flip-h --equalize
check "augment: both forms write the same image" same_output augment aug1.png aug2.png
check "augment --preview=8 --config=CONFIG --data=synthetic --seed=4" \
  ok augment --preview=8 --config="$tiny" --data=synthetic --seed=4 --out=grid.png
check "viz filters --count=2 --steps=1 --step=0.5 --seed=1 --layer=block1_conv1" \
  ok viz filters --checkpoint="$ckpt" --out=f.png --count=2 --steps=1 --step=0.5 --seed=1 --layer=block1_conv1
check "viz saliency --data=a.h5 --usage=PublicTest --per-class=1 --scale=1 --batch=4" \
  ok viz saliency --checkpoint="$ckpt" --out=sal --data=a.h5 --usage=PublicTest --per-class=1 --scale=1 --batch=4
check "bench --batch=2 --steps=1 --threads=1 --precision=fp32" \
  ok bench "$tiny" --batch=2 --steps=1 --threads=1 --precision=fp32

# ---- refused: exit 2 and exactly this first line -----------------------------
refused() { # refused LINE ARGS...: fer exits 2 and stderr's first line is LINE
  local want=$1 rc=0; shift
  "$fer" "$@" > out.txt 2> err.txt || rc=$?
  local got
  got=$(head -1 err.txt)
  echo "  fer $*: exit $rc: $got"
  [ $rc -eq 2 ] && [ "$got" = "$want" ]
}
# number_option CMD OPTION RANGE OUT-OF-RANGE ARGS...: the four bad values of
# OPTION (of `fer CMD ARGS...`) are refused naming it and its RANGE.
number_option() {
  local cmd=$1 opt=$2 range=$3 far=$4 v
  shift 4
  for v in abc "$far" 5x ''; do
    check "$cmd $opt='$v' refused" refused "fer ${cmd%% *}: $opt: expected $range, got '$v'" $cmd "$@" "$opt=$v"
  done
  check "$cmd $opt ' 5' (a blank first) refused" \
    refused "fer ${cmd%% *}: $opt: expected $range, got ' 5'" $cmd "$@" "$opt" ' 5'
}
aug=(--in face.png --out bad.png)
theta="a number in [-360, 360]"
for v in 0x10 0x1p3 nan inf -inf 1e400 1e-400 '5 ' 1,5 --5; do
  check "augment --theta='$v' refused" refused "fer augment: --theta: expected $theta, got '$v'" augment "${aug[@]}" "--theta=$v"
done
for v in .5 +5 -0.25e1 360 -360; do
  check "augment --theta=$v accepted" ok augment --in face.png --out good.png "--theta=$v"
done
check "augment --preview=99999999999999999999 (overflow) refused" \
  refused "fer augment: --preview: expected an integer in [1, 4096], got '99999999999999999999'" \
  augment --preview=99999999999999999999 --out g.png
check "augment --preview=+8 accepted" ok augment --preview=+8 --config="$tiny" --data=synthetic --out=grid.png
for o in --theta --shear; do number_option augment $o "a number in [-360, 360]" 361 "${aug[@]}"; done
for o in --tx --ty; do number_option augment $o "a number in [-10000, 10000]" -1e5 "${aug[@]}"; done
for o in --zx --zy; do number_option augment $o "a number in [-100, 100]" 1e3 "${aug[@]}"; done
number_option augment --cval "a number in [0, 255]" 256 "${aug[@]}"
number_option augment --preview "an integer in [1, 4096]" 0 --config "$tiny" --data synthetic --out g.png
u64="an integer in [0, 18446744073709551615]"
number_option augment --seed "$u64" -1 --config "$tiny" --data synthetic --out g.png --preview 8
number_option augment --seed "$u64" 18446744073709551616 --config "$tiny" --data synthetic --out g.png --preview 8
number_option prepare --seed "$u64" -3 --synthetic 1,1,1 --out x.h5
for v in 1,x,1 1,1048577,1 1,5x,1 1,,1 '1, 5,1'; do
  n_val=${v#*,} n_val=${n_val%,*}
  check "prepare --synthetic='$v' refused" \
    refused "fer prepare: --synthetic N_VAL: expected an integer in [0, 1048576], got '$n_val'" \
    prepare --synthetic="$v" --out x.h5
done
check "prepare --synthetic=1,2 refused" \
  refused "fer prepare: --synthetic: expected N_TRAIN,N_VAL,N_TEST, got '1,2'" prepare --synthetic=1,2 --out x.h5
check "prepare --synthetic=1,2,3,4 refused" \
  refused "fer prepare: --synthetic: expected N_TRAIN,N_VAL,N_TEST, got '1,2,3,4'" prepare --synthetic=1,2,3,4 --out x.h5
number_option eval --batch "an integer in [1, 2147483647]" 2147483648 --checkpoint "$ckpt"
number_option predict --batch "an integer in [1, 4096]" 4097 --checkpoint "$ckpt" face.png
number_option export --opset "an integer in [13, 17]" 12 --checkpoint "$ckpt" --out x.onnx
number_option train --stop-after-steps "an integer in [1, 9223372036854775807]" 0 "$tiny"
for o in --batch --steps; do number_option bench $o "an integer in [1, 1048576]" 0 "$tiny"; done
number_option bench --threads "an integer in [0, 1048576]" -1 "$tiny"
ref=(none.h5 --config "$tiny")
number_option check-reference --grad-tol "a number in [1e-30, 1e+30]" 0 "${ref[@]}"
number_option check-reference --min-cosine "a number in [-1, 1]" 1.5 "${ref[@]}"
number_option check-reference --max-rel-l2 "a number in [0, 1e+30]" -1 "${ref[@]}"
number_option check-reference --max-flips "an integer in [0, 9223372036854775807]" 1.5 "${ref[@]}"
# viz checks its numbers once the model is open (--count's range is the
# layer's filters): one bad value of each kind per option, to keep it short.
one_bad() { # one_bad CMD OPTION RANGE VALUE ARGS...
  local cmd=$1 opt=$2 range=$3 v=$4
  shift 4
  check "$cmd $opt='$v' refused" refused "fer ${cmd%% *}: $opt: expected $range, got '$v'" $cmd "$@" "$opt=$v"
}
vf=(--checkpoint "$ckpt" --out vf.png)
one_bad "viz filters" --count "an integer in [1, 4]" 5 "${vf[@]}" --layer block1_conv1
one_bad "viz filters" --steps "an integer in [0, 100000]" abc "${vf[@]}"
one_bad "viz filters" --step "a number in [0, 1000]" 5x "${vf[@]}"
one_bad "viz filters" --seed "$u64" '' "${vf[@]}"
vs=(--checkpoint "$ckpt" --out vs --data a.h5)
one_bad "viz saliency" --per-class "an integer in [1, 64]" 65 "${vs[@]}"
one_bad "viz saliency" --scale "an integer in [1, 16]" ' 5' "${vs[@]}"
one_bad "viz saliency" --batch "an integer in [1, 1048576]" 0x1 "${vs[@]}"

# ---- flags without a value, and a missing value -----------------------------
for flag in "augment --flip-h" "augment --equalize" "prepare --skip-bad" "train --print-config" \
  "train --fresh-if-unreadable" "predict --json"; do
  cmd=${flag% *} f=${flag#* }
  check "$cmd $f=1 refused" refused "fer $cmd: $f takes no value, got '$f=1'" $cmd "$f=1"
done
check "eval --help=x refused" refused "fer eval: --help takes no value, got '--help=x'" eval --help=x
check "export --out (no value) refused" refused "fer export: --out needs a value" export --checkpoint "$ckpt" --out
check "augment --thetas=1 is an unknown option" \
  refused "fer augment: unknown option '--thetas=1'" augment --thetas=1 "${aug[@]}"
finish
