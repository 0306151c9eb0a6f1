package commitlog

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"unicode/utf16"
	"unicode/utf8"
)

// The separators of RocketMQ's properties string: name, NameValueSeparator,
// value, PropertySeparator, and so on (MessageDecoder's
// messageProperties2String).
const (
	NameValueSeparator = 1
	PropertySeparator  = 2
)

// Property names a broker reads or writes (RocketMQ's MessageConst; the Go
// client's primitive package uses the same strings unless noted).
const (
	PropertyKeys              = "KEYS" // the message keys, separated by KeySeparator
	PropertyTags              = "TAGS" // the tags the consume queue hashes (TagsCode)
	PropertyUniqKey           = "UNIQ_KEY"
	PropertyWaitStoreMsgOK    = "WAIT"
	PropertyDelayTimeLevel    = "DELAY"
	PropertyRetryTopic        = "RETRY_TOPIC"
	PropertyRealTopic         = "REAL_TOPIC"
	PropertyRealQueueID       = "REAL_QID"
	PropertyTransactionPrep   = "TRAN_MSG"
	PropertyProducerGroup     = "PGROUP"
	PropertyMinOffset         = "MIN_OFFSET"
	PropertyMaxOffset         = "MAX_OFFSET"
	PropertyOriginMessageID   = "ORIGIN_MESSAGE_ID"
	PropertyReconsumeTime     = "RECONSUME_TIME"
	PropertyMaxReconsumeTimes = "MAX_RECONSUME_TIMES"
	PropertyTransactionID     = "__transactionId__"
	PropertyTimerDeliverMS    = "TIMER_DELIVER_MS"
	PropertyTimerDelaySec     = "TIMER_DELAY_SEC"
	PropertyTimerDelayMS      = "TIMER_DELAY_MS"
	PropertyInnerNum          = "INNER_NUM"
	PropertyInnerBase         = "INNER_BASE"
	// PropertyShardingKey is the Java broker's and client's name; the Go
	// client v2 writes "SHARDING_KEY" instead.
	PropertyShardingKey = "__SHARDINGKEY"
	// PropertyCRC32 is the whole-message CRC a broker with
	// enabledAppendPropCRC appends as the last property.
	PropertyCRC32 = "__CRC32#"
	// KeySeparator separates the keys in PropertyKeys.
	KeySeparator = " "
)

// Property is one name-value pair of a message's properties.
type Property struct{ Name, Value string }

// AppendProperties appends props to dst in RocketMQ's string form, in the
// order given (a broker that appends PropertyCRC32 keeps it last). It
// refuses, with ErrProperty, a name or value that is empty or contains a
// separator byte: RocketMQ's decoder would drop or split it. Encode checks
// the total length.
func AppendProperties(dst []byte, props ...Property) ([]byte, error) {
	for _, p := range props {
		if err := checkProperty(p); err != nil {
			return dst, err
		}
	}
	for _, p := range props {
		dst = append(dst, p.Name...)
		dst = append(dst, NameValueSeparator)
		dst = append(dst, p.Value...)
		dst = append(dst, PropertySeparator)
	}
	return dst, nil
}

func checkProperty(p Property) error {
	bad := func(s string) bool { return s == "" || containsSeparator(s) }
	if bad(p.Name) || bad(p.Value) {
		return fmt.Errorf("%w: %q=%q (empty, or holds byte 1 or 2)", ErrProperty, p.Name, p.Value)
	}
	return nil
}

func containsSeparator(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == NameValueSeparator || s[i] == PropertySeparator {
			return true
		}
	}
	return false
}

// AppendPropertyMap appends m as AppendProperties does, sorted by name so
// that the same map always gives the same bytes.
func AppendPropertyMap(dst []byte, m map[string]string) ([]byte, error) {
	props := make([]Property, 0, len(m))
	for k, v := range m {
		props = append(props, Property{k, v})
	}
	slices.SortFunc(props, func(a, b Property) int { return cmp.Compare(a.Name, b.Name) })
	return AppendProperties(dst, props...)
}

// nextProperty splits the first entry off a properties string as
// RocketMQ's string2messageProperties does: the entry ends at the first
// PropertySeparator (or the end), its name at the entry's first
// NameValueSeparator; an entry whose name or value is empty is skipped
// (name nil). rest is what follows the entry's separator.
func nextProperty(b []byte) (name, value, rest []byte) {
	entry := b
	if end := bytes.IndexByte(b, PropertySeparator); end >= 0 {
		entry, rest = b[:end], b[end+1:]
	}
	kv := bytes.IndexByte(entry, NameValueSeparator)
	if kv <= 0 || kv >= len(entry)-1 {
		return nil, nil, rest
	}
	return entry[:kv], entry[kv+1:], rest
}

// ParseProperties returns the properties in b in the order stored,
// duplicates included, skipping what RocketMQ's decoder skips.
func ParseProperties(b []byte) []Property {
	var props []Property
	for len(b) > 0 {
		var name, value []byte
		name, value, b = nextProperty(b)
		if name != nil {
			props = append(props, Property{string(name), string(value)})
		}
	}
	return props
}

// PropertyMap returns the properties in b as RocketMQ's decoder does: a
// map in which a later duplicate replaces an earlier one.
func PropertyMap(b []byte) map[string]string {
	m := make(map[string]string)
	for len(b) > 0 {
		var name, value []byte
		name, value, b = nextProperty(b)
		if name != nil {
			m[string(name)] = string(value)
		}
	}
	return m
}

// Lookup returns the value of property name in b (the last one, as
// PropertyMap), aliasing b, without allocating.
func Lookup(b []byte, name string) (value []byte, ok bool) {
	for len(b) > 0 {
		var n, v []byte
		n, v, b = nextProperty(b)
		if n != nil && string(n) == name {
			value, ok = v, true
		}
	}
	return value, ok
}

// TagsCode returns the hash a consume queue stores for a message's tags
// (RocketMQ's tagsString2tagsCode): Java's String.hashCode of the TAGS
// value, over its UTF-16 code units, sign-extended to 64 bits; 0 for no
// tags. Bytes that are not UTF-8 count as U+FFFD each, which may differ
// from Java's decoder (that replaces a malformed sequence as a whole).
func TagsCode(tags []byte) int64 {
	var h int32
	for len(tags) > 0 {
		r, n := utf8.DecodeRune(tags)
		tags = tags[n:]
		if r >= 0x10000 {
			hi, lo := utf16.EncodeRune(r)
			h = 31*h + hi
			h = 31*h + lo
			continue
		}
		h = 31*h + r
	}
	return int64(h)
}
