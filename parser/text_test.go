package parser

import (
	"strings"
	"testing"
)

func TestSplitQuoted(t *testing.T) {
	cases := []struct {
		name, text string
		fresh      string // the new text, lines joined by |
	}{
		{"gmail reply", "Voici le code.\n\nOn Mon, Mar 4, 2024 at 10:15 AM Support <support@example.net> wrote:\n> Votre code : 4F7K-2M9Q\n> Merci", "Voici le code."},
		{"gmail wrapped attribution", "Merci\n\nOn Mon, Mar 4, 2024 at 10:15 AM Support Recovery <\nsupport@example.net> wrote:\n\n> Votre code", "Merci"},
		{"french attribution", "Bonjour,\nci-joint.\n\nLe lun. 4 mars 2024 à 10:15, Support <support@example.net> a écrit :\n> Bonjour", "Bonjour,|ci-joint."},
		{"apple mail", "Voilà\n\n> Le 4 mars 2024 à 10:15, Support <support@example.net> a écrit :\n> \n> Texte", "Voilà"},
		{"outlook original message", "Voici\n\n-----Original Message-----\nFrom: Support\nSent: Monday\nVotre code : 4F7K-2M9Q", "Voici"},
		{"outlook french header block", "Bonjour\n\nDe : Support <support@example.net>\nEnvoyé : lundi 4 mars 2024 10:15\nÀ : Jean\nObjet : Code\n\nVotre code", "Bonjour"},
		{"outlook web rule", "Ok\n________________________________\nFrom: Support <s@example.net>\nSent: Monday\nTo: x", "Ok"},
		{"outlook bold header from html", "Ok\n\n*From:* Support\n*Sent:* Monday\n*To:* x\n\nold", "Ok"},
		{"forwarded inline", "Je transfère\n\n---------- Forwarded message ---------\nDe : Support\nle code", "Je transfère"},
		{"interleaved", "> question ?\nréponse\n> autre question ?\nautre réponse", "réponse|autre réponse"},
		{"no quote", "Bonjour,\nLe code est 4F7K-2M9Q.\nMerci", "Bonjour,|Le code est 4F7K-2M9Q.|Merci"},
		{"le in the text is not an attribution", "Le code est dans le mail.\nMerci", "Le code est dans le mail.|Merci"},
		{"attribution without > quotes", "Voici\n\nOn Mon, Mar 4, 2024, Support wrote:\nVotre code : ABCD", "Voici"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := strings.Trim(strings.ReplaceAll(joinLines(splitQuoted(c.text), true), "\n", "|"), "|")
			if got != c.fresh {
				t.Errorf("new text %q, want %q", got, c.fresh)
			}
		})
	}
}

func TestHTMLToText(t *testing.T) {
	html := `<div>Voici mon code&nbsp;: <b>4F7K</b>-<b>2M9Q</b></div><blockquote type="cite">Votre code : 9Q2M-K7F4</blockquote>`
	text, _ := htmlToText(html, 1<<20)
	lines := splitQuoted(text)
	fresh := joinLines(lines, true)
	if strings.Contains(fresh, "9Q2M") {
		t.Errorf("new text %q", fresh)
	}
	if got := ExtractCodes(fresh, WhereHTML); len(got) != 1 || got[0].Value != testCode {
		t.Errorf("code not found in %q", fresh)
	}
	if q := quotedOnly(lines); !strings.Contains(q, "9Q2M-K7F4") {
		t.Errorf("quoted text %q", q)
	}
}
