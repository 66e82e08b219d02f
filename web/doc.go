// Package web is the agents' dashboard: queues of cases, a case page with
// the evidence, the previews of documents and the decision forms. Every
// action goes through desk, which the command line shares; web writes no
// SQL and composes no mail.
//
// Pages are rendered on the server with html/template from embedded
// templates, under a strict Content-Security-Policy (no inline script or
// style). Sessions are opaque tokens in a cookie (RFC 6265bis §4.1.3.2
// "__Host-" prefix behind TLS), kept hashed by desk. Every POST passes
// http.CrossOriginProtection (Sec-Fetch-Site, then Origin) and carries the
// session's form token. Documents the customers sent are hostile: they
// reach the browser only as PNG pages re-encoded by a Previewer, under
// "default-src 'none'; sandbox", and their original bytes only through an
// explicit, audited download as an attachment.
//
// A case is worked by the agent who holds it (desk's claims): the case
// page offers the holder the decisions, the verdicts on documents and the
// asks for new ones, and everyone else the claim, the reassign, the
// confirmation of another agent's pending approval and the stop of an
// action that waits. A flash message travels as a key of the catalogue;
// the few that name an agent carry the name beside it, shown only when it
// is one of ours.
package web
