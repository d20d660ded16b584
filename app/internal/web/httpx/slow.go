package httpx

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
)

// MinClientRate is the slowest a client may send a request body or take
// a paced response on average, in bytes a second (128 kbit/s): slower
// than any real link, far faster than a client that trickles bytes to
// hold a connection.
const MinClientRate = 16 << 10

// ErrBodiesBusy is a request body that would not fit in what the server
// keeps of bodies being received at once.
var ErrBodiesBusy = errors.New("the server is receiving too many large requests at once; please try again in a minute")

// ErrBodyTimeout is a request body that did not arrive within the body
// deadline.
var ErrBodyTimeout = echo.NewHTTPError(http.StatusRequestTimeout,
	"the request body did not arrive in time; check the connection and send it again")

// pace is the deadline of one transfer to or from a client: each chunk
// must move within timeout, and from timeout on the transfer must average
// MinClientRate, so that a client cannot hold it by trickling.
type pace struct {
	start   time.Time
	timeout time.Duration
	n       int64 // bytes moved so far
}

func (p *pace) deadline(now time.Time) time.Time {
	d := now.Add(p.timeout)
	if avg := p.start.Add(p.timeout + time.Duration(p.n)*time.Second/MinClientRate); avg.Before(d) {
		return avg
	}
	return d
}

// Bodies reads whole request bodies before a request takes anything
// scarce (a tenant's pool slot), so that no slot waits on a client.
// Small bodies stay in memory; larger ones (uploads) go to an unlinked
// file in TmpDir, within a budget shared by every request.
type Bodies struct {
	TmpDir   string        // where large bodies are kept while their request runs
	Timeout  time.Duration // see pace; 0: no deadline
	MaxBody  int64         // the largest body
	MemBytes int           // bodies up to this size stay in memory
	// DiskBytes bounds the bytes of large bodies on disk at once; past it
	// a request is refused with ErrBodiesBusy.
	DiskBytes int64
	onDisk    atomic.Int64
}

// Read reads r's whole body now, within b.Timeout, and replaces r.Body
// with what it read. The caller closes the body it returns (it frees a
// file) when the request is done; it is nil for a request without a body.
// A body over b.MaxBody is an *http.MaxBytesError, one too slow
// ErrBodyTimeout (and the connection is closed after the answer).
func (b *Bodies) Read(w http.ResponseWriter, r *http.Request) (io.Closer, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	if r.ContentLength > b.MaxBody {
		return nil, &http.MaxBytesError{Limit: b.MaxBody}
	}
	rc := http.NewResponseController(w)
	p := &pace{start: time.Now(), timeout: b.Timeout}
	body := &buffered{b: b}
	chunkp := chunks.Get().(*[]byte)
	defer chunks.Put(chunkp)
	chunk := *chunkp
	src := http.MaxBytesReader(w, r.Body, b.MaxBody)
	for {
		if b.Timeout > 0 {
			rc.SetReadDeadline(p.deadline(time.Now())) // not supported: no deadline, as before
		}
		n, err := src.Read(chunk)
		p.n += int64(n)
		if werr := body.write(chunk[:n]); werr != nil {
			body.Close()
			return nil, werr
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			body.Close()
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				w.Header().Set("Connection", "close")
				return nil, ErrBodyTimeout
			}
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, err
			}
			return nil, echo.NewHTTPError(http.StatusBadRequest, "the request body could not be read; send it again")
		}
	}
	// The body is in; the connection's next read is the next request's,
	// which net/http gives deadlines of its own. Until then no deadline:
	// net/http's background read would cancel the request when it passed.
	if b.Timeout > 0 {
		rc.SetReadDeadline(time.Time{})
	}
	r.Body = body
	return body, nil
}

// chunks are the buffers bodies are read through.
var chunks = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// buffered is a request body read whole: in memory, or in an unlinked
// file once it outgrows Bodies.MemBytes.
type buffered struct {
	b      *Bodies
	mem    bytes.Buffer
	file   *os.File
	size   int64
	rd     io.Reader // set on the first Read
	closed sync.Once
}

func (bb *buffered) write(p []byte) error {
	if len(p) == 0 {
		return nil
	}
	if bb.file == nil && bb.mem.Len()+len(p) <= bb.b.MemBytes {
		bb.mem.Write(p)
		bb.size += int64(len(p))
		return nil
	}
	if bb.b.onDisk.Add(int64(len(p))) > bb.b.DiskBytes {
		bb.b.onDisk.Add(-int64(len(p)))
		return ErrBodiesBusy
	}
	bb.size += int64(len(p))
	if bb.file == nil {
		if err := bb.spill(); err != nil {
			bb.b.onDisk.Add(-int64(len(p)))
			bb.size -= int64(len(p))
			return err
		}
	}
	if _, err := bb.file.Write(p); err != nil {
		return fmt.Errorf("keeping a request body: %w", err)
	}
	return nil
}

// spill moves what is in memory to a new unlinked file: a crash leaves
// nothing behind, and closing the file frees its space.
func (bb *buffered) spill() error {
	f, err := os.CreateTemp(bb.b.TmpDir, "body-*")
	if err != nil {
		return fmt.Errorf("keeping a request body: %w", err)
	}
	os.Remove(f.Name())
	bb.file = f
	inMem := int64(bb.mem.Len())
	bb.b.onDisk.Add(inMem)
	if _, err := f.Write(bb.mem.Bytes()); err != nil {
		return fmt.Errorf("keeping a request body: %w", err)
	}
	bb.mem = bytes.Buffer{}
	return nil
}

func (bb *buffered) Read(p []byte) (int, error) {
	if bb.rd == nil {
		if bb.file == nil {
			bb.rd = bytes.NewReader(bb.mem.Bytes())
		} else {
			bb.rd = io.NewSectionReader(bb.file, 0, bb.size)
		}
	}
	return bb.rd.Read(p)
}

// Close frees the body's file and its share of the disk budget.
func (bb *buffered) Close() error {
	bb.closed.Do(func() {
		if bb.file != nil {
			bb.file.Close()
			bb.b.onDisk.Add(-bb.size)
		}
	})
	return nil
}

// PacedWriter writes a response within deadlines that follow its
// progress (see pace), so that a client that stops reading is cut off
// after Timeout instead of holding what the response holds (a tenant's
// slot, an export's snapshot) until the server's whole-response timeout.
// Large writes go out in chunks, each with its own deadline.
type PacedWriter struct {
	w      http.ResponseWriter
	rc     *http.ResponseController
	p      pace
	nextAt int64 // p.n at which the deadline is moved on next
}

// NewPacedWriter paces writes to w from the first on.
func NewPacedWriter(w http.ResponseWriter, timeout time.Duration) *PacedWriter {
	return &PacedWriter{w: w, rc: http.NewResponseController(w), p: pace{timeout: timeout}}
}

// PaceResponse makes every write of c's response paced (see PacedWriter).
func PaceResponse(c echo.Context, timeout time.Duration) {
	res := c.Response()
	res.Writer = &pacedResponse{ResponseWriter: res.Writer, pw: NewPacedWriter(res.Writer, timeout)}
}

type pacedResponse struct {
	http.ResponseWriter
	pw *PacedWriter
}

func (r *pacedResponse) Write(b []byte) (int, error) { return r.pw.Write(b) }
func (r *pacedResponse) Unwrap() http.ResponseWriter { return r.ResponseWriter }
func (r *pacedResponse) Flush()                      { http.NewResponseController(r.ResponseWriter).Flush() }

// paceChunk is how much a PacedWriter writes under one deadline. Setting
// a deadline for every small write of a template would cost more than
// the write.
const paceChunk = 64 << 10

func (pw *PacedWriter) Write(b []byte) (int, error) {
	written := 0
	for len(b) > 0 {
		if pw.p.start.IsZero() {
			pw.p.start = time.Now()
		}
		if pw.p.n >= pw.nextAt {
			pw.rc.SetWriteDeadline(pw.p.deadline(time.Now())) // not supported: the server's timeout
			pw.nextAt = pw.p.n + paceChunk
		}
		n := int(min(int64(len(b)), pw.nextAt-pw.p.n))
		m, err := pw.w.Write(b[:n])
		written += m
		pw.p.n += int64(m)
		if err != nil {
			return written, err
		}
		b = b[m:]
	}
	return written, nil
}
