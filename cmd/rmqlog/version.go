package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/rmqlog/rmqlog/client/proto"
	"github.com/rmqlog/rmqlog/replication/wire"
)

// versionCmd prints what this binary is: its module version, the commit
// it was built from, the Go release, and the protocol versions it speaks
// (a rolling upgrade needs matching peer protocol versions).
func versionCmd(args []string, stdout, stderr io.Writer) error {
	fs := flags("version", "version", stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	fmt.Fprintln(stdout, versionLine())
	return nil
}

func versionLine() string {
	version, commit, when, modified := "(unknown)", "unknown", "", ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		version = bi.Main.Version
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value[:min(len(s.Value), 12)]
			case "vcs.time":
				when = ", " + s.Value
			case "vcs.modified":
				if s.Value == "true" {
					modified = ", with uncommitted changes"
				}
			}
		}
	}
	return fmt.Sprintf("rmqlog %s (commit %s%s%s) %s %s/%s; peer protocol %d, client protocol %d",
		version, commit, when, modified, runtime.Version(), runtime.GOOS, runtime.GOARCH, wire.Version, proto.Version)
}
