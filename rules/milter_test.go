package rules

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/parser"
)

// milterVerdicts are the sender statuses that a correct RFC 8601 reader
// with the strict trust rules of SPEC §4 must give for the messages that
// Postfix, OpenDKIM and OpenDMARC delivered in testdata/milters (how they
// were made: testdata/milters/README.md). Only the topmost header with
// the trusted authserv-id counts. The three directories are the milter
// orders: dkim-first (smtpd_milters = opendkim, opendmarc: OpenDMARC's
// header lands on top), dmarc-first (the other way: OpenDKIM's header on
// top whenever the mail is signed), dkim-only (no OpenDMARC).
//
// Rows marked "cross-check" cannot be got right by reading the topmost
// header alone, however correctly: the milters themselves wrote a pass
// that rests on text the attacker put in a DKIM i= (or in a forged
// Authentication-Results header that OpenDMARC trusted). The forgery shows
// only against the rest of the message: no DKIM-Signature with an aligned
// d=, no aligned SPF pass, a dmarc=fail in the trusted header below.
var milterVerdicts = []struct {
	file string
	want recoverybot.SenderStatus
	why  string
}{
	// OpenDKIM, then OpenDMARC: OpenDMARC's header is the topmost.
	{"dkim-first/genuine-signed.eml", recoverybot.SenderVerified, "benign: dmarc=pass header.from=victim.example, a real aligned signature and SPF pass"},
	{"dkim-first/attacker-own.eml", recoverybot.SenderVerified, "benign: the attacker's own From (evil.example), dmarc=pass header.from=evil.example"},
	{"dkim-first/unsigned-victim.eml", recoverybot.SenderFailed, "benign: unsigned, SPF fail, dmarc=fail header.from=victim.example"},
	{"dkim-first/mailfrom-semicolon.eml", recoverybot.SenderFailed, "dmarc=fail for the From domain; OpenDMARC wrote only the envelope domain, smtp.mailfrom=evil.example"},
	{"dkim-first/mailfrom-space.eml", recoverybot.SenderFailed, "dmarc=fail for the From domain; the quoted local part is not copied"},
	{"dkim-first/helo-semicolon.eml", recoverybot.SenderFailed, "dmarc=fail on top; the HELO copied raw (smtp.helo=x;dmarc=pass;...) is in the SPF header below"},
	{"dkim-first/helo-quote.eml", recoverybot.SenderFailed, "dmarc=fail on top; the SPF header below has an unbalanced quote from the HELO"},
	{"dkim-first/dkim-i-qp-semicolon.eml", recoverybot.SenderFailed, "dmarc=fail for the From domain on top"},
	{"dkim-first/dkim-i-space.eml", recoverybot.SenderFailed, "dmarc=fail for the From domain on top"},
	{"dkim-first/dkim-i-qp-quoted.eml", recoverybot.SenderFailed, "dmarc=fail for the From domain on top"},
	{"dkim-first/dkim-i-raw-quoted.eml", recoverybot.SenderFailed, "dmarc=fail for the From domain on top"},
	{"dkim-first/dkim-i-injection.eml", recoverybot.SenderFailed, "cross-check: OpenDMARC read the injected 'dkim=pass header.d=victim.example' from OpenDKIM's header and wrote dmarc=pass header.from=victim.example; the only signature is d=evil.example, SPF is for evil.example"},
	{"dkim-first/dkim-i-injection-i.eml", recoverybot.SenderFailed, "cross-check: as dkim-i-injection, and the real signature is even a permerror; OpenDMARC still wrote dmarc=pass header.from=victim.example"},
	{"dkim-first/dkim-i-decoy-bad-b.eml", recoverybot.SenderFailed, "cross-check: OpenDMARC fooled again (dmarc=pass on top); OpenDKIM's header below has dkim=fail and the injected dkim=pass both for header.d=victim.example"},
	{"dkim-first/dkim-i-decoy-v2.eml", recoverybot.SenderFailed, "cross-check: as dkim-i-decoy-bad-b, the decoy reported as dkim=permerror header.d=victim.example"},
	{"dkim-first/dkim-forged-victim.eml", recoverybot.SenderFailed, "a d=victim.example signature with the attacker's key: dmarc=fail on top"},
	{"dkim-first/forged-ar.eml", recoverybot.SenderFailed, "the forged Authentication-Results was removed by OpenDKIM before OpenDMARC ran: dmarc=fail"},
	{"dkim-first/two-from.eml", recoverybot.SenderFailed, "two From headers (OpenDMARC judged the first, victim.example; OpenDKIM verified the last)"},

	// OpenDMARC, then OpenDKIM: OpenDKIM's header is the topmost when the mail is signed.
	{"dmarc-first/genuine-signed.eml", recoverybot.SenderVerified, "benign: dkim=pass header.d=victim.example on top, aligned"},
	{"dmarc-first/attacker-own.eml", recoverybot.SenderVerified, "benign: dkim=pass header.d=evil.example for a From of evil.example"},
	{"dmarc-first/unsigned-victim.eml", recoverybot.SenderFailed, "benign: unsigned, so OpenDMARC's dmarc=fail is on top"},
	{"dmarc-first/mailfrom-semicolon.eml", recoverybot.SenderFailed, "unsigned: dmarc=fail on top"},
	{"dmarc-first/mailfrom-space.eml", recoverybot.SenderFailed, "unsigned: dmarc=fail on top"},
	{"dmarc-first/helo-semicolon.eml", recoverybot.SenderFailed, "unsigned: dmarc=fail on top"},
	{"dmarc-first/helo-quote.eml", recoverybot.SenderFailed, "unsigned: dmarc=fail on top"},
	{"dmarc-first/dkim-i-qp-semicolon.eml", recoverybot.SenderFailed, "OpenDKIM wrote header.i=x; dkim=pass header.d=victim.example z=@evil.example ...: 'z=@evil.example' is no ptype.property=value, the header cannot be read unambiguously"},
	{"dmarc-first/dkim-i-space.eml", recoverybot.SenderFailed, "OpenDKIM wrote header.i=x dkim=pass header.d=victim.example ...: 'dkim=pass' after a property is a syntax error, the header cannot be read unambiguously"},
	{"dmarc-first/dkim-i-qp-quoted.eml", recoverybot.SenderFailed, `header.i="x; dkim=pass header.d=victim.example z="@evil.example is one quoted local part, so OpenDKIM's header on top has only dkim=pass header.d=evil.example, not aligned; OpenDMARC's trusted header right below says dmarc=fail for the From domain`},
	{"dmarc-first/dkim-i-raw-quoted.eml", recoverybot.SenderFailed, `header.i="xdkim=passheader.d=victim.examplez="@evil.example (OpenDKIM dropped the FWS) is one value: dkim=pass header.d=evil.example, not aligned; OpenDMARC's trusted header right below says dmarc=fail for the From domain`},
	{"dmarc-first/dkim-i-injection.eml", recoverybot.SenderFailed, "cross-check: OpenDKIM's header reads, per RFC 8601, as a second result dkim=pass header.d=victim.example, text from i=; no DKIM-Signature has d=victim.example and the trusted header below says dmarc=fail"},
	{"dmarc-first/dkim-i-injection-i.eml", recoverybot.SenderFailed, "cross-check: as dkim-i-injection, with header.i=@victim.example injected too"},
	{"dmarc-first/dkim-i-decoy-bad-b.eml", recoverybot.SenderFailed, "the injected dkim=pass and the decoy's dkim=fail are both for header.d=victim.example: a method result repeated for the From domain (and an aligned fail)"},
	{"dmarc-first/dkim-i-decoy-v2.eml", recoverybot.SenderFailed, "the injected dkim=pass and the decoy's dkim=permerror both for header.d=victim.example: a repeated result for the From domain"},
	{"dmarc-first/dkim-forged-victim.eml", recoverybot.SenderFailed, "dkim=fail header.d=victim.example on top: an aligned fail"},
	{"dmarc-first/forged-ar.eml", recoverybot.SenderUnverified, "cross-check: OpenDMARC trusted the attacker's 'Authentication-Results: mx.example.net; dkim=pass header.d=victim.example' and wrote dmarc=pass; the message has no DKIM-Signature and SPF is for evil.example: no pass of our MX backs the dmarc=pass, which proves nothing"},
	{"dmarc-first/two-from.eml", recoverybot.SenderFailed, "two From headers"},

	// OpenDKIM alone (a site without OpenDMARC).
	{"dkim-only/genuine-signed.eml", recoverybot.SenderVerified, "benign: dkim=pass header.d=victim.example, aligned"},
	{"dkim-only/attacker-own.eml", recoverybot.SenderVerified, "benign: dkim=pass header.d=evil.example for a From of evil.example"},
	{"dkim-only/unsigned-victim.eml", recoverybot.SenderUnverified, "benign: unsigned, OpenDKIM adds no header: no trusted header"},
	{"dkim-only/mailfrom-semicolon.eml", recoverybot.SenderUnverified, "no trusted header (nothing checks SPF)"},
	{"dkim-only/mailfrom-space.eml", recoverybot.SenderUnverified, "no trusted header"},
	{"dkim-only/helo-semicolon.eml", recoverybot.SenderUnverified, "no trusted header"},
	{"dkim-only/helo-quote.eml", recoverybot.SenderUnverified, "no trusted header"},
	{"dkim-only/dkim-i-qp-semicolon.eml", recoverybot.SenderFailed, "'z=@evil.example' is no property: the header cannot be read unambiguously"},
	{"dkim-only/dkim-i-space.eml", recoverybot.SenderFailed, "'dkim=pass' after header.i=x is a syntax error: the header cannot be read unambiguously"},
	{"dkim-only/dkim-i-qp-quoted.eml", recoverybot.SenderUnverified, "one quoted header.i: dkim=pass header.d=evil.example, not aligned"},
	{"dkim-only/dkim-i-raw-quoted.eml", recoverybot.SenderUnverified, "one quoted header.i: dkim=pass header.d=evil.example, not aligned"},
	{"dkim-only/dkim-i-injection.eml", recoverybot.SenderFailed, "cross-check: a well-formed injected dkim=pass header.d=victim.example; no DKIM-Signature has d=victim.example"},
	{"dkim-only/dkim-i-injection-i.eml", recoverybot.SenderFailed, "cross-check: as dkim-i-injection"},
	{"dkim-only/dkim-i-decoy-bad-b.eml", recoverybot.SenderFailed, "dkim=fail and the injected dkim=pass both for header.d=victim.example: a repeated result for the From domain"},
	{"dkim-only/dkim-i-decoy-v2.eml", recoverybot.SenderFailed, "dkim=permerror and the injected dkim=pass both for header.d=victim.example: a repeated result for the From domain"},
	{"dkim-only/dkim-forged-victim.eml", recoverybot.SenderFailed, "dkim=fail header.d=victim.example: an aligned fail"},
	{"dkim-only/forged-ar.eml", recoverybot.SenderUnverified, "OpenDKIM removed the forged header and, the mail being unsigned, added none"},
	{"dkim-only/two-from.eml", recoverybot.SenderFailed, "two From headers"},
}

// TestCheckSenderMilterFixtures runs CheckSender over the messages the
// real milters delivered, and checks that every fixture has a verdict.
func TestCheckSenderMilterFixtures(t *testing.T) {
	trusted := []string{"mx.example.net"}
	seen := map[string]bool{}
	for _, v := range milterVerdicts {
		seen[v.file] = true
		t.Run(v.file, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", "milters", v.file))
			if err != nil {
				t.Fatal(err)
			}
			m, err := parser.Parse(raw, parser.Options{})
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			got := CheckSender(m, trusted)
			if got.Status != v.want {
				t.Errorf("%s (%s), want %s: %s", got.Status, got.Detail, v.want, v.why)
			}
			if got.Detail == "" {
				t.Error("no detail")
			}
		})
	}
	files, err := filepath.Glob(filepath.Join("testdata", "milters", "*", "*.eml"))
	if err != nil {
		t.Fatal(err)
	}
	var missing []string
	for _, f := range files {
		rel := filepath.ToSlash(strings.TrimPrefix(f, filepath.Join("testdata", "milters")+string(filepath.Separator)))
		if strings.HasPrefix(rel, "input/") {
			continue // the messages as sent, before the milters
		}
		if !seen[rel] {
			missing = append(missing, rel)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("fixtures without a verdict in milterVerdicts: %v", missing)
	}
	if len(seen) != len(milterVerdicts) {
		t.Errorf("milterVerdicts names a file twice")
	}
}
