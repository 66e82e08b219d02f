package parser

import (
	"reflect"
	"strings"
	"testing"
)

// p builds the props of an expected result: key, value, key, value…
func p(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// TestReadAuthResult reads RFC 8601's examples (Appendix B), the headers
// real MTAs write, and headers carrying text an attacker chose.
func TestReadAuthResult(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		id      string
		lenient bool
		err     bool // Error set
		want    []AuthMethod
	}{
		// RFC 8601 Appendix B.
		{name: "B.2 nothing done", in: "example.org 1; none", id: "example.org", want: []AuthMethod{}},
		{name: "B.3 SPF", in: "example.com;\r\n          spf=pass smtp.mailfrom=example.net", id: "example.com",
			want: []AuthMethod{{Method: "spf", Result: "pass", Props: p("smtp.mailfrom", "example.net")}}},
		{name: "B.4 SMTP AUTH", in: "example.com;\r\n          auth=pass (cram-md5) smtp.auth=sender@example.net;\r\n          spf=pass smtp.mailfrom=example.net", id: "example.com",
			want: []AuthMethod{
				{Method: "auth", Result: "pass", Props: p("smtp.auth", "sender@example.net")},
				{Method: "spf", Result: "pass", Props: p("smtp.mailfrom", "example.net")}}},
		{name: "B.4 iprev", in: "example.com; iprev=pass\r\n          policy.iprev=192.0.2.200", id: "example.com",
			want: []AuthMethod{{Method: "iprev", Result: "pass", Props: p("policy.iprev", "192.0.2.200")}}},
		{name: "B.5 sender-id and dkim", in: "example.com;\r\n          sender-id=fail header.from=example.com;\r\n          dkim=pass (good signature) header.d=example.com", id: "example.com",
			want: []AuthMethod{
				{Method: "sender-id", Result: "fail", Props: p("header.from", "example.com")},
				{Method: "dkim", Result: "pass", Props: p("header.d", "example.com")}}},
		{name: "B.6 two signatures", in: "mail-router.example.net;\r\n          dkim=pass (good signature) header.d=newyork.example.com\r\n                header.b=oINEO8hg;\r\n          dkim=fail (bad signature) header.d=newyork.example.com\r\n                header.b=EToRSuvU", id: "mail-router.example.net",
			want: []AuthMethod{
				{Method: "dkim", Result: "pass", Props: p("header.d", "newyork.example.com", "header.b", "oINEO8hg")},
				{Method: "dkim", Result: "fail", Props: p("header.d", "newyork.example.com", "header.b", "EToRSuvU")}}},
		{name: "B.7 reason as a quoted string", in: "example.com;\r\n          dkim=pass reason=\"good signature\"\r\n            header.i=@mail-router.example.net;\r\n          dkim=fail reason=\"bad signature\"\r\n            header.i=@newyork.example.com", id: "example.com",
			want: []AuthMethod{
				{Method: "dkim", Result: "pass", Props: p("reason", "good signature", "header.i", "@mail-router.example.net")},
				{Method: "dkim", Result: "fail", Props: p("reason", "bad signature", "header.i", "@newyork.example.com")}}},
		{name: "B.8 comment-heavy", in: "foo.example.net (foobar) 1 (baz);\r\n    dkim (Because I like it) / 1 (One yay) = (wait for it) fail\r\n      policy (A dot can go here) . (like that) expired\r\n      (this surprised me) = (as I wasn't expecting it) 1362471462", id: "foo.example.net",
			want: []AuthMethod{{Method: "dkim", Version: "1", Result: "fail", Props: p("policy.expired", "1362471462")}}},

		// What MTAs write.
		{name: "OpenDKIM", in: "mx.example.net;\r\n\tdkim=pass (2048-bit key; unprotected) header.d=example.org header.i=@example.org header.a=rsa-sha256 header.s=sel header.b=AbCd1234", id: "mx.example.net",
			want: []AuthMethod{{Method: "dkim", Result: "pass", Props: p("header.d", "example.org", "header.i", "@example.org", "header.a", "rsa-sha256", "header.s", "sel", "header.b", "AbCd1234")}}},
		{name: "OpenDKIM, base64 with + and /", in: "mx.example.net; dkim=pass (1024-bit key; secure) header.d=example.org header.i=@example.org header.b=\"a+b/c9=\"", id: "mx.example.net",
			want: []AuthMethod{{Method: "dkim", Result: "pass", Props: p("header.d", "example.org", "header.i", "@example.org", "header.b", "a+b/c9=")}}},
		{name: "OpenDMARC", in: "mx.example.net; dmarc=pass (p=none dis=none) header.from=example.org", id: "mx.example.net",
			want: []AuthMethod{{Method: "dmarc", Result: "pass", Props: p("header.from", "example.org")}}},
		{name: "OpenDMARC with a version", in: "mx.example.net 1; dmarc=fail (p=reject dis=reject) header.from=Example.ORG", id: "mx.example.net",
			want: []AuthMethod{{Method: "dmarc", Result: "fail", Props: p("header.from", "example.org")}}},
		{name: "rspamd", in: "mx.example.net;\r\n\tdkim=pass header.d=example.org header.s=dkim header.b=Ab12Cd34;\r\n\tspf=pass (mx.example.net: domain of \"user@example.org\" designates 192.0.2.1 as permitted sender) smtp.mailfrom=user@example.org;\r\n\tdmarc=pass (policy=reject) header.from=example.org;\r\n\tarc=none", id: "mx.example.net",
			want: []AuthMethod{
				{Method: "dkim", Result: "pass", Props: p("header.d", "example.org", "header.s", "dkim", "header.b", "Ab12Cd34")},
				{Method: "spf", Result: "pass", Props: p("smtp.mailfrom", "user@example.org")},
				{Method: "dmarc", Result: "pass", Props: p("header.from", "example.org")},
				{Method: "arc", Result: "none"}}},
		{name: "Gmail", in: "mx.google.com;\r\n       dkim=pass header.i=@example.org header.s=20230601 header.b=Xy0ZaBcD;\r\n       spf=pass (google.com: domain of jean@example.org designates 209.85.220.41 as permitted sender) smtp.mailfrom=jean@example.org;\r\n       dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=example.org", id: "mx.google.com",
			want: []AuthMethod{
				{Method: "dkim", Result: "pass", Props: p("header.i", "@example.org", "header.s", "20230601", "header.b", "Xy0ZaBcD")},
				{Method: "spf", Result: "pass", Props: p("smtp.mailfrom", "jean@example.org")},
				{Method: "dmarc", Result: "pass", Props: p("header.from", "example.org")}}},
		{name: "Microsoft 365 without authserv-id", in: "spf=pass (sender IP is 192.0.2.1)\r\n smtp.mailfrom=contoso.fr; dkim=pass (signature was verified)\r\n header.d=contoso.fr;dmarc=pass action=none header.from=contoso.fr;compauth=pass\r\n reason=100", lenient: true,
			want: []AuthMethod{
				{Method: "spf", Result: "pass", Props: p("smtp.mailfrom", "contoso.fr")},
				{Method: "dkim", Result: "pass", Props: p("header.d", "contoso.fr")},
				{Method: "dmarc", Result: "pass", Props: p("action", "none", "header.from", "contoso.fr")},
				{Method: "compauth", Result: "pass", Props: p("reason", "100")}}},
		{name: "Microsoft 365 with authserv-id", in: "mx.microsoft.com 1; spf=pass (sender ip is 192.0.2.1) smtp.rcpttodomain=contoso.fr smtp.mailfrom=example.org; dmarc=pass (p=none sp=none pct=100) action=none header.from=example.org; dkim=pass (signature was verified) header.d=example.org; arc=none", id: "mx.microsoft.com",
			want: []AuthMethod{
				{Method: "spf", Result: "pass", Props: p("smtp.rcpttodomain", "contoso.fr", "smtp.mailfrom", "example.org")},
				{Method: "dmarc", Result: "pass", Props: p("action", "none", "header.from", "example.org")},
				{Method: "dkim", Result: "pass", Props: p("header.d", "example.org")},
				{Method: "arc", Result: "none"}}},
		{name: "Postfix with policyd-spf", in: "mx.example.net; spf=pass (sender SPF authorized) smtp.mailfrom=example.org (client-ip=192.0.2.1; helo=mail.example.org; envelope-from=jean@example.org; receiver=<UNKNOWN>)", id: "mx.example.net",
			want: []AuthMethod{{Method: "spf", Result: "pass", Props: p("smtp.mailfrom", "example.org")}}},
		{name: "policyd-spf on the HELO", in: "mx.example.net; spf=none (no SPF record) smtp.mailfrom=example.org smtp.helo=mail.example.org", id: "mx.example.net",
			want: []AuthMethod{{Method: "spf", Result: "none", Props: p("smtp.mailfrom", "example.org", "smtp.helo", "mail.example.org")}}},
		{name: "Gmail, forwarded with ARC", in: "mx.google.com;\r\n       arc=pass (i=1 spf=pass spfdomain=example.org dkim=pass dkdomain=example.org dmarc=pass fromdomain=example.org);\r\n       spf=pass (google.com: domain of list@lists.example.net designates 2001:db8::25 as permitted sender) smtp.mailfrom=list@lists.example.net", id: "mx.google.com",
			want: []AuthMethod{
				{Method: "arc", Result: "pass"},
				{Method: "spf", Result: "pass", Props: p("smtp.mailfrom", "list@lists.example.net")}}},
		{name: "IPv6 address", in: "mx.example.net; iprev=pass policy.iprev=2001:db8::25 smtp.remote-ip=[2001:db8::25]", id: "mx.example.net",
			want: []AuthMethod{{Method: "iprev", Result: "pass", Props: p("policy.iprev", "2001:db8::25", "smtp.remote-ip", "[2001:db8::25]")}}},
		{name: "quoted authserv-id", in: "\"mx.example.net\"; dkim=none", id: "mx.example.net",
			want: []AuthMethod{{Method: "dkim", Result: "none"}}},
		{name: "trailing semicolon", in: "mx.example.net; spf=pass smtp.mailfrom=example.org;", id: "mx.example.net",
			want: []AuthMethod{{Method: "spf", Result: "pass", Props: p("smtp.mailfrom", "example.org")}}},
		{name: "empty value", in: "mx.example.net; spf=none smtp.helo=mx.example.org smtp.mailfrom= ; dkim=none", id: "mx.example.net",
			want: []AuthMethod{{Method: "spf", Result: "none", Props: p("smtp.mailfrom", "", "smtp.helo", "mx.example.org")}, {Method: "dkim", Result: "none"}}},
		{name: "white space after =", in: "mx.example.net; dkim=pass header.d= (the signer) example.org", id: "mx.example.net",
			want: []AuthMethod{{Method: "dkim", Result: "pass", Props: p("header.d", "example.org")}}},

		// Text an attacker chose, as the MTA copies it.
		{name: "quoted envelope sender holding ; and =", in: `mx.example.net; spf=pass smtp.mailfrom="x;dmarc=pass header.from=victim.example z="@evil.example; dmarc=fail header.from=victim.example`, id: "mx.example.net",
			want: []AuthMethod{
				{Method: "spf", Result: "pass", Props: p("smtp.mailfrom", `"x;dmarc=pass header.from=victim.example z="@evil.example`)},
				{Method: "dmarc", Result: "fail", Props: p("header.from", "victim.example")}}},
		{name: "OpenDKIM i= holding a result", in: `mx.example.net; dkim=pass (1024-bit key; unprotected) header.d=evil.example header.i="x; dkim=pass header.d=victim.example z=" header.b=AbCd1234`, id: "mx.example.net",
			want: []AuthMethod{{Method: "dkim", Result: "pass", Props: p("header.d", "evil.example", "header.i", "x; dkim=pass header.d=victim.example z=", "header.b", "AbCd1234")}}},
		{name: "OpenDKIM i= holding a result, white space only", in: `mx.example.net; dkim=pass header.d=evil.example header.i="x dkim=pass header.d=victim.example z=" header.b=AbCd1234`, id: "mx.example.net",
			want: []AuthMethod{{Method: "dkim", Result: "pass", Props: p("header.d", "evil.example", "header.i", "x dkim=pass header.d=victim.example z=", "header.b", "AbCd1234")}}},
		{name: "escaped quote inside a quoted string", in: `mx.example.net; spf=pass smtp.mailfrom="a\"; dmarc=pass header.from=victim.example; \"b"@evil.example`, id: "mx.example.net",
			want: []AuthMethod{{Method: "spf", Result: "pass", Props: p("smtp.mailfrom", `"a\"; dmarc=pass header.from=victim.example; \"b"@evil.example`)}}},
		{name: "a result inside a comment", in: `mx.example.net; spf=pass (x; dmarc=pass header.from=victim.example) smtp.mailfrom=evil.example`, id: "mx.example.net",
			want: []AuthMethod{{Method: "spf", Result: "pass", Props: p("smtp.mailfrom", "evil.example")}}},
		{name: "nested comment with an escaped parenthesis", in: `mx.example.net; spf=pass (a (b \) ; dmarc=pass header.from=victim.example) c) smtp.mailfrom=evil.example`, id: "mx.example.net",
			want: []AuthMethod{{Method: "spf", Result: "pass", Props: p("smtp.mailfrom", "evil.example")}}},
		{name: "quote inside a comment", in: `mx.example.net; spf=pass (he said "; dmarc=pass) smtp.mailfrom=evil.example`, id: "mx.example.net",
			want: []AuthMethod{{Method: "spf", Result: "pass", Props: p("smtp.mailfrom", "evil.example")}}},
		{name: "repeated property", in: "mx.example.net; dmarc=pass header.from=evil.example header.from=victim.example", id: "mx.example.net",
			want: []AuthMethod{{Method: "dmarc", Result: "pass", Props: p("header.from", "evil.example"), Repeated: []string{"header.from"}}}},
		{name: "unquoted HELO holding a result", in: "mx.example.net; spf=none smtp.helo=x;dmarc=pass header.from=victim.example; dmarc=fail header.from=victim.example", id: "mx.example.net",
			want: []AuthMethod{
				{Method: "spf", Result: "none", Props: p("smtp.helo", "x")},
				{Method: "dmarc", Result: "pass", Props: p("header.from", "victim.example")},
				{Method: "dmarc", Result: "fail", Props: p("header.from", "victim.example")}}},

		// Unreadable.
		{name: "empty", in: "", err: true, want: []AuthMethod{}},
		{name: "unsupported version", in: "mx.example.net 2; dkim=pass", id: "mx.example.net", err: true, want: []AuthMethod{}},
		{name: "unterminated quoted string", in: `mx.example.net; spf=pass smtp.mailfrom="x; dmarc=pass header.from=victim.example`, id: "mx.example.net", err: true, want: []AuthMethod{}},
		{name: "unterminated comment", in: `mx.example.net; dmarc=pass header.from=example.org; spf=pass (x; dmarc=fail`, id: "mx.example.net", err: true,
			want: []AuthMethod{{Method: "dmarc", Result: "pass", Props: p("header.from", "example.org")}}},
		{name: "no result", in: "mx.example.net", id: "mx.example.net", err: true, want: []AuthMethod{}},
		{name: "method without a result", in: "mx.example.net; dkim", id: "mx.example.net", err: true, want: []AuthMethod{}},
		{name: "garbage between results", in: "mx.example.net; dkim=pass header.d=example.org; ;; dmarc=pass", id: "mx.example.net", err: true,
			want: []AuthMethod{{Method: "dkim", Result: "pass", Props: p("header.d", "example.org")}}},
		{name: "property without a value sign", in: "mx.example.net; dkim=pass header.d", id: "mx.example.net", err: true, want: []AuthMethod{}},
		{name: "control character", in: "mx.example.net; dkim=pass header.d=exa\x00mple.org", id: "mx.example.net", err: true, want: []AuthMethod{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := readAuthResult(tt.in)
			if got.AuthServID != tt.id || got.Lenient != tt.lenient || (got.Error != "") != tt.err {
				t.Errorf("id %q lenient %v error %q; want id %q lenient %v error %v", got.AuthServID, got.Lenient, got.Error, tt.id, tt.lenient, tt.err)
			}
			for i := range tt.want {
				if len(tt.want[i].Props) == 0 {
					tt.want[i].Props = nil
				}
			}
			if !reflect.DeepEqual(got.Results, tt.want) {
				t.Errorf("results\n got %+v\nwant %+v", got.Results, tt.want)
			}
		})
	}
}

// TestAuthResultsBounded: a header cannot make the reader keep more
// results than its bound, and a message no more headers than its own.
func TestAuthResultsBounded(t *testing.T) {
	v := "mx.example.net" + strings.Repeat("; dkim=pass header.d=example.org", maxAuthMethods+1)
	if got := readAuthResult(v); got.Error == "" || len(got.Results) != maxAuthMethods {
		t.Errorf("%d results, error %q", len(got.Results), got.Error)
	}
	many := make([]string, maxAuthResults+5)
	for i := range many {
		many[i] = "mx.example.net; none"
	}
	if got := authResults(many); len(got) != maxAuthResults {
		t.Errorf("%d headers read", len(got))
	}
}

func FuzzAuthResults(f *testing.F) {
	f.Add("mx.example.net; dkim=pass header.d=example.org")
	f.Add("spf=pass (sender IP is 192.0.2.1) smtp.mailfrom=contoso.fr;compauth=pass reason=100")
	f.Add(`x; a=b (c (d) "e\" f") g="h;i"`)
	f.Add(`mx.example.net; spf=pass smtp.mailfrom="x;dmarc=pass header.from=victim.example z="@evil.example; dmarc=fail header.from=victim.example`)
	f.Add("foo.example.net (foobar) 1 (baz);\r\n    dkim (Because I like it) / 1 (One yay) = (wait for it) fail\r\n      policy (A dot can go here) . (like that) expired\r\n      (this surprised me) = (as I wasn't expecting it) 1362471462")
	f.Fuzz(func(t *testing.T, v string) {
		ar := readAuthResult(v)
		if ar.Results == nil || len(ar.Results) > maxAuthMethods {
			t.Fatalf("results %v", ar.Results)
		}
		if ar.Lenient && ar.AuthServID != "" {
			t.Fatalf("lenient header with an authserv-id: %+v", ar)
		}
		for _, r := range ar.Results {
			if r.Method == "" || r.Result == "" || strings.ToLower(r.Method) != r.Method || strings.ToLower(r.Result) != r.Result {
				t.Fatalf("method %q result %q in %+v", r.Method, r.Result, ar)
			}
			if len(r.Props) > maxAuthProps {
				t.Fatalf("%d props", len(r.Props))
			}
			for _, k := range r.Repeated {
				if _, ok := r.Props[k]; !ok {
					t.Fatalf("repeated %q not in props", k)
				}
			}
		}
		// Reading never depends on how white space is folded.
		folded := strings.ReplaceAll(v, " ", "\r\n ")
		if f := readAuthResult(folded); !reflect.DeepEqual(f.Results, ar.Results) && ar.Error == "" && !strings.Contains(v, `"`) {
			t.Fatalf("folding changed the reading:\n%+v\n%+v", ar, f)
		}
	})
}

// FuzzAuthResultsInjection: whatever text an MTA copies from the sender
// into a quoted string or a comment (escaping '"', '\' and parentheses
// as RFC 5322 asks), the header reads as the same two results.
func FuzzAuthResultsInjection(f *testing.F) {
	f.Add("x;dmarc=pass header.from=victim.example z=")
	f.Add(`a"; dkim=pass header.d=victim.example (`)
	f.Add("x dkim=pass header.d=victim.example\r\n z=")
	f.Fuzz(func(t *testing.T, inner string) {
		for i := 0; i < len(inner); i++ {
			if isCtl(inner[i]) {
				return // no MTA writes control characters
			}
		}
		esc := func(s, specials string) string {
			var b strings.Builder
			for i := 0; i < len(s); i++ {
				if strings.IndexByte(specials, s[i]) >= 0 {
					b.WriteByte('\\')
				}
				b.WriteByte(s[i])
			}
			return b.String()
		}
		for _, v := range []string{
			`mx.example.net; spf=pass smtp.mailfrom="` + esc(inner, `"\`) + `"@evil.example; dmarc=fail header.from=victim.example`,
			`mx.example.net; dkim=pass header.d=evil.example header.i="` + esc(inner, `"\`) + `"; dmarc=fail header.from=victim.example`,
			`mx.example.net; spf=pass (` + esc(inner, `()\`) + `) smtp.mailfrom=evil.example; dmarc=fail header.from=victim.example`,
		} {
			ar := readAuthResult(v)
			if ar.Error != "" || ar.AuthServID != "mx.example.net" || len(ar.Results) != 2 ||
				ar.Results[1].Method != "dmarc" || ar.Results[1].Result != "fail" || len(ar.Results[0].Repeated) > 0 ||
				!reflect.DeepEqual(ar.Results[1].Props, map[string]string{"header.from": "victim.example"}) {
				t.Fatalf("%q read as %+v", v, ar)
			}
		}
	})
}
