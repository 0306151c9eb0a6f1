package config

import (
	"bytes"
	"strconv"
	"strings"
	"unicode/utf8"
)

// keyLines returns, for every key defined in data, the lines (1-based) of
// its definitions in file order; the last is the effective one. Lines that
// define an empty key (they start with '=' or ':') are listed under "".
// The properties parser keeps no positions, so this scans the raw text
// the way it reads it:
//
//   - lines are numbered at '\n'; a '\r' also ends a line (so "\r\n" is
//     one line end) without changing the number; a leading UTF-8 byte
//     order mark is dropped;
//   - leading spaces, tabs and form feeds are skipped; a line that is then
//     empty or starts with '#' or '!' defines nothing;
//   - the key is the text before the first unescaped '=', ':', space, tab
//     or form feed, with its escapes decoded (\t \n \r \f \uXXXX, and
//     '\' before any other character stands for that character);
//   - a line ending in an odd number of backslashes continues on the
//     next line, which therefore defines nothing.
//
// A key continued across lines by a trailing backslash (rare) gets the
// line it starts on, under the part before the backslash.
func keyLines(data []byte) map[string][]int {
	data = bytes.TrimPrefix(data, []byte("\uFEFF"))
	found := map[string][]int{}
	continued := false
	for i, physical := range strings.Split(string(data), "\n") {
		for _, line := range strings.Split(physical, "\r") {
			if continued {
				continued = continues(line)
				continue
			}
			line = strings.TrimLeft(line, " \t\f")
			if line == "" || line[0] == '#' || line[0] == '!' {
				continue
			}
			k := lineKey(line)
			found[k] = append(found[k], i+1)
			continued = continues(line)
		}
	}
	return found
}

// lineKey decodes the key at the start of a definition line.
func lineKey(line string) string {
	var b strings.Builder
	for i := 0; i < len(line); {
		r, w := utf8.DecodeRuneInString(line[i:])
		i += w
		switch {
		case strings.ContainsRune("=: \t\f", r):
			return b.String()
		case r == '\\' && i < len(line):
			r, w = unescape(line[i:])
			i += w
		}
		b.WriteRune(r)
	}
	return b.String()
}

// unescape decodes the escape whose '\' precedes s; it returns the rune and
// the bytes of s it used.
func unescape(s string) (rune, int) {
	r, w := utf8.DecodeRuneInString(s)
	switch r {
	case 't':
		return '\t', w
	case 'n':
		return '\n', w
	case 'r':
		return '\r', w
	case 'f':
		return '\f', w
	case 'u':
		if len(s) >= 5 {
			if n, err := strconv.ParseUint(s[1:5], 16, 32); err == nil {
				return rune(n), 5
			}
		}
	}
	return r, w
}

// continues reports whether a line ends in an odd number of backslashes.
func continues(line string) bool {
	n := len(line) - len(strings.TrimRight(line, "\\"))
	return n%2 == 1
}

// lastLine returns the line of a key's effective definition, 0 if unknown.
func lastLine(lines map[string][]int, key string) int {
	if l := lines[key]; len(l) > 0 {
		return l[len(l)-1]
	}
	return 0
}
