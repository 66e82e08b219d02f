package action

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The headers of a webhook call.
const (
	HeaderTimestamp      = "X-Recoverybot-Timestamp"
	HeaderSignature      = "X-Recoverybot-Signature"
	HeaderIdempotencyKey = "Idempotency-Key"
)

// MinSecretLen is the shortest secret a webhook accepts, in bytes.
const MinSecretLen = 16

// Errors of Verify and ReadRequest, tested with errors.Is.
var (
	ErrBadSignature = errors.New("action: bad signature")
	ErrStale        = errors.New("action: timestamp too far from now")
	ErrBadRequest   = errors.New("action: malformed request")
)

// Sign returns the signature header value of body sent at timestamp (unix
// seconds, in decimal): "sha256=" and the hex HMAC-SHA256, keyed with
// secret, of timestamp + "." + body.
func Sign(secret []byte, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify checks a webhook call as its receiver: the signature must be
// Sign(secret, timestamp, body), compared in constant time, and the
// timestamp no further than maxSkew from now, either way, which bounds
// how long a captured call can be replayed (the idempotency key does the
// rest).
func Verify(secret []byte, timestamp string, body []byte, signature string, now time.Time, maxSkew time.Duration) error {
	if len(secret) == 0 {
		return fmt.Errorf("%w: no secret to check it with", ErrBadSignature)
	}
	sec, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil || timestamp != strconv.FormatInt(sec, 10) {
		return fmt.Errorf("%w: timestamp %q is not unix seconds", ErrBadRequest, timestamp)
	}
	hexSig, ok := strings.CutPrefix(signature, "sha256=")
	got, err := hex.DecodeString(hexSig)
	if !ok || err != nil || len(got) != sha256.Size {
		return fmt.Errorf("%w: want sha256=<64 hex digits>", ErrBadSignature)
	}
	want, _ := hex.DecodeString(strings.TrimPrefix(Sign(secret, timestamp, body), "sha256="))
	if !hmac.Equal(got, want) {
		return ErrBadSignature
	}
	// Checked after the signature, so that an unsigned request learns
	// nothing of our clock.
	if skew := now.Sub(time.Unix(sec, 0)); skew > maxSkew || skew < -maxSkew {
		return fmt.Errorf("%w: sent at %s, %s from now", ErrStale, time.Unix(sec, 0).UTC().Format(time.RFC3339), skew.Round(time.Second))
	}
	return nil
}

// ReadRequest reads and checks a webhook call as its receiver (the demo's
// admin system, tests): a POST of JSON at most 1 MiB, signed with secret
// within maxSkew of now, whose Idempotency-Key header is the body's key.
func ReadRequest(r *http.Request, secret []byte, now time.Time, maxSkew time.Duration) (Request, error) {
	var req Request
	if r.Method != http.MethodPost {
		return req, fmt.Errorf("%w: method %s", ErrBadRequest, r.Method)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20+1))
	if err != nil {
		return req, fmt.Errorf("%w: read body: %v", ErrBadRequest, err)
	}
	if len(body) > 1<<20 {
		return req, fmt.Errorf("%w: body over 1 MiB", ErrBadRequest)
	}
	if err := Verify(secret, r.Header.Get(HeaderTimestamp), body, r.Header.Get(HeaderSignature), now, maxSkew); err != nil {
		return req, err
	}
	// Unknown fields are kept for later versions to add.
	if err := json.Unmarshal(body, &req); err != nil {
		return req, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	if req.IdempotencyKey == "" || r.Header.Get(HeaderIdempotencyKey) != req.IdempotencyKey {
		return req, fmt.Errorf("%w: the Idempotency-Key header is not the body's key", ErrBadRequest)
	}
	return req, nil
}
