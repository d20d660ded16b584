package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/chapterhouse/chapterhouse/app/internal/password"
	"github.com/chapterhouse/chapterhouse/tenantdb"
	"github.com/chapterhouse/chapterhouse/tenantdb/pool"
)

// serve starts h on a loopback server for the test and returns its URL.
func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

func get(t *testing.T, u string) (int, http.Header, string) {
	t.Helper()
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, res.Header, string(b)
}

// TestParsePagingTakesItsBoundsInclusively: ?page= runs from 1 to
// 1,000,000 and ?limit= from 1, a limit over MaxPageSize is taken as
// MaxPageSize, and anything else is a 422 naming the parameter.
func TestParsePagingTakesItsBoundsInclusively(t *testing.T) {
	e := echo.New()
	e.GET("/list", func(c echo.Context) error {
		p, err := ParsePaging(c)
		if err != nil {
			return JSONError(c, err, Status(err))
		}
		w := p.Window()
		return c.String(http.StatusOK, fmt.Sprintf("page %d limit %d offset %d window %d", p.Page, p.Limit, w.Offset, w.Limit))
	})
	base := serve(t, e) + "/list"
	for _, tc := range []struct{ query, want string }{
		{"", "page 1 limit 100 offset 0 window 101"},
		{"?limit=1", "page 1 limit 1 offset 0 window 2"},
		{"?limit=100", "page 1 limit 100 offset 0 window 101"},
		{"?limit=101", "page 1 limit 100 offset 0 window 101"},
		{"?page=3&limit=10", "page 3 limit 10 offset 20 window 11"},
		{"?page=1000000&limit=1", "page 1000000 limit 1 offset 999999 window 2"},
	} {
		if code, _, body := get(t, base+tc.query); code != http.StatusOK || body != tc.want {
			t.Errorf("%q: %d %q, want 200 %q", tc.query, code, body, tc.want)
		}
	}
	for _, tc := range []struct{ query, field string }{
		{"?page=0", "page"}, {"?page=-1", "page"}, {"?page=x", "page"}, {"?page=1000001", "page"},
		{"?limit=0", "limit"}, {"?limit=1.5", "limit"}, {"?page=2&limit=-3", "limit"},
	} {
		code, _, body := get(t, base+tc.query)
		var got struct{ Error, Field string }
		json.Unmarshal([]byte(body), &got)
		if code != http.StatusUnprocessableEntity || got.Field != tc.field {
			t.Errorf("%q: %d %s, want 422 naming %s", tc.query, code, body, tc.field)
		}
	}
}

// TestCutSaysWhetherANextPageExists: a list read through Window is cut to
// the page, and only a list longer than the page links to the next one,
// keeping the request's other parameters and an explicit limit.
func TestCutSaysWhetherANextPageExists(t *testing.T) {
	u, _ := url.Parse("/api/posts?q=picnic&limit=2&page=2")
	p := Paging{Page: 2, Limit: 2, url: *u}
	items, next := Cut(p, []int{1, 2})
	if len(items) != 2 || next != "" {
		t.Errorf("a full last page: %v, next %q", items, next)
	}
	items, next = Cut(p, []int{1, 2, 3})
	if len(items) != 2 || next != "/api/posts?limit=2&page=3&q=picnic" {
		t.Errorf("a page with more after it: %v, next %q", items, next)
	}
	if prev := p.Prev(); prev != "/api/posts?limit=2&page=1&q=picnic" {
		t.Errorf("prev of page 2: %q", prev)
	}
	if prev := (Paging{Page: 1, Limit: 2, url: *u}).Prev(); prev != "" {
		t.Errorf("prev of page 1: %q", prev)
	}
	u, _ = url.Parse("/api/posts")
	if _, next := Cut(Paging{Page: 1, Limit: 1, url: *u}, []int{1, 2}); next != "/api/posts?page=2" {
		t.Errorf("next without a limit asked for: %q", next)
	}
}

// TestExportSlotsBoundDownloads: one download per tenant, at most the
// bound at once (at least one), each refusal counted by its reason, and a
// slot given back once however often its end is called.
func TestExportSlotsBoundDownloads(t *testing.T) {
	one := NewExportSlots(0)
	end, err := one.Begin("a")
	if err != nil {
		t.Fatalf("a bound of 0 allows one: %v", err)
	}
	if _, err := one.Begin("b"); !errors.Is(err, ErrExportsBusy) {
		t.Errorf("second download with a bound of one: %v", err)
	}
	end()

	s := NewExportSlots(2)
	endA, err := s.Begin("a")
	must(t, err)
	endB, err := s.Begin("b")
	must(t, err)
	if _, err := s.Begin("c"); !errors.Is(err, ErrExportsBusy) {
		t.Errorf("third of two: %v", err)
	}
	if _, err := s.Begin("a"); !errors.Is(err, ErrExportRunning) {
		t.Errorf("a second download of a: %v", err)
	}
	if s.RefusedTotal.Load() != 1 || s.RefusedTenant.Load() != 1 || s.Running() != 2 {
		t.Errorf("refused total %d, tenant %d, running %d; want 1, 1, 2", s.RefusedTotal.Load(), s.RefusedTenant.Load(), s.Running())
	}
	endA()
	endA()
	if s.Running() != 1 {
		t.Errorf("running after one end (called twice): %d", s.Running())
	}
	endC, err := s.Begin("c")
	must(t, err)
	if _, err := s.Begin("a"); !errors.Is(err, ErrExportsBusy) {
		t.Errorf("a's second end freed a slot it did not hold: %v", err)
	}
	endB()
	endC()
	if s.Running() != 0 {
		t.Errorf("running at the end: %d", s.Running())
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestPaceDeadline: each chunk gets timeout, but from timeout on the
// transfer must have averaged MinClientRate.
func TestPaceDeadline(t *testing.T) {
	start := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	p := pace{start: start, timeout: 10 * time.Second}
	if got := p.deadline(start); !got.Equal(start.Add(10 * time.Second)) {
		t.Errorf("at the start: %v", got)
	}
	// 5 s in, nothing moved: the average is due at start+10 s, before now+10 s.
	if got := p.deadline(start.Add(5 * time.Second)); !got.Equal(start.Add(10 * time.Second)) {
		t.Errorf("5 s in, nothing moved: %v, want start+10s", got)
	}
	// 20 s of bytes at the minimum rate moved by 5 s in: a chunk's own timeout.
	p.n = 20 * MinClientRate
	if got := p.deadline(start.Add(5 * time.Second)); !got.Equal(start.Add(15 * time.Second)) {
		t.Errorf("well ahead: %v, want now+10s", got)
	}
	// 2 s of bytes by 5 s in: due at start + 10 s + 2 s.
	p.n = 2 * MinClientRate
	if got := p.deadline(start.Add(5 * time.Second)); !got.Equal(start.Add(12 * time.Second)) {
		t.Errorf("behind: %v, want start+12s", got)
	}
}

// TestBodiesKeepSmallBodiesInMemoryAndBoundTheDisk: a body up to
// MemBytes stays in memory, a larger one goes to disk within DiskBytes
// shared by every request, a body that would pass the budget is refused
// with ErrBodiesBusy (503), and closing a body gives its share back.
// Every body reads back as sent.
func TestBodiesKeepSmallBodiesInMemoryAndBoundTheDisk(t *testing.T) {
	b := &Bodies{TmpDir: t.TempDir(), MaxBody: 1000, MemBytes: 10, DiskBytes: 100}
	var held []io.Closer
	e := echo.New()
	e.POST("/", func(c echo.Context) error {
		cl, err := b.Read(c.Response(), c.Request())
		if err != nil {
			c.Response().Header().Set("X-On-Disk", fmt.Sprint(b.onDisk.Load()))
			return c.String(Status(err), err.Error())
		}
		got, _ := io.ReadAll(c.Request().Body)
		c.Response().Header().Set("X-On-Disk", fmt.Sprint(b.onDisk.Load()))
		if c.QueryParam("hold") != "" {
			held = append(held, cl)
		} else if cl != nil {
			cl.Close()
		}
		return c.Blob(http.StatusOK, "application/octet-stream", got)
	})
	base := serve(t, e)
	post := func(n int, query string, chunked bool) (int, string, string) {
		t.Helper()
		sent := bytes.Repeat([]byte("abcdefg"), n/7+1)[:n]
		var body io.Reader = bytes.NewReader(sent)
		if chunked {
			body = io.MultiReader(body) // no length: sent chunked
		}
		res, err := http.Post(base+"/"+query, "application/octet-stream", body)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		got, _ := io.ReadAll(res.Body)
		if res.StatusCode == http.StatusOK && !bytes.Equal(got, sent) {
			t.Errorf("a body of %d read back as %d bytes", n, len(got))
		}
		return res.StatusCode, res.Header.Get("X-On-Disk"), string(got)
	}
	for _, tc := range []struct {
		n      int
		onDisk string
	}{{1, "0"}, {10, "0"}, {11, "11"}, {100, "100"}} {
		if code, disk, _ := post(tc.n, "", false); code != http.StatusOK || disk != tc.onDisk {
			t.Errorf("%d bytes: %d, on disk %s; want 200, %s", tc.n, code, disk, tc.onDisk)
		}
	}
	if code, disk, msg := post(101, "", false); code != http.StatusServiceUnavailable || disk != "0" || msg != ErrBodiesBusy.Error() {
		t.Errorf("101 bytes with 100 on disk allowed: %d %q, on disk %s", code, msg, disk)
	}
	if code, disk, _ := post(60, "?hold=1", false); code != http.StatusOK || disk != "60" {
		t.Fatalf("60 held: %d, on disk %s", code, disk)
	}
	if code, disk, _ := post(50, "", true); code != http.StatusServiceUnavailable || disk != "60" {
		t.Errorf("50 more with 60 held: %d, on disk %s", code, disk)
	}
	if code, disk, _ := post(40, "", true); code != http.StatusOK || disk != "100" {
		t.Errorf("40 more with 60 held: %d, on disk %s", code, disk)
	}
	held[0].Close()
	held[0].Close()
	if got := b.onDisk.Load(); got != 0 {
		t.Errorf("on disk after every body closed (one twice): %d", got)
	}
	if code, _, _ := post(1000, "", true); code != http.StatusServiceUnavailable {
		t.Errorf("1000 bytes over a 100-byte budget: %d", code)
	}
	if code, _, _ := post(1001, "", false); code != http.StatusRequestEntityTooLarge {
		t.Errorf("1001 bytes with a length, over MaxBody: %d", code)
	}
	b.DiskBytes = 10_000
	if code, _, _ := post(1000, "", false); code != http.StatusOK {
		t.Errorf("1000 bytes with a length, MaxBody 1000: %d", code)
	}
	if code, _, _ := post(1000, "", true); code != http.StatusOK {
		t.Errorf("1000 bytes chunked, MaxBody 1000: %d", code)
	}
	if code, _, _ := post(1001, "", true); code != http.StatusRequestEntityTooLarge {
		t.Errorf("1001 bytes chunked, over MaxBody: %d", code)
	}
	if b.onDisk.Load() != 0 {
		t.Errorf("on disk at the end: %d", b.onDisk.Load())
	}
}

// TestPacedWriterSendsEverything: a response larger than several of the
// writer's chunks arrives whole, in order.
func TestPacedWriterSendsEverything(t *testing.T) {
	want := make([]byte, 3*paceChunk+123)
	for i := range want {
		want[i] = byte(i * 7)
	}
	e := echo.New()
	e.GET("/", func(c echo.Context) error {
		PaceResponse(c, time.Minute)
		c.Response().WriteHeader(http.StatusOK)
		_, err := c.Response().Write(want[:paceChunk-1])
		if err == nil {
			_, err = c.Response().Write(want[paceChunk-1:])
		}
		return err
	})
	code, _, got := get(t, serve(t, e))
	if code != http.StatusOK || got != string(want) {
		t.Errorf("%d, %d bytes of %d", code, len(got), len(want))
	}
}

// TestStatusWriterRecordsTheFirstStatusAndTheSize: the log's status is
// the one sent first (200 when a body is written without one), its size
// every byte written.
func TestStatusWriterRecordsTheFirstStatusAndTheSize(t *testing.T) {
	got := make(chan string, 3)
	base := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &StatusWriter{ResponseWriter: w}
		before, mid := sw.Written(), ""
		switch r.URL.Path {
		case "/created":
			sw.WriteHeader(http.StatusCreated)
			sw.WriteHeader(http.StatusTeapot)
		case "/body":
			sw.Write([]byte("hello"))
			mid = fmt.Sprintf(" (after a write: %v %d)", sw.Written(), sw.Code())
			sw.WriteHeader(http.StatusTeapot)
			sw.Write([]byte(" there"))
		}
		got <- fmt.Sprintf("%v %v %d %d%s", before, sw.Written(), sw.Code(), sw.Bytes(), mid)
	}))
	for path, want := range map[string]string{"/": "false false 200 0", "/created": "false true 201 0", "/body": "false true 200 11 (after a write: true 200)"} {
		get(t, base+path)
		if g := <-got; g != want {
			t.Errorf("%s: written before, after, code, bytes = %s, want %s", path, g, want)
		}
	}
}

// TestRetryAfterAndMessages: the errors that have a when say it in
// Retry-After, and a 5xx says nothing internal while a 4xx says what
// was wrong.
func TestRetryAfterAndMessages(t *testing.T) {
	errs := map[string]error{
		"frozen": fmt.Errorf("save: %w", ErrFrozen),
		"full":   fmt.Errorf("acquire: %w", pool.ErrFull),
		"hash":   password.ErrBusy,
		"bodies": ErrBodiesBusy,
		"export": ErrExportRunning,
		"other":  errors.New("disk on fire: /data/tenants/x.db"),
	}
	e := echo.New()
	e.GET("/:kind", func(c echo.Context) error {
		err := errs[c.Param("kind")]
		SetRetryAfter(c, err)
		return c.String(Status(err), Message(err, Status(err)))
	})
	base := serve(t, e)
	for kind, want := range map[string]string{"frozen": "503 120", "full": "503 5", "hash": "503 5", "bodies": "503 60", "export": "429 60", "other": "500 "} {
		code, h, body := get(t, base+"/"+kind)
		if got := fmt.Sprintf("%d %s", code, h.Get("Retry-After")); got != want {
			t.Errorf("%s: status and Retry-After %q, want %q", kind, got, want)
		}
		if strings.Contains(body, "/data/") || strings.Contains(body, "acquire") {
			t.Errorf("%s: the message tells internals: %q", kind, body)
		}
	}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("post: %w", tenantdb.ErrNotFound), "The page you asked for does not exist."},
		{fmt.Errorf("slug %q: %w", "x", tenantdb.ErrConflict), `slug "x": already exists`},
		{&http.MaxBytesError{Limit: 1}, "The request is too large."},
		{&tenantdb.ValidationError{Field: "title", Message: "is required"}, "title: is required"},
		{echo.NewHTTPError(http.StatusBadRequest, "send JSON"), "send JSON"},
		{ErrBodiesBusy, ErrBodiesBusy.Error()},
		{pool.ErrFull, "The site is busy right now; please try again in a moment."},
	} {
		if got := Message(tc.err, Status(tc.err)); got != tc.want {
			t.Errorf("Message(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

// TestIDParamNamesOnlyPositiveNumbers: a path's :id is a whole number
// from 1; anything else names nothing (404).
func TestIDParamNamesOnlyPositiveNumbers(t *testing.T) {
	e := echo.New()
	e.GET("/posts/:id", func(c echo.Context) error {
		id, err := IDParam(c)
		if err != nil {
			return c.String(Status(err), err.Error())
		}
		return c.String(http.StatusOK, fmt.Sprint(id))
	})
	base := serve(t, e) + "/posts/"
	for id, want := range map[string]string{"1": "200 1", "9223372036854775807": "200 9223372036854775807",
		"0": "404", "-1": "404", "x": "404", "1.0": "404", "9223372036854775808": "404"} {
		code, _, body := get(t, base+id)
		got := fmt.Sprint(code)
		if code == http.StatusOK {
			got += " " + body
		}
		if got != want {
			t.Errorf("id %q: %s, want %s", id, got, want)
		}
	}
}

// TestBindJSONSaysWhatIsWrong: each kind of bad body gets its status and
// a field or reason, and a good one fills the value.
func TestBindJSONSaysWhatIsWrong(t *testing.T) {
	type post struct {
		Title string    `json:"title"`
		Count int       `json:"count"`
		Tags  []string  `json:"tags"`
		At    time.Time `json:"at"`
		Flag  bool      `json:"flag"`
	}
	e := echo.New()
	e.POST("/", func(c echo.Context) error {
		var p post
		if err := BindJSON(c, &p); err != nil {
			return JSONError(c, err, Status(err))
		}
		return c.JSON(http.StatusOK, p)
	})
	base := serve(t, e)
	send := func(ct, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, base, strings.NewReader(body))
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	big := `{"title":"` + strings.Repeat("x", MaxJSONBody) + `"}`
	for _, tc := range []struct {
		ct, body string
		code     int
		has      string
	}{
		{"application/json", `{"title":"Picnic","count":2,"at":"2026-06-09T19:00:00-05:00"}`, 200, `"title":"Picnic","count":2`},
		{"", `{"title":"Picnic"}`, 200, `"title":"Picnic"`},
		{"application/json; charset=utf-8", `{"flag":true}`, 200, `"flag":true`},
		{"text/plain", `{"title":"Picnic"}`, 415, "Content-Type: application/json"},
		{"application/json", `{"title":`, 400, "malformed JSON"},
		{"application/json", ``, 400, "the request body is empty"},
		{"application/json", `{"title":"a"} {"title":"b"}`, 400, "more than one JSON value"},
		{"application/json", `{"count":"two"}`, 422, `"field":"count"`},
		{"application/json", `{"count":"two"}`, 422, "must be a JSON number"},
		{"application/json", `{"flag":1}`, 422, "must be a JSON boolean (true or false)"},
		{"application/json", `{"tags":"a"}`, 422, "must be a JSON array"},
		{"application/json", `[1]`, 422, `"field":"body"`},
		{"application/json", `[1]`, 422, "must be a JSON object"},
		{"application/json", `{"at":"tomorrow"}`, 422, `"field":"time"`},
		{"application/json", `{"colour":"red"}`, 422, `"field":"colour"`},
		{"application/json", big, 413, "too large"},
	} {
		code, body := send(tc.ct, tc.body)
		if code != tc.code || !strings.Contains(body, tc.has) {
			t.Errorf("%q %.60q: %d %.200s; want %d with %q", tc.ct, tc.body, code, body, tc.code, tc.has)
		}
	}
}

// TestBodiesWithoutATimeoutSetNoDeadline: Timeout 0 means no deadline: a
// body larger than what the connection has buffered arrives whole.
func TestBodiesWithoutATimeoutSetNoDeadline(t *testing.T) {
	b := &Bodies{TmpDir: t.TempDir(), MaxBody: 4 << 20, MemBytes: 1 << 20, DiskBytes: 4 << 20}
	e := echo.New()
	e.POST("/", func(c echo.Context) error {
		cl, err := b.Read(c.Response(), c.Request())
		if err != nil {
			return c.String(Status(err), err.Error())
		}
		defer cl.Close()
		got, _ := io.ReadAll(c.Request().Body)
		return c.String(http.StatusOK, fmt.Sprint(len(got)))
	})
	sent := bytes.Repeat([]byte("0123456789abcdef"), 3<<16) // 3 MiB
	res, err := http.Post(serve(t, e), "application/octet-stream", bytes.NewReader(sent))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	got, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || string(got) != fmt.Sprint(len(sent)) {
		t.Errorf("%d %s, want 200 %d", res.StatusCode, got, len(sent))
	}
}
