// Package recoverybot holds the domain of the account-recovery intake desk:
// profiles, recovery cases and their three kinds, the documents each holder
// kind must send, the case state machine, verification codes and case
// references.
//
// It uses the standard library only. Every other package of the project
// imports it; it imports none of them. The rules it encodes come from
// SPEC.md §1 (the requirement table), §2 (the states) and §3 (codes).
package recoverybot
