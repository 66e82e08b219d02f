// Package mailbox is recoverybot's IMAP client: it connects to the shared
// contact mailbox, waits for new mail, fetches raw messages by UID without
// marking them read (or first only what tells whether they matter: their
// header, BODYSTRUCTURE and the first bytes of their texts, Conn.Glimpse),
// and moves them to other folders. It knows nothing of
// cases or databases; the intake package drives it.
//
// It follows IMAP4rev1 (RFC 3501) and the parts of IMAP4rev2 (RFC 9051) that
// servers share with it, plus these extensions:
//
//   - IDLE (RFC 2177): Conn.Wait idles until the server announces new mail
//     (an untagged EXISTS), restarting IDLE every few minutes, well inside
//     the 29-minute limit of RFC 2177 section 3 and the NAT timeouts that
//     drop silent connections. Without IDLE it polls with NOOP.
//   - MOVE (RFC 6851): Conn.Move uses UID MOVE. Without it, it falls back to
//     UID COPY, UID STORE +FLAGS.SILENT (\Deleted) and UID EXPUNGE from
//     UIDPLUS (RFC 4315 section 2.1), which expunges only the messages it
//     flagged. With neither it refuses: a plain EXPUNGE would also remove
//     whatever other people sharing the mailbox had marked \Deleted.
//   - UIDPLUS (RFC 4315): Conn.Move returns the COPYUID response code
//     (section 3), where each message went, and Conn.Expunge removes a
//     purged case's messages from recoverybot's folders with UID STORE
//     and UID EXPUNGE, by UID while the folder keeps its UIDVALIDITY and
//     otherwise by SEARCH HEADER Message-ID (RFC 3501 section 6.4.4),
//     checked against each header found. Without UIDPLUS it refuses.
//   - SASL PLAIN (RFC 4616) when the server advertises AUTH=PLAIN, else the
//     LOGIN command; XOAUTH2 for Gmail and Microsoft 365, per
//     https://developers.google.com/gmail/imap/xoauth2-protocol and
//     https://learn.microsoft.com/exchange/client-developer/legacy-protocols/how-to-authenticate-an-imap-pop-smtp-application-by-using-oauth.
//
// Messages are addressed by UID only, never by sequence number, and read
// with BODY.PEEK (RFC 3501 section 6.4.5) so that the \Seen flag of mail that
// is not ours to handle is left alone. A change of UIDVALIDITY (RFC 3501
// section 2.3.1.1) is reported by Select; acting on it is the caller's job.
//
// Every command runs under a watchdog: when the server does not answer
// within Options.CommandTimeout the connection is closed and the command
// fails with ErrTimeout; a cancelled context closes it too. A Conn whose
// command failed with a network error, a timeout or a cancellation is dead
// (errors.Is(err, ErrClosed) or ErrTimeout, or the context's error); the
// caller closes it and dials again, pacing itself with Backoff. Errors from
// the server (NO, BAD) leave the connection usable. A Conn is not safe for concurrent use.
//
// Connections are TLS (implicit, port 993) or STARTTLS; plaintext is allowed
// only to a loopback address. Passwords, tokens and message contents are
// never logged; the protocol trace (Options.Debug) is opt-in and has the
// authentication exchange removed.
package mailbox
