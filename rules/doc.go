// Package rules holds recoverybot's decisions, as pure functions of what
// a message says (package parser) and what the store knows: which case a
// message is about, whether its sender is the one the case requires
// (RFC 8601 §5 and §7.1, RFC 7489 §3.1 relaxed alignment), whether its
// code matches (SPEC §3), what the case still lacks (SPEC §1), which
// state it moves to (SPEC §2) and what, if anything, to reply (RFC 3834
// §2: never to automatic mail).
//
// Nothing here does I/O; every rule is table-tested.
package rules
