package remoting_test

import (
	"strconv"
	"strings"
)

// extFieldsHeader is a header of ser with n extFields entries written by
// hand, not by the encoder: keys the numbers 0..n-1 in base 36, values
// empty, the densest a header holds (6 bytes an entry beside the key in
// both forms: "k":"", and key length, key, value length 0). pad adds one
// more entry whose value is pad bytes of 'x'.
func extFieldsHeader(ser byte, n, pad int) []byte {
	var b []byte
	if ser == 0 {
		b = append(b, `{"code":30,"extFields":{`...)
	} else {
		b = rmqHeader(u32(0), u32(0)) // the extFields length is set below
	}
	at := len(b)
	for i := range n + min(pad, 1) {
		k := strconv.FormatInt(int64(i), 36)
		v := ""
		if i == n {
			k, v = "pad", strings.Repeat("x", pad)
		}
		if ser == 0 {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(append(append(append(b, '"'), k...), `":"`...), v...)
			b = append(b, '"')
			continue
		}
		b = append(append(append(append(b, u16(len(k))...), k...), u32(len(v))...), v...)
	}
	if ser == 0 {
		return append(b, "}}"...)
	}
	copy(b[at-4:], u32(len(b)-at))
	return b
}
