// Package desk is what support agents do to cases: open, approve, reject,
// re-issue a code, reopen a locked case, cancel, and look at them. Each
// action is one store transaction holding the state change, its audit
// event and the mail it causes, so that the command line and the
// dashboard, which both call it, can never do half of one.
//
// It also imports profiles, all or nothing, manages agents' logins and
// their dashboard sessions (sessions.go: hashed tokens, idle and absolute
// expiry, login throttling kept in the store), and sorts cases into the
// dashboard's queues (queues.go).
package desk
