// Command chapterhouse serves the websites of many local chapters, each from
// its own SQLite file, and is the operator's tool to manage them. The
// program itself is package cli; this is its entry point.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/chapterhouse/chapterhouse/app/internal/cli"
)

func main() {
	syscall.Umask(0o077) // tenant files, exports and backups are private
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(cli.ExitCode(os.Stderr, err))
}

// run is the whole program: serve (the default) or one operator command,
// with its arguments, environment and standard streams passed in, so that
// a test can run it as a shell would.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	return cli.Run(ctx, args, getenv, stdin, stdout, stderr)
}
