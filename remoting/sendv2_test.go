package remoting_test

import (
	"maps"
	"reflect"
	"testing"

	"github.com/rmqlog/rmqlog/remoting"
)

// TestExpandSendMessageV2: the extFields rocketmq-client-go sends with
// SEND_BATCH_MESSAGE (internal/request.go, SendMessageRequestV2Header)
// come out under SEND_MESSAGE's names (SendMessageRequestHeader.java).
func TestExpandSendMessageV2(t *testing.T) {
	v2 := map[string]string{"a": "pg", "b": "TopicTest", "c": "TBW102", "d": "4", "e": "3", "f": "0",
		"g": "1700000000000", "h": "0", "i": "KEYS\x01k\x02", "j": "0", "k": "false", "l": "16",
		"m": "true", "n": "broker-a"}
	v1 := map[string]string{"producerGroup": "pg", "topic": "TopicTest", "defaultTopic": "TBW102",
		"defaultTopicQueueNums": "4", "queueId": "3", "sysFlag": "0", "bornTimestamp": "1700000000000",
		"flag": "0", "properties": "KEYS\x01k\x02", "reconsumeTimes": "0", "unitMode": "false",
		"maxReconsumeTimes": "16", "batch": "true", "bname": "broker-a"}
	in := maps.Clone(v2)
	if got := remoting.ExpandSendMessageV2(in); !reflect.DeepEqual(got, v1) {
		t.Errorf("expanded to\n%v\nwant\n%v", got, v1)
	}
	if !reflect.DeepEqual(in, v2) {
		t.Errorf("the input changed to %v", in)
	}

	// Other keys pass as they are (an ACL hook's, RpcRequestHeader's);
	// a short key wins over its long name; "o" and "aa" are not short names.
	got := remoting.ExpandSendMessageV2(map[string]string{"b": "short", "topic": "long", "AccessKey": "ak",
		"ns": "n1", "o": "x", "aa": "y"})
	want := map[string]string{"topic": "short", "AccessKey": "ak", "ns": "n1", "o": "x", "aa": "y"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("expanded to %v, want %v", got, want)
	}
	if got := remoting.ExpandSendMessageV2(nil); got == nil || len(got) != 0 {
		t.Errorf("nil expanded to %v", got)
	}

	// SendMessageV2Name is the inverse.
	for short, long := range map[string]string{"a": "producerGroup", "b": "topic", "l": "maxReconsumeTimes", "n": "bname"} {
		if s, ok := remoting.SendMessageV2Name(long); !ok || s != short {
			t.Errorf("SendMessageV2Name(%q) = %q, %v; want %q", long, s, ok, short)
		}
	}
	for long := range v1 {
		s, ok := remoting.SendMessageV2Name(long)
		if !ok || v2[s] != v1[long] {
			t.Errorf("SendMessageV2Name(%q) = %q, %v", long, s, ok)
		}
	}
	if s, ok := remoting.SendMessageV2Name("brokerName"); ok {
		t.Errorf("brokerName has a short name %q (the long one is bname)", s)
	}
}
