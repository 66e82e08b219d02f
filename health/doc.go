// Package health says whether the daemon is doing its job, for /readyz
// and for the support team. A Monitor is told how each attempt to fetch
// mail ended; it checks the store, the mailbox, the outbox and the
// scheduled jobs on demand (Ready), and mails the support address through
// the outbox when fetching has failed for longer than stale_after (and
// again once it works), when the OAuth token fails, and when the outbox
// is stuck (Alert). Each alert is sent once per episode: the episode is
// kept in the store, so a restart in the middle of one sends nothing
// again.
package health
