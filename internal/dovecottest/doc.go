// Package dovecottest starts a real, throw-away Dovecot (IMAP and LMTP on
// loopback) for tests and benchmarks.
//
// Each server lives in its own directory: its dovecot.conf, a passwd-file
// with its users, its logs and the users' Maildirs. Nothing under /etc or
// /var is read or written and no systemd is needed. The server listens on
// free loopback ports chosen at start; Restart keeps the ports and the mail.
//
// Launch is the core, usable from any program (the benchmark command uses
// it); Start wraps it for tests, stopping the server in t.Cleanup and failing
// the test with a one-line reason when Dovecot is missing.
//
// Mail arrives like real mail through Deliver (LMTP, RFC 2033), or in bulk
// through SaveMany, which writes Maildir files directly (much faster when
// seeding thousands of messages). RecreateMailbox renumbers a mailbox under
// a new UIDVALIDITY (RFC 3501 section 2.3.1.1), the event an IMAP client
// must survive when a server rebuilds its indexes or a mailbox is migrated.
//
// Dovecot must run as root here: it drops privileges to the mail user
// (nobody, uid 65534) for each session, which is why the server directory
// and its parents are made world-searchable.
package dovecottest
