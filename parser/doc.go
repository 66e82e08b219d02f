// Package parser turns the raw bytes of a message into what recoverybot
// needs to decide about it: who it claims to be from and what
// authenticated that (RFC 5322, RFC 8601), whether a program sent it
// (RFC 3834, RFC 3464), the text a person reads, every document it
// carries, and the case references and code candidates in it.
//
// Every message is hostile input. Parse never panics on any input, bounds
// its work (parts, depth, sizes), always returns a usable Message, and
// lists what it could not read in Findings rather than dropping it.
package parser
