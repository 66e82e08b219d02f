package parser

import (
	"errors"
	"strings"
	"testing"

	"github.com/recoverybot/recoverybot"
)

func parseString(t *testing.T, raw string) *Message {
	t.Helper()
	m, err := Parse([]byte(strings.ReplaceAll(raw, "\n", "\r\n")), Options{})
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	checkMessage(t, m)
	return m
}

func wheres(fs []Found) string {
	var w []string
	for _, f := range fs {
		w = append(w, f.Where)
	}
	return strings.Join(w, ",")
}

func TestCodeWhere(t *testing.T) {
	cases := []struct {
		name, raw, codes string
	}{
		{"plain body", "From: a@example.org\nSubject: x\n\nMon code : 4F7K-2M9Q\n", "body"},
		{"subject", "From: a@example.org\nSubject: Re: code 4F7K-2M9Q\n\nmerci\n", "subject"},
		{"only in the HTML alternative", `From: a@example.org
Content-Type: multipart/alternative; boundary=b

--b
Content-Type: text/plain

Bonjour
--b
Content-Type: text/html

<p>Bonjour</p><p><b>4F7K-2M9Q</b></p>
--b--
`, "html"},
		{"html-only quoted", `From: a@example.org
Content-Type: text/html; charset=utf-8

<p>Merci</p><blockquote type="cite">Votre code : 4F7K-2M9Q</blockquote>
`, "quoted"},
		{"forwarded message", `From: a@example.org
Content-Type: multipart/mixed; boundary=b

--b
Content-Type: text/plain

voir le message joint
--b
Content-Type: message/rfc822

From: support@example.net
Subject: code

Votre code : 4F7K-2M9Q
--b--
`, "forwarded"},
		{"returned message of a bounce is not read", `From: MAILER-DAEMON@example.org
Content-Type: multipart/report; report-type=delivery-status; boundary=b

--b
Content-Type: text/plain

undeliverable
--b
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.org

Final-Recipient: rfc822; a@example.org
Action: failed
Status: 5.1.1
--b
Content-Type: message/rfc822

From: support@example.net
Message-ID: <code-1@example.net>
Subject: [RC-7KQ2M9] code

Votre code : 4F7K-2M9Q
--b--
`, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := parseString(t, c.raw)
			if got := wheres(m.Codes); got != c.codes {
				t.Errorf("codes found in %q, want %q", got, c.codes)
			}
			for _, code := range m.Codes {
				if code.Value != testCode {
					t.Errorf("code %q", code.Value)
				}
			}
		})
	}
}

func TestBounceNamesCodeMail(t *testing.T) {
	m := parseString(t, `From: MAILER-DAEMON@example.org
Content-Type: multipart/report; report-type=delivery-status; boundary=b

--b
Content-Type: text/plain

undeliverable
--b
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.org

Final-Recipient: rfc822; A@Example.org
Action: failed
Status: 5.1.1
--b
Content-Type: text/rfc822-headers

From: support@example.net
Message-ID: <code-1@example.net>
--b--
`)
	want := Bounce{OriginalMessageID: "code-1@example.net", Recipient: "a@example.org", Action: "failed", Status: "5.1.1"}
	if m.Bounce == nil || *m.Bounce != want || !m.Automatic || len(m.Documents) != 0 {
		t.Errorf("bounce %+v, automatic %v, documents %d", m.Bounce, m.Automatic, len(m.Documents))
	}
}

func TestBodyIsNotADocument(t *testing.T) {
	// mutt marks its text parts inline; Apple Mail interleaves text parts
	// with images; a text file with a name is a document.
	m := parseString(t, `From: a@example.org
Content-Type: multipart/mixed; boundary=b

--b
Content-Type: text/plain; charset=utf-8
Content-Disposition: inline

Bonjour
--b
Content-Type: text/html; charset=utf-8
Content-Disposition: inline

<p>html</p>
--b
Content-Type: text/plain; charset=utf-8
Content-Disposition: inline; filename=notes.txt

notes
--b
Content-Type: text/calendar

BEGIN:VCALENDAR
--b--
`)
	var names []string
	for _, d := range m.Documents {
		names = append(names, d.Filename)
	}
	if strings.Join(names, ",") != "notes.txt,unnamed.ics" {
		t.Errorf("documents %v", names)
	}
	if !strings.Contains(m.Text, "Bonjour") || !strings.Contains(m.Text, "html") {
		t.Errorf("text %q", m.Text)
	}
}

func TestTNEFBodyWhenNothingElse(t *testing.T) {
	raw := "From: a@example.org\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: application/ms-tnef\nContent-Transfer-Encoding: base64\n\n" +
		b64(winmailDat([2]string{"cni.jpg", string(jpegBytes(300, 300))})) + "--b--\n"
	m := parseString(t, raw)
	if !strings.Contains(m.Text, "Veuillez trouver ci-joint") || len(m.Documents) != 1 || m.Documents[0].Type != recoverybot.DocIdentity {
		t.Errorf("text %q, documents %+v", m.Text, m.Documents)
	}
}

func TestDamagedMessages(t *testing.T) {
	cases := []struct {
		name string
		raw  string
		err  error
	}{
		{"mbox line", "From a@example.org Mon Jan 1 00:00:00 2024\nFrom: a@example.org\nSubject: x\n\nbody\n", nil},
		{"leading space", " From: a@example.org\nSubject: x\n\nbody\n", nil},
		{"unterminated multipart", "From: a@example.org\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: application/pdf; name=kbis.pdf\n\n%PDF-1.4\n", nil},
		{"bad content type", "From: a@example.org\nContent-Type: ;;;===\n\nbody\n", nil},
		{"nested boundary reuse", "From: a@example.org\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: multipart/mixed; boundary=b\n\n--b\n--b--\n--b--\n", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := Parse([]byte(c.raw), Options{})
			if !errors.Is(err, c.err) && err != c.err {
				t.Errorf("err %v, want %v", err, c.err)
			}
			checkMessage(t, m)
			if m.Sender != "a@example.org" {
				t.Errorf("sender %q, findings %q", m.Sender, m.Findings)
			}
		})
	}
}

func TestJSONFrom(t *testing.T) {
	m := newMessage()
	b, _ := m.MarshalJSON()
	if !strings.Contains(string(b), `"from":null`) {
		t.Errorf("%s", b)
	}
	m.Sender = "a@example.org"
	b, _ = m.MarshalJSON()
	if !strings.Contains(string(b), `"from":"a@example.org"`) || strings.Contains(string(b), testCode) {
		t.Errorf("%s", b)
	}
	m.Codes = []Found{{Value: testCode, Masked: MaskedCode, Where: WhereBody}}
	if b, _ = m.MarshalJSON(); strings.Contains(string(b), testCode) {
		t.Errorf("code in clear in JSON: %s", b)
	}
}
