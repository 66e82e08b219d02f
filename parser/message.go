package parser

import (
	"encoding/json"
	"time"

	"github.com/recoverybot/recoverybot"
)

// Version is the version of what Parse derives. It is stored with every
// derived fact, so that a later version can re-derive from the raw
// message kept in the ledger. Bump it whenever the output changes.
const Version = 6

// Message is what a raw message says, as far as recoverybot cares. Parse
// always returns one, even for garbage: what could not be read is listed
// in Findings.
type Message struct {
	ParserVersion int `json:"parser_version"`

	MessageID string   `json:"message_id"`     // without angle brackets
	From      []string `json:"from_addresses"` // every address of every From field, normalised
	// Sender is the single From address, normalised, or "" unless the
	// message has exactly one From address in one From field and it is
	// a valid address. JSON: "from", null when "".
	Sender     string    `json:"-"`
	SenderHdr  string    `json:"sender,omitempty"`      // the Sender header's address
	ReplyTo    []string  `json:"reply_to,omitempty"`    // never trusted; shown only
	To         []string  `json:"to,omitempty"`          // recipients (To and Cc)
	Subject    string    `json:"subject"`               // RFC 2047 decoded
	Date       time.Time `json:"date,omitzero"`         // the Date header, zero when absent or unreadable
	InReplyTo  []string  `json:"in_reply_to,omitempty"` // Message-IDs, without brackets
	References []string  `json:"references_header,omitempty"`
	// RepeatedHeaders are the fields a message has at most once (RFC 5322
	// §3.6: From, Sender, To, Subject, Date, Message-ID, In-Reply-To,
	// References) that this one has more than once; the fields above
	// hold the first. Such a message is never a verified sender's.
	RepeatedHeaders []string `json:"repeated_headers,omitempty"`
	// DKIMSignatures are the DKIM-Signature fields, topmost first: what
	// they claim, not whether they verify (our MX says that).
	DKIMSignatures []DKIMSignature `json:"dkim_signatures,omitempty"`

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
	// HTML when there is none. NewText is the same without quoted
	// replies. Both are capped (Options.MaxTextBytes).
	Text    string `json:"-"`
	NewText string `json:"-"`

	// Documents are the files the message carries, in MIME order, those
	// of forwarded messages and winmail.dat included (SPEC §6).
	Documents []Document `json:"documents"`

	// CaseRefs are the case references found, in order, each once.
	CaseRefs []Found `json:"references"`
	// Codes are the code candidates found, in order, each once. Value
	// holds the normalised code: never log or print it (Masked is for
	// display).
	Codes []Found `json:"code_candidates"`

	// Findings are problems with the message itself: malformed MIME,
	// parts that could not be decoded, limits reached.
	Findings []string `json:"findings"`
}

// MarshalJSON writes the message as `recoverybot inspect --json` shows it
// (SPEC §6): "from" is the single sender or null.
func (m Message) MarshalJSON() ([]byte, error) {
	type plain Message
	var from *string
	if m.Sender != "" {
		from = &m.Sender
	}
	return json.Marshal(struct {
		From *string `json:"from"`
		plain
	}{from, plain(m)})
}

// Bounce is a delivery status notification about a mail (RFC 3464).
type Bounce struct {
	OriginalMessageID string `json:"original_message_id,omitempty"` // without angle brackets
	Recipient         string `json:"recipient,omitempty"`
	Action            string `json:"action,omitempty"` // failed, delayed, …
	Status            string `json:"status,omitempty"` // 5.1.1 …
}

// AuthResult is one Authentication-Results header.
type AuthResult struct {
	// AuthServID is the authentication service identifier, lower case;
	// "" when the header has none (as Microsoft 365 writes them).
	AuthServID string       `json:"authserv_id"`
	Results    []AuthMethod `json:"results"`
	// Lenient is true when the header has no authserv-id, as Microsoft
	// 365 writes them; such a header is never a trusted one.
	Lenient bool `json:"lenient,omitempty"`
	// Error is set when the header does not follow RFC 8601: the reading
	// stopped there, and Results holds only what came before. Such a
	// header proves nothing and cannot be read unambiguously.
	Error string `json:"error,omitempty"`
}

// AuthMethod is one method's result in an Authentication-Results header:
// dkim=pass header.d=example.org, dmarc=pass header.from=example.org, …
// Domains in Props are lower case.
type AuthMethod struct {
	Method  string `json:"method"`            // spf, dkim, dmarc, arc, compauth, …, lower case
	Version string `json:"version,omitempty"` // the method's version ("dkim/1=pass"), "" when not given
	Result  string `json:"result"`            // pass, fail, none, …, lower case
	// Props are the properties, "ptype.property" (lower case) to the
	// value as written, a quoted string's content without its quotes;
	// "reason" and the bare names Microsoft 365 writes ("action") too.
	Props map[string]string `json:"props,omitempty"`
	// Repeated lists the properties given more than once in this result;
	// Props holds the first value. A repeated property makes the result
	// ambiguous.
	Repeated []string `json:"repeated_props,omitempty"`
}

// Document is a file the customer sent.
type Document struct {
	Type         recoverybot.DocumentType `json:"type"`
	Filename     string                   `json:"filename"`   // decoded and sanitised; never a path
	MediaType    string                   `json:"media_type"` // sniffed from the bytes; the bytes win over the label
	SHA256       string                   `json:"sha256"`
	DeclaredType string                   `json:"declared_type"` // the Content-Type the sender gave
	Size         int64                    `json:"size"`
	Signals      []string                 `json:"signals"`  // why Type
	Findings     []string                 `json:"findings"` // what is wrong with it (Finding* prefixes)
	// Origin says how it was carried: "attachment", "inline" or "part"
	// (no disposition), prefixed by "forwarded/" for each enclosing
	// message/rfc822 and "winmail.dat/" for a TNEF container.
	Origin string `json:"origin"`
	// Part is the MIME part path ("2", "1.2"), with "/" between nested
	// messages and "tnef:N" for the Nth file of a winmail.dat.
	Part string `json:"part"`
	// Width, Height (images, from the header) and Pages (PDF) when known.
	Width  int `json:"width,omitempty"`
	Height int `json:"height,omitempty"`
	Pages  int `json:"pages,omitempty"`
	// SIREN and RNA are the valid company (Luhn-checked) and association
	// numbers read in the document's text layer.
	SIREN []string `json:"siren,omitempty"`
	RNA   []string `json:"rna,omitempty"`
	Data  []byte   `json:"-"`
}

// Found is a case reference or a code candidate and where it was found.
type Found struct {
	Value  string `json:"-"`
	Masked string `json:"value"`
	Where  string `json:"where"` // one of the Where* constants
}

// Where a reference or a code candidate was found.
const (
	WhereSubject = "subject" // the Subject header
	WhereBody    = "body"    // new text of the plain body
	WhereHTML    = "html"    // new text of the HTML body (HTML-only mail, or found only there)
	WhereQuoted  = "quoted"  // quoted text of a reply, plain or HTML
	// WhereForwarded is the text of a forwarded message/rfc822 or of a
	// winmail.dat body. Returned messages inside a bounce are not read.
	WhereForwarded = "forwarded"
	// WhereRaw is the raw bytes of a message the parser could not read
	// (RefsInRaw).
	WhereRaw = "raw"
)

// Document findings. Each finding starts with one of these, followed by
// ": " and details when there are any. They are the domain's
// (recoverybot.HostileFindings says which keep a document from counting).
const (
	FindingEmpty          = recoverybot.FindingEmpty          // no bytes
	FindingTruncated      = recoverybot.FindingTruncated      // the file ends early
	FindingUndecodable    = recoverybot.FindingUndecodable    // transfer encoding or structure unreadable
	FindingTooManyPixels  = recoverybot.FindingTooManyPixels  // the image header announces more than Options.MaxImagePixels
	FindingTooManyPages   = recoverybot.FindingTooManyPages   // more pages than Options.MaxPDFPages
	FindingEncrypted      = recoverybot.FindingEncrypted      // encrypted PDF or message
	FindingActiveContent  = recoverybot.FindingActiveContent  // PDF JavaScript, launch, embedded file, open action…
	FindingTypeMismatch   = recoverybot.FindingTypeMismatch   // declared type or extension disagrees with the bytes
	FindingExecutable     = recoverybot.FindingExecutable     // a program or script
	FindingLimitReached   = recoverybot.FindingLimitReached   // analysis stopped at a limit: the rest was not read
	FindingNestedTooDeep  = recoverybot.FindingNestedTooDeep  // a forwarded message beyond Options.MaxMessageDepth, kept whole
	FindingPartial        = recoverybot.FindingPartial        // message/partial or message/external-body: not the whole file
	FindingFilenameChange = recoverybot.FindingFilenameChange // the name was sanitised
)
