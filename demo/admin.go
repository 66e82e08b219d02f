package demo

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/recoverybot/recoverybot/action"
)

// adminSystem stands for the provider's admin system: it receives the
// action hook's calls, checks their signature, applies each idempotency
// key once, and says yes.
type adminSystem struct {
	secret []byte
	srv    *http.Server
	url    string
	said   func(format string, args ...any)

	mu    sync.Mutex
	calls []action.Request
	seen  map[string]bool
}

func startAdmin(secret []byte, say func(string, ...any)) (*adminSystem, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("demo admin system: %w", err)
	}
	a := &adminSystem{secret: secret, said: say, seen: map[string]bool{}, url: "http://" + ln.Addr().String() + "/recovery"}
	a.srv = &http.Server{Handler: http.HandlerFunc(a.serve), ReadHeaderTimeout: 5 * time.Second}
	go a.srv.Serve(ln)
	return a, nil
}

func (a *adminSystem) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/recovery" {
		http.NotFound(w, r)
		return
	}
	req, err := action.ReadRequest(r, a.secret, time.Now(), 5*time.Minute)
	if err != nil {
		code := http.StatusBadRequest
		if errors.Is(err, action.ErrBadSignature) || errors.Is(err, action.ErrStale) {
			code = http.StatusUnauthorized
		}
		a.said("⚙ admin  refused a call: %v", err)
		http.Error(w, "refused", code)
		return
	}
	a.mu.Lock()
	again := a.seen[req.IdempotencyKey]
	a.seen[req.IdempotencyKey] = true
	if !again {
		a.calls = append(a.calls, req)
	}
	a.mu.Unlock()
	if again {
		a.said("⚙ admin  %s for %s again (key seen): nothing more to do", req.Action, req.Profile)
	} else {
		a.said("⚙ admin  signed call: %s on profile %s for %s, approved by %v", req.Action, req.Profile, req.Case, req.Approvers)
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]string{"status": "done"})
}

// received returns the calls applied, each key once.
func (a *adminSystem) received() []action.Request {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]action.Request(nil), a.calls...)
}

func (a *adminSystem) close() { a.srv.Close() }
