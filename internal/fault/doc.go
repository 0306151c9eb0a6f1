// Package fault is a test-only seam: it lets a fault campaign cut the
// power under, fill the disk of, and bend the clock of a real `rmqlog
// serve` process. Nothing runs unless an environment variable asks for it
// (FromEnv); a node that has one set logs a WARN at start saying fault
// injection is on. Never set them in production.
//
//	RMQLOG_FAULT_JOURNAL=<file>   journal every file operation (power loss)
//	RMQLOG_FAULT_CONTROL=<file>   poll a control file (disk full, clock)
//
// cmd/rmqlog wires it where it builds the engine's Config:
//
//	fs, clock, stop, err := fault.FromEnv(log) // nil, nil when off
//	defer stop()
//	cfg.FS, cfg.Clock = fs, clock
//
// # Power loss
//
// The FS (a segment.FS over segment.OSFS) appends a record to the journal
// for every WriteAt, Allocate, Sync, Create, Open, Rename, Remove and
// SyncDir, each with one write(2) to a file opened with O_APPEND: a record
// survives kill -9 without an fsync and records keep their order. After
// the driver has killed the node with SIGKILL (and reaped it), PowerLoss
// replays the journal and makes the files look as a power cut would have
// left them, then truncates the journal (a new epoch: the files on disk at
// that point count as durable):
//
//   - Data. Every byte range written since its file's last Sync is
//     overwritten with zeros, and a file that grew since (WriteAt past its
//     end, Allocate) is cut back to its synced size. A range written,
//     synced and written again is unsynced again: the new bytes are lost.
//     We zero rather than restore the old bytes (restoring would cost a
//     read before every write). For appends into preallocated, zero-filled
//     space, which is what the log does, the two are the same; for an
//     overwrite, zeros are what no disk would show (it keeps old bytes,
//     new bytes or a mix of sectors), and are at least as harsh for our
//     formats: an all-zero entry header or checkpoint slot is invalid, so
//     the reader sees a torn write, as it would with a mix. A Sync covers
//     the writes journaled before the fdatasync began (the Sync record
//     carries that count): a write that ends while a Sync runs is lost.
//   - Names. A Create, Rename or Remove is durable only once a SyncDir of
//     its directory began after it (an fsync of the file is not enough, as
//     POSIX allows). Otherwise it is undone: a file created since is
//     removed (whatever its content and syncs); a renamed file goes back
//     to its old name, and the name it replaced gets its old file back; a
//     removed file comes back. To make that possible, Remove and a Rename
//     over an existing file first keep a hard link to the file (a hidden
//     ".rmqlog-fault-keep-*" name in the same directory, which the log
//     ignores); SyncDir removes the links it made unnecessary, PowerLoss
//     the rest. Directories count as durable at once (MkdirAll is not
//     journaled), as in segment.MemFS.
//   - Writes through a mapping (File.Map) are not seen: the index files'
//     slots, and the entry header TruncateSuffix clears before its
//     fdatasync. PowerLoss leaves them as the killed process left them, as
//     if the kernel had written those pages back before the cut (a legal
//     outcome, not the harshest one). Losing the unsynced index slots
//     instead would make no difference: Checkpoint fdatasyncs the index
//     files before it writes the checkpoint, and recovery rebuilds every
//     slot from the checkpoint's scan position on from the data files,
//     never reading a slot past the end it finds. The log writes no entry
//     through the mapping: entries go in with pwrite, which the journal sees.
//
// The journal's records are written after their operation succeeded. A
// kill between the two leaves an operation the journal does not know:
// PowerLoss then keeps its effect (a legal outcome: the operation may have
// reached the disk) and reports a file it cannot put back as Missing. A
// record cut short by the kill is ignored, and cut off by the next run.
//
// The journal is text, one record per line; a run header starts every
// process's part, and path ids, handle ids and record numbers restart with
// it. Records are numbered from 0 after the header, "p" lines included.
//
//	rmqlog-fault-journal v1 pid=<pid>       run header (format version v1)
//	p <id> "<absolute path>"                defines a path id (Go-quoted)
//	c <path> <handle>                       Create
//	o <path> <handle> <size>                Open, with the size it found
//	w <handle> <offset> <length>            WriteAt (the bytes written)
//	a <handle> <size>                       Allocate
//	s <handle> <n>                          Sync succeeded; the fdatasync began
//	                                        when n records had been written
//	k <path> <link path>                    a hard link kept to the file at path
//	r <from path> <to path>                 Rename
//	d <path>                                Remove
//	B <dir path>                            SyncDir begins (this record's number: b)
//	D <dir path> <b>                        that SyncDir succeeded
//
// A record is 10 to 30 bytes; with SYNC_FLUSH the log journals about two
// per batch (a write and a sync). The journal grows until PowerLoss.
//
// # Disk full
//
// While the control file says "disk full", File.Allocate and FS.Create
// fail with ENOSPC, and WriteAt fails with ENOSPC for the bytes past the
// file's end (it writes those before it: space already allocated, as on a
// real file system with fallocate). The errors are *os.PathError wrapping
// syscall.ENOSPC, as the OS returns them, so the log reports
// segment.ErrDiskFull. "disk ok" ends it.
//
// # Clock
//
// The Clock wraps every engine ticker in a goroutine that forwards real
// ticks, drops them or adds some, as the control file says:
//
//	clock freeze <duration>          no tick is delivered for that long
//	clock jump <duration>            duration/interval extra ticks at once, as
//	                                 fast as the node takes them
//	clock rate <factor> <duration>   ticks factor times as often (0.5: half)
//	                                 for that long
//
// # Control file
//
// A text file the node reads every 50 ms (ControlPoll), one command per
// line after a sequence number; blank lines and lines starting with # are
// skipped. Sequence numbers increase down the file; a node applies each
// number once, in order. A node that starts with commands already in the
// file applies only the last disk command (the disk state is a level) and
// skips the clock commands (meant for the process before it). A malformed
// file is logged and applies nothing until fixed. Durations use Go syntax
// (150ms, 2s, 1m30s); a factor is between 0.001 and 1000.
//
//	1 disk full
//	2 clock freeze 2s
//	3 disk ok
//	4 clock jump 10s
//	5 clock rate 0.5 30s
//
// The driver writes it with WriteControl(path, "disk full", ...), which
// numbers the commands after the file's last one and replaces the file
// atomically (temporary file and rename).
package fault
