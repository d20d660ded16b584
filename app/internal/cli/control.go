package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/chapterhouse/chapterhouse/app/internal/platform"
	"golang.org/x/sys/unix"
)

// The server owns its data dir: it holds an exclusive lock on DATA/.lock and
// listens on DATA/control.sock (mode 0600: file permissions are the
// authentication). Operator commands ask it to run them there, so that it
// can drain the tenants it serves; with no server, they take the lock and
// run in their own process. The command code is the same either way.
const (
	lockFile   = ".lock"
	socketFile = "control.sock"
	// maxSocketPath is the size of sun_path on Linux, with its final NUL.
	maxSocketPath = 108
)

// lockDataDir takes the owner lock of dir without waiting.
func lockDataDir(dir string) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, errDirBusy
		}
		return nil, err
	}
	return func() {
		unix.Flock(int(f.Fd()), unix.LOCK_UN)
		f.Close()
	}, nil
}

var errDirBusy = errors.New("data dir is in use by another chapterhouse process")

// controlRequest asks the server to run one command.
type controlRequest struct {
	Args  []string `json:"args"`
	Cwd   string   `json:"cwd"`
	TTY   bool     `json:"tty"`
	Stdin []byte   `json:"stdin,omitempty"`
	Prog  string   `json:"prog,omitempty"` // how the operator ran the program, for hints
}

// Frames on the response stream: a kind byte, a length, the bytes.
const (
	frameStdout = 'o'
	frameStderr = 'e'
	frameExit   = 'x'
)

type frameWriter struct {
	mu   *sync.Mutex
	w    io.Writer
	f    http.Flusher
	kind byte
}

func (fw frameWriter) Write(p []byte) (int, error) {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	var hdr [5]byte
	hdr[0] = fw.kind
	binary.BigEndian.PutUint32(hdr[1:], uint32(len(p)))
	if _, err := fw.w.Write(hdr[:]); err != nil {
		return 0, err
	}
	n, err := fw.w.Write(p)
	fw.f.Flush()
	return n, err
}

// checkSocketPath fails when data dir dir is too deep for its control
// socket; serve checks it before it creates anything.
func checkSocketPath(dir string) error {
	if path := filepath.Join(dir, socketFile); len(path) >= maxSocketPath {
		return fmt.Errorf("control socket %s is longer than the %d bytes a unix socket path may have; use a shorter --data path", path, maxSocketPath-1)
	}
	return nil
}

// serveControl runs operator commands sent to the control socket on p,
// and answers GET /addr with publicAddr, the address the sites are served
// on, for healthcheck.
func serveControl(ctx context.Context, dir string, p *platform.Platform, publicAddr string, log *slog.Logger) (stop func() error, err error) {
	if err := checkSocketPath(dir); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, socketFile)
	os.Remove(path) // we hold the dir lock: any socket file is stale
	old := syscall.Umask(0o077)
	ln, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	srv := &http.Server{
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && r.URL.Path == addrPath {
				w.Header().Set("Content-Type", "text/plain; charset=utf-8")
				io.WriteString(w, publicAddr)
				return
			}
			var req controlRequest
			if err := json.NewDecoder(io.LimitReader(r.Body, 64<<20)).Decode(&req); err != nil {
				http.Error(w, "bad request", http.StatusBadRequest)
				return
			}
			w.Header().Set("Content-Type", "application/octet-stream")
			w.WriteHeader(http.StatusOK)
			mu := &sync.Mutex{}
			fl := w.(http.Flusher)
			e := &cmdEnv{
				p:      p,
				stdin:  bytes.NewReader(req.Stdin),
				stdout: frameWriter{mu, w, fl, frameStdout},
				stderr: frameWriter{mu, w, fl, frameStderr},
				cwd:    req.Cwd,
				tty:    req.TTY,
				actor:  "cli",
				prog:   req.Prog,
			}
			start := time.Now()
			code := ExitCode(e.stderr, runCommand(r.Context(), e, req.Args))
			if _, err := (frameWriter{mu, w, fl, frameExit}).Write([]byte{byte(code)}); err != nil {
				log.Warn("operator command: the client left before its exit status", "err", err)
			}
			// The command's name only: its arguments may be private.
			name := "unknown"
			if cmd, _, ok := findCommand(req.Args); ok {
				name = cmd.name
			}
			log.Info("operator command", "command", name, "exit", code, "duration", time.Since(start))
		}),
	}
	done := make(chan error, 1)
	go func() {
		err := srv.Serve(ln)
		if !errors.Is(err, http.ErrServerClosed) {
			log.Error("control socket: operator commands cannot reach this server", "err", err)
		}
		done <- err
	}()
	return func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err := srv.Shutdown(ctx)
		if serr := <-done; !errors.Is(serr, http.ErrServerClosed) {
			err = errors.Join(err, fmt.Errorf("control socket: %w", serr))
		}
		if rerr := os.Remove(path); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			err = errors.Join(err, rerr)
		}
		return err
	}, nil
}

// addrPath is where the control socket tells the public address.
const addrPath = "/addr"

// askAddr asks the server that owns data dir dir, if one answers on its
// control socket, for the address it serves the sites on.
func askAddr(ctx context.Context, dir string) (string, bool) {
	path := filepath.Join(dir, socketFile)
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://chapterhouse"+addrPath, nil)
	if err != nil {
		return "", false
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", false
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 256))
	if err != nil || resp.StatusCode != http.StatusOK || len(b) == 0 {
		return "", false
	}
	return string(b), true
}

// ExitCode prints err as the one line an operator reads and returns the
// exit status: 0 for success, 2 for a usage mistake, 1 for the rest.
func ExitCode(stderr io.Writer, err error) int {
	if err == nil || errors.Is(err, errHelpShown) {
		return 0
	}
	var ue *usageError
	var ee errExit
	switch {
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "chapterhouse: %s\n", ue.msg)
		return 2
	case errors.Is(err, errSilent):
		return 1
	}
	fmt.Fprintf(stderr, "chapterhouse: %s\n", describeError(err))
	return 1
}

// sendControl asks the server owning dir to run args. ok is false when no
// server listens there.
func sendControl(ctx context.Context, dir string, req controlRequest, stdout, stderr io.Writer) (code int, ok bool, err error) {
	path := filepath.Join(dir, socketFile)
	conn, err := net.Dial("unix", path)
	if err != nil {
		return 0, false, nil
	}
	conn.Close()
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}}
	body, err := json.Marshal(req)
	if err != nil {
		return 0, true, err
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://chapterhouse/run", bytes.NewReader(body))
	if err != nil {
		return 0, true, err
	}
	resp, err := client.Do(hr)
	if err != nil {
		return 0, true, fmt.Errorf("asking the server to run the command: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, true, fmt.Errorf("server refused the command: %s", resp.Status)
	}
	br := bufio.NewReader(resp.Body)
	for {
		var hdr [5]byte
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return 0, true, fmt.Errorf("the server stopped before the command finished: %w", err)
		}
		n := binary.BigEndian.Uint32(hdr[1:])
		payload := make([]byte, n)
		if _, err := io.ReadFull(br, payload); err != nil {
			return 0, true, fmt.Errorf("the server stopped before the command finished: %w", err)
		}
		switch hdr[0] {
		case frameStdout:
			stdout.Write(payload)
		case frameStderr:
			stderr.Write(payload)
		case frameExit:
			if len(payload) != 1 {
				return 0, true, errors.New("bad exit frame from server")
			}
			return int(payload[0]), true, nil
		}
	}
}

// lockOrForward waits until the work on data dir dir can go one of two
// ways: to the server that owns dir (forward reports that it was served;
// lockOrForward then returns a nil unlock), or to this process, under the
// dir's lock (it returns the unlock). A server that is starting (it locks
// before it listens) or another command holding the lock is waited for,
// 15 seconds at most.
func lockOrForward(ctx context.Context, dir string, forward func() (served bool)) (unlock func(), err error) {
	for deadline := time.Now().Add(15 * time.Second); ; {
		if forward() {
			return nil, nil
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		unlock, err := lockDataDir(dir)
		if err == nil {
			return unlock, nil
		}
		if !errors.Is(err, errDirBusy) {
			return nil, err
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%s: %w; try again when it has finished", dir, errDirBusy)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
