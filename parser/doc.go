// Package parser turns the raw bytes of a message into what recoverybot
// needs to decide about it: who it claims to be from and what
// authenticated that, whether a program sent it, the text a person
// reads, every document it carries, and the case references and code
// candidates in it. Parse is the entry point; Message is its output.
//
// Every message is hostile input. Parse never panics on any input, bounds
// its work (Options: size, parts, nesting, pixels, pages, decompressed
// bytes, text), always returns a usable Message, and lists what it could
// not read in Findings rather than dropping it. Its output is versioned
// (Version) so that a later version can re-derive from the raw message.
//
// What it follows:
//   - RFC 5322 and RFC 6532 for header fields (every From field and
//     address is read; the sender is the single From address, or none),
//     RFC 2047 and RFC 2231 for encoded words and parameters;
//   - RFC 2045–2049 for MIME, through github.com/jhillyerd/enmime/v2 with
//     a part limit, after a linear pre-scan of the boundaries that refuses
//     messages nested deeper than Options.MaxDepth (enmime's time grows
//     with the square of the depth);
//   - RFC 8601 for Authentication-Results, read by a tokenizer of our
//     own (authres.go): quoted strings, nested comments, quoted pairs and
//     folding as RFC 5322 §3.2 has them, so that text an MTA copied from
//     the sender (an envelope sender, a HELO name, a DKIM i=) never
//     becomes a result; the Microsoft 365 form without an authserv-id is
//     read and marked Lenient; a repeated property is listed
//     (AuthMethod.Repeated) and anything else off the grammar stops the
//     reading (AuthResult.Error). Which header to trust is the rules'
//     decision, not this package's;
//   - RFC 5322 §3.6 for the fields a message has at most once: a
//     repeated one is listed in Message.RepeatedHeaders;
//   - RFC 3834 (Auto-Submitted), RFC 2076 (Precedence) and the de facto
//     X-Autoreply and X-Auto-Response-Suppress for automatic mail;
//     RFC 3462 and RFC 3464 for delivery status notifications (Bounce);
//   - [MS-OXTNEF] for winmail.dat (package parser/tnef);
//   - ICAO Doc 9303 for machine readable zones (package parser/mrz);
//   - ISO 32000-1 for PDF text, page count, encryption and active content
//     (package parser/pdftext).
//
// Documents (SPEC §6) are found by walking the whole MIME tree, not only
// enmime's Attachments, Inlines and OtherParts lists: every leaf part is
// a document except the text a person reads (text/plain, text/html and
// enriched text without a file name or an attachment disposition, even
// when marked inline, and any text alternative of
// multipart/alternative), the machine-readable parts of reports and the
// signatures of multipart/signed. A forwarded message/rfc822 contributes
// its own documents (to Options.MaxMessageDepth, beyond which it is kept
// whole), a winmail.dat the files inside it; the message returned inside
// a bounce is not a document. Each document is hashed, sniffed (the bytes
// win over the declared type), checked for hostile content before
// anything decodes it, and classified with the signals that support the
// type: words of its file name, its text layer (PDF or text file),
// a machine readable zone, and what the message says is attached.
//
// PDF text comes from parser/pdftext, a small extractor written for this
// project rather than github.com/ledongthuc/pdf, the library the module
// proxy offers: that one panics on corrupt files (recoverable) but also
// inflates whole streams whatever their size, and a goroutine with a
// deadline can neither stop a Flate bomb from exhausting memory nor stop
// burning CPU once abandoned. The extractor draws every decompression on
// a byte budget, scans objects without trusting the cross-reference
// table, and reads text through ToUnicode CMaps and simple-font
// encodings; scanned PDFs have no text layer and no OCR is attempted.
//
// Before the full Parse, Scan takes a cheap look at a whole message and
// Look at what an IMAP server tells of one not downloaded (a Glimpse:
// header, structure, the first bytes of the text parts): the header facts
// and the case references, no document decoded, and whether the message
// needs the full Parse to be judged. A header line that is no field is
// left out by all three, and listed in Findings.
//
// Case references are read with one grammar (ExtractRefs), by Parse,
// Scan, Look and RefsInRaw alike. They and the code candidates are read
// from the subject, the new and quoted text of the body, the text made
// from HTML and the text of forwarded messages; Found.Where says which
// (the Where constants).
// Codes are kept normalised in Found.Value and must never be logged or
// shown: Found.Masked is what may be displayed.
package parser
