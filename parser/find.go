package parser

import (
	"net/http"
	"regexp"
	"strings"

	"github.com/recoverybot/recoverybot"
)

var refPattern = regexp.MustCompile(`(?i)\bRC[\s\-_.:]{0,2}([2-9A-HJKMNP-Z]{6})\b`)

func findRefs(m *Message) {
	seen := map[string]bool{}
	add := func(text, where string) {
		for _, sub := range refPattern.FindAllStringSubmatch(text, -1) {
			ref, err := recoverybot.ParseRef(sub[1])
			if err != nil || seen[ref] {
				continue
			}
			seen[ref] = true
			m.CaseRefs = append(m.CaseRefs, Found{Value: ref, Masked: ref, Where: where})
		}
	}
	add(m.Subject, "subject")
	add(m.NewText, "body")
	add(m.Text, "quoted")
}

var codeToken = regexp.MustCompile(`[0-9A-Za-z]+`)

// codeCandidates finds code-shaped strings: one token of eight code
// symbols, or two tokens of four separated only by spaces or a dash.
// Ordinary words are not candidates (every candidate that does not match
// counts against the customer): an unseparated candidate needs a letter
// and a digit, a spaced one needs each half to hold a digit or be in
// capitals, a dashed one in lower case needs a digit.
func codeCandidates(text string) []string {
	locs := codeToken.FindAllStringIndex(text, -1)
	var out []string
	for i, l := range locs {
		tok := text[l[0]:l[1]]
		if len(tok) == 8 && strings.ContainsAny(tok, "0123456789") && strings.Trim(tok, "0123456789") != "" {
			out = append(out, tok)
			continue
		}
		if len(tok) != 4 || i+1 >= len(locs) {
			continue
		}
		next := locs[i+1]
		if next[1]-next[0] != 4 {
			continue
		}
		gap := text[l[1]:next[0]]
		if len(gap) == 0 || len(gap) > 6 || strings.Trim(gap, " -\u00a0\u2010\u2011\t") != "" {
			continue
		}
		second := text[next[0]:next[1]]
		dashed := strings.ContainsAny(gap, "-\u2010\u2011")
		digits := strings.ContainsAny(tok+second, "0123456789")
		strong := func(h string) bool { return strings.ContainsAny(h, "0123456789") || strings.ToUpper(h) == h }
		switch {
		case dashed && (digits || strings.ToUpper(tok+second) == tok+second):
		case !dashed && strong(tok) && strong(second):
		default:
			continue
		}
		out = append(out, tok+"-"+second)
	}
	return out
}

func findCodes(m *Message) {
	seen := map[string]bool{}
	add := func(text, where string) {
		for _, cand := range codeCandidates(text) {
			c, err := recoverybot.NormalizeCode(cand)
			if err != nil || seen[c] {
				continue
			}
			seen[c] = true
			m.Codes = append(m.Codes, Found{Value: c, Masked: c[:1] + "•••-••••", Where: where})
		}
	}
	add(m.Subject, "subject")
	add(m.NewText, "body")
	add(m.Text, "quoted")
}

func stripQuoted(text string) string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, ">") {
			continue
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n")
}

func sniff(data []byte, declared string) string {
	switch {
	case len(data) >= 12 && string(data[4:8]) == "ftyp" && strings.Contains("heic heix hevc heim heis mif1 msf1", string(data[8:12])):
		return "image/heic"
	case len(data) >= 12 && string(data[0:4]) == "RIFF" && string(data[8:12]) == "WEBP":
		return "image/webp"
	}
	t := http.DetectContentType(data)
	if i := strings.IndexByte(t, ';'); i >= 0 {
		t = t[:i]
	}
	if t == "application/octet-stream" && declared != "" && len(data) == 0 {
		return declared
	}
	return t
}

var (
	identityWords = []string{"cni", "carte d'identite", "carte identite", "carte_identite", "piece d'identite",
		"piece identite", "passeport", "passport", "identity", "id card", "id_card", "idcard"}
	registrationWords = []string{"kbis", "k-bis", "extrait", "registre du commerce", "rcs"}
	statutesWords     = []string{"statuts", "statut", "bylaws", "articles of association"}
)

func foldAccents(s string) string {
	r := strings.NewReplacer("é", "e", "è", "e", "ê", "e", "É", "e", "à", "a", "ç", "c", "î", "i", "ï", "i", "ô", "o", "û", "u", "’", "'")
	return strings.ToLower(r.Replace(s))
}

func classify(filename, text string) (recoverybot.DocumentType, []string) {
	f := foldAccents(strings.NewReplacer("_", " ", "-", " ", ".", " ").Replace(filename))
	f = " " + f + " "
	match := func(words []string) string {
		for _, w := range words {
			if strings.Contains(f, " "+w+" ") || strings.Contains(f, " "+w) && len(w) > 4 {
				return w
			}
		}
		return ""
	}
	switch {
	case match(registrationWords) != "":
		return recoverybot.DocCompanyRegistration, []string{"filename: " + match(registrationWords)}
	case match(statutesWords) != "":
		return recoverybot.DocAssociationStatutes, []string{"filename: " + match(statutesWords)}
	case match(identityWords) != "":
		return recoverybot.DocIdentity, []string{"filename: " + match(identityWords)}
	}
	return recoverybot.DocOther, []string{}
}
