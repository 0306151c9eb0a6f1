// Package natsgroup is the NATS JetStream peer of rmqbench: a bench.System
// that starts a local three-node JetStream cluster and a load.Target that
// appends to one replicated stream, so the same loads and scenarios run
// against NATS and rmqlog side by side.
//
// The group, all on 127.0.0.1 with ports chosen free at Start:
//
//	dir/
//	  n0.conf n1.conf n2.conf    one nats-server config per node
//	  n0.log  n1.log  n2.log     each node's stdout and stderr (appended across restarts)
//	  n0/ n1/ n2/                each node's JetStream store_dir
//
//	        client port   route port   monitor port (HTTP, /jsz)
//	  n0    c0            r0           m0
//	  n1    c1            r1           m1     routes: every node lists the other two
//	  n2    c2            r2           m2
//
//	stream BENCH: subject "bench", file storage, 3 replicas, no limits
//	(nothing is discarded during a run, so every acknowledged append can
//	be read back by Check).
//
// Flush modes map to JetStream's sync_interval (see README.md):
// SYNC_FLUSH writes sync_interval: always (every stored message fsynced
// before it is acknowledged), ASYNC_FLUSH leaves the server default (the
// store fsyncs every two minutes; a message is acknowledged once a quorum
// of replicas wrote it to the operating system).
//
// The nats-server binary is the version this module pins in its go.mod
// (Version); BuildServer builds it with the go command.
//
// Ownership: a Group owns its node processes and its two client
// connections (one for the load, one for administration: leader, last
// sequence, Check); Stop releases all of them. Every node process is
// started with a parent-death signal (SIGKILL), so a benchmark that dies
// leaves no server running.
package natsgroup
