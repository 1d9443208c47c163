package apitest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Reply is an answer of the API.
type Reply struct {
	Code   int
	Header http.Header
	// Body is the raw body; JSON is it decoded when it is a JSON object.
	Body string
	JSON map[string]any
}

// Message is the error message of a jsonapi error answer.
func (r Reply) Message() string { s, _ := r.JSON["message"].(string); return s }

// Want fails the test unless the answer has code and, when msg is given, an
// error message that contains it.
func (r Reply) Want(t testing.TB, code int, msg string) {
	t.Helper()
	if r.Code != code {
		t.Fatalf("got %d %s, want %d", r.Code, r.Body, code)
	}
	if msg != "" && !strings.Contains(r.Message(), msg) {
		t.Fatalf("message %q does not mention %q", r.Message(), msg)
	}
}

// Names are the "name" fields of a list answer's items.
func (r Reply) Names() []string {
	var out []string
	for _, it := range r.Items() {
		n, _ := it["name"].(string)
		out = append(out, n)
	}
	return out
}

// Items are the "items" of a list answer.
func (r Reply) Items() []map[string]any {
	var out []map[string]any
	items, _ := r.JSON["items"].([]any)
	for _, it := range items {
		m, _ := it.(map[string]any)
		out = append(out, m)
	}
	return out
}

// Decode decodes the body into v, failing the test when it cannot.
func (r Reply) Decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.Body), v); err != nil {
		t.Fatalf("answer %d is not the JSON expected: %v: %s", r.Code, err, r.Body)
	}
}

// Client calls a gantry over HTTP (an Env's router, or a whole platform) as
// callers named by their bearer token.
type Client struct {
	T testing.TB
	// URL is the server's base URL.
	URL string
	// HTTP is the client to use; nil is http.DefaultClient.
	HTTP *http.Client
}

func (c *Client) http() *http.Client {
	if c.HTTP == nil {
		return http.DefaultClient
	}
	return c.HTTP
}

// StreamFor is how long Do reads an answer that is a server-sent-event
// stream before it returns what came.
const StreamFor = time.Second

// Do sends a request as token ("" sends no credentials). body is nil, a
// string or []byte sent as is, or anything else sent as JSON.
func (c *Client) Do(token, method, path string, body any) Reply {
	c.T.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			c.T.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.URL+path, rd)
	if err != nil {
		c.T.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.http().Do(req)
	if err != nil {
		c.T.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Type") == "text/event-stream" {
		time.AfterFunc(StreamFor, cancel)
	}
	data, err := io.ReadAll(resp.Body)
	if err != nil && ctx.Err() == nil {
		c.T.Fatalf("%s %s: reading the answer: %v", method, path, err)
	}
	out := Reply{Code: resp.StatusCode, Header: resp.Header, Body: string(data)}
	_ = json.Unmarshal(data, &out.JSON)
	return out
}

// Expect is Do, failing the test unless the answer has code and each of
// contains is in its body or its error message (unescaped).
func (c *Client) Expect(token, method, path string, body any, code int, contains ...string) Reply {
	c.T.Helper()
	r := c.Do(token, method, path, body)
	if r.Code != code {
		c.T.Fatalf("%s %s as %q: got %d, want %d: %s", method, path, token, r.Code, code, r.Body)
	}
	for _, s := range contains {
		if !strings.Contains(r.Body, s) && !strings.Contains(r.Message(), s) {
			c.T.Fatalf("%s %s as %q: answer lacks %q: %s", method, path, token, s, r.Body)
		}
	}
	return r
}

// Event is one server-sent event: its name ("" for a plain message) and data.
type Event struct {
	Name string
	Data []byte
}

// Stream is an open server-sent-event stream.
type Stream struct {
	t        testing.TB
	events   chan Event
	comments chan string
	cancel   func()
}

// Stream opens GET path as token and reads its events until the test ends
// or Close; the answer must be 200 text/event-stream.
func (c *Client) Stream(token, path string) *Stream {
	c.T.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := c.http().Do(req)
	if err != nil {
		cancel()
		c.T.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		data, _ := io.ReadAll(resp.Body)
		cancel()
		c.T.Fatalf("stream %s: %d %s", path, resp.StatusCode, data)
	}
	s := &Stream{t: c.T, events: make(chan Event, 100), comments: make(chan string, 100), cancel: cancel}
	c.T.Cleanup(cancel)
	go func() {
		defer resp.Body.Close()
		defer close(s.events)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		name := ""
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				name = line[len("event: "):]
			case strings.HasPrefix(line, "data: "):
				s.events <- Event{Name: name, Data: []byte(line[len("data: "):])}
			case strings.HasPrefix(line, ":"):
				select {
				case s.comments <- line:
				default: // nobody reads them
				}
			case line == "":
				name = ""
			}
		}
	}()
	return s
}

// Next returns the next event, failing the test when none comes within or
// the stream ends.
func (s *Stream) Next(within time.Duration) Event {
	s.t.Helper()
	ev, ok := s.TryNext(within)
	if !ok {
		s.t.Fatalf("no event within %s, or the stream ended", within)
	}
	return ev
}

// TryNext is Next reporting instead of failing; within 0 takes only an
// event already there.
func (s *Stream) TryNext(within time.Duration) (Event, bool) {
	if within <= 0 {
		select {
		case ev, ok := <-s.events:
			return ev, ok
		default:
			return Event{}, false
		}
	}
	select {
	case ev, ok := <-s.events:
		return ev, ok
	case <-time.After(within):
		return Event{}, false
	}
}

// Comments are the stream's comment lines (": heartbeat").
func (s *Stream) Comments() <-chan string { return s.comments }

// Ended waits up to within for the stream to end.
func (s *Stream) Ended(within time.Duration) bool {
	deadline := time.After(within)
	for {
		select {
		case _, ok := <-s.events:
			if !ok {
				return true
			}
		case <-deadline:
			return false
		}
	}
}

// Close ends the stream from the client's side.
func (s *Stream) Close() { s.cancel() }
