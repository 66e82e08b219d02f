package rules

import (
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
		{"dmarc pass from our MX", one, []parser.AuthResult{ar("mx.hosting.example", dmarc("pass", "example.org"))}, recoverybot.SenderVerified},
		{"authserv-id compared without case", one, []parser.AuthResult{ar("MX.Hosting.Example", dmarc("pass", "example.org"))}, recoverybot.SenderVerified},
		{"dkim pass, same domain", one, []parser.AuthResult{ar("mx.hosting.example", dkim("pass", "example.org"))}, recoverybot.SenderVerified},
		{"dkim pass, subdomain (relaxed alignment)", one, []parser.AuthResult{ar("mx.hosting.example", dkim("pass", "mail.example.org"))}, recoverybot.SenderVerified},
		{"dkim pass for another domain", one, []parser.AuthResult{ar("mx.hosting.example", dkim("pass", "mailer.example.net"))}, recoverybot.SenderUnverified},
		{"dkim pass for a look-alike", one, []parser.AuthResult{ar("mx.hosting.example", dkim("pass", "example-org.example"))}, recoverybot.SenderUnverified},
		{"dkim pass on a public suffix sibling", []string{"a@x.co.uk"}, []parser.AuthResult{ar("mx.hosting.example", dkim("pass", "y.co.uk"))}, recoverybot.SenderUnverified},
		{"dmarc pass for another domain", one, []parser.AuthResult{ar("mx.hosting.example", dmarc("pass", "evil.example"))}, recoverybot.SenderUnverified},
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
