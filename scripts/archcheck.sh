#!/usr/bin/env bash
# archcheck.sh: the import rules of docs/architecture.md, one `go list`
# assertion per rule. `make lint` runs it; each failure names the rule, the
# package and the import that breaks it.
set -euo pipefail
M=github.com/rmqlog/rmqlog
GO=${GO:-go}
fail=0

# deps PKG...: every package PKG imports, directly or not (tests excluded).
deps() { $GO list -deps "$@" 2>/dev/null; }
# imports PKG: the package's own imports.
imports() { $GO list -f '{{join .Imports "\n"}}' "$1"; }

# never WHY PKGS PATTERN: no package in PKGS may depend on one matching
# PATTERN (an extended regexp on the import path).
never() {
	local why=$1 pkgs=$2 pat=$3 p bad
	for p in $($GO list $pkgs); do
		bad=$(deps "$p" | grep -vxF "$p" | grep -E "$pat" || true)
		if [ -n "$bad" ]; then
			echo "archcheck: $p depends on $(echo $bad | tr '\n' ' ')"
			echo "  rule: $why"
			fail=1
		fi
	done
}

# Leaves: import no project package at all.
# internal/poll too: any package's tests, the leaves' included, may wait with it.
for p in ./flush ./record ./replication/wire ./pki ./client/proto ./commitlog ./remoting ./internal/poll ./internal/testlog; do
	[ -d "$p" ] || continue
	bad=$(imports "$p" | grep -E "^$M(/|$)" || true)
	if [ -n "$bad" ]; then
		echo "archcheck: leaf package $p imports $(echo $bad | tr '\n' ' ')"
		echo "  rule: leaf packages import no other project package"
		fail=1
	fi
done

# segment stores record's entries and imports nothing else of rmqlog.
bad=$(imports ./segment | grep -E "^$M/" | grep -vxF "$M/record" || true)
if [ -n "$bad" ]; then
	echo "archcheck: segment imports $(echo $bad | tr '\n' ' ')"
	echo "  rule: segment (the on-disk log) imports of rmqlog only record (the entry framing it stores)"
	fail=1
fi

# remoting/rpc, the remoting transport, carries the codec's commands and
# imports of rmqlog only that codec.
bad=$(imports ./remoting/rpc | grep -E "^$M/" | grep -vxF "$M/remoting" || true)
if [ -n "$bad" ]; then
	echo "archcheck: remoting/rpc imports $(echo $bad | tr '\n' ' ')"
	echo "  rule: remoting/rpc (the remoting transport) imports of rmqlog only remoting (the codec)"
	fail=1
fi

# Classic CommitLog directories: of rmqlog only the message layout.
if [ -d ./commitlog/classic ]; then
	bad=$(imports ./commitlog/classic | grep -E "^$M/" | grep -vxF "$M/commitlog" || true)
	if [ -n "$bad" ]; then
		echo "archcheck: commitlog/classic imports $(echo $bad | tr '\n' ' ')"
		echo "  rule: commitlog/classic imports of rmqlog only commitlog (it reads files of RocketMQ's layout, nothing of rmqlog's log)"
		fail=1
	fi
fi

# The broker's consume queues: of rmqlog only segment (its FS seam).
if [ -d ./broker/consumequeue ]; then
	bad=$(imports ./broker/consumequeue | grep -E "^$M/" | grep -vxF "$M/segment" || true)
	if [ -n "$bad" ]; then
		echo "archcheck: broker/consumequeue imports $(echo $bad | tr '\n' ' ')"
		echo "  rule: broker/consumequeue imports of rmqlog only segment (files through segment.FS)"
		fail=1
	fi
fi

# The Raft core: its own imports are pure (time arrives as ticks, messages
# and the log through interfaces); its only project imports are leaves.
bad=$(imports ./engine/raft | grep -E '^(net|os|sync|time|syscall)(/|$)|^unsafe$' || true)
bad+=$(imports ./engine/raft | grep -E "^$M/" | grep -vE "^$M/(record|replication/wire)$" || true)
if [ -n "$bad" ]; then
	echo "archcheck: engine/raft imports $(echo $bad | tr '\n' ' ')"
	echo "  rule: the Raft core imports no net, os, sync, time, syscall, unsafe, and of rmqlog only record and replication/wire"
	fail=1
fi

never "client/ and client/proto speak the protocol only: they never link the engine or the server" \
	"./client/..." "^$M/(engine|server)(/|$)"
never "replication/ is a transport that knows nothing of Raft or the log" \
	"./replication/..." "^$M/(engine|segment|flush)(/|$)"
never "engine/ is a library: it never reaches up to the service, its config, clients or commands" \
	"./engine/..." "^$M/(server|client|config|admin|cmd|internal)(/|$)"
never "admin/ (operator tools) talks to nodes over the client protocol: it never links the engine or the server" \
	"./admin/..." "^$M/(engine|server)(/|$)"
never "internal/bench drives processes over the client protocol: it never links the engine" \
	"./internal/bench/..." "^$M/engine(/|$)"
never "server/ wraps the engine for the network; commands and harnesses sit above it" \
	"./server/..." "^$M/(cmd|internal|admin)(/|$)"
never "namesrv/ is a service of its own: it speaks remoting and never links the engine, the server, the broker or a harness" \
	"./namesrv/..." "^$M/(engine|server|broker|internal|segment|flush|replication)(/|$)"
never "broker/ embeds the engine through its public API only: never the server or a harness" \
	"./broker/..." "^$M/(server|internal)(/|$)"
# The Raft core is linked through the engine (a transitive dependency every
# embedder has); what the rule forbids is the broker reaching past the
# engine's API, that is importing engine/raft itself.
for p in $($GO list ./broker/...); do
	if imports "$p" | grep -qxF "$M/engine/raft"; then
		echo "archcheck: $p imports $M/engine/raft"
		echo "  rule: broker/ uses the engine's public API only, never the Raft core directly"
		fail=1
	fi
done
never "nothing imports a command" \
	"./..." "^$M/cmd(/|$)"

if [ $fail -ne 0 ]; then
	echo "archcheck: see docs/architecture.md for the layers and the reason of each rule"
	exit 1
fi
echo "archcheck: ok"
