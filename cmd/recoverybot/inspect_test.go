package main

import (
	"encoding/base64"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"unicode"
)

// hostileMessage carries a code in its Subject (plainly, in lower case
// and in full-width forms) and in a file name, and terminal controls in
// both: ESC sequences, a C1 CSI, DEL, a bidi override.
func hostileMessage() string {
	subject := "Re: RC-7KQ2M9 mon code 4F7K-2M9Q \x1b[1;31m rouge\x1b[0m \u202egpj.exe\u202c \u009b2J \x7f fin 7h3x9p2q ＸＺ４５ＷＱ９Ｒ"
	enc := "=?utf-8?b?" + base64.StdEncoding.EncodeToString([]byte(subject)) + "?="
	return "From: Jean Dupont <jean.dupont@example.org>\r\n" +
		"To: contact@example.net\r\n" +
		"Subject: " + enc + "\r\n" +
		"Date: Thu, 03 Dec 2026 10:00:00 +0000\r\n" +
		"Message-ID: <hostile-1@example.org>\r\n" +
		"Authentication-Results: mx.example.net; spf=pass smtp.mailfrom=\"\x1b]0;owned\x07\"@example.org\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nmon code : 4F7K-2M9Q, et aussi 7H3X-9P2Q\r\n" +
		"--b\r\nContent-Type: image/jpeg\r\n" +
		"Content-Disposition: attachment; filename*=utf-8''4F7K-2M9Q%1B%5B2J%E2%80%AE%C2%9Bcni.jpg\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\n" +
		base64.StdEncoding.EncodeToString([]byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9")) + "\r\n" +
		"--b--\r\n"
}

// terminalControls finds what a terminal would obey or that reorders
// what it shows: C0 controls but the line feed, DEL, C1 controls, bidi
// and other format characters.
func terminalControls(s string) []rune {
	var bad []rune
	for _, r := range s {
		if r == '\n' {
			continue
		}
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) || unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Bidi_Control, r) {
			bad = append(bad, r)
		}
	}
	return bad
}

var codeInClear = regexp.MustCompile(`(?i)4F7K|2M9Q|7H3X|9P2Q|ＸＺ４５|ＷＱ９Ｒ`)

func TestInspectMasksCodesAndEscapesControls(t *testing.T) {
	c := newCLI(t)
	file := c.file("hostile.eml", hostileMessage())
	human := c.ok("inspect", file)
	if m := codeInClear.FindString(human); m != "" {
		t.Errorf("inspect shows a code in clear (%q):\n%s", m, human)
	}
	if bad := terminalControls(human); len(bad) > 0 {
		t.Errorf("inspect writes terminal controls %q:\n%s", bad, human)
	}
	if !strings.Contains(human, "RC-7KQ2M9") || !strings.Contains(human, "rouge") || !strings.Contains(human, `\x1b[1;31m`) {
		t.Errorf("inspect hides more than the codes and controls:\n%s", human)
	}
	subject := regexp.MustCompile(`(?m)^subject: +(.*)$`).FindStringSubmatch(human)
	if subject == nil || strings.Count(subject[1], "••••-••••") != 3 {
		t.Errorf("subject line = %q, want its three codes masked", subject)
	}

	raw := c.ok("inspect", file, "--json")
	if m := codeInClear.FindString(raw); m != "" {
		t.Errorf("inspect --json shows a code in clear (%q):\n%s", m, raw)
	}
	if bad := terminalControls(raw); len(bad) > 0 {
		t.Errorf("inspect --json writes terminal controls %q:\n%s", bad, raw)
	}
	var got struct {
		Subject   string `json:"subject"`
		Documents []struct {
			Filename string `json:"filename"`
		} `json:"documents"`
	}
	if err := json.Unmarshal([]byte(raw), &got); err != nil {
		t.Fatal(err)
	}
	// The JSON escapes controls; decoded, the strings are what was sent,
	// codes masked.
	if !strings.Contains(got.Subject, "\x1b[1;31m rouge") || !strings.Contains(got.Subject, "\u202egpj.exe") ||
		strings.Count(got.Subject, "••••-••••") != 3 {
		t.Errorf("JSON subject = %q", got.Subject)
	}
	if len(got.Documents) != 1 || codeInClear.MatchString(got.Documents[0].Filename) {
		t.Errorf("JSON documents = %+v", got.Documents)
	}
}

func TestMaskCodes(t *testing.T) {
	cands := map[string]bool{"ABCDEFGH": true, "4F7K2M9Q": true}
	tests := []struct{ in, want string }{
		{"code 4F7K-2M9Q merci", "code ••••-•••• merci"},
		{"code 4f7k 2m9q", "code ••••-••••"},
		{"4f7k2m9q", "••••-••••"},
		{"code: ab\u00adcd efgh", "code: ••••-••••"}, // a candidate, soft hyphen and all
		{"XZ45-WQ9R and 7H3X9P2Q", "••••-•••• and ••••-••••"},
		{"ＸＺ４５ＷＱ９Ｒ", "••••-••••"},
		{"ABCD EFGH", "••••-••••"},
		{"le code 7h3x 9p2q", "le ••••-••••"}, // two shapes overlap: both masked
		{"Code 7H3X 9P2Q", "Code ••••-••••"},
		{"Identity document", "Identity document"},
		{"password reset", "password reset"},
		{"RC-7KQ2M9 and RC7KQ2M9", "RC-7KQ2M9 and ••••-••••"},
		{"4F7K\n2M9Q", "4F7K\n2M9Q"},
		{"FR7630006000011234567890189", "FR7630006000011234567890189"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := maskCodes(tt.in, cands); got != tt.want {
			t.Errorf("maskCodes(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzDisplay: whatever a sender writes, what the CLI prints of it holds
// no terminal control, hides every candidate, and the JSON still decodes
// to the masked string.
func FuzzDisplay(f *testing.F) {
	for _, s := range []string{hostileMessage(), "code 4f7k 2m9q", "ＸＺ４５ＷＱ９Ｒ", "\xff\xfe\x1b[2J\u202e", "a\u00adb\u200bc 1234 5678"} {
		f.Add(s)
	}
	cands := map[string]bool{"4F7K2M9Q": true}
	f.Fuzz(func(t *testing.T, s string) {
		m := maskCodes(s, cands)
		if bad := terminalControls(printable(m)); len(bad) > 0 {
			t.Fatalf("printable(%q) keeps %q", m, bad)
		}
		if strings.Contains(s, "4F7K2M9Q") && strings.Contains(m, "4F7K2M9Q") {
			t.Fatalf("maskCodes(%q) = %q keeps the candidate", s, m)
		}
		enc, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		esc := escapeJSON(enc)
		if bad := terminalControls(string(esc)); len(bad) > 0 {
			t.Fatalf("escapeJSON(%s) keeps %q", enc, bad)
		}
		var back string
		if err := json.Unmarshal(esc, &back); err != nil {
			t.Fatalf("escapeJSON(%s) = %s does not decode: %v", enc, esc, err)
		}
		var want string
		json.Unmarshal(enc, &want)
		if back != want {
			t.Fatalf("escapeJSON changed the string: %q, want %q", back, want)
		}
	})
}

// TestInspectReadsAHeaderWithAMalformedLine: a first header line that
// is no field ("Fro :x") is a finding, and the rest of the header is
// read; a file with no header field at all is still no message.
func TestInspectReadsAHeaderWithAMalformedLine(t *testing.T) {
	c := newCLI(t)
	file := c.file("malformed.eml", "Fro :x\r\nFrom: Jean Dupont <jean.dupont@example.org>\r\nSubject: dossier RC-7KQ2M9\r\n"+
		"Message-ID: <m-1@example.org>\r\n\r\nbonjour\r\n")
	human := c.ok("inspect", file)
	for _, want := range []string{"jean.dupont@example.org", "dossier RC-7KQ2M9", "m-1@example.org", `malformed header line ignored: "Fro :x"`} {
		if !strings.Contains(human, want) {
			t.Errorf("inspect does not show %q:\n%s", want, human)
		}
	}
	c.fails("not a mail message", "inspect", c.file("letter.txt", "Dear sir,\nmy account is locked\n\nthanks\n"))
}
