package natsgroup

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// Version is the nats-server release this module pins: go.mod requires
// github.com/nats-io/nats-server/v2 at this version (and names it in a tool
// directive). A test checks that the two agree.
const Version = "v2.15.3"

// ModulePath is the path of the Go module this package belongs to; the
// go command builds nats-server from that module's directory.
const ModulePath = "github.com/rmqlog/rmqlog/bench/peers/nats"

// ServerBinary is the file name BuildServer gives the binary.
const ServerBinary = "nats-server"

const serverPackage = "github.com/nats-io/nats-server/v2"

// ErrModuleDownload is wrapped by BuildServer's error when the go command
// could not reach the module proxy to download the nats-server module (and
// it was not in the module cache). Every other build failure is an error
// of its own.
var ErrModuleDownload = errors.New("natsgroup: cannot download the nats-server module (module proxy unreachable?)")

// BuildServer makes sure dir holds the pinned nats-server (Version) and
// returns its path. A binary already there is reused if its --version
// names Version; otherwise it runs, in this module's directory,
//
//	go build -o dir/nats-server github.com/nats-io/nats-server/v2
//
// into a temporary file renamed into place, so a concurrent caller never
// sees half a binary. ctx bounds the build (a cold one downloads the
// module and compiles it: about a minute on two cores).
func BuildServer(ctx context.Context, dir string) (string, error) {
	path, err := filepath.Abs(filepath.Join(dir, ServerBinary))
	if err != nil {
		return "", fmt.Errorf("natsgroup: %w", err)
	}
	if v, err := ServerVersion(ctx, path); err == nil && v == Version {
		return path, nil
	}
	modDir, err := moduleDir()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", fmt.Errorf("natsgroup: %w", err)
	}
	tmp := fmt.Sprintf("%s.tmp%d", path, os.Getpid())
	defer os.Remove(tmp)
	if err := goBuild(ctx, modDir, tmp); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("natsgroup: %w", err)
	}
	return path, nil
}

// ServerVersion returns the version a nats-server binary reports
// ("nats-server: v2.12.15" gives "v2.12.15").
func ServerVersion(ctx context.Context, binary string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, binary, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("natsgroup: %s --version: %w", binary, err)
	}
	_, v, ok := strings.Cut(strings.TrimSpace(string(out)), ": ")
	if !ok {
		return "", fmt.Errorf("natsgroup: %s --version printed %q", binary, out)
	}
	return v, nil
}

// goBuild builds the pinned server package into out from modDir.
func goBuild(ctx context.Context, modDir, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, serverPackage)
	cmd.Dir = modDir
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Run(); err != nil {
		text := strings.TrimSpace(output.String())
		if isDownloadFailure(text) {
			return fmt.Errorf("%w: go build in %s: %v\n%s", ErrModuleDownload, modDir, err, text)
		}
		return fmt.Errorf("natsgroup: go build -o %s %s in %s: %v\n%s", out, serverPackage, modDir, err, text)
	}
	return nil
}

// downloadFailures are what the go command prints when it cannot reach
// the module proxy.
var downloadFailures = []string{
	"dial tcp", "no such host", "connection refused", "i/o timeout",
	"network is unreachable", "TLS handshake timeout", "server misbehaving",
}

func isDownloadFailure(output string) bool {
	for _, s := range downloadFailures {
		if strings.Contains(output, s) {
			return true
		}
	}
	return false
}

// moduleDir finds this module's directory: the working directory or one
// of its parents (go run, go test), else the directory this source file
// was compiled from.
func moduleDir() (string, error) {
	var tried []string
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			if isModuleDir(d) {
				return d, nil
			}
			if filepath.Dir(d) == d {
				break
			}
		}
		tried = append(tried, wd+" and its parents")
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		d := filepath.Dir(filepath.Dir(file))
		if isModuleDir(d) {
			return d, nil
		}
		tried = append(tried, d)
	}
	return "", fmt.Errorf("natsgroup: no go.mod of module %s in %s: run from bench/peers/nats, or build nats-server there with go build -o <dir>/nats-server %s",
		ModulePath, strings.Join(tried, ", "), serverPackage)
}

// isModuleDir reports whether dir holds a go.mod declaring ModulePath.
func isModuleDir(dir string) bool {
	f, err := os.Open(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if name, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
			return strings.Trim(strings.TrimSpace(name), `"`) == ModulePath
		}
	}
	return false
}
