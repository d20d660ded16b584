package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEveryCommandPrintsItsHelpAndExitsZero runs `<command> --help` (and
// -h) for every command of the table, serve, healthcheck and version: each
// prints its usage line on stdout and exits 0, without a data dir or a
// server.
func TestEveryCommandPrintsItsHelpAndExitsZero(t *testing.T) {
	type entry struct{ words, usage string }
	entries := []entry{
		{"serve", "usage: chapterhouse [serve] [flags]"},
		{"healthcheck", "usage: chapterhouse healthcheck [--addr ADDR] [--data DIR]"},
	}
	for _, c := range commands() {
		entries = append(entries, entry{c.name, "usage: " + c.usageLine("chapterhouse")})
	}
	dir := filepath.Join(t.TempDir(), "data")
	getenv := func(k string) string {
		if k == "CHAPTERHOUSE_DATA" {
			return dir
		}
		return ""
	}
	for _, en := range entries {
		for _, flag := range []string{"--help", "-h"} {
			t.Run(en.words+" "+flag, func(t *testing.T) {
				var out, errOut bytes.Buffer
				args := append(strings.Fields(en.words), flag)
				err := Run(context.Background(), args, getenv, strings.NewReader(""), &out, &errOut)
				if code := ExitCode(&errOut, err); code != 0 {
					t.Fatalf("%v: exit %d, want 0; stderr %q", args, code, errOut.String())
				}
				if !strings.HasPrefix(out.String(), en.usage+"\n") {
					t.Errorf("%v printed %q, want it to start with %q", args, out.String(), en.usage)
				}
				if _, err := os.Stat(dir); !os.IsNotExist(err) {
					t.Errorf("%v made the data dir %s", args, dir)
				}
			})
		}
	}
}

// TestHelpListsEveryCommand checks that the program's help names serve,
// healthcheck, version and every command of the table, and that `help
// COMMAND` is that command's --help.
func TestHelpListsEveryCommand(t *testing.T) {
	var out bytes.Buffer
	if err := Run(context.Background(), []string{"help"}, func(string) string { return "" }, nil, &out, &out); err != nil {
		t.Fatal(err)
	}
	want := []string{"serve ", "healthcheck ", "version "}
	for _, c := range commands() {
		want = append(want, c.name+" "+c.args)
	}
	for _, w := range want {
		if !strings.Contains(out.String(), "  "+w) {
			t.Errorf("help does not list %q:\n%s", w, out.String())
		}
	}
	out.Reset()
	if err := Run(context.Background(), []string{"help", "tenant", "create"}, func(string) string { return "" }, nil, &out, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "usage: chapterhouse tenant create SLUG") || !strings.Contains(out.String(), "-admin-email") {
		t.Errorf("help tenant create printed %q, want its usage and flags", out.String())
	}
}

// TestVersionPrintsTheBuild checks `version` and `--version` print the
// module version and the Go version the binary was built with, and the
// revision a link set when the toolchain stamped none (a test binary has
// no VCS stamp, as a Docker build without .git).
func TestVersionPrintsTheBuild(t *testing.T) {
	defer func(r string) { revision = r }(revision)
	revision = "0123abc"
	for _, arg := range []string{"version", "--version"} {
		var out bytes.Buffer
		if err := Run(context.Background(), []string{arg}, func(string) string { return "" }, nil, &out, &out); err != nil {
			t.Fatalf("%s: %v", arg, err)
		}
		if !strings.HasPrefix(out.String(), "chapterhouse ") || !strings.Contains(out.String(), ", revision 0123abc") ||
			!strings.Contains(out.String(), ", go1.") {
			t.Errorf("%s printed %q, want chapterhouse VERSION, revision 0123abc, goVERSION", arg, out.String())
		}
	}
}

// TestCommandNameIsHowTheProgramWasRun checks the name hints use: go run's
// binary in go build's temp dir is "go run ./app", a binary its own name.
func TestCommandNameIsHowTheProgramWasRun(t *testing.T) {
	for _, tc := range []struct{ arg0, want string }{
		{"/tmp/go-build3179413570/b001/exe/app", "go run ./app"},
		{"/usr/local/bin/chapterhouse", "chapterhouse"},
		{"./ch", "ch"},
		{"/tmp/go-build1/b001/cli.test", "chapterhouse"},
	} {
		if got := commandName(tc.arg0); got != tc.want {
			t.Errorf("commandName(%q) = %q, want %q", tc.arg0, got, tc.want)
		}
	}
}
