package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
)

// progName is the command as the operator ran it, for usage lines and for
// hints that name a command to run next: "go run ./app" under go run,
// else the binary's name.
var progName = commandName(os.Args[0])

// commandName is progName for a program started as arg0. go run builds
// into go build's temp dir (…/go-build…/b001/exe/app); a test binary
// (name.test) says "chapterhouse", as the installed binary is called.
func commandName(arg0 string) string {
	dir, base := filepath.Dir(arg0), filepath.Base(arg0)
	switch {
	case filepath.Base(dir) == "exe" && strings.Contains(dir, "go-build"):
		return "go run ./app"
	case base == "." || base == string(filepath.Separator) || strings.HasSuffix(base, ".test"):
		return "chapterhouse"
	}
	return base
}

// errHelpShown ends a command whose --help was printed: exit status 0.
var errHelpShown = errors.New("help shown")

// wantsHelp reports whether args ask for help (-h, --help) before a "--".
func wantsHelp(args []string) bool {
	return hasFlag(args, "help") || hasFlag(args, "h")
}

// printHelp writes a command's usage line, what it does, and its flags.
func printHelp(w io.Writer, usageLine, summary string, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: %s\n\n%s\n", usageLine, summary)
	var flags strings.Builder
	fs.SetOutput(&flags)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	if flags.Len() > 0 {
		fmt.Fprintf(w, "\nflags:\n%s", flags.String())
	}
}

// revision is set at link time where the build has no VCS checkout to
// stamp (the Dockerfile's, whose context leaves .git out):
// -ldflags "-X github.com/chapterhouse/chapterhouse/app/internal/cli.revision=…".
var revision string

// version is the one line `version` and `--version` print: the module's
// version and the VCS revision the binary was built from, as the Go
// toolchain stamped them (or as the link set revision).
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "chapterhouse: no build information in this binary"
	}
	v := "chapterhouse " + bi.Main.Version
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	if settings["vcs.revision"] == "" && revision != "" {
		settings["vcs.revision"] = revision
	}
	if rev := settings["vcs.revision"]; rev != "" {
		v += ", revision " + rev
		if t := settings["vcs.time"]; t != "" {
			v += " of " + t
		}
		if settings["vcs.modified"] == "true" {
			v += " with uncommitted changes"
		}
	}
	return v + ", " + bi.GoVersion
}
