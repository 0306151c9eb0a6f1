#!/bin/bash
set -e
B=/work/main/bin/rmqlog
cd /tmp/g1
ts() { date +%s.%N; }
echo "== generate"; /tmp/classicgen --root /tmp/g1/classic --bytes 1073741824
sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || echo "(no drop_caches)"
echo "== check (cold cache)"; /usr/bin/time -f "check: %e s elapsed, %M KiB max RSS, %U user %S sys" $B commitlog check --dir classic/commitlog
for i in 0 1 2; do cat > n$i.conf <<EOF
brokerClusterName=UpgradeCluster
brokerName=broker-a
listenPort=4291$i
namesrvAddr=127.0.0.1:42876
rmqlogClientPort=4293$i
storePathRootDir=/tmp/g1/n$i
storePathCommitLog=/tmp/g1/n$i/commitlog
flushDiskType=SYNC_FLUSH
enableDLegerCommitLog=true
dLegerGroup=broker-a
dLegerPeers=n0-127.0.0.1:42920;n1-127.0.0.1:42921;n2-127.0.0.1:42922
dLegerSelfId=n$i
EOF
done
for i in 0 1 2; do echo "== import n$i"; /usr/bin/time -f "import n$i: %e s elapsed, %M KiB max RSS, %U user %S sys" $B commitlog import --dir classic/commitlog --to n$i.conf; done
echo "== start"
$B namesrv --listen 127.0.0.1:42876 > ns.log 2>&1 &
t0=$(ts)
for i in 0 1 2; do $B serve -c n$i.conf > n$i.log 2>&1 & done
for k in $(seq 1 600); do
  if $B status --addr 127.0.0.1:42930,127.0.0.1:42931,127.0.0.1:42932 2>/dev/null | grep -q " ready"; then break; fi; sleep 0.2; done
t1=$(ts); echo "start to a ready master: $(echo "$t1 - $t0" | bc) s"
$B status --addr 127.0.0.1:42930,127.0.0.1:42931,127.0.0.1:42932
for k in $(seq 1 600); do
  n=$($B status --addr 127.0.0.1:42930,127.0.0.1:42931,127.0.0.1:42932 2>/dev/null | grep -c "applied=$($B status --addr 127.0.0.1:42930 2>/dev/null | awk 'NR==2{print $6}')" || true)
  [ "$n" = 3 ] && break; sleep 0.2; done
t2=$(ts); echo "start to every member applied: $(echo "$t2 - $t0" | bc) s"
/usr/bin/time -f "verify: %e s" $B verify --addr 127.0.0.1:42930,127.0.0.1:42931,127.0.0.1:42932 | tail -2
$B consumer progress --namesrv 127.0.0.1:42876 --group upgrade_group | head -5
pkill -TERM -f "/tmp/g1/n.\.conf"; pkill -TERM -f 42876; sleep 3
echo done
