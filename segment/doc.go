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
// Appends copy into the mapping; Sync (called only by package flush)
// fdatasyncs the data files written since the last Sync. Checkpoint, also
// called by flush, makes the index durable and records two positions: scan,
// where recovery starts reading (every index slot below it is durable), and
// durable, below which every entry was synced. Recovery verifies entries
// from scan on: a bad entry below durable is corruption (Open fails and
// names the file and offset), a bad entry at or after it is a torn tail
// and is dropped. So recovery reads what was written since the last two
// checkpoints, never the whole log.
//
// # Preparing files
//
// New files are created under a temporary name, allocated with fallocate (a
// full disk fails there with ErrDiskFull, never later as SIGBUS), filled
// with zeros and fdatasynced (so syncs of appended data overwrite written
// blocks), renamed into place, mapped and pre-faulted with
// MADV_POPULATE_WRITE. The next data and index files are prepared in the
// background while the current ones fill, so appends do not wait or fault.
// On Open the file after the log's end is kept as the prepared next file.
//
// # Append paths
//
// By default an append frames the entry straight into the mapping: one copy
// of the payload and one CRC pass, no system call (ASYNC_FLUSH).
// Options.WriteThrough writes it with pwrite instead, because fdatasync of
// pages dirtied through a mapping measured 2.5-3x slower (SYNC_FLUSH). Reads
// use the mapping either way. See docs/durability.md for the measurements.
package segment
