package parser

// A Glimpse is what an IMAP server tells of a message without sending it
// whole: its header, the outline of its MIME parts (BODYSTRUCTURE), and
// the first bytes of its text parts and the headers of the messages it
// forwards (partial BODY.PEEK fetches). The intake reads it to decide
// whether a message can concern a case before downloading it (Look).
type Glimpse struct {
	// Header is the message's header, up to and including the blank
	// line that ends it (BODY.PEEK[HEADER]).
	Header []byte
	// Size is the whole message's size (RFC822.SIZE).
	Size int64
	// Root is the outline of the message's body; nil when the server
	// could not describe it, or described it in a way that could not be
	// read (the message must then be downloaded to be judged).
	Root *Part
}

// Part is one node of a message's MIME outline, as BODYSTRUCTURE gives it.
type Part struct {
	// Section is the part's IMAP section number ("1", "2.1"); "" for the
	// body of a single-part message, whose text is section "1" on the
	// wire but whose header is the message's.
	Section string
	// Type and Subtype are lower case ("text", "plain"); Params holds the
	// Content-Type's parameters, names lower case (charset, name).
	Type, Subtype string
	Params        map[string]string
	// Encoding is the Content-Transfer-Encoding, lower case ("base64").
	Encoding string
	// Size is the part's size on the wire, in bytes, as transfer-encoded.
	Size int64
	// Disposition is "inline", "attachment" or ""; Filename is the
	// disposition's (or the type's name parameter's) file name.
	Disposition, Filename string
	// Children are the parts of a multipart, in order; for a
	// message/rfc822 part, its one child is the forwarded message's body.
	Children []*Part

	// Text is the first bytes of a text part, still transfer-encoded
	// (BODY.PEEK[section]<0.n>); nil when not fetched. Truncated says it
	// stops before the part's end.
	Text      []byte
	Truncated bool
	// Header is, for a message/rfc822 part, the forwarded message's
	// header (BODY.PEEK[section.HEADER]); nil when not fetched.
	Header []byte
}
