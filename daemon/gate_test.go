package daemon_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/recoverybot/recoverybot"
)

// forgedMail is a message an attacker gets into the contact mailbox and
// what its review reason must say.
type forgedMail struct {
	name   string
	raw    []byte
	reason string
}

// checkRefused delivers the forged mails into the mailbox of an open
// totp-lockout case and checks that none of them counted: no mail sent,
// no code attempt, no document, the case unchanged, every message in the
// review folder with its reason recorded.
func checkRefused(t *testing.T, e *e2e, ref string, forged []forgedMail) {
	t.Helper()
	mailsBefore := len(e.sink.Messages())
	for _, f := range forged {
		e.deliver(f.raw)
	}
	r := e.once()
	if r.Review != len(forged) || r.Processed != 0 {
		t.Errorf("run = %+v", r)
	}
	got := e.show(ref)
	if got.State != recoverybot.StateAwaitingEvidence || got.CodeVerified || got.FailedCodeAttempts != 0 || len(got.Documents) != 0 {
		t.Errorf("a forged mail changed the case: state %s, code verified %v, %d failed attempts, %d documents",
			got.State, got.CodeVerified, got.FailedCodeAttempts, len(got.Documents))
	}
	if n := len(e.sink.Messages()); n != mailsBefore {
		t.Errorf("forged mail caused %d mails", n-mailsBefore)
	}
	if n, _ := e.dovecot.Count(e.dovecot.User(), "Recovery.Review"); n != len(forged) {
		t.Errorf("%d messages in review, want %d", n, len(forged))
	}
	var reasons []string
	for _, ev := range got.Events {
		switch ev.Action {
		case "message_review":
			reasons = append(reasons, ev.Details["reason"])
		case "code_verified", "code_rejected", "case_locked", "evidence_complete":
			t.Errorf("event %s", ev.Action)
		}
	}
	for _, f := range forged {
		if !slices.ContainsFunc(reasons, func(r string) bool { return strings.Contains(r, f.reason) }) {
			t.Errorf("%s: no review reason with %q in %q", f.name, f.reason, reasons)
		}
	}
}

// TestInjectedAuthResultsRefused (issue 14, finding 1): text our MX
// copied from the sender into its trusted Authentication-Results (a
// quoted envelope sender, an OpenDKIM i=) never reads as a pass for the
// customer's domain.
func TestInjectedAuthResultsRefused(t *testing.T) {
	e := start(t, nil)
	s := e.open("p-ind", recoverybot.KindTOTPLockout, "")
	e.once()
	e.code("jean@example.org", s.Ref)
	forge := func(subject, auth string) []byte {
		return letter{from: "jean@example.org", subject: "[" + s.Ref + "] " + subject, text: "mon code AAAA-2222",
			auth: []string{auth}, files: map[string][]byte{"cni.jpg": jpeg}}.bytes()
	}
	// signed is forge with the attacker's own signature (d=evil.example)
	// on the mail, as the milters saw it.
	signed := func(subject string, auth ...string) []byte {
		return letter{from: "jean@example.org", subject: "[" + s.Ref + "] " + subject, text: "mon code AAAA-2222",
			auth: auth, files: map[string][]byte{"cni.jpg": jpeg},
			headers: []string{"DKIM-Signature: v=1; a=rsa-sha256; d=evil.example; s=sel; h=from:subject; bh=x=; b=AbCd1234evil"}}.bytes()
	}
	checkRefused(t, e, s.Ref, []forgedMail{
		{"a dmarc=pass in a quoted envelope sender",
			forge("envelope sender", mx+`; spf=pass smtp.mailfrom="x;dmarc=pass header.from=example.org z="@evil.example; dmarc=fail header.from=example.org`),
			"dmarc=fail for example.org"},
		{"an aligned dkim=pass in OpenDKIM's i=",
			forge("dkim i", mx+`; dkim=pass (1024-bit key; unprotected) header.d=evil.example header.i="x; dkim=pass header.d=example.org z=" header.a=rsa-sha256 header.s=sel header.b=AbCd1234`),
			"is no identity"},
		{"an aligned dkim=pass in OpenDKIM's i=, white space for ;",
			forge("dkim i blank", mx+`; dkim=pass (1024-bit key; unprotected) header.d=evil.example header.i="x dkim=pass header.d=example.org z=" header.a=rsa-sha256 header.s=sel header.b=AbCd1234`),
			"is no identity"},
		// What Debian's OpenDKIM really writes for such an i= (it copies
		// it unquoted: rules/testdata/milters), and what OpenDMARC then
		// concludes from it.
		{"an aligned dkim=pass that OpenDKIM copied unquoted from i=",
			signed("dkim i unquoted", mx+`; dkim=pass (1024-bit key; unprotected) header.d=evil.example header.i=@evil.example; dkim=pass header.d=example.org header.i=@example.org header.a=rsa-sha256 header.s=sel header.b=AbCd1234`),
			"no signature of the message is that one alone"},
		{"OpenDMARC's dmarc=pass drawn from that injected result",
			signed("dmarc from dkim i", mx+"; dmarc=pass (p=reject dis=none) header.from=example.org",
				mx+"; spf=pass smtp.mailfrom=evil.example",
				mx+`; dkim=pass header.d=evil.example header.i=@evil.example; dkim=pass header.d=example.org header.a=rsa-sha256 header.s=sel header.b=AbCd1234`),
			"no signature of the message is that one alone"},
		{"dmarc=pass without header.from", forge("no header.from", mx+"; dmarc=pass"), "without header.from"},
		{"dmarc=pass and dmarc=fail", forge("pass and fail", mx+"; dmarc=pass header.from=example.org; dmarc=fail header.from=example.org"), "more than one dmarc result"},
	})
}

// TestReplayedMailRefused (issue 14, finding 2): the customer's genuine,
// DKIM-signed mail replayed with a second Subject (carrying a code) and
// Message-ID on top is tied to the case and goes to review.
func TestReplayedMailRefused(t *testing.T) {
	e := start(t, nil)
	s := e.open("p-ind", recoverybot.KindTOTPLockout, "")
	e.once()
	e.code("jean@example.org", s.Ref)
	genuine := letter{from: "jean@example.org", subject: "Re: mon compte", text: "Bonjour, voici ma carte.",
		files: map[string][]byte{"carte-identite.jpg": jpeg}, messageID: "genuine.1@example.org"}.bytes()
	replay := "Authentication-Results: " + mx + "; dkim=pass header.d=example.org header.s=sel header.b=AbCd1234; dmarc=pass header.from=example.org\r\n" +
		"Subject: [" + s.Ref + "] mon code BBBB-3333\r\nMessage-ID: <replay.1@evil.example>\r\n" + string(genuine)
	checkRefused(t, e, s.Ref, []forgedMail{{"replay", []byte(replay), "repeated header: Subject, Message-ID"}})
}
