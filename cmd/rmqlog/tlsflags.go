package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/rmqlog/rmqlog/client"
	"github.com/rmqlog/rmqlog/pki"
)

// tlsFlags are the admin commands' TLS flags, for nodes with
// tlsClientEnable=true.
type tlsFlags struct {
	cmd           string
	ca, cert, key *string
}

func addTLSFlags(fs *flag.FlagSet, cmd string) *tlsFlags {
	return &tlsFlags{cmd: cmd,
		ca:   fs.String("tls-ca", "", "connect over TLS, trusting the nodes' certificates of this CA (PEM; the nodes' tlsCaFile)"),
		cert: fs.String("tls-cert", "", "this client's certificate (PEM), for nodes with tlsClientEnable=true; with --tls-key"),
		key:  fs.String("tls-key", "", "the private key of --tls-cert (PEM)"),
	}
}

// options returns the client options the flags ask for: none without
// them, WithTLS with them. Incomplete flags are a usage error (exit 2); a
// file that cannot be used exits 1, naming it.
func (f *tlsFlags) options() ([]client.Option, error) {
	switch {
	case *f.ca == "" && *f.cert == "" && *f.key == "":
		return nil, nil
	case *f.ca == "":
		return nil, &exitError{code: 2, msg: fmt.Sprintf("rmqlog %s: --tls-cert and --tls-key need --tls-ca: the CA of the nodes' certificates (their tlsCaFile)", f.cmd)}
	case (*f.cert == "") != (*f.key == ""):
		return nil, &exitError{code: 2, msg: fmt.Sprintf("rmqlog %s: give --tls-cert and --tls-key together", f.cmd)}
	}
	var creds pki.Creds
	var err error
	if creds.Roots, err = pki.LoadRoots(*f.ca); err != nil {
		return nil, f.fileError("--tls-ca", err)
	}
	if *f.cert != "" {
		if creds.Cert, err = pki.LoadCertificate(*f.cert, *f.key); err != nil {
			flag := "--tls-cert"
			if fe, ok := err.(*pki.FileError); ok && fe.Path == *f.key && fe.Path != *f.cert {
				flag = "--tls-key"
			}
			return nil, f.fileError(flag, err)
		}
	}
	return []client.Option{client.WithTLS(pki.ClientConfig(creds))}, nil
}

func (f *tlsFlags) fileError(flag string, err error) error {
	return &exitError{code: 1, msg: fmt.Sprintf("rmqlog %s: %s: %v", f.cmd, flag, err)}
}

// context returns ctx carrying the flags' client options, for the admin
// package's calls (which dial with the context's options).
func (f *tlsFlags) context(ctx context.Context) (context.Context, error) {
	opts, err := f.options()
	if err != nil {
		return nil, err
	}
	return client.ContextWithOptions(ctx, opts...), nil
}
