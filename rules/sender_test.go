package rules

import (
	"strings"
	"testing"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/parser"
)

func ar(id string, methods ...parser.AuthMethod) parser.AuthResult {
	return parser.AuthResult{AuthServID: id, Results: methods}
}

func dmarc(result, from string) parser.AuthMethod {
	return parser.AuthMethod{Method: "dmarc", Result: result, Props: map[string]string{"header.from": from}}
}

func spf(result, mailfrom string) parser.AuthMethod {
	return parser.AuthMethod{Method: "spf", Result: result, Props: map[string]string{"smtp.mailfrom": mailfrom}}
}

func dkim(result, d string) parser.AuthMethod {
	return parser.AuthMethod{Method: "dkim", Result: result, Props: map[string]string{"header.d": d}}
}

func TestCheckSender(t *testing.T) {
	trusted := []string{"mx.hosting.example"}
	one := []string{"jean@example.org"}
	tests := []struct {
		name string
		from []string
		auth []parser.AuthResult
		want recoverybot.SenderStatus
	}{
		{"no header at all", one, nil, recoverybot.SenderUnverified},
		{"dmarc pass from our MX", one, []parser.AuthResult{ar("mx.hosting.example", spf("pass", "example.org"), dmarc("pass", "example.org"))}, recoverybot.SenderVerified},
		{"authserv-id compared without case", one, []parser.AuthResult{ar("MX.Hosting.Example", spf("pass", "example.org"), dmarc("pass", "example.org"))}, recoverybot.SenderVerified},
		{"dmarc pass backed by dkim in the header below", one, []parser.AuthResult{ar("mx.hosting.example", dmarc("pass", "example.org")),
			ar("mx.hosting.example", dkim("pass", "example.org"))}, recoverybot.SenderVerified},
		{"dmarc pass that nothing backs", one, []parser.AuthResult{ar("mx.hosting.example", dmarc("pass", "example.org"))}, recoverybot.SenderUnverified},
		{"dmarc pass backed by an spf pass of another domain only", one, []parser.AuthResult{ar("mx.hosting.example",
			spf("pass", "evil.example"), dmarc("pass", "example.org"))}, recoverybot.SenderUnverified},
		{"dkim pass, same domain", one, []parser.AuthResult{ar("mx.hosting.example", dkim("pass", "example.org"))}, recoverybot.SenderVerified},
		{"dkim pass, subdomain (relaxed alignment)", one, []parser.AuthResult{ar("mx.hosting.example", dkim("pass", "mail.example.org"))}, recoverybot.SenderVerified},
		{"dkim pass for another domain", one, []parser.AuthResult{ar("mx.hosting.example", dkim("pass", "mailer.example.net"))}, recoverybot.SenderUnverified},
		{"dkim pass for a look-alike", one, []parser.AuthResult{ar("mx.hosting.example", dkim("pass", "example-org.example"))}, recoverybot.SenderUnverified},
		{"dkim pass on a public suffix sibling", []string{"a@x.co.uk"}, []parser.AuthResult{ar("mx.hosting.example", dkim("pass", "y.co.uk"))}, recoverybot.SenderUnverified},
		{"dmarc pass for another domain: the MTA read another From", one, []parser.AuthResult{ar("mx.hosting.example", dmarc("pass", "evil.example"))}, recoverybot.SenderFailed},
		{"untrusted header claiming pass", one, []parser.AuthResult{ar("mx.evil.example", dmarc("pass", "example.org"))}, recoverybot.SenderUnverified},
		{"dmarc fail", one, []parser.AuthResult{ar("mx.hosting.example", dmarc("fail", "example.org"))}, recoverybot.SenderFailed},
		{"aligned dkim fail", one, []parser.AuthResult{ar("mx.hosting.example", dkim("fail", "example.org"))}, recoverybot.SenderFailed},
		{"trusted header below an untrusted forged one", one, []parser.AuthResult{
			ar("mx.evil.example", dmarc("pass", "example.org")),
			ar("mx.hosting.example", dmarc("fail", "example.org"))}, recoverybot.SenderFailed},
		{"only the topmost trusted header counts", one, []parser.AuthResult{
			ar("mx.hosting.example", dmarc("fail", "example.org")),
			ar("mx.hosting.example", dmarc("pass", "example.org"))}, recoverybot.SenderFailed},
		{"spf pass alone proves nothing about From", one, []parser.AuthResult{ar("mx.hosting.example",
			parser.AuthMethod{Method: "spf", Result: "pass", Props: map[string]string{"smtp.mailfrom": "example.org"}})}, recoverybot.SenderUnverified},
		{"two From addresses", []string{"jean@example.org", "x@example.org"}, []parser.AuthResult{ar("mx.hosting.example", dmarc("pass", "example.org"))}, recoverybot.SenderFailed},
		{"no From", nil, nil, recoverybot.SenderFailed},
	}
	for _, tt := range tests {
		m := &parser.Message{From: tt.from, AuthResults: tt.auth}
		// Every dkim result is about a signature the message carries.
		for _, a := range tt.auth {
			for _, r := range a.Results {
				if d := r.Props["header.d"]; r.Method == "dkim" && d != "" {
					m.DKIMSignatures = append(m.DKIMSignatures, parser.DKIMSignature{Domain: d})
				}
			}
		}
		if len(tt.from) == 1 {
			m.Sender = tt.from[0]
		}
		got := CheckSender(m, trusted)
		if got.Status != tt.want {
			t.Errorf("%s: %s (%s), want %s", tt.name, got.Status, got.Detail, tt.want)
		}
		if got.Detail == "" {
			t.Errorf("%s: no detail", tt.name)
		}
	}
}

// parsed reads a message from our MX, as the parser does: the
// Authentication-Results values given, topmost first, then headers.
func parsed(t *testing.T, from string, auth []string, headers ...string) *parser.Message {
	t.Helper()
	var b strings.Builder
	for _, a := range auth {
		b.WriteString("Authentication-Results: " + a + "\r\n")
	}
	b.WriteString("From: Jean <" + from + ">\r\nTo: contact@hosting.example\r\nSubject: [RB-1] hello\r\n" +
		"Date: Tue, 4 Mar 2025 10:00:00 +0000\r\nMessage-ID: <1@customer.example>\r\n")
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("Content-Type: text/plain\r\n\r\nhello\r\n")
	m, err := parser.Parse([]byte(b.String()), parser.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestCheckSenderStrict reads real header text through the parser: each
// row is an attack of issue 14 (text the MTA copied from the sender, an
// ambiguous trusted header) or a shape the rules must keep accepting.
func TestCheckSenderStrict(t *testing.T) {
	const mx = "mx.hosting.example"
	trusted := []string{mx}
	victim := "jean@victim.example"
	const (
		evilSig   = "DKIM-Signature: v=1; a=rsa-sha256; d=evil.example; s=sel; b=AbCd1234evil"
		victimSig = "DKIM-Signature: v=1; a=rsa-sha256; d=victim.example; s=sel; b=AbCd1234victim"
	)
	tests := []struct {
		name    string
		from    string
		auth    []string
		headers []string
		want    recoverybot.SenderStatus
	}{
		// Injection into the trusted header (finding 1).
		{name: "quoted envelope sender holding a dmarc=pass", from: victim, auth: []string{
			mx + `; spf=pass smtp.mailfrom="x;dmarc=pass header.from=victim.example z="@evil.example; dmarc=fail header.from=victim.example`},
			want: recoverybot.SenderFailed},
		{name: "quoted envelope sender holding a dmarc=pass, no OpenDMARC", from: victim, auth: []string{
			mx + `; spf=pass smtp.mailfrom="x;dmarc=pass header.from=victim.example z="@evil.example`},
			want: recoverybot.SenderUnverified},
		{name: "OpenDKIM i= holding an aligned pass", from: victim, auth: []string{
			mx + `; dkim=pass (1024-bit key; unprotected) header.d=evil.example header.i="x; dkim=pass header.d=victim.example z=" header.a=rsa-sha256 header.s=sel header.b=AbCd1234`},
			headers: []string{evilSig}, want: recoverybot.SenderFailed},
		{name: "OpenDKIM i= holding an aligned pass, quoted local part", from: victim, auth: []string{
			mx + `; dkim=pass (1024-bit key; unprotected) header.d=evil.example header.i="x; dkim=pass header.d=victim.example z="@evil.example header.a=rsa-sha256 header.s=sel header.b=AbCd1234`},
			headers: []string{evilSig}, want: recoverybot.SenderUnverified},
		{name: "OpenDKIM i= written unquoted: a second, well-formed result", from: victim, auth: []string{
			mx + `; dkim=pass (1024-bit key; unprotected) header.d=evil.example header.i=@evil.example; dkim=pass header.d=victim.example header.i=@victim.example header.a=rsa-sha256 header.s=sel header.b=AbCd1234`},
			headers: []string{evilSig}, want: recoverybot.SenderFailed},
		{name: "OpenDKIM i= written unquoted, with a decoy signature of the victim", from: victim, auth: []string{
			mx + `; dkim=pass (1024-bit key; unprotected) header.d=evil.example header.i=@evil.example; dkim=pass header.d=victim.example header.i=@victim.example header.a=rsa-sha256 header.s=sel header.b=AbCd1234`},
			headers: []string{evilSig, "DKIM-Signature: v=1; a=rsa-sha256; d=victim.example; s=sel; b=AbCd1234decoy"}, want: recoverybot.SenderFailed},
		{name: "OpenDMARC fooled by an injected dkim=pass below it", from: victim, auth: []string{
			mx + "; dmarc=pass (p=reject dis=none) header.from=victim.example",
			mx + "; spf=pass smtp.mailfrom=evil.example",
			mx + "; dkim=pass header.d=evil.example header.i=@evil.example; dkim=pass header.d=victim.example header.a=rsa-sha256 header.s=sel header.b=AbCd1234"},
			headers: []string{evilSig}, want: recoverybot.SenderFailed},
		{name: "dkim=pass for the domain, no signature in the message", from: victim, auth: []string{
			mx + "; dkim=pass header.d=victim.example header.s=sel header.b=AbCd1234"}, want: recoverybot.SenderFailed},
		{name: "dkim=pass whose header.b matches no signature", from: victim, auth: []string{
			mx + "; dkim=pass header.d=victim.example header.s=sel header.b=ZZZZ1234"},
			headers: []string{victimSig}, want: recoverybot.SenderFailed},
		{name: "OpenDKIM i= holding an aligned pass, white space for ;", from: victim, auth: []string{
			mx + `; dkim=pass (1024-bit key; unprotected) header.d=evil.example header.i="x dkim=pass header.d=victim.example z=" header.a=rsa-sha256 header.s=sel header.b=AbCd1234`},
			headers: []string{evilSig}, want: recoverybot.SenderFailed},
		{name: "hostile HELO, quoted", from: victim, auth: []string{
			mx + `; spf=none smtp.helo="x; dmarc=pass header.from=victim.example z="; dmarc=none header.from=victim.example`},
			want: recoverybot.SenderUnverified},
		{name: "hostile HELO, unquoted: two dmarc results for the domain", from: victim, auth: []string{
			mx + `; spf=none smtp.helo=x;dmarc=pass header.from=victim.example; dmarc=none (p=none) header.from=victim.example`},
			want: recoverybot.SenderFailed},
		{name: "dmarc=pass without header.from", from: victim, auth: []string{mx + "; dmarc=pass"}, want: recoverybot.SenderFailed},
		{name: "dmarc=pass and dmarc=fail for the domain", from: victim, auth: []string{
			mx + "; dmarc=pass header.from=victim.example; dmarc=fail header.from=victim.example"}, want: recoverybot.SenderFailed},
		{name: "dmarc=fail whatever else it says", from: victim, auth: []string{
			mx + "; dkim=pass header.d=victim.example; dmarc=fail (p=reject) header.from=victim.example"}, want: recoverybot.SenderFailed},
		{name: "dkim=pass without header.d", from: victim, auth: []string{mx + "; dkim=pass header.i=@victim.example"}, want: recoverybot.SenderFailed},
		{name: "property repeated", from: victim, auth: []string{
			mx + "; dkim=pass header.d=victim.example header.d=evil.example"}, want: recoverybot.SenderFailed},
		{name: "header.from repeated", from: victim, auth: []string{
			mx + "; dmarc=pass header.from=victim.example header.from=evil.example"}, want: recoverybot.SenderFailed},
		{name: "unreadable trusted header", from: victim, auth: []string{
			mx + `; dmarc=pass header.from=victim.example; spf=pass smtp.mailfrom="unterminated`}, want: recoverybot.SenderFailed},
		{name: "same dkim signature twice", from: victim, auth: []string{
			mx + "; dkim=pass header.d=victim.example header.s=s1 header.b=AbCd; dkim=fail header.d=victim.example header.s=s1 header.b=AbCd"}, want: recoverybot.SenderFailed},
		{name: "dmarc result for another From domain", from: victim, auth: []string{mx + "; dmarc=pass header.from=evil.example"}, want: recoverybot.SenderFailed},
		{name: "authserv-id that merely ends with the trusted one", from: victim, auth: []string{
			"x." + mx + "; dmarc=pass header.from=victim.example"}, want: recoverybot.SenderUnverified},
		{name: "authserv-id with the trusted one as a prefix", from: victim, auth: []string{
			mx + ".evil.example; dmarc=pass header.from=victim.example"}, want: recoverybot.SenderUnverified},
		{name: "Microsoft 365 header without authserv-id", from: victim, auth: []string{
			"spf=pass (sender IP is 192.0.2.1) smtp.mailfrom=victim.example; dkim=pass (signature was verified) header.d=victim.example;dmarc=pass action=none header.from=victim.example;compauth=pass reason=100"},
			want: recoverybot.SenderUnverified},
		{name: "From domain that merely ends with the signer's", from: "jean@evilexample.org", auth: []string{
			mx + "; dkim=pass header.d=example.org"}, headers: []string{"DKIM-Signature: v=1; d=example.org; s=s; b=x"}, want: recoverybot.SenderUnverified},
		{name: "signer that merely ends with the From domain", from: "jean@example.org", auth: []string{
			mx + "; dkim=pass header.d=evilexample.org"}, headers: []string{"DKIM-Signature: v=1; d=evilexample.org; s=s; b=x"}, want: recoverybot.SenderUnverified},
		{name: "repeated Subject (replay)", from: victim, auth: []string{mx + "; dkim=pass header.d=victim.example; dmarc=pass header.from=victim.example"},
			headers: []string{"Subject: [RB-2] replayed"}, want: recoverybot.SenderFailed},
		{name: "repeated Message-ID (replay)", from: victim, auth: []string{mx + "; dmarc=pass header.from=victim.example"},
			headers: []string{"Message-Id: <2@customer.example>"}, want: recoverybot.SenderFailed},

		// What must keep passing.
		{name: "OpenDKIM and OpenDMARC", from: victim, auth: []string{
			mx + "; dmarc=pass (p=none dis=none) header.from=victim.example",
			mx + "; dkim=pass (2048-bit key; unprotected) header.d=victim.example header.i=@victim.example header.a=rsa-sha256 header.s=sel header.b=AbCd1234"},
			headers: []string{victimSig}, want: recoverybot.SenderVerified},
		{name: "OpenDKIM alone, signed by a subdomain", from: victim, auth: []string{
			mx + "; dkim=pass (2048-bit key; unprotected) header.d=mail.victim.example header.i=@mail.victim.example header.b=AbCd1234"},
			headers: []string{"DKIM-Signature: v=1; a=rsa-sha256; d=mail.victim.example; s=sel;\r\n\tb=AbCd1234efgh"}, want: recoverybot.SenderVerified},
		{name: "Gmail: header.i without header.d", from: victim, auth: []string{
			"mx.hosting.example;\r\n       dkim=pass header.i=@victim.example header.s=20230601 header.b=Gm4iL1xY;\r\n       spf=pass (google.com: domain of jean@victim.example designates 192.0.2.1 as permitted sender) smtp.mailfrom=jean@victim.example;\r\n       dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=victim.example"},
			headers: []string{"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n        d=victim.example; s=20230601; h=from:to:subject;\r\n        bh=abc=;\r\n        b=Gm4iL1xYabcdef\r\n         ghijkl=="}, want: recoverybot.SenderVerified},
		{name: "rspamd", from: victim, auth: []string{
			mx + ";\r\n\tdkim=pass header.d=victim.example header.s=dkim header.b=Ab12Cd34;\r\n\tspf=pass (" + mx + ": domain of \"jean@victim.example\" designates 192.0.2.1 as permitted sender) smtp.mailfrom=jean@victim.example;\r\n\tdmarc=pass (policy=reject) header.from=victim.example"},
			headers: []string{"DKIM-Signature: v=1; a=rsa-sha256; d=victim.example; s=dkim; b=Ab12Cd34xx"}, want: recoverybot.SenderVerified},
		{name: "dual signature rsa and ed25519", from: victim, auth: []string{
			mx + "; dkim=pass header.d=victim.example header.s=rsa header.a=rsa-sha256 header.b=AbCd; dkim=pass header.d=victim.example header.s=ed header.a=ed25519-sha256 header.b=EfGh"},
			// SPEC §4: a method result repeated for the From domain is not
			// read unambiguously; the agent sees the message in review.
			headers: []string{"DKIM-Signature: v=1; d=victim.example; s=rsa; b=AbCdxx", "DKIM-Signature: v=1; d=victim.example; s=ed; b=EfGhxx"},
			want:    recoverybot.SenderFailed},
		{name: "a list broke one of two signatures", from: victim, auth: []string{
			mx + "; dkim=pass header.d=victim.example header.b=oINEO8hg; dkim=fail header.d=victim.example header.b=EToRSuvU"},
			headers: []string{"DKIM-Signature: v=1; d=victim.example; s=a; b=oINEO8hgxx", "DKIM-Signature: v=1; d=victim.example; s=b; b=EToRSuvUxx"},
			want:    recoverybot.SenderFailed},
		{name: "unsigned, rspamd's dkim=none", from: victim, auth: []string{mx + "; dkim=none; spf=pass smtp.mailfrom=victim.example"}, want: recoverybot.SenderUnverified},
		{name: "authserv-id in another case, with a version", from: victim, auth: []string{"MX.Hosting.Example 1; spf=pass smtp.mailfrom=Victim.Example; dmarc=pass header.from=Victim.Example"}, want: recoverybot.SenderVerified},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := parsed(t, tt.from, tt.auth, tt.headers...)
			got := CheckSender(m, trusted)
			if got.Status != tt.want {
				t.Errorf("%s (%s), want %s; read %+v", got.Status, got.Detail, tt.want, m.AuthResults)
			}
			if got.Detail == "" {
				t.Error("no detail")
			}
		})
	}
}
