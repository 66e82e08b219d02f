package action_test

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/action"
)

var secret = []byte("0123456789abcdef-test-secret")

// received is one request the admin system got.
type received struct {
	req                  action.Request
	body                 []byte
	timestamp, signature string
	contentType          string
}

// adminSystem is a test receiver: it checks each call with
// action.ReadRequest, keeps it, and answers with the next of its
// answers (the last one once they run out).
type adminSystem struct {
	clk *clock
	mu  sync.Mutex
	got []received
	// answers are status codes; 0 is 200 with "applied <key>".
	answers []int
	applied map[string]int // key -> times applied
	bad     []error
}

func (a *adminSystem) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(strings.NewReader(string(body)))
	req, err := action.ReadRequest(r, secret, a.clk.Now(), 5*time.Minute)
	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil {
		a.bad = append(a.bad, err)
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	a.got = append(a.got, received{req: req, body: body, timestamp: r.Header.Get(action.HeaderTimestamp),
		signature: r.Header.Get(action.HeaderSignature), contentType: r.Header.Get("Content-Type")})
	code := 0
	if len(a.answers) > 0 {
		code = a.answers[0]
		if len(a.answers) > 1 {
			a.answers = a.answers[1:]
		}
	}
	if code != 0 {
		http.Error(w, http.StatusText(code)+" (test)", code)
		return
	}
	if a.applied == nil {
		a.applied = map[string]int{}
	}
	a.applied[req.IdempotencyKey]++ // a real one would apply only the first
	io.WriteString(w, "applied "+req.IdempotencyKey+"\nsecond line\n")
}

func (a *adminSystem) requests() []received {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]received(nil), a.got...)
}

// startAdmin starts an HTTPS admin system and a Webhook to it.
func startAdmin(t *testing.T, clk *clock, answers ...int) (*adminSystem, *action.Webhook) {
	t.Helper()
	return startAdminClocks(t, clk, clk, answers...)
}

// startAdminClocks is startAdmin with a clock for each side.
func startAdminClocks(t *testing.T, sender, receiver *clock, answers ...int) (*adminSystem, *action.Webhook) {
	t.Helper()
	a := &adminSystem{clk: receiver, answers: answers}
	srv := startServer(t, a)
	wh, err := action.NewWebhook(action.WebhookOptions{URL: srv.URL + "/recovery", Secret: secret, Now: sender.Now,
		TLSConfig: srv.Client().Transport.(*http.Transport).TLSClientConfig, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		for _, err := range a.bad {
			t.Errorf("the admin system refused a call: %v", err)
		}
	})
	return a, wh
}

func testCall() recoverybot.ActionCall {
	at := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	return recoverybot.ActionCall{ID: 1, CaseID: 7, CaseRef: "RC-7KQ2M9", ProfileID: "P-1001", Action: recoverybot.ActionChangeEmail,
		NewEmail: "new@example.org", Approvers: []string{"alice", "bob"}, ApprovedAt: at, Key: "0123456789abcdef0123456789abcdef",
		NotBefore: at}
}

// TestWebhookSigned: the admin system receives the call, signed, and
// Verify refuses a wrong secret, a changed body and an old timestamp.
func TestWebhookSigned(t *testing.T) {
	clk := newClock()
	admin, wh := startAdmin(t, clk)
	result, err := wh.Call(context.Background(), testCall())
	if err != nil || result != "applied 0123456789abcdef0123456789abcdef" {
		t.Fatalf("Call = %q, %v", result, err)
	}
	got := admin.requests()
	if len(got) != 1 {
		t.Fatalf("received %d requests", len(got))
	}
	r := got[0]
	want := action.Request{Case: "RC-7KQ2M9", Profile: "P-1001", Action: "change_email", NewEmail: "new@example.org",
		Approvers: []string{"alice", "bob"}, ApprovedAt: "2026-03-02T09:30:00Z", IdempotencyKey: "0123456789abcdef0123456789abcdef",
		SentAt: "2026-03-02T10:00:00Z"}
	if r.req.Case != want.Case || r.req.Profile != want.Profile || r.req.Action != want.Action || r.req.NewEmail != want.NewEmail ||
		strings.Join(r.req.Approvers, ",") != "alice,bob" || r.req.ApprovedAt != want.ApprovedAt ||
		r.req.IdempotencyKey != want.IdempotencyKey || r.req.SentAt != want.SentAt {
		t.Errorf("request = %+v, want %+v", r.req, want)
	}
	if r.contentType != "application/json" || r.timestamp != strconv.FormatInt(clk.Now().Unix(), 10) {
		t.Errorf("content type %q, timestamp %q", r.contentType, r.timestamp)
	}
	if !strings.Contains(string(r.body), `"idempotency_key":"0123456789abcdef0123456789abcdef"`) {
		t.Errorf("body = %s", r.body)
	}
	now := clk.Now()
	if err := action.Verify(secret, r.timestamp, r.body, r.signature, now, time.Minute); err != nil {
		t.Errorf("Verify of the call as sent: %v", err)
	}
	for _, tc := range []struct {
		name, timestamp, signature string
		secret, body               []byte
		now                        time.Time
		want                       error
	}{
		{"wrong secret", r.timestamp, r.signature, []byte("another-secret-of-16+"), r.body, now, action.ErrBadSignature},
		{"tampered body", r.timestamp, r.signature, secret, []byte(strings.Replace(string(r.body), "new@", "evil@", 1)), now, action.ErrBadSignature},
		{"changed timestamp", strconv.FormatInt(now.Unix()+1, 10), r.signature, secret, r.body, now, action.ErrBadSignature},
		{"old timestamp", r.timestamp, r.signature, secret, r.body, now.Add(6 * time.Minute), action.ErrStale},
		{"timestamp from the future", r.timestamp, r.signature, secret, r.body, now.Add(-6 * time.Minute), action.ErrStale},
		{"no signature", r.timestamp, "", secret, r.body, now, action.ErrBadSignature},
		{"other algorithm", r.timestamp, strings.Replace(r.signature, "sha256=", "sha1=", 1), secret, r.body, now, action.ErrBadSignature},
		{"not unix seconds", "2026-03-02T10:00:00Z", r.signature, secret, r.body, now, action.ErrBadRequest},
	} {
		if err := action.Verify(tc.secret, tc.timestamp, tc.body, tc.signature, tc.now, 5*time.Minute); !errors.Is(err, tc.want) {
			t.Errorf("%s: Verify = %v, want %v", tc.name, err, tc.want)
		}
	}
	// A stale call is refused by ReadRequest too, and the webhook says
	// so as a permanent refusal (401).
	ahead := newClock()
	ahead.Add(time.Hour)
	stale, staleWH := startAdminClocks(t, clk, ahead)
	_, err = staleWH.Call(context.Background(), testCall())
	var ae *action.Error
	if !errors.As(err, &ae) || ae.Temporary || ae.Status != http.StatusUnauthorized {
		t.Errorf("Call to a receiver an hour ahead = %v, want a permanent 401", err)
	}
	stale.mu.Lock()
	stale.bad = nil // expected
	stale.mu.Unlock()
}

// TestWebhookErrors: which answers are worth a retry.
func TestWebhookErrors(t *testing.T) {
	for _, tc := range []struct {
		code      int
		temporary bool
	}{
		{http.StatusBadRequest, false}, {http.StatusNotFound, false}, {http.StatusConflict, false},
		{http.StatusRequestTimeout, true}, {http.StatusTooManyRequests, true},
		{http.StatusInternalServerError, true}, {http.StatusServiceUnavailable, true},
	} {
		_, wh := startAdmin(t, newClock(), tc.code)
		_, err := wh.Call(context.Background(), testCall())
		var ae *action.Error
		if !errors.As(err, &ae) || ae.Temporary != tc.temporary || ae.Status != tc.code || action.Temporary(err) != tc.temporary {
			t.Errorf("answer %d: Call = %#v, want temporary %v", tc.code, err, tc.temporary)
		}
		if err != nil && !strings.Contains(err.Error(), strconv.Itoa(tc.code)) {
			t.Errorf("answer %d: error %q does not say it", tc.code, err)
		}
	}
	// Nobody listening: temporary.
	srv := startServer(t, http.NotFoundHandler())
	wh, err := action.NewWebhook(action.WebhookOptions{URL: srv.URL, Secret: secret,
		TLSConfig: srv.Client().Transport.(*http.Transport).TLSClientConfig})
	if err != nil {
		t.Fatal(err)
	}
	srv.Close()
	if _, err := wh.Call(context.Background(), testCall()); err == nil || !action.Temporary(err) {
		t.Errorf("Call to a closed server = %v, want temporary", err)
	}
	// An untrusted certificate: no call, temporary (until fixed).
	srv = startServer(t, http.NotFoundHandler())
	wh, _ = action.NewWebhook(action.WebhookOptions{URL: srv.URL, Secret: secret})
	if _, err := wh.Call(context.Background(), testCall()); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("Call with an untrusted certificate = %v", err)
	}
}

// TestWebhookNoRedirect: a redirect is an answer, never followed; the
// signed call goes nowhere else.
func TestWebhookNoRedirect(t *testing.T) {
	var followed bool
	var mu sync.Mutex
	mux := http.NewServeMux()
	mux.HandleFunc("/hook", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/elsewhere", http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/elsewhere", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		followed = true
		mu.Unlock()
	})
	srv := startServer(t, mux)
	wh, err := action.NewWebhook(action.WebhookOptions{URL: srv.URL + "/hook", Secret: secret,
		TLSConfig: srv.Client().Transport.(*http.Transport).TLSClientConfig})
	if err != nil {
		t.Fatal(err)
	}
	_, err = wh.Call(context.Background(), testCall())
	if err == nil || action.Temporary(err) || !strings.Contains(err.Error(), "307") || !strings.Contains(err.Error(), "/elsewhere") {
		t.Errorf("Call answered with a redirect = %v, want a permanent error naming it", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if followed {
		t.Error("the redirect was followed")
	}
}

// TestNewWebhook: plain HTTP only to this machine; a secret long enough;
// the secret never in what the webhook prints.
func TestNewWebhook(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want error // nil: accepted
		ok   bool
	}{
		{"https://admin.example.net/recovery", nil, true},
		{"http://127.0.0.1:8081/recovery", nil, true},
		{"http://[::1]:8081/recovery", nil, true},
		{"http://localhost:8081/recovery", nil, true},
		{"http://example.com/recovery", action.ErrInsecure, false},
		{"http://10.0.0.1/recovery", action.ErrInsecure, false},
		{"http://localhost.example.com/recovery", action.ErrInsecure, false},
		{"ftp://admin.example.net/", nil, false},
		{"admin.example.net/recovery", nil, false},
		{"https://user:pw@admin.example.net/", nil, false},
	} {
		wh, err := action.NewWebhook(action.WebhookOptions{URL: tc.url, Secret: secret})
		switch {
		case tc.ok && err != nil:
			t.Errorf("NewWebhook(%s) = %v", tc.url, err)
		case !tc.ok && err == nil:
			t.Errorf("NewWebhook(%s) accepted", tc.url)
		case tc.want != nil && !errors.Is(err, tc.want):
			t.Errorf("NewWebhook(%s) = %v, want %v", tc.url, err, tc.want)
		case err != nil && strings.Contains(err.Error(), "pw"):
			t.Errorf("NewWebhook(%s) = %v: shows the URL's password", tc.url, err)
		case wh != nil && strings.Contains(wh.String(), string(secret)):
			t.Errorf("%v shows the secret", wh)
		}
	}
	if _, err := action.NewWebhook(action.WebhookOptions{URL: "https://admin.example.net/", Secret: []byte("short")}); err == nil ||
		strings.Contains(err.Error(), "short") {
		t.Errorf("NewWebhook with a 5-byte secret = %v", err)
	}
}

// TestWebhookPlainLoopback: plain HTTP to 127.0.0.1 works end to end.
func TestWebhookPlainLoopback(t *testing.T) {
	clk := newClock()
	admin := &adminSystem{clk: clk}
	srv := httptest.NewServer(admin)
	defer srv.Close()
	if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") {
		t.Fatalf("test server at %s", srv.URL)
	}
	wh, err := action.NewWebhook(action.WebhookOptions{URL: srv.URL, Secret: secret, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := wh.Call(context.Background(), testCall()); err != nil || !strings.HasPrefix(res, "applied ") {
		t.Errorf("Call = %q, %v", res, err)
	}
}

func startServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes tests cause
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// TestWebhookErrorHidesTheQuery: a token in the URL's query string never
// reaches the error, which goes to logs and to the case page.
func TestWebhookErrorHidesTheQuery(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.URL
	srv.Close() // nothing listens there any more
	wh, err := action.NewWebhook(action.WebhookOptions{URL: addr + "/recovery?token=s3cr3t-t0ken", Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	_, err = wh.Call(context.Background(), testCall())
	if err == nil || !action.Temporary(err) {
		t.Fatalf("Call to a closed port = %v, want a temporary error", err)
	}
	if strings.Contains(err.Error(), "s3cr3t") || strings.Contains(wh.String(), "s3cr3t") || !strings.Contains(err.Error(), "/recovery") {
		t.Errorf("error %q / name %q", err, wh.String())
	}
}
