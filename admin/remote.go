package admin

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/rmqlog/rmqlog/namesrv"
	"github.com/rmqlog/rmqlog/remoting"
	"github.com/rmqlog/rmqlog/remoting/rpc"
)

// The errors of the RocketMQ operator calls (topic create/list, consumer
// progress), matched with errors.Is; the wrapping error names the name
// server, broker or group.
var (
	// ErrNameServer: no name server of the list answered.
	ErrNameServer = errors.New("admin: no name server answered")
	// ErrNoMaster: a broker group has no master registered (an election
	// in progress, or no majority of its members up).
	ErrNoMaster = errors.New("admin: no master registered")
	// ErrUnknownBroker: --broker names no broker group the name server knows.
	ErrUnknownBroker = errors.New("admin: unknown broker name")
	// ErrUnknownTopic: the name server has no route for the topic.
	ErrUnknownTopic = errors.New("admin: unknown topic")
	// ErrUnknownGroup: no consumer of the group is online and it has no
	// committed offset.
	ErrUnknownGroup = errors.New("admin: unknown consumer group")
)

// RemoteError is a request a name server or broker answered with a
// RocketMQ response code other than SUCCESS.
type RemoteError struct {
	Addr   string
	Req    remoting.RequestCode
	Code   remoting.ResponseCode
	Remark string
}

func (e *RemoteError) Error() string {
	return fmt.Sprintf("%v to %s: %v: %s", e.Req, e.Addr, e.Code, e.Remark)
}

// remote holds one connection per address for the length of one operator
// call. Not safe for concurrent use; close it when done.
type remote struct {
	conns map[string]*rpc.Client
}

func newRemote() *remote { return &remote{conns: map[string]*rpc.Client{}} }

func (r *remote) close() {
	for _, c := range r.conns {
		c.Close()
	}
}

// call sends a request to addr and returns a successful answer; another
// code is a *RemoteError. A failed connection is dropped, to be dialed
// again by the next call.
func (r *remote) call(ctx context.Context, addr string, code remoting.RequestCode, ext map[string]string) (*remoting.Command, error) {
	c := r.conns[addr]
	if c == nil {
		var err error
		if c, err = rpc.Dial(ctx, addr); err != nil {
			return nil, err
		}
		r.conns[addr] = c
	}
	resp, err := c.Invoke(ctx, remoting.NewRequest(code, ext, nil))
	if err != nil {
		c.Close()
		delete(r.conns, addr)
		return nil, fmt.Errorf("%v to %s: %w", code, addr, err)
	}
	if resp.Code != int32(remoting.Success) {
		return resp, &RemoteError{Addr: addr, Req: code, Code: remoting.ResponseCode(resp.Code), Remark: resp.Remark}
	}
	return resp, nil
}

// nameServer sends a request to each name server in turn and returns the
// first successful answer. A name server that answers with an error code
// (TOPIC_NOT_EXIST) ends the search: they all know the same brokers.
func (r *remote) nameServer(ctx context.Context, addrs []string, code remoting.RequestCode, ext map[string]string) (*remoting.Command, error) {
	var errs []string
	for _, a := range addrs {
		resp, err := r.call(ctx, a, code, ext)
		var re *RemoteError
		if err == nil || errors.As(err, &re) {
			return resp, err
		}
		errs = append(errs, err.Error())
		if ctx.Err() != nil {
			break
		}
	}
	if len(addrs) == 0 {
		errs = append(errs, "the list is empty")
	}
	return nil, fmt.Errorf("%w (%s): %s", ErrNameServer, strings.Join(addrs, ";"), strings.Join(errs, "; "))
}

// clusterInfo asks the name servers for every broker group.
func (r *remote) clusterInfo(ctx context.Context, ns []string) (namesrv.ClusterInfo, error) {
	resp, err := r.nameServer(ctx, ns, remoting.GetBrokerClusterInfo, nil)
	if err != nil {
		return namesrv.ClusterInfo{}, err
	}
	return namesrv.ParseClusterInfo(resp.Body)
}

// route asks the name servers for a topic's route; ErrUnknownTopic if
// they have none.
func (r *remote) route(ctx context.Context, ns []string, topic string) (namesrv.Route, error) {
	resp, err := r.nameServer(ctx, ns, remoting.GetRouteInfoByTopic, map[string]string{"topic": topic})
	var re *RemoteError
	if errors.As(err, &re) && re.Code == remoting.TopicNotExist {
		return namesrv.Route{}, fmt.Errorf("%w %q: no route on name server %s", ErrUnknownTopic, topic, re.Addr)
	}
	if err != nil {
		return namesrv.Route{}, err
	}
	return namesrv.ParseRoute(resp.Body)
}

// topicList asks the name servers for every topic's name.
func (r *remote) topicList(ctx context.Context, ns []string) ([]string, error) {
	resp, err := r.nameServer(ctx, ns, remoting.GetAllTopicListFromNameServer, nil)
	if err != nil {
		return nil, err
	}
	return namesrv.ParseTopicList(resp.Body)
}

// ParseNamesrv splits a ';'- or ','-separated name server list.
func ParseNamesrv(s string) []string {
	return namesrv.ParseAddrs(strings.ReplaceAll(s, ",", ";"))
}
