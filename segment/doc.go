// Package segment is rmqlog's on-disk log: fixed-size, preallocated,
// memory-mapped data files holding CRC32C-checked entries, a dense mapped
// index from entry index to global offset, a two-slot checkpoint, and crash
// recovery. It imports no other rmqlog package but record, the entry
// format.
//
// # Files in a log directory
//
//	checkpoint                  two 128-byte slots (see checkpoint)
//	00000000000000000000.log    data file: bytes [0, SegmentSize) of the log
//	00000000001073741824.log    data file: named by its first global offset
//	00000000000000000000.idx    index file: slots for entries [0, IndexEntries)
//	*.tmp                       a file being prepared; removed on Open
//
// Data files sit on a grid: file k holds global offsets [k*S, (k+1)*S)
// where S is the segment size, so replicas with the same S keep every entry
// at the same offset and the same file. An entry never straddles two files:
// when it does not fit, the rest of the file stays unused and the entry
// starts the next file.
//
// # Entry layout
//
// Entries are framed as package record draws it (see its documentation): a
// 32-byte header (crc32c, payload length, index, term, type, prevcrc) and
// the payload. The crc32c covers everything after itself; prevcrc is the
// crc32c of the entry before, chaining the log. Data files hold entries
// back to back in that format, and replication sends the same bytes.
//
// # Index file layout
//
//	slot (i - start) holds the global offset of entry i, 8 bytes little endian.
//
// # Durability and recovery
//
// Appends write entries into the data files with pwrite (see Appending);
// Sync (called only by package flush) fdatasyncs the data files written
// since the last Sync. Checkpoint, also called by flush, makes the index
// durable and records two positions: scan, where recovery starts reading
// (every index slot below it is durable), and durable, below which every
// entry was synced. Recovery verifies entries from scan on: a bad entry
// below durable is corruption (Open fails and names the file and offset),
// a bad entry at or after it is a torn tail and is dropped. So recovery
// reads what was written since the last two checkpoints, never the whole
// log.
//
// # What this package fsyncs
//
// Package flush decides when appended entries become durable: it is the
// only caller of Sync (fdatasync of the data files written since the last
// Sync) and of Checkpoint (fdatasync of the index files written since the
// last checkpoint, then a checkpoint slot). Every other fsync the log does
// by itself, inside the operation whose crash safety depends on its order:
//
//   - preparing a file (create): with the zero-fill, an fdatasync of the
//     *.tmp file every 4 MiB; always one at the end (the allocated size,
//     and the zeros); after the rename, an fsync of the log directory;
//   - the checkpoint file: creating it (Open of a new log) fdatasyncs
//     checkpoint.tmp, renames it and fsyncs the directory; extending a
//     640-byte file of an older version for the hint (Open) fdatasyncs it;
//   - every checkpoint slot written is fdatasynced (ckptFile.write): by
//     Checkpoint; by TruncateSuffix and by recovery that cut damage (one
//     slot, lowerCheckpoint); by DeletePrefix and Reset (both slots, one
//     fdatasync each, writeBoth). The hint written after each Sync is not
//     synced (see checkpoint);
//   - TruncateSuffix: an fdatasync after zeroing the header of the first
//     entry removed (the atomic cut), another after zeroing the rest of
//     what was written in that file;
//   - removing files (TruncateSuffix, DeletePrefix, Reset, and at Open the
//     files after the log's end): an fsync of the log directory;
//   - recovery that cut damage: an fdatasync after zeroing the rest of the
//     file the log now ends in; a log moved aside as unrecoverable (Open
//     with OnDamage): an fsync of the damaged-N directory, then of the log
//     directory.
//
// Nothing here calls msync: what is written through the mapping (index
// slots, the header a cut zeroes) is made durable by the fdatasync of its
// file, which on Linux writes back mapped pages too. The engine's
// raft-state file is not this package's: the engine fsyncs it.
//
// # Preparing files
//
// New files are created under a temporary name, allocated with fallocate (a
// full disk fails there with ErrDiskFull, never later as SIGBUS), filled
// with zeros and fdatasynced every 4 MiB (so syncs of appended data
// overwrite written blocks; Options.NoPrewrite skips the zeros, as the
// engine does under ASYNC_FLUSH), renamed into place and mapped. Index files
// are also pre-faulted with MADV_POPULATE_WRITE: their slots are written
// through the mapping. Data files are not: entries reach them with pwrite,
// and reading through the mapping needs no pre-faulting. The next data and
// index files are prepared in the background while the current ones fill,
// so appends do not wait for them. On Open the files after the log's end
// are kept as the prepared next files.
//
// # Appending
//
// An append frames the entry (one copy of the payload and one CRC pass)
// into a staging buffer and writes it into its data file with pwrite. The
// entries of a batch (AppendBatch, AppendFramed) that follow each other in
// one file go in one pwrite of up to 1 MiB; an entry over 64 KiB is written
// without the copy, payload then header. The index slot (8 bytes per entry)
// is written through the mapping. Reads use the mapping: the page cache is
// shared, so a pwrite is visible to them at once.
//
// # Memory
//
// Synced data more than Options.CacheKeep behind the synced position is
// evicted from the mapping and the page cache in the background, and a
// prewrite's zeros as they are synced, so that the log does not grow the
// page cache without bound; every pwrite run is padded with zeros to its
// page end, so the kernel never reads an evicted page back to complete a
// partial write (evict.go).
//
// Data pages are never written through the mapping. The engine appends in
// batches, so pwrite costs it one system call per batch, while pages
// dirtied through a shared mapping cost a TLB shootdown on every CPU at
// writeback, plus the pre-faulting of new files: together half of a
// replicated group's CPU under ASYNC_FLUSH (perf, results/replication.md).
// And fdatasync of pages dirtied through a mapping measured 2.5-3x slower
// than of pages written with pwrite (results/storage.md), which every
// SYNC_FLUSH ack waits for. See docs/durability.md for the measurements.
package segment
