package parser

import (
	"regexp"
	"strings"

	"github.com/inbucket/html2text"
	"golang.org/x/net/html"
)

// line is a line of body text and whether it belongs to a quoted reply or
// a forwarded message rather than to what the sender wrote now.
type line struct {
	text   string
	quoted bool
}

var (
	// attribution is the line a reply puts above the quote: Gmail,
	// Apple Mail and Thunderbird in English and French (and the usual
	// European languages, for customers abroad).
	attribution = regexp.MustCompile(`(?i)^\W{0,3}(on|le|am|el|il|op|em)\b.{0,300}\b(wrote|a\s+[ée]crit|schrieb|escribi[óo]|ha\s+scritto|schreef|escreveu)\s*:?\s*\**$`)
	// attributionStart starts an attribution that clients wrap over two
	// or three lines.
	attributionStart = regexp.MustCompile(`(?i)^\W{0,3}(on|le|am|el|il|op|em)\s`)
	// separator is Outlook's and Gmail's line above a quoted or
	// forwarded message, and Apple Mail's forward header.
	separator = regexp.MustCompile(`(?i)^\s*(-{2,}\s*(original message|message d'origine|message d’origine|forwarded message|message transf[ée]r[ée]|mensaje original|urspr[üu]ngliche nachricht|messaggio originale)\s*-{2,}|begin forwarded message\s*:|d[ée]but du message r[ée]exp[ée]di[ée]\s*:)\s*$`)
	// underscores is Outlook's rule above its header block.
	underscores = regexp.MustCompile(`^\s*_{10,}\s*$`)
	// headerFrom and headerNext are the first and a following line of
	// Outlook's header block: "From: …", "Sent: …" ("De : …", "Envoyé : …").
	headerFrom = regexp.MustCompile(`(?i)^\s*\*?(from|de|von|da)\s*:\s*\**\s*\S`)
	headerNext = regexp.MustCompile(`(?i)^\s*\*?(sent|date|envoy[ée]|to|[àa]|subject|objet|cc|gesendet|an|betreff|inviato|oggetto)\s*:`)
)

// splitQuoted tells quoted text from new text, line by line. Quoted are
// lines starting with ">", the attribution above them, and everything
// after an Outlook-style separator or header block (Outlook quotes
// without ">"), or after an attribution not followed by ">" lines.
func splitQuoted(text string) []line {
	raw := strings.Split(text, "\n")
	out := make([]line, len(raw))
	rest := false
	for i := 0; i < len(raw); i++ {
		t := strings.TrimRight(raw[i], "\r")
		out[i].text = t
		if rest {
			out[i].quoted = true
			continue
		}
		trimmed := spaces(t)
		switch {
		case trimmed == "":
			continue
		case strings.HasPrefix(trimmed, ">"):
			out[i].quoted = true
		case maybeSeparator(trimmed) && separator.MatchString(trimmed):
			rest = true
			out[i].quoted = true
		case trimmed[0] == '_' && underscores.MatchString(trimmed) && headerBlockAt(raw, i+1):
			rest = true
			out[i].quoted = true
		case strings.Contains(trimmed, ":") && headerFrom.MatchString(trimmed) && headerBlockAt(raw, i):
			rest = true
			out[i].quoted = true
		default:
			n := attributionLines(raw, i)
			if n == 0 {
				continue
			}
			for j := i; j < i+n; j++ {
				out[j].text = strings.TrimRight(raw[j], "\r")
				out[j].quoted = true
			}
			i += n - 1
			// A quote normally follows with ">" lines; when it does
			// not, the client quoted without markers.
			if next := nextNonEmpty(raw, i+1); next >= 0 && !strings.HasPrefix(strings.TrimSpace(raw[next]), ">") {
				rest = true
			}
		}
	}
	return out
}

// maybeSeparator is a cheap test before the separator expression: the
// expressions are run on every line of possibly long texts.
func maybeSeparator(t string) bool {
	switch t[0] {
	case '-', 'b', 'B', 'd', 'D':
		return true
	}
	return false
}

// attributionWords are the words an attribution starts with.
var attributionWords = []string{"on ", "le ", "am ", "el ", "il ", "op ", "em "}

// attributionLines returns how many lines from i form a reply
// attribution (1 to 3), or 0.
func attributionLines(raw []string, i int) int {
	t := strings.TrimSpace(raw[i])
	if len(t) > 400 || len(t) < 8 {
		return 0
	}
	head := strings.ToLower(strings.TrimLeft(t[:min(len(t), 8)], "*_>\"' "))
	starts := false
	for _, w := range attributionWords {
		if strings.HasPrefix(head, w) {
			starts = true
		}
	}
	if !starts {
		return 0
	}
	if attribution.MatchString(t) {
		return 1
	}
	if !attributionStart.MatchString(t) {
		return 0
	}
	joined := t
	for n := 2; n <= 3 && i+n-1 < len(raw); n++ {
		next := strings.TrimSpace(raw[i+n-1])
		if next == "" || strings.HasPrefix(next, ">") {
			return 0
		}
		joined += " " + next
		if attribution.MatchString(joined) {
			return n
		}
	}
	return 0
}

// headerBlockAt reports whether an Outlook header block ("From:" then
// "Sent:", "To:", "Subject:" …) starts at or just after line i.
func headerBlockAt(raw []string, i int) bool {
	j := nextNonEmpty(raw, i)
	if j < 0 || !headerFrom.MatchString(spaces(raw[j])) {
		return false
	}
	for k := j + 1; k < len(raw) && k <= j+4; k++ {
		if headerNext.MatchString(spaces(raw[k])) {
			return true
		}
	}
	return false
}

// spaces trims a line and reads non-breaking spaces as spaces (HTML
// converted to text keeps them: "De&nbsp;:").
func spaces(s string) string {
	return strings.TrimSpace(nbsp.Replace(s))
}

var nbsp = strings.NewReplacer("\u00a0", " ", "\u202f", " ")

func nextNonEmpty(raw []string, i int) int {
	for ; i < len(raw); i++ {
		if strings.TrimSpace(raw[i]) != "" {
			return i
		}
	}
	return -1
}

// joinLines joins the lines, all of them or only the new ones.
func joinLines(lines []line, onlyNew bool) string {
	var b strings.Builder
	for _, l := range lines {
		if onlyNew && l.quoted {
			continue
		}
		b.WriteString(l.text)
		b.WriteByte('\n')
	}
	return strings.TrimRight(b.String(), "\n")
}

// htmlStartTags counts the start tags of html with a tokenizer: a pass
// that costs a few nanoseconds a byte, where building the tree costs up
// to ten microseconds a start tag (formatting elements reopened in every
// paragraph: "<p><b><i>x" repeated).
func htmlStartTags(s string) int64 {
	z := html.NewTokenizer(strings.NewReader(s))
	n := int64(0)
	for {
		switch z.Next() {
		case html.ErrorToken:
			return n
		case html.StartTagToken, html.SelfClosingTagToken:
			n++
		}
	}
}

// htmlToText renders HTML as text the way enmime does (inbucket/html2text:
// <b> as *…*, blockquotes as "> " lines, links as "text ( url )"),
// capped to max bytes of input.
func htmlToText(html string, max int) (string, bool) {
	capped := false
	if len(html) > max {
		html, capped = html[:max], true
	}
	t, err := html2text.FromString(html)
	if err != nil {
		return "", capped
	}
	return t, capped
}
