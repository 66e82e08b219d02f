// Package metrics is what recoverybot tells Prometheus: the messages
// fetched and what became of them, the sender verdicts and code results,
// the cases by state, how long a message waits for its decision, the
// mailbox connection's errors, the outbox, the action hook, the
// scheduled jobs, and how fresh the intake is. The daemon serves them at
// /metrics on the dashboard's listener, in the Prometheus text
// exposition format.
//
// Every series lives in a registry of its own (never the process-wide
// default one), so that tests and several daemons in one process each
// count apart. No label ever carries an address, a subject, a code, a
// case reference or any text from a message: each label's values are a
// small fixed set (the review causes of package rules, the sender
// verdicts, the code results, the case states, the jobs' names), and
// anything else is counted as "other".
package metrics
