// Package classic reads, verifies, compares and writes the CommitLog
// directory of a classic RocketMQ broker (store/commitlog of a master or a
// slave): the upgrade path from a classic master/slave pair (issue 19).
// It imports of rmqlog only package commitlog, the message layout.
//
// # A classic CommitLog directory
//
//	store/commitlog/
//	  00000000000000000000   offsets [0, S): file size S (mappedFileSizeCommitLog, 1 GiB by default)
//	  00000000001073741824   offsets [S, 2S): named by its start offset in 20 digits
//	  00000000002147483648   offsets [2S, 3S): the last file; the broker may have preallocated
//	                         one more, all zeros
//
//	one file:
//	+-----------+-----------+- - -+-----------+----------------+
//	| message   | message   |     | message   | blank: size,   |  the next message did not fit:
//	| (layout   |           |     |           | BlankMagic,    |  it starts the next file
//	| of pkg    |           |     |           | zeros          |
//	| commitlog)|           |     |           |                |
//	+-----------+-----------+- - -+-----------+----------------+
//	the last file:
//	+-----------+-----------+- - -+-----------+----------------+
//	| message   | message   |     | message   | zeros          |  a zero total size: the end of the data
//	+-----------+-----------+- - -+-----------+----------------+
//
// Every file has exactly S bytes: the broker creates it at its full size,
// zero-filled, and writes messages into it back to back. A message never
// spans two files: when it does not fit with the 8 bytes of the blank
// after it (commitlog.Fits), the blank (commitlog.AppendBlank: the rest of
// the file's size and BlankMagic) pads the file and the message starts the
// next one. A message's PHYSICALOFFSET field is its place in the log: its
// file's start plus its position in the file. Retention deletes the oldest
// files, so the first file may start above 0; the queue offsets of its
// messages then start above 0 too.
//
// # What Open checks
//
// Open lists the directory: every file is named by 20 digits and has the
// same size (the size asked for, or the first file's), the first starts at
// a multiple of that size and each next file where the one before ends. It
// skips, and lists in Dir.Ignored, subdirectories and an empty last file
// (as RocketMQ's MappedFileQueue does) and hidden files (names starting
// with "."); any other name is an error, a name with a suffix
// (00000000000000000000.bak) included: move such files out.
//
// # What Scan checks
//
// Scan walks the messages in order, one file at a time through one reused
// buffer: memory is the buffer (1 MiB) or the largest message, never a
// file. Each message must decode (commitlog.Decode), its body CRC verify
// and its PHYSICALOFFSET field equal its place (else ErrOffset: the file
// was copied under another name, or is damaged). A blank sends the walk
// to the next file. A zero total size ends the file's data and the log,
// unless a later file holds data (ErrHole): a later file holds data if its
// first 8 bytes are not zero. Scan does not read the zeros after the end.
//
// A damaged message (it does not decode, its total size runs past the
// file, its CRC fails) is a torn write at the end of the log if nothing
// valid follows it: neither a valid message or the blank right after it
// (where its total size puts it, if that lies inside the file) nor data in
// a later file. Then Scan stops there and reports it in Summary.Torn, as
// RocketMQ's recovery (CommitLog.recoverNormally) truncates the log at the
// first message checkMessageAndReturnSize refuses. With valid data after
// it, it is damage inside the log: Scan returns a *Damage naming the file,
// the offset, the reason and what follows. A message whose lengths are so
// damaged that they hide where the next one starts, in the last file, is
// indistinguishable from a torn write; comparing with another copy
// (Compare) finds what it hid.
//
// # What Compare reports
//
// Compare is the check behind `rmqlog commitlog check --dir MASTER --dir
// SLAVE...`: the first directory is the reference (usually the master's),
// compared with each other copy in turn. It takes the md5 of every file,
// the method RocketMQ's documentation gives operators (compare the md5 of
// the last files of master and slave), and does better: it walks both
// copies' messages side by side from the first offset both hold,
// verifying every message of both as Scan does, and finds where they stop
// agreeing. A slave of a classic pair holds a byte-for-byte copy of its
// master's CommitLog (HA sends the bytes), so the verdict (State) is one
// of: the same messages; one copy behind the other (a prefix: how many
// messages and bytes the other holds more); diverged (different messages
// at the same offset: the first of each, by topic, queue id and queue
// offset); damaged (a copy damaged inside its log); disjoint (one ends
// before the other's first file). Report.Copy says which files to copy
// whole, from which directory to which: from the one holding offset At to
// the last holding a message, but those whose md5 already match and those
// damaged in the source; for damage, the damaged file from a copy in
// which it verifies. For a divergence it copies from the longer valid log
// (the master's, usually), telling to keep the overwritten files
// elsewhere first. Report.String writes all of it for an operator, ending
// in one line: the copies agree (Report.OK), or what to do. Nothing in it
// advises deleting a file.
//
// # Writer
//
// Writer makes such directories for tests and measurements: no Java
// broker runs here.
//
// The layout was learnt from apache/rocketmq: store/.../CommitLog.java
// (doAppend, the blank, recoverNormally, checkMessageAndReturnSize),
// MappedFileQueue.java (load: file names, sizes, what it skips) and
// UtilAll.offset2FileName; module compat/rocketmq decodes every message of
// a directory Writer made with the official Go client's decoder.
package classic
