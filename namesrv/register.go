package namesrv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rmqlog/rmqlog/remoting"
	"github.com/rmqlog/rmqlog/remoting/rpc"
)

// Registration is what a broker tells the name servers about itself
// (REGISTER_BROKER's header and body).
type Registration struct {
	ClusterName  string // brokerClusterName
	BrokerName   string // brokerName: the group a master and its slaves share
	BrokerAddr   string // host:port clients reach the broker at
	BrokerID     int64  // MasterID for the master, > 0 for a slave
	HAServerAddr string // host:port of the broker's replication, "" when none
	// Topics are the broker's topics, by name.
	Topics map[string]TopicConfig
	// DataVersion is the version of Topics; the name server stores it only.
	DataVersion DataVersion
	// HeartbeatTimeout asks the name servers to forget the broker after
	// this long without a registration (0: their default, 120 s).
	HeartbeatTimeout time.Duration
}

// Result is one name server's answer to a registration.
type Result struct {
	NameServer string
	// MasterAddr and HAServerAddr: the master of a registering slave, when
	// the name server knows a live one.
	MasterAddr, HAServerAddr string
	Err                      error
}

// ParseAddrs splits a namesrvAddr value ("host:port;host:port"), as
// RocketMQ does, dropping empty entries and spaces.
func ParseAddrs(namesrvAddr string) []string {
	var addrs []string
	for _, a := range strings.Split(namesrvAddr, ";") {
		if a = strings.TrimSpace(a); a != "" {
			addrs = append(addrs, a)
		}
	}
	return addrs
}

// Register registers reg with every name server of addrs at once, as a
// RocketMQ broker does, each over a connection of its own that lasts one
// request. It returns one Result per address, in order, and the failures
// joined (nil when every name server took the registration).
func Register(ctx context.Context, addrs []string, reg Registration) ([]Result, error) {
	body, err := registrationBody(reg)
	if err != nil {
		return nil, err
	}
	ext := reg.header()
	ext["bodyCrc32"] = strconv.FormatInt(int64(crc32.ChecksumIEEE(body)&0x7FFFFFFF), 10)
	return each(ctx, addrs, func() *remoting.Command {
		req := remoting.NewRequest(remoting.RegisterBroker, ext, body)
		req.Version = brokerVersion // a Java name server reads the body by the version
		return req
	})
}

// Unregister tells every name server of addrs that reg's broker leaves.
func Unregister(ctx context.Context, addrs []string, reg Registration) ([]Result, error) {
	ext := map[string]string{"brokerName": reg.BrokerName, "brokerAddr": reg.BrokerAddr,
		"clusterName": reg.ClusterName, "brokerId": strconv.FormatInt(reg.BrokerID, 10)}
	return each(ctx, addrs, func() *remoting.Command {
		return remoting.NewRequest(remoting.UnregisterBroker, ext, nil)
	})
}

// header returns REGISTER_BROKER's header fields (RegisterBrokerRequestHeader).
func (reg Registration) header() map[string]string {
	ext := map[string]string{"brokerName": reg.BrokerName, "brokerAddr": reg.BrokerAddr,
		"clusterName": reg.ClusterName, "haServerAddr": reg.HAServerAddr,
		"brokerId": strconv.FormatInt(reg.BrokerID, 10), "compressed": "false",
		"enableActingMaster": "false"}
	if reg.HeartbeatTimeout > 0 {
		ext["heartbeatTimeoutMillis"] = strconv.FormatInt(reg.HeartbeatTimeout.Milliseconds(), 10)
	}
	return ext
}

// registrationBody returns RegisterBrokerBody's JSON, uncompressed.
func registrationBody(reg Registration) ([]byte, error) {
	var body registerBody
	body.TopicConfigSerializeWrapper.TopicConfigTable = map[string]TopicConfig{}
	for name, tc := range reg.Topics {
		tc.TopicName = name
		if tc.TopicFilterType == "" {
			tc.TopicFilterType = "SINGLE_TAG"
		}
		body.TopicConfigSerializeWrapper.TopicConfigTable[name] = tc
	}
	body.TopicConfigSerializeWrapper.DataVersion = reg.DataVersion
	body.FilterServerList = []string{}
	return json.Marshal(body)
}

// each sends a request made by mk to every address at once and collects
// the answers.
func each(ctx context.Context, addrs []string, mk func() *remoting.Command) ([]Result, error) {
	if len(addrs) == 0 {
		return nil, errors.New("namesrv: no name server address (namesrvAddr is empty)")
	}
	res := make([]Result, len(addrs))
	var wg sync.WaitGroup
	for i, a := range addrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res[i] = invokeOnce(ctx, a, mk())
		}()
	}
	wg.Wait()
	var errs []error
	for _, r := range res {
		if r.Err != nil {
			errs = append(errs, r.Err)
		}
	}
	return res, errors.Join(errs...)
}

// invokeOnce sends req to the name server at addr on a new connection.
func invokeOnce(ctx context.Context, addr string, req *remoting.Command) Result {
	r := Result{NameServer: addr}
	c, err := rpc.Dial(ctx, addr)
	if err != nil {
		r.Err = fmt.Errorf("namesrv: %v with %s: %w", remoting.RequestCode(req.Code), addr, err)
		return r
	}
	defer c.Close()
	resp, err := c.Invoke(ctx, req)
	switch {
	case err != nil:
		r.Err = fmt.Errorf("namesrv: %v with %s: %w", remoting.RequestCode(req.Code), addr, err)
	case resp.Code != int32(remoting.Success):
		r.Err = fmt.Errorf("namesrv: %v with %s: %v: %s", remoting.RequestCode(req.Code), addr,
			remoting.ResponseCode(resp.Code), resp.Remark)
	default:
		r.MasterAddr, r.HAServerAddr = resp.ExtFields["masterAddr"], resp.ExtFields["haServerAddr"]
	}
	return r
}
