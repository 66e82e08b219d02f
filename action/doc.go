// Package action tells the provider's admin system what an approval
// decided (issue 16): disable the second factor, clear the IP allowlist,
// change the profile's email address, or only tell the customer the
// address the profile has.
//
// It has three parts:
//
//   - Webhook POSTs the call as JSON (Request) over HTTPS, or plain HTTP
//     to a loopback address only, signed with HMAC-SHA256 (RFC 2104,
//     FIPS 198-1) over the timestamp and the body (the headers below).
//     The receiver checks the signature with Verify (or ReadRequest),
//     refuses a timestamp too far from its clock, which bounds replays,
//     and applies a key once: the same call may arrive more than once.
//     Redirects are not followed, so the signed body goes only where it
//     was configured to.
//
//   - Command runs a local program instead (an argv list, no shell) with
//     the same JSON on its standard input and the key in
//     RECOVERYBOT_IDEMPOTENCY_KEY. Exit 0 is done, its first line of
//     output the result; exit 75 (EX_TEMPFAIL of sysexits.h) is a
//     temporary failure; any other exit, a permanent one.
//
//   - Courier drains the store's action calls through a Hook with the
//     outbox's guarantees: queued in the approval's transaction, never
//     lost; taken for sending by one courier only; retried with growing
//     delays while the admin system fails temporarily, and given up, for
//     an agent, a set time after the call was due; its outcome recorded,
//     with what the admin system answered, in the transaction that runs
//     the caller's OnDone (the desk queues the customer's mail there: the
//     customer is told only once the admin system has said yes).
//
// A webhook call carries:
//
//	Content-Type: application/json
//	Idempotency-Key: <the call's key>
//	X-Recoverybot-Timestamp: <unix seconds>
//	X-Recoverybot-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>
//
// A crash while a call is being sent cannot tell whether it arrived: the
// next start sends it again with the same idempotency key
// (store.Tx.ResumeActions). The hook is therefore called at least once
// and the admin system, deduplicating on the key, applies it exactly
// once. A draft of this contract is the IETF's "The Idempotency-Key HTTP
// Header Field" (draft-ietf-httpapi-idempotency-key-header).
//
// Hook errors say whether a retry can help (Temporary): network errors,
// timeouts, 408, 429 and 5xx answers are temporary; other 4xx and 3xx
// answers are not. Nothing here logs the secret, and only the Courier
// logs at all.
package action
