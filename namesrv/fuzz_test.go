package namesrv

import (
	"reflect"
	"testing"
	"unicode/utf8"
)

// FuzzParseRoute: ParseRoute never panics, and reads back every route
// of valid UTF-8 names encodeRoute writes, in both forms.
func FuzzParseRoute(f *testing.F) {
	f.Add([]byte(`{"brokerDatas":[{"brokerAddrs":{0:"a:1",1:"b:2"},"brokerName":"x","cluster":"c"}],"queueDatas":[]}`),
		"broker-a", "10.0.0.1:10911", int64(1), 4)
	f.Add([]byte(`{"brokerAddrs":{-1:"\\"0:\\"",,}`), "b,0:", `"q":1`, int64(-7), 0)
	f.Fuzz(func(t *testing.T, raw []byte, name, addr string, id int64, n int) {
		ParseRoute(raw)
		if !utf8.ValidString(name) || !utf8.ValidString(addr) {
			return // JSON carries text: encoding/json writes U+FFFD for invalid bytes
		}
		r := Route{
			QueueDatas:  []QueueData{{BrokerName: name, ReadQueueNums: n, WriteQueueNums: n, Perm: 6}},
			BrokerDatas: []BrokerData{{Cluster: "c", BrokerName: name, Addrs: map[int64]string{0: addr, id: name}}},
		}
		for _, standard := range []bool{false, true} {
			got, err := ParseRoute(encodeRoute(r, standard))
			if err != nil || !reflect.DeepEqual(got, r) {
				t.Fatalf("standard=%v: %+v, %v; want %+v", standard, got, err, r)
			}
		}
	})
}
