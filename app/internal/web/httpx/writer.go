package httpx

import "net/http"

// StatusWriter remembers the status and size of a response for the log.
type StatusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

// Written reports whether the status line has been sent.
func (w *StatusWriter) Written() bool { return w.status != 0 }

// Bytes is the size of the body written so far.
func (w *StatusWriter) Bytes() int64 { return w.bytes }

func (w *StatusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *StatusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Code is the status sent, 200 if none was set explicitly.
func (w *StatusWriter) Code() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

// Unwrap lets http.ResponseController reach Flush and deadlines.
func (w *StatusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *StatusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
