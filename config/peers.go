package config

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// maxID is the longest member id, in bytes.
const maxID = 64

// parsePeers parses dLegerPeers, "n0-127.0.0.1:40911;n1-127.0.0.1:40912":
// items separated by ';' (empty ones and surrounding spaces ignored), each
// split at its first '-' into an id and a host:port. It returns the members
// and their ids in the order written.
func parsePeers(v string) (map[string]string, []string, error) {
	peers, order := map[string]string{}, []string(nil)
	owner := map[string]string{} // normalized address -> id
	for _, item := range strings.Split(v, ";") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		id, addr, err := parsePeer(item)
		if err != nil {
			return nil, nil, err
		}
		if _, dup := peers[id]; dup {
			return nil, nil, fmt.Errorf("id %s appears twice: every member needs its own id", id)
		}
		norm := normalize(addr)
		if other, dup := owner[norm]; dup {
			return nil, nil, fmt.Errorf("%s and %s share the address %s: every member needs its own host:port", other, id, addr)
		}
		peers[id], owner[norm] = addr, id
		order = append(order, id)
	}
	if len(order) == 0 {
		return nil, nil, fmt.Errorf("no members: allowed id-host:port items separated by ';' " +
			"(e.g. n0-127.0.0.1:40911;n1-127.0.0.1:40912;n2-127.0.0.1:40913)")
	}
	return peers, order, nil
}

// parsePeer splits one "id-host:port" item at its first '-'.
func parsePeer(item string) (id, addr string, err error) {
	id, addr, ok := strings.Cut(item, "-")
	if !ok {
		return "", "", fmt.Errorf("item %q has no '-': allowed id-host:port (e.g. n0-127.0.0.1:40911)", item)
	}
	id, addr = strings.TrimSpace(id), strings.TrimSpace(addr)
	if err := checkID(id); err != nil {
		return "", "", fmt.Errorf("item %q: id %q: %w", item, id, err)
	}
	if err := checkAddr(addr, false); err != nil {
		return "", "", fmt.Errorf("item %q: address %q: %w", item, addr, err)
	}
	return id, addr, nil
}

// formatPeers writes c.Peers back in dLegerPeers syntax, in PeerOrder.
func formatPeers(c *Config) string {
	items := make([]string, 0, len(c.PeerOrder))
	for _, id := range c.PeerOrder {
		items = append(items, id+"-"+c.Peers[id])
	}
	return strings.Join(items, ";")
}

// checkID checks a member id: 1 to maxID bytes of A-Z a-z 0-9 _ and '.'.
func checkID(id string) error {
	if id == "" || len(id) > maxID || strings.IndexFunc(id, notIDRune) >= 0 {
		return fmt.Errorf("allowed 1 to %d characters of A-Z a-z 0-9 _ . (no '-')", maxID)
	}
	return nil
}

// checkOptionalID is checkID that also accepts "" (not set).
func checkOptionalID(id string) error {
	if id == "" {
		return nil
	}
	return checkID(id)
}

// checkName checks a group name: as an id, '-' allowed too.
func checkName(name string) error {
	if name == "" || len(name) > maxID || strings.IndexFunc(name, func(r rune) bool { return r != '-' && notIDRune(r) }) >= 0 {
		return fmt.Errorf("allowed 1 to %d characters of A-Z a-z 0-9 _ . -", maxID)
	}
	return nil
}

// checkOptionalName accepts a name or "" (the key's default applies).
func checkOptionalName(name string) error {
	if name == "" {
		return nil
	}
	return checkName(name)
}

func notIDRune(r rune) bool {
	return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.')
}

// checkAddr checks a host:port with a port from 1 to 65535; anyHost allows
// an empty host (every interface).
func checkAddr(addr string, anyHost bool) error {
	host, port, err := net.SplitHostPort(addr)
	if err == nil && (host != "" || !anyHost) {
		err = checkHost(host)
	}
	if _, perr := parseNumber(port, ports); err != nil || perr != nil {
		return fmt.Errorf("allowed host:port with a port from 1 to 65535 (e.g. 127.0.0.1:40911)")
	}
	return nil
}

// checkHost accepts an IP address or a host name (letters, digits, '-',
// '_' and '.').
func checkHost(host string) error {
	if net.ParseIP(host) != nil {
		return nil
	}
	bad := func(r rune) bool { return r != '-' && notIDRune(r) }
	if host == "" || len(host) > 253 || strings.IndexFunc(host, bad) >= 0 {
		return fmt.Errorf("allowed an IP address or a host name (e.g. 127.0.0.1)")
	}
	return nil
}

// checkMetricsAddr accepts "" (metrics off) or host:port; an empty host
// listens on every interface.
func checkMetricsAddr(addr string) error {
	if addr == "" {
		return nil
	}
	return checkAddr(addr, true)
}

// checkPath rejects an empty store path: leaving the key out gives the default.
func checkPath(p string) error {
	if p == "" {
		return fmt.Errorf("allowed a directory; remove the line for the default")
	}
	return nil
}

// normalize makes equal addresses compare equal: lower-case host, the
// canonical form of an IP, the port as a number.
func normalize(addr string) string {
	host, port, _ := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); ip != nil {
		host = ip.String()
	}
	n, _ := strconv.Atoi(port)
	return net.JoinHostPort(strings.ToLower(host), strconv.Itoa(n))
}

// clash reports whether two listen addresses would collide: same port and
// the same host, or either host unspecified (every interface).
func clash(a, b string) bool {
	ha, pa, _ := net.SplitHostPort(normalize(a))
	hb, pb, _ := net.SplitHostPort(normalize(b))
	return pa == pb && (ha == hb || unspecified(ha) || unspecified(hb))
}

func unspecified(host string) bool {
	ip := net.ParseIP(host)
	return host == "" || ip != nil && ip.IsUnspecified()
}

func splitHost(addr string) string {
	host, _, _ := net.SplitHostPort(addr)
	return host
}

func splitPort(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return port
}
