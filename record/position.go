package record

// Position names a boundary between entries: entry Index starts at global
// offset Offset or, if it does not fit in the data file Offset falls in, at
// the start of the next one (package segment lays entries out so).
type Position struct {
	Index  uint64
	Offset uint64
}
