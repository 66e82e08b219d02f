// Package outbound composes and sends the mail recoverybot writes to
// customers: the instructions and code mail of a new case, the notice to a
// profile's owner, acknowledgements, a request to send a document again,
// and the decision, with the notice of every approval to the profile's
// own address that NIST SP 800-63B-4 §4.2.3 asks for (what was done, when,
// how to object).
//
// It has three parts, each usable alone:
//
//   - Compose builds one message: an RFC 5322 header (Date, From, To,
//     Subject, Message-ID, In-Reply-To, References) and a MIME body
//     (RFC 2045, 2046) made of a multipart/alternative with a UTF-8 text
//     part and a UTF-8 HTML part, both quoted-printable. Non-ASCII in the
//     Subject and in display names is written as RFC 2047 encoded words.
//     Every header value that reaches Compose may come, through a case,
//     from a hostile message, so a CR or LF in any of them is refused
//     (header injection), and addresses and message identifiers are
//     checked against RFC 5322 §3.4.1 and §3.6.4. Compose is
//     deterministic: the same Mail gives the same bytes, MIME boundary
//     included, so a retried outbox entry is the same message.
//   - Render fills the French and English templates embedded in the
//     binary. It refuses Data that would leave a mail half-filled.
//   - Sender submits one message over SMTP (RFC 5321) with implicit TLS
//     (RFC 8314), STARTTLS (RFC 3207) or, to a loopback relay only, in
//     clear, authenticating (RFC 4954) with PLAIN (RFC 4616) or, when the
//     server offers only that, LOGIN. Its errors say whether a retry can
//     help.
//
// Everything recoverybot sends is automatic in the sense of RFC 3834: it
// carries Auto-Submitted (auto-replied for answers to a customer's message,
// auto-generated for mail an agent's action causes) and
// X-Auto-Response-Suppress: All, so that vacation responders and Exchange
// do not answer it. Precedence, which RFC 3834 discourages, is not written.
// RFC 3834 §3.3 suggests a null reverse-path for automatic responses; Send
// accepts one, but recoverybot sends from its mailbox so that a bounce of
// the code mail comes back to it. Replies thread with In-Reply-To and
// References (RFC 5322 §3.6.4), and every subject carries the case
// reference in brackets, [RC-XXXXXX], so that a customer's reply finds its
// case.
//
// The Courier drains the store's outbox through a Mailer (the Sender):
// each mail is sent once, retried after growing delays while the server
// refuses it for now, and given up, marked failed for an agent, a set
// time after it was queued.
//
// Nothing in this package logs but the Courier, to the logger it is
// given, and never a message's bytes. A verification code exists in clear only
// in the Instructions mail; no other template can show one.
package outbound
