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

// codePattern finds two groups of four code symbols (and the usual
// confusables) separated by at most a dash or spaces.
var codePattern = regexp.MustCompile(`(?i)(?:^|[^0-9A-Z])([0-9A-Z]{4}[\s\-\x{00a0}\x{2010}\x{2011}]{0,3}[0-9A-Z]{4})(?:$|[^0-9A-Z])`)

func findCodes(m *Message) {
	seen := map[string]bool{}
	add := func(text, where string) {
		for _, sub := range codePattern.FindAllStringSubmatch(text, -1) {
			c, err := recoverybot.NormalizeCode(sub[1])
			if err != nil || seen[c] || !codeLike(sub[1]) {
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

// codeLike refuses ordinary words that happen to have eight letters: a
// code candidate has a digit, or is written in capitals with a separator.
func codeLike(s string) bool {
	if strings.ContainsAny(s, "0123456789") {
		return true
	}
	return strings.ToUpper(s) == s && strings.ContainsAny(s, "- \u00a0\u2010\u2011")
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
