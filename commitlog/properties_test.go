package commitlog_test

import (
	"errors"
	"maps"
	"math"
	"reflect"
	"strings"
	"testing"
	"testing/quick"
	"unicode/utf16"

	"github.com/rmqlog/rmqlog/commitlog"
)

type prop = commitlog.Property

func TestAppendProperties(t *testing.T) {
	b := mustProps(t, prop{"UNIQ_KEY", "ABC"}, prop{"TAGS", "TagA"}, prop{"KEYS", "k1 k2"}, prop{"__CRC32#", "0123456789"})
	if want := "UNIQ_KEY\x01ABC\x02TAGS\x01TagA\x02KEYS\x01k1 k2\x02__CRC32#\x010123456789\x02"; string(b) != want {
		t.Fatalf("AppendProperties = %q, want %q", b, want)
	}
	// The order given is kept: the CRC property stays last.
	if got := commitlog.ParseProperties(b); got[len(got)-1].Name != commitlog.PropertyCRC32 || len(got) != 4 {
		t.Fatalf("ParseProperties = %q", got)
	}
	m, err := commitlog.AppendPropertyMap([]byte("x"), map[string]string{"b": "2", "a": "1", "c": "3"})
	if err != nil || string(m) != "xa\x011\x02b\x012\x02c\x013\x02" {
		t.Fatalf("AppendPropertyMap = %q, %v; want sorted by name after the prefix", m, err)
	}
	for _, bad := range []prop{{"", "v"}, {"n", ""}, {"a\x01b", "v"}, {"n", "v\x02w"}, {"n", "v\x01w"}} {
		if out, err := commitlog.AppendProperties([]byte("keep"), prop{"ok", "ok"}, bad); !errors.Is(err, commitlog.ErrProperty) || string(out) != "keep" {
			t.Fatalf("AppendProperties(%q) = %q, %v; want ErrProperty and dst unchanged", bad, out, err)
		}
	}
}

// TestParsePropertiesLikeRocketMQ: the entries RocketMQ's
// string2messageProperties skips or splits, skipped and split the same way.
func TestParsePropertiesLikeRocketMQ(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []prop
	}{
		{"", nil},
		{"a\x01b", []prop{{"a", "b"}}}, // no final separator
		{"a\x01b\x02\x02c\x01d\x02", []prop{{"a", "b"}, {"c", "d"}}}, // empty entry
		{"\x01v\x02", nil}, // empty name
		{"n\x01\x02", nil}, // empty value
		{"nv\x02", nil},    // no name-value separator
		{"n\x01v\x01w\x02", []prop{{"n", "v\x01w"}}},             // the first 0x01 splits
		{"k\x011\x02k\x012\x02", []prop{{"k", "1"}, {"k", "2"}}}, // duplicates kept in order
		{"标签\x01值\x02", []prop{{"标签", "值"}}},
	} {
		if got := commitlog.ParseProperties([]byte(tc.in)); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseProperties(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	b := []byte("k\x011\x02TAGS\x01x\x02k\x012\x02")
	if m := commitlog.PropertyMap(b); !maps.Equal(m, map[string]string{"k": "2", "TAGS": "x"}) {
		t.Fatalf("PropertyMap = %v; a later duplicate must win", m)
	}
	if v, ok := commitlog.Lookup(b, "k"); !ok || string(v) != "2" {
		t.Fatalf("Lookup(k) = %q, %v", v, ok)
	}
	if v, ok := commitlog.Lookup(b, "KEYS"); ok || v != nil {
		t.Fatalf("Lookup of an absent name = %q, %v", v, ok)
	}
	if a := testing.AllocsPerRun(100, func() { commitlog.Lookup(b, "TAGS") }); a != 0 {
		t.Fatalf("Lookup allocates %.0f times", a)
	}
}

// TestPropertiesQuick: whatever valid properties AppendProperties writes,
// ParseProperties returns in order and PropertyMap as a map.
func TestPropertiesQuick(t *testing.T) {
	clean := func(s string) string {
		s = strings.NewReplacer("\x01", "", "\x02", "").Replace(s)
		if s == "" {
			return "x"
		}
		return s
	}
	f := func(names, values []string) bool {
		var props []prop
		want := map[string]string{}
		for i := range min(len(names), len(values)) {
			p := prop{clean(names[i]), clean(values[i])}
			props, want[p.Name] = append(props, p), p.Value
		}
		b, err := commitlog.AppendProperties(nil, props...)
		return err == nil && reflect.DeepEqual(commitlog.ParseProperties(b), props) && maps.Equal(commitlog.PropertyMap(b), want)
	}
	if err := quick.Check(f, nil); err != nil {
		t.Fatal(err)
	}
}

func TestTagsCode(t *testing.T) {
	for _, tc := range []struct {
		tags string
		want int64
	}{
		{"", 0},
		{"TagA", 2598919},          // ((84*31+97)*31+103)*31+65
		{"hello", 99162322},        // "hello".hashCode()
		{"Aa", 2112}, {"BB", 2112}, // Java's best-known collision
		{"polygenelubricants", math.MinInt32}, // hashCode() == Integer.MIN_VALUE: sign-extended
		{"é", 0xE9},
		{"😀", 0xD83D*31 + 0xDE00}, // a surrogate pair: two UTF-16 code units
		{"TagA || TagB", javaHash("TagA || TagB")},
	} {
		if got := commitlog.TagsCode([]byte(tc.tags)); got != tc.want {
			t.Errorf("TagsCode(%q) = %d, want %d", tc.tags, got, tc.want)
		}
	}
	if err := quick.CheckEqual(func(s string) int64 { return commitlog.TagsCode([]byte(s)) }, javaHash, nil); err != nil {
		t.Fatal(err)
	}
}

// javaHash is the naive reference: Java's String.hashCode as its
// documentation states it, s[0]*31^(n-1) + ... + s[n-1] over UTF-16 code
// units in 32-bit arithmetic, widened to a long.
func javaHash(s string) int64 {
	var h int32
	for _, u := range utf16.Encode([]rune(s)) {
		h = h*31 + int32(u)
	}
	return int64(h)
}
