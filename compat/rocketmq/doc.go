// Package rocketmq holds rmqlog's compatibility tests against Apache
// RocketMQ's official Go client (github.com/apache/rocketmq-client-go/v2).
//
// It is a Go module of its own, like bench/peers/nats, so that rmqlog's
// main module never depends on RocketMQ code: it requires the main module
// through `replace github.com/rmqlog/rmqlog => ../..`. `make compat-test`
// (part of `make test`) vets and runs it.
//
// Now: every message package commitlog encodes decodes with the client's
// primitive.DecodeMessage (what the client runs on a pull answer) to the
// same fields and message ids; every message of a classic CommitLog
// directory that classic.Writer made (files rolled with the end-of-file
// blank) and of package classic's golden directory, found with the
// framing alone, decodes with it to what was appended, at its place in
// the log (classic_test.go); and a broker registered with rmqlog's name
// server (namesrv.Register) is what the client's admin API and producer
// see: the topic, its queues, and the master address it sends to. And the
// official client against a running rmqlog broker (broker_test.go): our
// name server and a 3-member broker group in process; SendSync, SendAsync
// and a batch with tags, keys and properties; a clustering push consumer
// receives every message equal to what was sent (body, topic, tags, keys,
// properties, born host, timestamps, queue id and offset, commit log
// offset, both message ids); committed offsets survive a consumer restart.
// And the real binaries (binaries_test.go, the README's quick start):
// `rmqlog namesrv` and three `rmqlog serve` built from this tree by `go
// build` into a temporary directory (skipped, saying why, if that build
// fails); the client's admin creates a topic, a producer sends and a push
// consumer receives every message. And the failover with two broker
// groups (failover_test.go, issue 16 item 5): `rmqlog namesrv` and six
// `rmqlog serve` (broker-a and broker-b, three members each) under three
// SendSync producers and a push consumer; the master of broker-a is
// killed with SIGKILL. The short form (what `make test` runs) checks that
// sends go on through broker-b, that broker-a's new master is registered
// within 1 s and that nothing acknowledged is lost; the long form
// (`go test -run TestFailoverTwoGroups -v -failover.long`, or
// RMQLOG_FAILOVER_LONG=1) also waits for the client's 30 s route refresh
// until broker-a takes sends again. Figures: results/broker-failover.md.
package rocketmq
