package mailbox

import (
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/recoverybot/recoverybot/parser"
)

// Outline converts a BODYSTRUCTURE as Glimpse does; nil when it is
// nonsense.
func Outline(bs imap.BodyStructure) *parser.Part {
	p, _ := outline(bs, 1024)
	return p
}

// DisableMove makes c use the COPY/STORE/EXPUNGE fallback of Move even when
// the server offers MOVE.
func DisableMove(c *Conn) { c.noMove = true }

// SetIdleRestart changes how often Wait restarts IDLE.
func SetIdleRestart(c *Conn, d time.Duration) { c.idleRestart = d }

// NewXOAuth2Client exposes the XOAUTH2 mechanism.
func NewXOAuth2Client(user, token string) interface {
	Start() (string, []byte, error)
	Next([]byte) ([]byte, error)
	Err() error
} {
	return &xoauth2Test{&xoauth2Client{user: user, token: token}}
}

type xoauth2Test struct{ *xoauth2Client }

func (x *xoauth2Test) Err() error { return x.err }
