// Package admin implements rmqlog's operator commands as library calls:
// the status of every node, leadership transfer, a dump of a stopped node's
// log and the comparison of replicas (verify). cmd/rmqlog parses flags and
// calls these; tests call them directly.
package admin
