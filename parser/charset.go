package parser

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-message/charset"
	"github.com/gogs/chardet"
	"golang.org/x/text/encoding/charmap"
)

// charsetReader converts from any charset go-message/charset knows (the
// IANA and WHATWG names, and their aliases) to UTF-8. Some labels seen in
// the wild are mapped first.
func charsetReader(label string, r io.Reader) (io.Reader, error) {
	l := strings.ToLower(strings.Trim(strings.TrimSpace(label), `"'`))
	switch l {
	case "", "us-ascii", "ascii", "ansi_x3.4-1968", "iso646-us":
		// Declared ASCII with 8-bit bytes is windows-1252 in practice
		// (WHATWG Encoding).
		return charmap.Windows1252.NewDecoder().Reader(r), nil
	case "utf8", "utf-8", "unicode-1-1-utf-8", "utf8mb4":
		return r, nil
	case "cp932", "ms932", "windows-31j":
		l = "shift_jis"
	case "ks_c_5601-1987", "ks_c_5601-1989", "ksc5601", "ksc_5601", "windows-949", "cp949":
		l = "euc-kr"
	case "iso-8859-8-i":
		l = "iso-8859-8"
	}
	cr, err := charset.Reader(l, r)
	if err != nil {
		return nil, fmt.Errorf("charset %q: %w", label, err)
	}
	return cr, nil
}

// decodeCharset converts b from the named charset to UTF-8.
func decodeCharset(label string, b []byte) (string, error) {
	r, err := charsetReader(label, strings.NewReader(string(b)))
	if err != nil {
		return "", err
	}
	out, err := io.ReadAll(io.LimitReader(r, int64(len(b))*4+16))
	return string(out), err
}

func decodeWindows1252(b []byte) string {
	out, err := charmap.Windows1252.NewDecoder().Bytes(b)
	if err != nil {
		return strings.ToValidUTF8(string(b), "\uFFFD")
	}
	return string(out)
}

// textOf turns the content of a text part, as enmime left it, into valid
// UTF-8. enmime converts from the declared charset when it knows it;
// when it does not, the charset is tried again with the wider table of
// go-message/charset; bytes that are still not UTF-8 (a wrong
// declaration, or none) are read as windows-1252, the likeliest for
// French mail. It reports what it had to guess, or "".
func textOf(content []byte, declared string, converted bool) (string, string) {
	if !converted && declared != "" {
		if s, err := decodeCharset(declared, content); err == nil && utf8.ValidString(s) {
			return s, ""
		}
	}
	if utf8.Valid(content) {
		return string(content), ""
	}
	if declared == "" {
		if cs := detectCharset(content); cs != "" {
			if s, err := decodeCharset(cs, content); err == nil && utf8.ValidString(s) {
				return s, "8-bit text without charset, read as " + cs + " (detected)"
			}
		}
	}
	note := "text not valid in its charset, read as windows-1252"
	if declared == "" {
		note = "8-bit text without charset, read as windows-1252"
	}
	return decodeWindows1252(content), note
}

// detectCharset guesses the charset of undeclared 8-bit text, for the
// scripts windows-1252 cannot be (Cyrillic, Greek, Asian). Latin guesses
// are left to the windows-1252 default, the likeliest for French mail
// (for which the detector's best guess is a Latin charset); a guess below
// 30% confidence is no guess.
func detectCharset(b []byte) string {
	if len(b) > 64<<10 {
		b = b[:64<<10]
	}
	r, err := chardet.NewTextDetector().DetectBest(b)
	if err != nil || r == nil || r.Confidence < 30 {
		return ""
	}
	cs := strings.ToLower(r.Charset)
	switch {
	case strings.HasPrefix(cs, "iso-8859-1"), cs == "iso-8859-15", cs == "iso-8859-2", cs == "iso-8859-9",
		cs == "windows-1252", cs == "windows-1250", cs == "windows-1254", cs == "utf-8", cs == "ascii":
		return ""
	}
	return cs
}

// mislabelledUTF8 undoes the conversion of text declared in a single-byte
// Latin charset that was in fact UTF-8 ("Ã©tÃ©" for "été"), a common
// mistake of web forms and scripts. Genuine Latin-1 French text is
// almost never valid UTF-8, so the test is safe.
func mislabelledUTF8(s, declared string) (string, bool) {
	var enc *charmap.Charmap
	switch strings.ToLower(strings.TrimSpace(declared)) {
	case "iso-8859-1", "latin1", "iso8859-1", "iso_8859-1", "l1", "cp819":
		enc = charmap.ISO8859_1
	case "iso-8859-15", "latin9", "iso8859-15":
		enc = charmap.ISO8859_15
	case "windows-1252", "cp1252", "x-cp1252":
		enc = charmap.Windows1252
	default:
		return "", false
	}
	raw, err := enc.NewEncoder().Bytes([]byte(s))
	if err != nil || !utf8.Valid(raw) {
		return "", false
	}
	for _, c := range raw {
		if c >= 0x80 {
			return string(raw), true
		}
	}
	return "", false
}
