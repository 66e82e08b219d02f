package mailbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// xoauth2Client is the SASL XOAUTH2 mechanism of Gmail and Microsoft 365.
// It is not in go-sasl. The initial response is
//
//	user=USER ^A auth=Bearer TOKEN ^A ^A
//
// On failure the server sends one challenge, a JSON error; the client must
// answer it with an empty response, after which the server fails the
// command. The JSON error is kept in err, which carries more than the NO.
type xoauth2Client struct {
	user, token string
	err         error
}

func (a *xoauth2Client) Start() (mech string, ir []byte, err error) {
	return "XOAUTH2", []byte("user=" + a.user + "\x01auth=Bearer " + a.token + "\x01\x01"), nil
}

func (a *xoauth2Client) Next(challenge []byte) ([]byte, error) {
	e := &XOAuth2Error{}
	if err := json.Unmarshal(challenge, e); err != nil || e.Status == "" {
		e = &XOAuth2Error{Status: "unreadable server challenge"}
	}
	a.err = e
	// Answering (rather than returning the error) lets the server end the
	// command: go-imap would otherwise leave it pending.
	return []byte{}, nil
}

// XOAuth2Error is the error a server reports when it refuses an XOAUTH2
// token.
type XOAuth2Error struct {
	Status  string `json:"status"` // e.g. "400", "401"
	Schemes string `json:"schemes"`
	Scope   string `json:"scope"`
}

func (e *XOAuth2Error) Error() string {
	s := "mailbox: token refused, status " + e.Status
	if e.Scope != "" {
		s += ", scope " + e.Scope
	}
	return s
}

// tokenCommandTimeout bounds a token helper command.
const tokenCommandTimeout = 30 * time.Second

// TokenFromFile returns a Token function that reads an OAuth2 access token
// from path at each connection, so that an external refresher can rewrite
// the file. Surrounding white space is ignored; an empty file is an error.
func TokenFromFile(path string) func(context.Context) (string, error) {
	return func(context.Context) (string, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("read token: %w", err)
		}
		tok := strings.TrimSpace(string(b))
		if tok == "" {
			return "", fmt.Errorf("read token: %s is empty", path)
		}
		return tok, nil
	}
}

// TokenFromCommand returns a Token function that runs argv (no shell) and
// takes its standard output, trimmed, as the access token: the usual way to
// plug in oauth2l, gcloud or a site's own refresher. The command is killed
// after 30 seconds. Its output is never included in errors.
func TokenFromCommand(argv []string) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		if len(argv) == 0 {
			return "", errors.New("token command: empty")
		}
		ctx, cancel := context.WithTimeout(ctx, tokenCommandTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		cmd.WaitDelay = time.Second
		if err := cmd.Run(); err != nil {
			if ctx.Err() != nil {
				err = ctx.Err()
			}
			return "", fmt.Errorf("token command %s: %w: %s", argv[0], err, firstLine(stderr.String()))
		}
		tok := strings.TrimSpace(stdout.String())
		if tok == "" || strings.ContainsAny(tok, "\r\n\x01") {
			return "", fmt.Errorf("token command %s: want one line of output", argv[0])
		}
		return tok, nil
	}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}
