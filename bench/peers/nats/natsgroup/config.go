package natsgroup

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
)

// The flush modes rmqbench names (bench.System.Start).
const (
	SyncFlush  = "SYNC_FLUSH"
	AsyncFlush = "ASYNC_FLUSH"
)

// ErrMode is returned by Start for a mode other than SyncFlush and
// AsyncFlush.
var ErrMode = errors.New("natsgroup: unknown flush mode (want SYNC_FLUSH or ASYNC_FLUSH)")

// clusterName is the name of the local cluster in every node's config.
const clusterName = "bench"

// maxPayload raises the server's default 1 MB message limit so that the
// largest payloads rmqbench sends (1 MiB plus nothing) and a little more
// fit; it is a limit only and changes no behaviour below it.
const maxPayload = "8MB"

// syncAlways reports whether mode asks for an fsync per stored message.
func syncAlways(mode string) (bool, error) {
	switch mode {
	case SyncFlush:
		return true, nil
	case AsyncFlush:
		return false, nil
	}
	return false, fmt.Errorf("%w: %q", ErrMode, mode)
}

// nodeConfig is what one node's config file says.
type nodeConfig struct {
	Name       string
	ClientPort int
	RoutePort  int
	HTTPPort   int
	StoreDir   string
	SyncAlways bool  // sync_interval: always
	Routes     []int // the other nodes' route ports
}

// render returns the node's nats-server config file.
func (c nodeConfig) render() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# nats-server config of node %s of rmqbench's local group (written by natsgroup).\n", c.Name)
	fmt.Fprintf(&b, "server_name: %s\nhost: 127.0.0.1\nport: %d\n", c.Name, c.ClientPort)
	fmt.Fprintf(&b, "http: %s\nmax_payload: %s\n", strconv.Quote(hostPort(c.HTTPPort)), maxPayload)
	fmt.Fprintf(&b, "jetstream {\n  store_dir: %s\n", strconv.Quote(c.StoreDir))
	if c.SyncAlways {
		b.WriteString("  sync_interval: always\n")
	}
	b.WriteString("}\n")
	fmt.Fprintf(&b, "cluster {\n  name: %s\n  listen: %s\n  routes: [\n", clusterName, strconv.Quote(hostPort(c.RoutePort)))
	for _, p := range c.Routes {
		fmt.Fprintf(&b, "    %s\n", strconv.Quote("nats-route://"+hostPort(p)))
	}
	b.WriteString("  ]\n}\n")
	return b.String()
}

func hostPort(port int) string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}

// groupConfigs lays out n nodes on ports (3 per node: client, route,
// HTTP) with their store directories under dir.
func groupConfigs(dir string, ports []int, sync bool) []nodeConfig {
	n := len(ports) / 3
	cfgs := make([]nodeConfig, n)
	for i := range cfgs {
		name := fmt.Sprintf("n%d", i)
		cfgs[i] = nodeConfig{
			Name: name, ClientPort: ports[3*i], RoutePort: ports[3*i+1], HTTPPort: ports[3*i+2],
			StoreDir: filepath.Join(dir, name), SyncAlways: sync,
		}
		for j := range n {
			if j != i {
				cfgs[i].Routes = append(cfgs[i].Routes, ports[3*j+1])
			}
		}
	}
	return cfgs
}
