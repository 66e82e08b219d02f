// Package store keeps recoverybot's state in one SQLite file: profiles,
// cases and their codes, the message ledger and mailbox positions,
// evidence and documents, the outbox and the append-only audit log.
//
// It imports the domain package and the vault, never the parser, the
// rules or the web layer. Every change goes through Update, one
// transaction: a state change, its audit event and the mail it causes are
// committed together or not at all. Bytes (raw messages, documents,
// outgoing mail) are sealed with the vault before they reach the file.
//
// The database runs in WAL mode with a busy timeout, immediate write
// transactions and foreign keys on. Its schema is a list of numbered SQL
// migrations embedded in the binary, each applied in its own transaction;
// a database written by a newer binary is refused.
package store
