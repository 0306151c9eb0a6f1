package natsgroup

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// monitorTimeout bounds one request to a node's monitoring port.
const monitorTimeout = time.Second

// monitorClient talks to the nodes' monitoring ports on 127.0.0.1 only.
var monitorClient = &http.Client{Timeout: monitorTimeout}

// getJSON GETs path from the monitoring port and decodes the answer.
func getJSON(ctx context.Context, port int, path string, v any) error {
	url := "http://" + hostPort(port) + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("natsgroup: %s: %w", url, err)
	}
	resp, err := monitorClient.Do(req)
	if err != nil {
		return fmt.Errorf("natsgroup: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("natsgroup: %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("natsgroup: %s: %w", url, err)
	}
	return nil
}

// jsz is the part of a node's /jsz?streams=true answer the group reads:
// whether JetStream runs and with which sync setting, the meta leader the
// node knows, and the state of the stream replicas the node itself
// stores.
type jsz struct {
	Disabled bool `json:"disabled"` // JetStream is off or not started yet
	Config   struct {
		SyncAlways bool `json:"sync_always"`
	} `json:"config"`
	Meta *struct {
		Leader string `json:"leader"`
		Size   int    `json:"cluster_size"`
	} `json:"meta_cluster"`
	Accounts []struct {
		Streams []struct {
			Name  string       `json:"name"`
			State replicaState `json:"state"`
		} `json:"stream_detail"`
	} `json:"account_details"`
}

// replicaState is a node's own store of a stream.
type replicaState struct {
	Msgs       uint64 `json:"messages"`
	FirstSeq   uint64 `json:"first_seq"`
	LastSeq    uint64 `json:"last_seq"`
	NumDeleted int    `json:"num_deleted"`
}

// nodeJsz fetches a node's /jsz with stream details.
func nodeJsz(ctx context.Context, n *node) (*jsz, error) {
	var j jsz
	if err := getJSON(ctx, n.cfg.HTTPPort, "/jsz?streams=true", &j); err != nil {
		return nil, err
	}
	return &j, nil
}

// replica returns the state of the node's replica of stream, and false if
// the node holds none (yet).
func (j *jsz) replica(stream string) (replicaState, bool) {
	for _, a := range j.Accounts {
		for _, s := range a.Streams {
			if s.Name == stream {
				return s.State, true
			}
		}
	}
	return replicaState{}, false
}

// metaLeader returns the meta leader the node knows, or "".
func (j *jsz) metaLeader() string {
	if j.Meta == nil {
		return ""
	}
	return j.Meta.Leader
}

// syncAlways reports whether the server fsyncs every write, and false
// for known if JetStream did not start yet. /jsz is read for it, not
// /varz: nats-server fills /varz's JetStream config only into the first
// /varz answer it builds, which lacks it if JetStream was still starting
// then (v2.15.3's monitoring port answers before JetStream started: a
// group polling /varz waited forever).
func (j *jsz) syncAlways() (always, known bool) {
	return j.Config.SyncAlways, !j.Disabled
}
