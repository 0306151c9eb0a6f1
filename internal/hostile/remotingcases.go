package hostile

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rmqlog/rmqlog/commitlog"
	"github.com/rmqlog/rmqlog/remoting"
	"github.com/rmqlog/rmqlog/remoting/rpc"
)

// The remoting port's table (a broker's listenPort) and the name server's:
// both are served by remoting/rpc, which closes a connection on a frame
// that does not decode, logging it once.
func remotingCases() []kase {
	closing := regexp.MustCompile(`remoting: closing connection`)
	return []kase{
		{name: "malformed-frames", port: "remoting", reason: closing, run: malformedFrames},
		{name: "length-lies-bigger-idle", port: "remoting", run: remotingLengthBigger},
		{name: "truncated-then-close", port: "remoting", run: remotingTruncated},
		{name: "unknown-codes", port: "remoting", run: unknownCodes},
		{name: "many-ext-fields", port: "remoting", run: manyExtFields},
		{name: "too-many-ext-fields", port: "remoting", reason: overLimits, run: tooManyExtFields},
		{name: "send-garbage", port: "remoting", run: sendGarbage},
		{name: "pull-garbage", port: "remoting", run: pullGarbage},
		{name: "slowloris", port: "remoting", run: remotingSlowloris},
		{name: "idle-connections", port: "remoting", run: remotingIdle, longOnly: true},
		{name: "idle-to-limit", port: "remoting", run: remotingIdleToLimit},
		{name: "flood", port: "remoting", run: remotingFlood},
		{name: "stored-messages-decode", port: "remoting", run: storedMessages},
		{name: "suspended-pulls-with-bodies", port: "remoting", run: suspendedPulls},
	}
}

func namesrvCases() []kase {
	closing := regexp.MustCompile(`remoting: closing connection`)
	return []kase{
		{name: "malformed-frames", port: "namesrv", reason: closing, run: malformedFrames},
		{name: "length-lies-bigger-idle", port: "namesrv", run: remotingLengthBigger, longOnly: true},
		{name: "unknown-codes", port: "namesrv", run: unknownCodes},
		{name: "many-ext-fields", port: "namesrv", run: manyExtFields, longOnly: true},
		{name: "too-many-ext-fields", port: "namesrv", reason: overLimits, run: tooManyExtFields, longOnly: true},
		{name: "register-garbage", port: "namesrv", run: registerGarbage},
		{name: "slowloris", port: "namesrv", run: remotingSlowloris, longOnly: true},
		{name: "idle-connections", port: "namesrv", run: remotingIdle, longOnly: true},
		{name: "flood", port: "namesrv", run: remotingFlood},
	}
}

// remoting dials the case's port: the broker's or the name server's.
func (e *env) remoting() (*probe, error) {
	if e.port == "namesrv" {
		return e.dial(e.r.t.NamesrvAddr)
	}
	return e.dial(e.r.t.RemotingAddr)
}

// valid is a request the case's port serves with SUCCESS: GET_MAX_OFFSET
// of the topic's queue 0 on a broker, its route on a name server.
func (e *env) valid(ser remoting.SerializeType) []byte { return encode(e.validCmd(ser)) }

// validCmd is valid's command, for a case to add to before encoding it.
func (e *env) validCmd(ser remoting.SerializeType) *remoting.Command {
	code, ext := remoting.GetMaxOffset, map[string]string{"topic": e.r.t.Topic, "queueId": "0"}
	if e.port == "namesrv" {
		code, ext = remoting.GetRouteInfoByTopic, map[string]string{"topic": e.r.t.Topic}
	}
	c := remoting.NewRequest(code, ext, nil)
	c.Serialize = ser
	return c
}

func encode(c *remoting.Command) []byte {
	b, err := c.AppendFrame(nil)
	if err != nil {
		panic(fmt.Sprintf("hostile: encoding code %d: %v", c.Code, err))
	}
	return b
}

// request encodes a JSON request.
func request(code remoting.RequestCode, ext map[string]string, body []byte) []byte {
	return encode(remoting.NewRequest(code, ext, body))
}

// rocketmq encodes a ROCKETMQ-serialized request.
func rocketmq(code remoting.RequestCode, ext map[string]string) []byte {
	c := remoting.NewRequest(code, ext, nil)
	c.Serialize = remoting.SerializeRocketMQ
	return encode(c)
}

// reframe rewrites a frame whose header is hdr and body body: the length
// word and the header length word from what is there.
func reframe(ser byte, hdr, body []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(4+len(hdr)+len(body)))
	b = binary.BigEndian.AppendUint32(b, uint32(ser)<<24|uint32(len(hdr)))
	return append(append(b, hdr...), body...)
}

// header returns a frame's header bytes.
func header(f []byte) []byte { return f[8 : 8+binary.BigEndian.Uint32(f[4:])&(1<<24-1)] }

// malformedFrames are frames the codec refuses, one per connection: the
// node must close each, and log it once.
func malformedFrames(e *env) error {
	jsonHdr := header(e.valid(remoting.SerializeJSON))
	rmq := header(e.valid(remoting.SerializeRocketMQ)) // code .. flag (13), remark len (4), ext len (4), entries
	put := func(b []byte, at int, v uint32) []byte {
		b = slices.Clone(b)
		binary.BigEndian.PutUint32(b[at:], v)
		return b
	}
	big := make([]byte, 4+1<<10)
	frames := map[string][]byte{
		"length under 4":         {0, 0, 0, 2, 0, 0},
		"negative length":        append([]byte{0xff, 0xff, 0xff, 0xf0}, big...),
		"length 16 MiB + 1":      put(big, 0, 16<<20-3),
		"length 2 GiB - 1":       put(big, 0, math.MaxInt32),
		"header beyond frame":    put(reframe(0, jsonHdr, nil), 4, 1000),
		"serialize type 7":       reframe(7, jsonHdr, nil),
		"truncated JSON":         reframe(0, jsonHdr[:len(jsonHdr)/2], nil),
		"JSON array":             reframe(0, []byte(`[1,2,3]`), nil),
		"JSON bad language":      reframe(0, []byte(`{"code":30,"language":"KLINGON","opaque":1}`), nil),
		"JSON code overflow":     reframe(0, []byte(`{"code":99999999999,"opaque":1}`), nil),
		"ROCKETMQ truncated":     reframe(1, rmq[:10], nil),
		"ROCKETMQ negative":      reframe(1, put(rmq, 13, 0xfffffff0), nil),
		"ROCKETMQ huge extsize":  reframe(1, put(rmq, 17, 1<<30), nil),
		"ROCKETMQ key len lies":  reframe(1, put(rmq, 21, 0x7000_0000|uint32(binary.BigEndian.Uint16(rmq[23:]))), nil),
		"ROCKETMQ bytes after":   reframe(1, append(slices.Clone(rmq), 1, 2, 3), nil),
		"ROCKETMQ value len lie": reframe(1, put(rmq, len(rmq)-len(e.r.t.Topic)-4, 1<<30), nil),
	}
	var errs []error
	for _, name := range slices.Sorted(mapsKeys(frames)) {
		if err := e.sendRemoting(frames[name], false, true, nil, "close"); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

func mapsKeys(m map[string][]byte) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// sendRemoting sends b on a new connection, optionally half-closes it,
// reads the answers and checks them: want is the answers' codes in any
// order, then "close" or "open". A nil check accepts any.
func (e *env) sendRemoting(b []byte, fin, logged bool, check func([]string) error, want ...string) error {
	p, err := e.remoting()
	if err != nil {
		return err
	}
	if logged {
		p.mustLog()
	}
	if err := p.send(b, 10*time.Second); err != nil && want[len(want)-1] != "close" {
		return fmt.Errorf("connection %s: %w", p.addr, err)
	}
	if fin {
		p.halfClose()
	}
	got := p.remotingAnswers(answerWait, len(want)-1)
	e.answered(inOrder(got))
	if check != nil {
		return check(got)
	}
	return expectAnyOrder(p, got, want)
}

// inOrder sorts answers whose order the server does not keep (handlers
// run concurrently): all but the last element, which says how the reading
// ended.
func inOrder(s []string) []string {
	if len(s) == 0 {
		return s
	}
	head := slices.Clone(s[:len(s)-1])
	slices.Sort(head)
	return append(head, s[len(s)-1])
}

// expectAnyOrder compares answers as inOrder sorts them.
func expectAnyOrder(p *probe, got, want []string) error {
	if !slices.Equal(inOrder(got), inOrder(want)) {
		return fmt.Errorf("connection %s: the node answered %s, want %s", p.addr, strings.Join(got, "+"), strings.Join(want, "+"))
	}
	return nil
}

// remotingAnswers reads up to n responses within d (n < 0: any number)
// and returns their codes' names, then "close" or "open" (see frames):
// once n came, it waits only quietWait more.
func (p *probe) remotingAnswers(d time.Duration, n int) []string {
	out := p.responses(d, n)
	if len(out) == n {
		out = append(out, p.responses(quietWait, -1)...)
	}
	return out
}

// responses reads up to n responses (n < 0: any number) within d and
// returns their codes' names; if the reading ended first, the last
// element says how ("close", "open").
func (p *probe) responses(d time.Duration, n int) []string {
	p.nc.SetReadDeadline(time.Now().Add(d))
	if p.rd == nil {
		p.rd = remoting.NewReader(p.nc, 0)
	}
	var out []string
	for len(out) != n {
		c, err := p.rd.ReadCommand()
		if err != nil {
			if errors.Is(err, remoting.ErrShortFrame) || errors.Is(err, io.EOF) {
				err = io.EOF
			}
			return append(out, endOf(err))
		}
		out = append(out, remoting.ResponseCode(c.Code).String())
	}
	return out
}

// remotingLengthBigger: frames that announce 8 MiB and send 1 KiB (every
// 8th 256 KiB), left idle: the node waits, holding no more than it got.
func remotingLengthBigger(e *env) error {
	f := e.r.f
	var wg sync.WaitGroup
	errs := make([]error, f.lyingConns)
	for i := range f.lyingConns {
		p, err := e.remoting()
		if err != nil {
			return err
		}
		send := 1 << 10
		if i%8 == 0 {
			send = 256 << 10
		}
		b := make([]byte, 8+send)
		binary.BigEndian.PutUint32(b, 8<<20)
		binary.BigEndian.PutUint32(b[4:], 64)
		if err := p.send(b, 10*time.Second); err != nil {
			return fmt.Errorf("connection %s: %w", p.addr, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			got := p.remotingAnswers(f.lyingHold, -1)
			e.answered(got)
			errs[i] = expectAnyOrder(p, got, []string{"open"})
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// remotingTruncated: a valid request cut at several places, then FIN:
// the node closes (a stream that ends inside a frame is no bad frame, and
// need not be logged).
func remotingTruncated(e *env) error {
	b := request(remoting.SendMessage, sendExt(e.r.t.Topic), make([]byte, 1000))
	var errs []error
	for _, cut := range []int{1, 4, 9, 40, len(b) - 1} {
		errs = append(errs, e.sendRemoting(b[:cut], true, false, nil, "close"))
	}
	return errors.Join(errs...)
}

// unknownCodes: requests of codes nobody serves, in both serializations,
// then a valid one on the same connection: each is answered
// REQUEST_CODE_NOT_SUPPORTED and the connection stays.
func unknownCodes(e *env) error {
	ns := remoting.RequestCodeNotSupported.String()
	var b []byte
	for _, code := range []remoting.RequestCode{9999, remoting.EndTransaction, remoting.PopMessage, -7} {
		b = append(b, request(code, map[string]string{"x": "y"}, []byte("body"))...)
	}
	b = append(b, rocketmq(32000, nil)...)
	b = append(b, e.valid(remoting.SerializeJSON)...)
	return e.sendRemoting(b, false, false, nil, ns, ns, ns, ns, ns, "SUCCESS", "open")
}

// manyExtFields: valid requests of remoting.MaxExtFields extFields, the
// most the codec takes (JSON and ROCKETMQ): decoded, answered, forgotten.
func manyExtFields(e *env) error {
	var b []byte
	for _, ser := range []remoting.SerializeType{remoting.SerializeJSON, remoting.SerializeRocketMQ} {
		b = append(b, encode(withExtFields(e.validCmd(ser), remoting.MaxExtFields))...)
	}
	return e.sendRemoting(b, false, false, nil, "SUCCESS", "SUCCESS", "open")
}

// overLimits is the log line of a header over the codec's limits.
var overLimits = regexp.MustCompile(`remoting: closing connection.*remoting\.Max(ExtFields|HeaderLength)`)

// tooManyExtFields: requests over the codec's limits, one a connection,
// each closed and logged naming the limit: a valid request with one entry
// over remoting.MaxExtFields; the form's count of entries (20,000 in 0.2
// MiB, or 10^6 in 13 MiB, over remoting.MaxHeaderLength too); and as many
// empty entries as a header of MaxHeaderLength holds, 6 bytes each. The
// large ones are written by hand: the encoder sorts a map's keys, seconds
// for 10^6, which the case's time would count.
func tooManyExtFields(e *env) error {
	var errs []error
	for _, ser := range []remoting.SerializeType{remoting.SerializeJSON, remoting.SerializeRocketMQ} {
		n := e.r.f.extFields
		densest := (remoting.MaxHeaderLength - 64) / 6
		frames := []struct {
			name string
			b    []byte
		}{
			{"MaxExtFields+1", encode(withExtFields(e.validCmd(ser), remoting.MaxExtFields+1))},
			{strconv.Itoa(n), extFieldsFrame(ser, n, func(i int) string { return "k" + strconv.Itoa(i) }, "v")},
			{strconv.Itoa(densest), extFieldsFrame(ser, densest, func(int) string { return "" }, "")},
		}
		for _, f := range frames {
			if err := e.sendRemoting(f.b, false, true, nil, "close"); err != nil {
				errs = append(errs, fmt.Errorf("%v, %s extFields: %w", ser, f.name, err))
			}
		}
	}
	return errors.Join(errs...)
}

// withExtFields adds entries to c's extFields until it has n.
func withExtFields(c *remoting.Command, n int) *remoting.Command {
	for i := 0; len(c.ExtFields) < n; i++ {
		c.ExtFields["k"+strconv.Itoa(i)] = "v"
	}
	return c
}

// extFieldsFrame is a GET_MAX_OFFSET request (language GO, opaque 1)
// whose header holds n extFields entries, key(i) and value, written by
// hand in ser's layout.
func extFieldsFrame(ser remoting.SerializeType, n int, key func(i int) string, value string) []byte {
	if ser == remoting.SerializeJSON {
		b := []byte(`{"code":30,"language":"GO","opaque":1,"extFields":{`)
		for i := range n {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendQuote(append(strconv.AppendQuote(b, key(i)), ':'), value)
		}
		return reframe(0, append(b, "}}"...), nil)
	}
	// code, language, version, opaque, flag, an empty remark; then the
	// extFields length, set below
	b := []byte{0, 30, byte(remoting.LanguageGo), 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	for i := range n {
		k := key(i)
		b = append(binary.BigEndian.AppendUint16(b, uint16(len(k))), k...)
		b = append(binary.BigEndian.AppendUint32(b, uint32(len(value))), value...)
	}
	binary.BigEndian.PutUint32(b[17:], uint32(len(b)-21))
	return reframe(1, b, nil)
}

// garbage is one request of a table and what its answer must be.
type garbage struct {
	name string
	req  []byte
	// fail: the answer must not be SUCCESS (the request cannot be
	// served); otherwise any answer will do.
	fail bool
}

// runGarbage sends each request on one connection, one at a time, then a
// valid one: every request answered, the connection kept.
func (e *env) runGarbage(table []garbage) error {
	p, err := e.remoting()
	if err != nil {
		return err
	}
	var errs []error
	for _, g := range append(table, garbage{name: "valid", req: e.valid(remoting.SerializeJSON)}) {
		if err := p.send(g.req, 10*time.Second); err != nil {
			return fmt.Errorf("connection %s: %s: %w", p.addr, g.name, err)
		}
		a := p.responses(answerWait, 1)
		e.answered(a)
		switch {
		case a[0] == "open" || a[0] == "close" || strings.HasPrefix(a[0], "garbage"):
			errs = append(errs, fmt.Errorf("connection %s: %s: the node answered %s", p.addr, g.name, a[0]))
			return errors.Join(errs...)
		case g.name == "valid" && a[0] != "SUCCESS", g.fail && a[0] == "SUCCESS":
			errs = append(errs, fmt.Errorf("connection %s: %s: answered %s", p.addr, g.name, a[0]))
		}
		e.r.logf("hostile: %s: %s", g.name, a[0])
	}
	end := p.remotingAnswers(quietWait, -1)
	e.answered([]string{"then " + end[0]})
	if !slices.Equal(end, []string{"open"}) {
		errs = append(errs, fmt.Errorf("connection %s: after the requests: %s, want open", p.addr, strings.Join(end, "+")))
	}
	return errors.Join(errs...)
}

// with returns ext with the pairs set (value "\x00" deletes the key).
func with(ext map[string]string, kv ...string) map[string]string {
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == "\x00" {
			delete(ext, kv[i])
		} else {
			ext[kv[i]] = kv[i+1]
		}
	}
	return ext
}

// batchMsg is one message of a batch body (MessageDecoder.encodeMessages)
// with its lengths as given.
func batchMsg(total, bodyLen uint32, body []byte, propLen uint16, props []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, total)
	b = binary.BigEndian.AppendUint32(b, 0) // magic
	b = binary.BigEndian.AppendUint32(b, 0) // body CRC
	b = binary.BigEndian.AppendUint32(b, 0) // flag
	b = binary.BigEndian.AppendUint32(b, bodyLen)
	b = append(b, body...)
	b = binary.BigEndian.AppendUint16(b, propLen)
	return append(b, props...)
}

func sendGarbage(e *env) error {
	t := e.r.t.Topic
	send := func(body []byte, kv ...string) []byte {
		return request(remoting.SendMessage, with(sendExt(t), kv...), body)
	}
	batch := func(body []byte) []byte { return request(remoting.SendBatchMessage, sendExt(t), body) }
	ok := batchMsg(22+5, 5, []byte("hello"), 0, nil)
	return e.runGarbage([]garbage{
		{"no topic", send([]byte("x"), "topic", "\x00"), true},
		{"unknown topic", send([]byte("x"), "topic", "NoSuchTopicHostile"), true},
		{"queueId abc", send([]byte("x"), "queueId", "abc"), false},
		{"queueId 99999", send([]byte("x"), "queueId", "99999"), true},
		{"queueId -5", send([]byte("x"), "queueId", "-5"), false},
		{"queueId 2^31", send([]byte("x"), "queueId", "2147483648"), false},
		{"sysFlag -1", send([]byte("x"), "sysFlag", "-1"), false},
		{"sysFlag prepared", send([]byte("x"), "sysFlag", "4"), true},
		{"bornTimestamp x", send([]byte("x"), "bornTimestamp", "x"), false},
		{"properties binary", send([]byte("x"), "properties", "\x01\x02\x03"), false},
		{"delay level 999", send([]byte("x"), "properties", "DELAY\x01999\x02"), false},
		{"delay level -3", send([]byte("x"), "properties", "DELAY\x01-3\x02"), false},
		{"reconsumeTimes huge", send([]byte("x"), "reconsumeTimes", "99999999999999"), false},
		{"no body", send(nil), false},
		{"body over maxMessageSize", send(make([]byte, 4<<20+1)), true},
		{"V2 garbage", request(remoting.SendMessageV2, map[string]string{"a": "hostile", "b": t, "e": "zz", "f": "-9"}, []byte("x")), false},
		{"batch empty", batch(nil), true},
		{"batch short", batch(make([]byte, 19)), true},
		{"batch total 1e9", batch(batchMsg(1e9, 5, []byte("hello"), 0, nil)), true},
		{"batch total under header", batch(batchMsg(10, 5, []byte("hello"), 0, nil)), true},
		{"batch body length lies", batch(batchMsg(22+5, 1e9, []byte("hello"), 0, nil)), true},
		{"batch body length negative", batch(batchMsg(22+5, 0xffffff00, []byte("hello"), 0, nil)), true},
		{"batch props length lies", batch(batchMsg(22+5, 5, []byte("hello"), 60000, nil)), true},
		{"batch good then lying", batch(append(slices.Clone(ok), batchMsg(1e6, 5, []byte("hello"), 0, nil)...)), true},
	})
}

func pullGarbage(e *env) error {
	t := e.r.t.Topic
	pull := func(kv ...string) []byte { return request(remoting.PullMessage, with(pullExt(t, 0), kv...), nil) }
	return e.runGarbage([]garbage{
		{"maxMsgNums 2^31-1", pull("maxMsgNums", "2147483647"), false},
		{"maxMsgNums overflow", pull("maxMsgNums", "99999999999999999999"), false},
		{"maxMsgNums -1", pull("maxMsgNums", "-1"), false},
		{"queueId -1", pull("queueId", "-1"), false},
		{"queueId 2^31", pull("queueId", "2147483648"), false},
		{"queueOffset -1", pull("queueOffset", "-1"), false},
		{"queueOffset max", pull("queueOffset", "9223372036854775807"), false},
		{"queueOffset abc", pull("queueOffset", "abc"), false},
		{"no topic", pull("topic", "\x00"), false},
		{"unknown topic", pull("topic", "NoSuchTopicHostile"), false},
		{"suspend negative", pull("sysFlag", "2", "suspendTimeoutMillis", "-5", "queueOffset", "9223372036854775807"), false},
		{"commit offset garbage", pull("sysFlag", "1", "commitOffset", "-9", "consumerGroup", ""), false},
		{"subscription garbage", pull("subscription", "|| ||| *||\x00\xff"), false},
		{"pull with a 1 MiB body", request(remoting.PullMessage, pullExt(t, 0), make([]byte, 1<<20)), false},
	})
}

// registerGarbage: REGISTER_BROKER with bad headers and bodies; a name
// server must refuse each without registering anything.
func registerGarbage(e *env) error {
	reg := func(body []byte, kv ...string) []byte {
		ext := map[string]string{"clusterName": "HostileCluster", "brokerName": "HostileFake", "brokerAddr": "127.0.0.1:1",
			"haServerAddr": "127.0.0.1:2", "brokerId": "0", "bodyCrc32": "0"}
		c := remoting.NewRequest(remoting.RegisterBroker, with(ext, kv...), body)
		c.Version = 479
		return encode(c)
	}
	return e.runGarbage([]garbage{
		{"no fields", encode(remoting.NewRequest(remoting.RegisterBroker, nil, nil)), true},
		{"no brokerAddr", reg(nil, "brokerAddr", "\x00"), true},
		{"brokerId x", reg(nil, "brokerId", "x"), true},
		{"bodyCrc32 mismatch", reg([]byte(`{}`), "bodyCrc32", "12345"), true},
		{"bodyCrc32 x", reg([]byte(`{}`), "bodyCrc32", "x"), true},
		{"truncated JSON body", reg([]byte(`{"topicConfigSerializeWrapper":{"topicConfigTable":{"A":{"topicName`)), true},
		{"body not JSON", reg(make([]byte, 1<<20)), true},
		{"compressed", reg([]byte(`{}`), "compressed", "true"), true},
		{"unregister garbage", encode(remoting.NewRequest(remoting.UnregisterBroker, map[string]string{"brokerId": "-x"}, nil)), true},
		{"route no topic", encode(remoting.NewRequest(remoting.GetRouteInfoByTopic, nil, nil)), true},
	})
}

// remotingSlowloris sends one valid request (ROCKETMQ form, the shortest)
// a byte per trickleStep: the node answers it once it is complete.
func remotingSlowloris(e *env) error {
	p, err := e.remoting()
	if err != nil {
		return err
	}
	b := e.valid(remoting.SerializeRocketMQ)
	tick := time.NewTicker(e.r.f.trickleStep)
	defer tick.Stop()
	for k := range b {
		<-tick.C
		if err := p.send(b[k:k+1], time.Second); err != nil {
			return fmt.Errorf("connection %s: byte %d: %w", p.addr, k, err)
		}
	}
	got := p.remotingAnswers(answerWait, 1)
	e.answered(got)
	return expectAnyOrder(p, got, []string{"SUCCESS", "open"})
}

// remotingIdle opens remotingIdle connections and leaves them idle for
// idleHold; the bystander must keep working meanwhile.
func remotingIdle(e *env) error {
	var probes []*probe
	for range e.r.f.remotingIdle {
		p, err := e.remoting()
		if err != nil {
			return err
		}
		probes = append(probes, p)
	}
	select {
	case <-e.ctx.Done():
	case <-time.After(e.r.f.idleHold):
	}
	for _, p := range probes {
		if p.peerClosed() {
			e.answered([]string{"close"})
		} else {
			e.answered([]string{"open"})
		}
	}
	return nil
}

// remotingFlood: floodConns connections each pipeline floodReqs valid
// requests (on a broker every 10th a send) while reading the answers:
// every one answered SUCCESS.
func remotingFlood(e *env) error {
	f := e.r.f
	var wg sync.WaitGroup
	errs := make([]error, f.floodConns)
	for i := range f.floodConns {
		p, err := e.remoting()
		if err != nil {
			return err
		}
		var b []byte
		for k := range f.floodReqs {
			if e.port == "remoting" && k%10 == 0 {
				b = append(b, request(remoting.SendMessage, sendExt(e.r.t.Topic), []byte("flood"))...)
			} else {
				b = append(b, e.valid(remoting.SerializeJSON)...)
			}
		}
		wg.Add(2)
		go func() { defer wg.Done(); p.send(b, 30*time.Second) }()
		go func() {
			defer wg.Done()
			got := p.remotingAnswers(30*time.Second, f.floodReqs)
			n := 0
			for _, a := range got {
				if a == "SUCCESS" {
					n++
				}
			}
			e.answered([]string{fmt.Sprintf("%d SUCCESS of %d", n, f.floodReqs), got[len(got)-1]})
			if n != f.floodReqs || got[len(got)-1] != "open" {
				errs[i] = fmt.Errorf("connection %s: %d of %d requests answered SUCCESS, then %s", p.addr, n, f.floodReqs, got[len(got)-1])
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// storedMessages pulls every message of the topic's queues from 0 (64 a
// pull, maxMsgNums asking for more) and decodes each: whatever the
// garbage sends stored must be a message the broker's own decoder reads,
// at its queue and offset.
func storedMessages(e *env) error {
	p, err := e.remoting()
	if err != nil {
		return err
	}
	cl := rpc.NewClient(p.nc, 0)
	var errs []error
	total := 0
	for qid := range 2 {
		for off := int64(0); len(errs) < 3; {
			ctx, cancel := context.WithTimeout(e.ctx, answerWait)
			ext := with(pullExt(e.r.t.Topic, off), "queueId", strconv.Itoa(qid), "maxMsgNums", "100000")
			resp, err := cl.Invoke(ctx, remoting.NewRequest(remoting.PullMessage, ext, nil))
			cancel()
			if err != nil {
				return fmt.Errorf("queue %d offset %d: %w", qid, off, err)
			}
			if resp.Code != int32(remoting.Success) {
				e.answered([]string{fmt.Sprintf("queue %d: %d messages, then %v", qid, off, remoting.ResponseCode(resp.Code))})
				break
			}
			n, err := decodeAll(resp.Body, int32(qid), off)
			if err != nil {
				errs = append(errs, fmt.Errorf("queue %d: %w", qid, err))
			}
			if n > 64 {
				errs = append(errs, fmt.Errorf("queue %d offset %d: %d messages in one pull, the cap is 64", qid, off, n))
			}
			next, _ := strconv.ParseInt(resp.ExtFields["nextBeginOffset"], 10, 64)
			if next <= off {
				errs = append(errs, fmt.Errorf("queue %d offset %d: nextBeginOffset %d", qid, off, next))
				break
			}
			off, total = next, total+n
		}
	}
	return errors.Join(errs...)
}

// decodeAll decodes the messages of a pull's body, which must be of queue
// qid from offset off on.
func decodeAll(b []byte, qid int32, off int64) (int, error) {
	n := 0
	for len(b) > 0 {
		m, size, err := commitlog.Decode(b)
		if err != nil {
			return n, fmt.Errorf("message %d of a pull from offset %d: %w", n, off, err)
		}
		if m.QueueID != qid || m.QueueOffset != off+int64(n) {
			return n, fmt.Errorf("message %d of a pull from offset %d is queue %d offset %d", n, off, m.QueueID, m.QueueOffset)
		}
		b, n = b[size:], n+1
	}
	return n, nil
}

// suspendedPulls: long-polling pulls (nothing new in the queue, a
// suspend of pullHold) that each carry a body of pullBody bytes, a full
// in-flight window of them on each of pullConns connections. A pull needs
// no body: the node must not hold them all while the pulls wait.
func suspendedPulls(e *env) error {
	f := e.r.f
	t := e.r.t.Topic
	p0, err := e.remoting()
	if err != nil {
		return err
	}
	cl := rpc.NewClient(p0.nc, 0)
	ctx, cancel := context.WithTimeout(e.ctx, answerWait)
	defer cancel()
	// Queue 1: the bystander and the flood send to queue 0.
	resp, err := cl.Invoke(ctx, remoting.NewRequest(remoting.GetMaxOffset, map[string]string{"topic": t, "queueId": "1"}, nil))
	if err != nil {
		return err
	}
	ext := with(pullExt(t, 0), "queueId", "1", "queueOffset", resp.ExtFields["offset"], "sysFlag", "2",
		"suspendTimeoutMillis", strconv.Itoa(int(f.pullHold/time.Millisecond)))
	var wg sync.WaitGroup
	errs := make([]error, f.pullConns)
	for i := range f.pullConns {
		p, err := e.remoting()
		if err != nil {
			return err
		}
		var b []byte
		for range rpcMaxInFlight {
			b = append(b, request(remoting.PullMessage, ext, make([]byte, f.pullBody))...)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.send(b, 30*time.Second); err != nil {
				errs[i] = fmt.Errorf("connection %s: %w", p.addr, err)
				return
			}
			got := p.remotingAnswers(f.pullHold+answerWait, rpcMaxInFlight)
			e.answered([]string{fmt.Sprintf("%d answers, then %s", len(got)-1, got[len(got)-1])})
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// rpcMaxInFlight is remoting/rpc's DefaultMaxInFlight: the requests of
// one connection whose handlers run at once.
const rpcMaxInFlight = 64

// remotingIdleToLimit opens MaxConnections + idleExtra idle connections:
// the port must keep a bound (as the client port keeps
// clientMaxConnections) and close the rest, since every descriptor the
// remoting port holds is one the peer and client ports cannot accept.
func remotingIdleToLimit(e *env) error {
	limit, n := e.r.t.MaxConnections, e.r.t.MaxConnections+e.r.f.idleExtra
	var probes []*probe
	for range n {
		p, err := e.remoting()
		if err != nil {
			return err
		}
		probes = append(probes, p)
	}
	select {
	case <-e.ctx.Done():
	case <-time.After(e.r.f.idleHold):
	}
	open := 0
	for _, p := range probes {
		if p.peerClosed() {
			e.answered([]string{"close"})
		} else {
			open++
			e.answered([]string{"open"})
		}
	}
	if open > limit {
		return fmt.Errorf("%d of %d idle connections stayed open, over a bound of %d (the client port's clientMaxConnections)", open, n, limit)
	}
	return nil
}
