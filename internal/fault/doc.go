// Package fault is a test-only seam: it lets a fault campaign cut the
// power under, fill the disk of, and bend the clock of a real `rmqlog
// serve` process. Everything is off unless an environment variable turns
// it on (FromEnv); a node with it on logs a WARN at start. Never use it in
// production.
package fault
