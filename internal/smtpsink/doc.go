// Package smtpsink is an SMTP server (RFC 5321) on a loopback address that
// accepts every message and keeps it in memory, for tests and for the
// `recoverybot demo` command. It relays nothing.
//
// Tests can make it behave like a real submission server: refuse a
// recipient permanently (550) or temporarily (451), require AUTH
// (RFC 4954) with PLAIN (RFC 4616) or LOGIN, offer STARTTLS (RFC 3207) or
// speak implicit TLS (RFC 8314). A Sink is safe for concurrent use.
package smtpsink
