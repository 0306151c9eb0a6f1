package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/rmqlog/rmqlog/internal/load"
)

// ErrNoResults is returned by Write when it is given no results.
var ErrNoResults = errors.New("report: no results")

// Table is an extra table for summary.md, such as the peer bench's
// side-by-side ratios. Every row should have len(Header) cells.
type Table struct {
	Title  string     `json:"title"`
	Header []string   `json:"header"`
	Rows   [][]string `json:"rows"`
}

// summaryFile is the content of summary.json.
type summaryFile struct {
	Meta    Meta           `json:"meta"`
	Results []*load.Result `json:"results"`
	Extra   *Table         `json:"extra,omitempty"`
}

// Write writes the files of one run into dir, creating it: summary.md,
// summary.json, one <Slug(name)>.hgrm per result with a histogram, and
// the PNG plots (latency, throughput and failover; see the package
// documentation for when they are split). No result may be nil; extra
// may be. Write reads results and does not keep them. summary.md is
// written last, so a directory that has it is complete.
func Write(dir string, m Meta, results []*load.Result, extra *Table) error {
	if len(results) == 0 {
		return ErrNoResults
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	p := planFiles(results)
	for i, r := range results {
		if p.hgrm[i] != "" {
			if err := writeHgrm(filepath.Join(dir, p.hgrm[i]), r); err != nil {
				return err
			}
		}
	}
	// The data first: a plot that fails must not cost the numbers.
	if err := writeJSON(filepath.Join(dir, "summary.json"), m, results, extra); err != nil {
		return err
	}
	if err := writePlots(dir, p); err != nil {
		return err
	}
	md := renderSummary(m, results, extra, p.files())
	return writeFile(filepath.Join(dir, "summary.md"), []byte(md))
}

// Load reads a summary.json written by Write. The results have no Hist,
// Acks or Ticks (summary.json does not hold them); extra is nil if the
// run had none.
func Load(path string) (Meta, []*load.Result, *Table, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Meta{}, nil, nil, fmt.Errorf("report: %w", err)
	}
	var s summaryFile
	if err := json.Unmarshal(b, &s); err != nil {
		return Meta{}, nil, nil, fmt.Errorf("report: %s is not a summary.json (%w); remove the run directory or fix the file", path, err)
	}
	return s.Meta, s.Results, s.Extra, nil
}

// writeHgrm writes r.Hist as HdrHistogram's percentile distribution, in
// milliseconds, exactly as PercentilesPrint writes it.
func writeHgrm(path string, r *load.Result) error {
	var b bytes.Buffer
	if _, err := r.Hist.PercentilesPrint(&b, 5, 1000.0); err != nil {
		return fmt.Errorf("report: %s: %w", path, err)
	}
	return writeFile(path, b.Bytes())
}

// writeJSON writes summary.json.
func writeJSON(path string, m Meta, results []*load.Result, extra *Table) error {
	s := summaryFile{Meta: m, Results: make([]*load.Result, len(results)), Extra: extra}
	for i, r := range results {
		s.Results[i] = finiteCopy(r)
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("report: %s: %w", path, err)
	}
	return writeFile(path, append(b, '\n'))
}

// finiteCopy returns a shallow copy of r whose float fields are 0 where
// r's are NaN or infinite, which JSON cannot hold.
func finiteCopy(r *load.Result) *load.Result {
	c := *r
	c.MsgsPerSec = finite(c.MsgsPerSec)
	c.MBPerSec = finite(c.MBPerSec)
	c.Latency.Mean = finite(c.Latency.Mean)
	return &c
}

func finite(f float64) float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return f
}

// writeFile writes b to path, naming the path in the error.
func writeFile(path string, b []byte) error {
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

// Record writes a run into a new directory under root (Dir) and, if the
// run completed (runErr nil), regenerates root/README.md (Headline). An
// incomplete run is written with runErr as m.Incomplete and leaves the
// headline alone. It returns the run's directory.
func Record(root string, m Meta, results []*load.Result, extra *Table, runErr error) (string, error) {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", fmt.Errorf("report: %w", err)
	}
	if m.Commit == "" {
		m.Commit = GitCommit(root) // the repository the results go into
	}
	if runErr != nil {
		m.Incomplete = runErr.Error()
	}
	dir := Dir(root, m)
	if err := Write(dir, m, results, extra); err != nil {
		return dir, err
	}
	if runErr != nil {
		return dir, nil
	}
	return dir, Headline(root)
}
