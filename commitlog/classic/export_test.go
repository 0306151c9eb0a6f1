package classic

// SetBufSize sets the size of the read buffer Scan and Compare start with
// (Open's default: 1 MiB), so that tests can make messages outgrow it.
func SetBufSize(d *Dir, n int) { d.bufSize = n }
