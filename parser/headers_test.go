package parser

import (
	"errors"
	"net/textproto"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func header(kv ...string) textproto.MIMEHeader {
	h := textproto.MIMEHeader{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

func TestSender(t *testing.T) {
	cases := []struct {
		name   string
		h      textproto.MIMEHeader
		sender string
		from   []string
	}{
		{"plain", header("From", "Jean Dupont <Jean.Dupont@Example.ORG>"), "jean.dupont@example.org", []string{"jean.dupont@example.org"}},
		{"encoded name", header("From", "=?ISO-8859-1?Q?=C9lodie_Martin?= <elodie@example.org>"), "elodie@example.org", []string{"elodie@example.org"}},
		{"bare", header("From", "elodie@example.org"), "elodie@example.org", []string{"elodie@example.org"}},
		{"two addresses", header("From", "a@example.org, b@example.org"), "", []string{"a@example.org", "b@example.org"}},
		{"two fields", header("From", "a@example.org", "From", "b@example.org"), "", []string{"a@example.org", "b@example.org"}},
		{"none", header("Subject", "x"), "", nil},
		{"group", header("From", "undisclosed-recipients:;"), "", nil},
		{"invalid domain", header("From", "root@localhost"), "", nil},
		{"one valid one not", header("From", "a@example.org, root@localhost"), "", []string{"a@example.org"}},
		{"garbage", header("From", "<<<>>>"), "", nil},
		{"name with @ (Outlook)", header("From", "jang.abcdef@xyzlinu <jang@example.it>"), "jang@example.it", []string{"jang@example.it"}},
		{"display name never counts", header("From", `"boss@bank.example" <attacker@evil.example>`), "attacker@evil.example", []string{"attacker@evil.example"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := newMessage()
			readHeaders(m, c.h)
			if m.Sender != c.sender || !reflect.DeepEqual(m.From, c.from) {
				t.Errorf("sender %q from %q, want %q %q", m.Sender, m.From, c.sender, c.from)
			}
		})
	}
}

func TestHeaderFacts(t *testing.T) {
	m := newMessage()
	readHeaders(m, header(
		"From", "a@example.org",
		"Subject", "=?UTF-8?Q?Re=3A_D=C3=A9blocage_du_compte?= =?UTF-8?B?IOKCrA==?=",
		"Message-Id", "<abc@example.org>",
		"In-Reply-To", "<code-1@recoverybot.example>",
		"References", "<x@y> <code-1@recoverybot.example>",
		"Date", "Mon, 4 Mar 2024 10:15:00 +0100",
		"Reply-To", "other@example.net",
		"Sender", "list@example.net",
		"To", "contact@example.net", "Cc", "b@example.org",
	))
	if m.Subject != "Re: Déblocage du compte €" || m.MessageID != "abc@example.org" ||
		!reflect.DeepEqual(m.InReplyTo, []string{"code-1@recoverybot.example"}) || len(m.References) != 2 ||
		m.Date.IsZero() || m.ReplyTo[0] != "other@example.net" || m.SenderHdr != "list@example.net" || len(m.To) != 2 {
		t.Errorf("%+v", m)
	}
	// Raw 8-bit windows-1252 in a header.
	if got := decodeHeader("Caf\xe9 cr\xe8me"); got != "Café crème" {
		t.Errorf("decodeHeader = %q", got)
	}
}

func TestAutomatic(t *testing.T) {
	cases := []struct {
		h    textproto.MIMEHeader
		auto bool
	}{
		{header("From", "a@example.org"), false},
		{header("From", "a@example.org", "Auto-Submitted", "no"), false},
		{header("From", "a@example.org", "Auto-Submitted", "auto-replied"), true},
		{header("From", "a@example.org", "Auto-Submitted", "auto-generated; type=ooo"), true},
		{header("From", "a@example.org", "Precedence", "bulk"), true},
		{header("From", "a@example.org", "Precedence", "List"), true},
		{header("From", "a@example.org", "X-Autoreply", "yes"), true},
		{header("From", "a@example.org", "X-Auto-Response-Suppress", "All"), true},
		{header("From", "a@example.org", "Return-Path", "<>"), true},
		{header("From", "MAILER-DAEMON@example.org"), true},
		{header("From", "a@example.org", "List-Id", "<x.example.org>"), true},
	}
	for _, c := range cases {
		m := newMessage()
		readHeaders(m, c.h)
		m.Automatic = len(m.AutomaticSignals) > 0
		if m.Automatic != c.auto {
			t.Errorf("%v: automatic %v (%v)", c.h, m.Automatic, m.AutomaticSignals)
		}
	}
}

// TestRepeatedHeaders: every path that reads the header (enmime's in
// Parse, net/textproto's in Scan and for a message read headers-only)
// sees every occurrence of a single-instance field, whatever the case of
// its name.
func TestRepeatedHeaders(t *testing.T) {
	const base = "From: Jean <jean@example.org>\r\nTo: contact@hosting.example\r\nDate: Tue, 4 Mar 2025 10:00:00 +0000\r\n"
	tests := []struct {
		name string
		head string
		want []string
	}{
		{"none", "Subject: a\r\nMessage-ID: <1@x>\r\n", nil},
		{"Subject and Message-ID on top (replay)", "SUBJECT: [RB-2] b\r\nmessage-id: <2@x>\r\nSubject: a\r\nMessage-ID: <1@x>\r\n", []string{"Subject", "Message-ID"}},
		{"Date", "Subject: a\r\ndate: Wed, 5 Mar 2025 10:00:00 +0000\r\n", []string{"Date"}},
		{"From", "Subject: a\r\nfrom: x@evil.example\r\n", []string{"From"}},
		{"To, Sender, In-Reply-To, References", "Subject: a\r\nto: x@evil.example\r\nSender: a@x.example\r\nSender: b@x.example\r\n" +
			"In-Reply-To: <1@x>\r\nIn-Reply-To: <2@x>\r\nReferences: <1@x>\r\nreferences: <2@x>\r\n", []string{"Sender", "To", "In-Reply-To", "References"}},
		{"repeatable fields are not listed", "Subject: a\r\nReceived: from a\r\nReceived: from b\r\nCc: a@x.example\r\nComments: a\r\nComments: b\r\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plain := base + tt.head + "Content-Type: text/plain\r\n\r\nhello\r\n"
			mime := base + tt.head + "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b--\r\n"
			for _, raw := range []string{plain, mime} {
				m, _ := Parse([]byte(raw), Options{})
				s, _ := Scan([]byte(raw))
				h, _ := Parse([]byte(raw), Options{MaxBytes: 10})
				for path, got := range map[string][]string{"Parse": m.RepeatedHeaders, "Scan": s.RepeatedHeaders, "headers only": h.RepeatedHeaders} {
					if !reflect.DeepEqual(got, tt.want) {
						t.Errorf("%s: %q, want %q", path, got, tt.want)
					}
				}
				if len(tt.want) > 0 && !slices.ContainsFunc(m.Findings, func(f string) bool { return strings.HasPrefix(f, "repeated header: "+tt.want[0]) }) {
					t.Errorf("no finding: %q", m.Findings)
				}
			}
		})
	}
}

// TestFromAddressForms: a From address is read in NFC with ASCII case
// folding only; one with the Kelvin sign or a bidi control is no sender.
func TestFromAddressForms(t *testing.T) {
	tests := []struct{ from, want string }{
		{"Jos\u00e9 <Jos\u00e9@Example.org>", "jos\u00e9@example.org"},
		{"jose\u0301@example.org", "jos\u00e9@example.org"}, // NFD
		{"JOS\u00c9@example.org", "jos\u00c9@example.org"},
		{"\u212Aelly@example.org", ""},
		{"=?utf-8?q?Jean?= <jean\u202E@example.org>", ""},
		{"jean\u200F@example.org", ""},
	}
	for _, tt := range tests {
		m, _ := Parse([]byte("From: "+tt.from+"\r\nSubject: a\r\n\r\nhello\r\n"), Options{})
		if m.Sender != tt.want {
			t.Errorf("From: %+q: sender %+q, want %+q (%q)", tt.from, m.Sender, tt.want, m.Findings)
		}
	}
}

// TestMalformedHeaderLine: a header line that is no field is a finding,
// and the rest of the header is read by Parse, Scan and Look alike;
// lines that continue it go with it; the body is left alone.
func TestMalformedHeaderLine(t *testing.T) {
	tests := []struct {
		name, raw string
		findings  []string
	}{
		{"space before the colon, first", "Fro :x\r\nFrom: a@b.example\r\nSubject: RC-7KQ2M9\r\nMessage-ID: <1@b>\r\n\r\nbody\r\n",
			[]string{`malformed header line ignored: "Fro :x"`}},
		{"no colon, between fields", "From: a@b.example\r\nno colon here\r\nSubject: RC-7KQ2M9\r\nMessage-ID: <1@b>\r\n\r\nbody\r\n",
			[]string{`malformed header line ignored: "no colon here"`}},
		{"continued", "From: a@b.example\r\nX Bad: 1\r\n\tcontinued: 2\r\nSubject: RC-7KQ2M9\r\nMessage-ID: <1@b>\r\n\r\nbody: no field\r\nline\r\n",
			[]string{`malformed header line ignored: "X Bad: 1"`}},
		{"many", "a\nb\nc\nd\ne\nf\ng\nFrom: a@b.example\nSubject: RC-7KQ2M9\nMessage-ID: <1@b>\n\nbody\n",
			[]string{`malformed header line ignored: "a"`, `malformed header line ignored: "b"`, `malformed header line ignored: "c"`,
				`malformed header line ignored: "d"`, `malformed header line ignored: "e"`, "2 malformed header lines more ignored"}},
	}
	for _, tt := range tests {
		m, err := Parse([]byte(tt.raw), Options{})
		if err != nil {
			t.Errorf("%s: Parse: %v", tt.name, err)
		}
		scanned, sure := Scan([]byte(tt.raw))
		if !sure {
			t.Errorf("%s: Scan is not sure", tt.name)
		}
		looked, lsure := Look(glimpseOf([]byte(tt.raw), 1<<20))
		if !lsure {
			t.Errorf("%s: Look is not sure", tt.name)
		}
		for _, got := range []*Message{m, scanned, looked} {
			if got.Sender != "a@b.example" || got.Subject != "RC-7KQ2M9" || got.MessageID != "1@b" || !hasRef(got.CaseRefs, "RC-7KQ2M9") {
				t.Errorf("%s: header read as %q %q %q %v", tt.name, got.Sender, got.Subject, got.MessageID, got.CaseRefs)
			}
			if !slices.Equal(got.Findings[:min(len(got.Findings), len(tt.findings))], tt.findings) {
				t.Errorf("%s: findings %q, want %q", tt.name, got.Findings, tt.findings)
			}
		}
		if !strings.Contains(m.Text, "body") {
			t.Errorf("%s: text %q", tt.name, m.Text)
		}
	}
	// No field at all: not a message.
	for _, raw := range []string{"Dear sir,\nmy account: locked\n\nthanks\n", "Fro :x\r\n\r\nbody\r\n"} {
		if _, err := Parse([]byte(raw), Options{}); !errors.Is(err, ErrNotMessage) {
			t.Errorf("%q: Parse error %v, want ErrNotMessage", raw, err)
		}
	}
}
