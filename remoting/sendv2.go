package remoting

// sendV2Names maps SendMessageRequestHeaderV2's one-letter field names to
// SendMessageRequestHeader's (remoting/protocol/header/
// SendMessageRequestHeaderV2.java, createSendMessageRequestHeaderV1).
// n, the broker's name, lands in the field SendMessageRequestHeader
// inherits from RpcRequestHeader, whose name is bname.
var sendV2Names = [...]struct{ short, long string }{
	{"a", "producerGroup"},
	{"b", "topic"},
	{"c", "defaultTopic"},
	{"d", "defaultTopicQueueNums"},
	{"e", "queueId"},
	{"f", "sysFlag"},
	{"g", "bornTimestamp"},
	{"h", "flag"},
	{"i", "properties"},
	{"j", "reconsumeTimes"},
	{"k", "unitMode"},
	{"l", "maxReconsumeTimes"},
	{"m", "batch"},
	{"n", "bname"},
}

// ExpandSendMessageV2 returns the extFields of a SEND_MESSAGE_V2 or
// SEND_BATCH_MESSAGE request, whose header names its fields a to n, under
// SEND_MESSAGE's long names (producerGroup, topic, ..., bname), so one
// parser serves all three codes, as the Java broker's
// SendMessageRequestHeader.parseRequestHeader does. A key that is not one
// of a..n is copied as it is; a short key wins over its long name. ext is
// not modified. Both clients send SEND_BATCH_MESSAGE this way;
// rocketmq-client-go sends single messages as SEND_MESSAGE with long names.
func ExpandSendMessageV2(ext map[string]string) map[string]string {
	out := make(map[string]string, len(ext))
	for k, v := range ext {
		if _, ok := sendV2Long(k); !ok {
			out[k] = v
		}
	}
	for _, n := range sendV2Names {
		if v, ok := ext[n.short]; ok {
			out[n.long] = v
		}
	}
	return out
}

// SendMessageV2Name returns the one-letter name SEND_MESSAGE_V2 and
// SEND_BATCH_MESSAGE give the field SEND_MESSAGE calls long ("topic" is
// "b"), to read one field without expanding the map.
func SendMessageV2Name(long string) (short string, ok bool) {
	for _, n := range sendV2Names {
		if n.long == long {
			return n.short, true
		}
	}
	return "", false
}

func sendV2Long(short string) (string, bool) {
	if len(short) == 1 && short[0] >= 'a' && short[0] <= 'n' {
		return sendV2Names[short[0]-'a'].long, true
	}
	return "", false
}
