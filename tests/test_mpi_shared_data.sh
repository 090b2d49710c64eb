# The run's image sets are held once per node: tests/test_shared_images.c
# under mpirun -np 3 on this one node, at two data sizes. Every rank sees the
# same sets as an independent build; the readers (local ranks 1, 2) allocate
# nothing and their private memory (RssAnon) stays flat while the node's
# copy grows; the node's ranks together hold one copy (the sum of their Pss of the window).
source "$(dirname "$0")/lib.bash"
test_program test_shared_images
cd "$work"
for n in 200 1200; do
  set +e
  mpirun -np 3 --oversubscribe --bind-to none "$prog" "$n" > shared$n.log 2>&1; rc=$?
  set -e
  sed 's/^/  /' shared$n.log
  check "3 ranks share the sets of $n training images (exit $rc)" [ $rc -eq 0 ]
done
finish
