# The emulated cluster (tests/cluster/) is what the multi-node tests take it
# for: 3 nodes with 2 ranks each, where Open MPI places the ranks on 3 distinct
# hosts (host name, network namespace, its own local ranks), the ranks of
# different nodes talk over TCP on the bridge and those of one node over
# shared memory (vader segments), a capped link is slow, and stopping the
# cluster -- or killing the process that started it -- leaves no namespace,
# link, process or Open MPI file behind.
# Skipped (77) where namespaces cannot be made (not root, no ip, ...).
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/cluster/cluster.bash"
command -v python3 > /dev/null || { echo "skipped: no python3 for the link checks"; exit 77; }
cluster_up 3 16mbit
cd "$work"

# --- what Open MPI launched where ---------------------------------------------
root_net=$(readlink /proc/self/ns/net)
set +e
cluster_mpirun 2 sh -c 'echo "$OMPI_COMM_WORLD_RANK $OMPI_COMM_WORLD_LOCAL_RANK $OMPI_COMM_WORLD_LOCAL_SIZE $(hostname) $(readlink /proc/self/ns/net)"' > where.txt 2> where.err
rc=$?
set -e
sort -n where.txt | sed 's/^/  rank, local rank, local size, host, net: /'
check "mpirun across the nodes exits 0 (got $rc)" [ $rc -eq 0 ]
check "6 ranks reported" [ "$(wc -l < where.txt)" -eq 6 ]
check "3 distinct host names, fer-node1..3" [ "$(awk '{ print $4 }' where.txt | sort -u | tr '\n' ' ')" = "fer-node1 fer-node2 fer-node3 " ]
check "3 distinct network namespaces, none of them this one ($root_net)" \
  [ "$(awk '{ print $5 }' where.txt | sort -u | grep -cv "^$root_net\$")" -eq 3 ]
check "each host has one namespace and local ranks 0 and 1 of 2" \
  [ "$(awk '{ print $4, $5, $3 }' where.txt | sort | uniq -c | awk '$1 == 2 && $4 == 2' | wc -l)" -eq 3 ]
check "ranks 2k and 2k+1 share a node (--map-by ppr:2:node)" \
  [ "$(awk '{ h[int($1 / 2)] = h[int($1 / 2)] " " $4 } END { for (k in h) print h[k] }' where.txt | awk '$1 == $2' | wc -l)" -eq 3 ]

# --- transports, seen from outside while fer trains ----------------------------
before=$(($(link_bytes 1) + $(link_bytes 2) + $(link_bytes 3)))
cluster_mpirun 2 "$fer" train "$src/configs/tiny.yaml" --set schedule.1.epochs=9 --run-dir run \
  --stop-after-steps 24 > run.log 2>&1 &
job=$!
seen=1
for n in 1 2 3; do wait_node_ranks $n 2 60 || seen=0; done
sleep 2 # past the first steps: every pair that exchanges has connected
: > tcp.txt
: > shm.txt
for n in 1 2 3; do
  # established TCP connections of the fer ranks (node, local address, peer
  # address, whether the peer is a port its node's orted listens on: PMIx)
  orted_ports=$(ip netns exec "ferc-n$n" ss -Htlnp 2> /dev/null | grep '"orted"' | awk '{ n = split($4, a, ":"); printf ":%s:", a[n] }')
  ip netns exec "ferc-n$n" ss -Htnp state established 2> /dev/null | grep '"exe"' |
    awk -v n=$n -v o="$orted_ports" '{ split($3, l, ":"); k = split($4, p, ":");
      print n, l[1], p[1], index(o, ":" p[k] ":") ? "orted" : "rank" }' >> tcp.txt
  for p in $(node_pids $n fer); do
    awk -v n=$n -v p=$p '$6 ~ /vader_segment/ { print n, p, $6 }' "/proc/$p/maps" >> shm.txt
  done
done
set +e; wait $job; rc=$?; set -e
after=$(($(link_bytes 1) + $(link_bytes 2) + $(link_bytes 3)))
echo "  TCP connections of the ranks (node, local address, peer, peer process):"; sort -u tcp.txt | sed 's/^/    /'
echo "  vader segments mapped (node, pid, file):"; sort -u shm.txt | sed 's/^/    /'
echo "  the nodes' links carried $((after - before)) bytes during the run"
check "the 6-rank run stops with 75 at --stop-after-steps (got $rc)" [ $rc -eq 75 ]
check "2 fer ranks ran in each node" [ $seen -eq 1 ]
check "ranks hold TCP connections to other nodes" [ "$(awk '$4 == "rank" && $2 != $3' tcp.txt | wc -l)" -gt 0 ]
check "no rank-to-rank TCP connection inside a node" [ "$(awk '$4 == "rank" && $2 == $3' tcp.txt | wc -l)" -eq 0 ]
check "every rank-to-rank TCP peer is on the bridge's subnet" \
  [ "$(awk -v s="$FER_CLUSTER_SUBNET." '$4 == "rank" && index($3, s) != 1' tcp.txt | wc -l)" -eq 0 ]
check "each rank maps both vader segments of its own node and none of another" \
  [ "$(awk '{ split($3, f, "."); if (f[2] == "fer-node" $1) ok[$2]++; else bad++ } END { for (p in ok) if (ok[p] == 2) n++; print n + 0, bad + 0 }' shm.txt)" = "6 0" ]
check "the links carried the gradients (more than 100 kB)" [ $((after - before)) -gt 100000 ]

# --- a capped link is slow: 1 MB from node 1 to node 3 at 16 Mbit/s ------------
port=$((20000 + RANDOM % 20000))
ip netns exec ferc-n3 timeout 20 python3 -c "
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('$FER_CLUSTER_SUBNET.13', $port)); s.listen(1)
c, _ = s.accept(); n = 0
while True:
    b = c.recv(65536)
    if not b: break
    n += len(b)
print(n)" > received.txt &
sink=$!
sleep 0.5
took=$(ip netns exec ferc-n1 timeout 20 python3 -c "
import socket, time
s = socket.create_connection(('$FER_CLUSTER_SUBNET.13', $port)); t = time.time()
s.sendall(b'x' * 1000000); s.shutdown(socket.SHUT_WR); s.recv(1); print(round(time.time() - t, 2))")
wait $sink || true
echo "  1 MB from node 1 to node 3 over links capped at 16 Mbit/s: $(cat received.txt) bytes in $took s (at least 0.37 s after the 256 kB burst)"
check "1 MB arrived" [ "$(cat received.txt)" = 1000000 ]
check "the cap held it back (took $took s)" python3 -c "import sys; sys.exit(not 0.37 <= $took <= 10)"

# --- stop.sh leaves nothing ------------------------------------------------------
left_behind() { # what a stopped cluster must not leave: prints it
  ip netns list | awk '$1 ~ /^ferc-/'
  ip -br link | awk '$1 ~ /^ferc-/'
  ls -d /dev/shm/*.fer-node* /tmp/ompi.fer-node* 2> /dev/null
  return 0
}
pids=$(for n in 1 2 3; do ip netns pids ferc-n$n; done | tr '\n' ' ')
"$cluster_dir/stop.sh" "$cluster_state" > stop.log
leftover=$(left_behind)
alive=$(for p in $pids; do [ -d /proc/$p ] && echo $p; done | tr '\n' ' ')
echo "  stop.sh: left behind '${leftover}', processes of the nodes still alive '${alive}'"
check "stop.sh leaves no namespace, link or Open MPI file" [ -z "$leftover" ]
check "stop.sh leaves no process of the nodes" [ -z "${alive// /}" ]

# --- the owner killed outright: the watchdog tears the cluster down ------------
sleep 600 &
owner=$!
FER_CLUSTER_OWNER=$owner "$cluster_dir/start.sh" "$cluster_state" 2 > start2.log 2>&1 || true
made=$(ip netns list | awk '$1 ~ /^ferc-/' | wc -l)
kill -KILL $owner
wait $owner 2> /dev/null || true
gone=0
for _ in $(seq 100); do
  [ -z "$(left_behind)" ] && { gone=1; break; }
  sleep 0.1
done
echo "  owner killed: $made namespaces made before, all gone within 10 s: $gone"
check "a second cluster came up after the first was stopped" [ "$made" -eq 2 ]
check "killing its owner tears it down" [ $gone -eq 1 ]
finish
