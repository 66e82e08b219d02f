// Package intake is one message's whole journey, in one place:
//
//	look -> ledger -> parse -> decide -> commit -> move
//
// journey.go reads as that journey, one function per step; intake.go
// holds the machinery that takes batches through it; look.go the look.
//
// New messages are first looked at without being downloaded (their
// header, MIME outline and the first bytes of their texts): one that can
// concern no case is recorded from its look and left alone, never
// downloaded. A message downloaded is first recorded in the ledger with
// its raw bytes sealed. It is then parsed and decided about (each under a time limit
// and a panic guard, so that one hostile message cannot stop the others),
// and its evidence, the case's new state, the audit events, the reply and
// the mailbox position are committed in one transaction. Only then is it
// moved on the server, to the processed or the review folder; a crash
// between the commit and the move makes the next run redo the move, never
// the processing. Messages not tied to a case are left exactly as they
// were (RFC 3501 BODY.PEEK: not even \Seen).
//
// A backlog goes by batches (the messages of a look, up to 200, those
// downloaded up to 8 MiB): a batch is recorded in one transaction, parsed on every CPU at once, and committed
// in UID order, the decisions of consecutive parsed messages sharing a
// transaction; meanwhile the next batch is fetched and recorded, and the
// one before is moved. One connection, used by one goroutine, does all
// the IMAP work.
//
// Exactly once: the mailbox position (UIDVALIDITY and the last UID, RFC
// 3501 §2.3.1.1) advances in the transaction that commits each message;
// a message met again under another UID (a duplicate delivery, a copy, a
// new UIDVALIDITY) is recognised by its Message-ID and body hash (body
// size, for a message passed over) and recorded as a duplicate, moved with
// its first copy.
//
// A move records where the server put the message (its folder, that
// folder's UIDVALIDITY and the UID there, from COPYUID, RFC 4315 section
// 3), so that once its case is purged Pipeline.Expunge can remove it
// from there (SPEC §8), by UID or, when the server did not say or the
// folder was renumbered, by Message-ID. Pipeline.Reconcile compares the
// mailbox's UIDs with the ledger: it takes through the pipeline what
// Drain went past, and reports what vanished.
package intake
