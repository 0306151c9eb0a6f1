package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rmqlog/rmqlog/pki"
)

// loopbackHosts are in every node certificate, for clients on the node's
// own machine.
var loopbackHosts = []string{"127.0.0.1", "::1", "localhost"}

// certsCmd writes a development CA and node and client certificates.
func certsCmd(args []string, stdout, stderr io.Writer) error {
	fs := flags("certs", "certs --dir <dir> --nodes n0,n1,n2 [--clients admin] [--hosts host,...] [--days 365] [--use-ca] [--force]", stderr)
	dir := fs.String("dir", "", "directory to write into (created if missing)")
	nodes := fs.String("nodes", "", "node ids (dLegerSelfId), comma-separated: a node certificate for each")
	clients := fs.String("clients", "", "client names, comma-separated: a client certificate for each (e.g. admin)")
	hosts := fs.String("hosts", "", "IP addresses or DNS names clients reach the nodes by (brokerIP1), comma-separated; "+
		"127.0.0.1, ::1 and localhost are always in")
	days := fs.Int("days", 365, "validity in days")
	useCA := fs.Bool("use-ca", false, "issue with the CA in --dir (ca.pem, ca-key.pem) instead of making a new one")
	force := fs.Bool("force", false, "overwrite files that exist")
	if err := parse(fs, args); err != nil {
		return err
	}
	plan, err := planCerts(*dir, *nodes, *clients, *hosts, *days, fs.Args())
	if err != nil {
		fs.Usage()
		return &exitError{code: 2, msg: "rmqlog certs: " + err.Error()}
	}
	plan.useCA, plan.force = *useCA, *force
	if err := plan.run(stdout); err != nil {
		return &exitError{code: 1, msg: "rmqlog certs: " + err.Error()}
	}
	return nil
}

// certPlan is what one rmqlog certs run makes.
type certPlan struct {
	dir          string
	ids          []pki.Identity
	hosts        []string
	validity     time.Duration
	useCA, force bool
}

// planCerts checks the flags (a usage error otherwise).
func planCerts(dir, nodes, clients, hosts string, days int, rest []string) (*certPlan, error) {
	p := &certPlan{dir: dir, hosts: loopbackHosts, validity: time.Duration(days) * 24 * time.Hour}
	switch {
	case len(rest) > 0:
		return nil, fmt.Errorf("unexpected argument %q: every input is a flag", rest[0])
	case dir == "":
		return nil, fmt.Errorf("--dir is required: where to write the files, e.g. --dir ./certs")
	case nodes == "" && clients == "":
		return nil, fmt.Errorf("give --nodes (e.g. --nodes n0,n1,n2), --clients (e.g. --clients admin) or both")
	case days < 1 || days > 36500:
		return nil, fmt.Errorf("--days %d: allowed 1 to 36500", days)
	}
	seen := map[string]string{} // file stem -> what it is
	for _, list := range []struct {
		flag string
		s    string
		make func(string) pki.Identity
	}{{"--nodes", nodes, pki.NodeIdentity}, {"--clients", clients, pki.ClientIdentity}} {
		for _, name := range splitList(list.s) {
			id := list.make(name)
			if err := id.Check(); err != nil {
				return nil, fmt.Errorf("%s: %v", list.flag, strings.TrimPrefix(err.Error(), "pki: "))
			}
			if name == "ca" {
				return nil, fmt.Errorf("%s: the name ca is the CA's (ca.pem): choose another", list.flag)
			}
			if what, dup := seen[name]; dup {
				return nil, fmt.Errorf("%s: %q is named twice (in %s and %s): every certificate needs its own file name", list.flag, name, what, list.flag)
			}
			seen[name] = list.flag
			p.ids = append(p.ids, id)
		}
	}
	for _, h := range splitList(hosts) {
		if net.ParseIP(h) == nil && !hostName(h) {
			return nil, fmt.Errorf("--hosts: %q is neither an IP address nor a DNS name", h)
		}
		p.hosts = append(p.hosts, h)
	}
	return p, nil
}

func splitList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

// hostName accepts a DNS name: labels of letters, digits and '-', with an
// optional leading "*." wildcard.
func hostName(h string) bool {
	h = strings.TrimPrefix(h, "*.")
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || strings.HasPrefix(label, "-") ||
			strings.IndexFunc(label, func(r rune) bool {
				return !(r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
			}) >= 0 {
			return false
		}
	}
	return true
}

// pemFile is one file to write.
type pemFile struct {
	name string
	data []byte
	mode os.FileMode
	what string // for the report
}

// run issues everything, refuses to overwrite unless force, writes the
// files and prints what to set.
func (p *certPlan) run(w io.Writer) error {
	now := time.Now()
	var files []pemFile
	ca, err := p.ca(now, &files)
	if err != nil {
		return err
	}
	for _, id := range p.ids {
		var hosts []string
		if id.Kind == pki.Node {
			hosts = p.hosts
		}
		certPEM, keyPEM, err := ca.Issue(id, hosts, now, p.validity)
		if err != nil {
			return err
		}
		what := fmt.Sprintf("client %s's certificate (%s)", id.Name, id)
		if id.Kind == pki.Node {
			what = fmt.Sprintf("node %s's certificate (%s; hosts %s)", id.Name, id, strings.Join(hosts, ", "))
		}
		files = append(files, pemFile{id.Name + ".pem", certPEM, 0o644, what},
			pemFile{id.Name + "-key.pem", keyPEM, 0o600, "its private key (mode 0600)"})
	}
	if err := p.write(files); err != nil {
		return err
	}
	return p.report(w, ca, files)
}

// ca makes the CA (adding its files) or, with useCA, loads it from dir.
func (p *certPlan) ca(now time.Time, files *[]pemFile) (*pki.CA, error) {
	if p.useCA {
		ca, err := pki.LoadCA(filepath.Join(p.dir, "ca.pem"), filepath.Join(p.dir, "ca-key.pem"))
		if err != nil {
			return nil, fmt.Errorf("--use-ca: %w", err)
		}
		return ca, nil
	}
	ca, err := pki.NewCA("rmqlog development CA", now, p.validity)
	if err != nil {
		return nil, err
	}
	certPEM, keyPEM, err := ca.PEM()
	if err != nil {
		return nil, err
	}
	*files = append(*files, pemFile{"ca.pem", certPEM, 0o644, "the CA's certificate: tlsCaFile on every node, --tls-ca for admin commands"},
		pemFile{"ca-key.pem", keyPEM, 0o600, "the CA's private key (mode 0600)"})
	return ca, nil
}

// write writes files into dir, each through a temporary file renamed into
// place (so a key never exists with a wider mode), after checking that
// none exists unless force.
func (p *certPlan) write(files []pemFile) error {
	if !p.force {
		var exist []string
		for _, f := range files {
			if _, err := os.Lstat(filepath.Join(p.dir, f.name)); err == nil {
				exist = append(exist, filepath.Join(p.dir, f.name))
			}
		}
		if len(exist) > 0 {
			return fmt.Errorf("not overwriting %s: remove them, choose another --dir, add --use-ca to issue with the CA that is there, or pass --force",
				strings.Join(exist, ", "))
		}
	}
	if err := os.MkdirAll(p.dir, 0o700); err != nil {
		return err
	}
	for _, f := range files {
		if err := writeFile(filepath.Join(p.dir, f.name), f.data, f.mode); err != nil {
			return err
		}
	}
	return nil
}

func writeFile(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after the rename, there is nothing to remove
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(mode)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// report prints the files written and the keys and flags that use them.
func (p *certPlan) report(w io.Writer, ca *pki.CA, files []pemFile) error {
	abs, err := filepath.Abs(p.dir)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "Wrote to %s:\n", abs)
	for _, f := range files {
		fmt.Fprintf(w, "  %-20s %s\n", f.name, f.what)
	}
	until := time.Now().Add(p.validity)
	if ca.Cert.NotAfter.Before(until) {
		until = ca.Cert.NotAfter
	}
	fmt.Fprintf(w, "The certificates are valid until %s. Keep ca-key.pem away from the nodes: it can issue any identity.\n",
		until.UTC().Format(time.DateOnly))
	for _, id := range p.ids {
		if id.Kind != pki.Node {
			continue
		}
		fmt.Fprintf(w, "\nIn node %s's broker properties file:\n", id.Name)
		fmt.Fprintf(w, "  tlsPeerEnable=true\n  tlsClientEnable=true\n  tlsCaFile=%s\n  tlsCertFile=%s\n  tlsKeyFile=%s\n",
			filepath.Join(abs, "ca.pem"), filepath.Join(abs, id.Name+".pem"), filepath.Join(abs, id.Name+"-key.pem"))
	}
	for _, id := range p.ids {
		if id.Kind == pki.Client {
			fmt.Fprintf(w, "\nAdmin commands as client %s:\n  rmqlog status --addr <host:port,...> --tls-ca %s --tls-cert %s --tls-key %s\n",
				id.Name, filepath.Join(abs, "ca.pem"), filepath.Join(abs, id.Name+".pem"), filepath.Join(abs, id.Name+"-key.pem"))
		}
	}
	fmt.Fprintln(w, "\nSee docs/security.md.")
	return nil
}
