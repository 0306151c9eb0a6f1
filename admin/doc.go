// Package admin implements rmqlog's operator commands as library calls:
// the status of every node, leadership transfer, the group's membership
// (Members, ChangeMember), a dump of a stopped node's log and the
// comparison of replicas (verify), over rmqlog's client protocol; and for the RocketMQ broker, topic creation and listing and a
// consumer group's progress (CreateTopic, ListTopics, ConsumerProgress),
// over RocketMQ's remoting protocol (remoting/rpc) to the name servers and
// the brokers they route to. cmd/rmqlog parses flags and calls these;
// tests call them directly. admin never links the engine or the server
// (scripts/archcheck.sh).
package admin
