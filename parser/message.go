package parser

import (
	"time"

	"github.com/recoverybot/recoverybot"
)

// Version is the version of what Parse derives. It is stored with every
// derived fact, so that a later version can re-derive from the raw
// message kept in the ledger. Bump it whenever the output changes.
const Version = 1

// Message is what a raw message says, as far as recoverybot cares. Parse
// always returns one, even for garbage: what could not be read is listed
// in Findings.
type Message struct {
	ParserVersion int `json:"parser_version"`

	MessageID  string    `json:"message_id"`            // without angle brackets
	From       []string  `json:"from_addresses"`        // every From address, normalised
	Sender     string    `json:"from"`                  // the single From address, or "" unless there is exactly one
	SenderHdr  string    `json:"sender,omitempty"`      // the Sender header's address
	ReplyTo    []string  `json:"reply_to,omitempty"`    // never trusted; shown only
	To         []string  `json:"to,omitempty"`          // recipients
	Subject    string    `json:"subject"`               // RFC 2047 decoded
	Date       time.Time `json:"date,omitzero"`         // the Date header, zero when absent or unreadable
	InReplyTo  []string  `json:"in_reply_to,omitempty"` // Message-IDs, without brackets
	References []string  `json:"references_header,omitempty"`

	// Automatic is true for mail no person wrote this time: auto-replies,
	// bounces, lists (RFC 3834, RFC 3464). AutomaticSignals says why.
	Automatic        bool     `json:"automatic"`
	AutomaticSignals []string `json:"automatic_signals,omitempty"`
	// Bounce is set for a delivery status notification; it names the
	// Message-ID of the bounced mail when the report carries it.
	Bounce *Bounce `json:"bounce,omitempty"`

	// AuthResults are the Authentication-Results headers, topmost first
	// (RFC 8601). Which to trust is the rules' decision.
	AuthResults []AuthResult `json:"authentication_results"`

	// Text is what a person reads: the plain part, or text made from the
	// HTML when there is none. NewText is the same without quoted replies.
	Text    string `json:"-"`
	NewText string `json:"-"`

	Documents []Document `json:"documents"`

	// CaseRefs are the case references found, in order, each once.
	CaseRefs []Found `json:"references"`
	// Codes are the code-shaped strings found. Value holds the normalised
	// code: never log or print it (Masked is for display).
	Codes []Found `json:"code_candidates"`

	// Findings are problems with the message itself: malformed MIME,
	// parts that could not be decoded, limits reached.
	Findings []string `json:"findings"`
}

// Bounce is a delivery status notification about a mail.
type Bounce struct {
	OriginalMessageID string `json:"original_message_id,omitempty"`
	Recipient         string `json:"recipient,omitempty"`
	Action            string `json:"action,omitempty"` // failed, delayed, …
	Status            string `json:"status,omitempty"` // 5.1.1 …
}

// AuthResult is one Authentication-Results header.
type AuthResult struct {
	AuthServID string       `json:"authserv_id"`
	Results    []AuthMethod `json:"results"`
	// Error is set when the header could not be parsed; such a header
	// proves nothing.
	Error string `json:"error,omitempty"`
}

// AuthMethod is one method's result in an Authentication-Results header:
// dkim=pass header.d=example.org, dmarc=pass header.from=example.org, …
type AuthMethod struct {
	Method string            `json:"method"` // spf, dkim, dmarc, …
	Result string            `json:"result"` // pass, fail, none, …
	Props  map[string]string `json:"props,omitempty"`
}

// Document is a file the customer sent.
type Document struct {
	Filename     string                   `json:"filename"`
	DeclaredType string                   `json:"declared_type"`
	MediaType    string                   `json:"media_type"` // sniffed from the bytes; the bytes win over the label
	Size         int64                    `json:"size"`
	SHA256       string                   `json:"sha256"`
	Type         recoverybot.DocumentType `json:"type"`
	Signals      []string                 `json:"signals"`  // why Type
	Findings     []string                 `json:"findings"` // what is wrong with it
	// Origin says where it was: "attachment", "inline", "forwarded" or
	// "winmail.dat", with the path of enclosing parts.
	Origin string `json:"origin"`
	Data   []byte `json:"-"`
}

// Found is a case reference or a code candidate and where it was found.
type Found struct {
	Value  string `json:"-"`
	Masked string `json:"value"`
	Where  string `json:"where"` // subject, body, quoted, html
}
