package action_test

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/recoverybot/recoverybot/action"
)

// FuzzVerify: Verify reads what anyone can send a receiver; it never
// panics, and accepts no signature but the one Sign makes (its hex digits
// in either case: they are the same bytes).
func FuzzVerify(f *testing.F) {
	now := time.Unix(1_780_000_000, 0)
	ts := strconv.FormatInt(now.Unix(), 10)
	f.Add(ts, []byte(`{"case":"RC-7KQ2M9"}`), action.Sign(secret, ts, []byte(`{"case":"RC-7KQ2M9"}`)))
	f.Add("-1", []byte{}, "sha256=")
	f.Add("99999999999999999999", []byte("x"), "sha256=zz")
	f.Fuzz(func(t *testing.T, timestamp string, body []byte, signature string) {
		err := action.Verify(secret, timestamp, body, signature, now, time.Hour)
		if err == nil && !strings.EqualFold(signature, action.Sign(secret, timestamp, body)) {
			t.Fatalf("Verify accepted %q for %q at %q", signature, body, timestamp)
		}
		r, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1/", bytes.NewReader(body))
		r.Header.Set(action.HeaderTimestamp, timestamp)
		r.Header.Set(action.HeaderSignature, action.Sign(secret, timestamp, body))
		action.ReadRequest(r, secret, now, time.Hour) // must not panic
	})
}
