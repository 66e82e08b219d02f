package parser

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/recoverybot/recoverybot"
)

// The code used in tests, and the ways customers write it.
const testCode = "4F7K2M9Q"

func TestExtractCodesFinds(t *testing.T) {
	for _, text := range []string{
		"4F7K-2M9Q",
		"Voici mon code : 4F7K-2M9Q",
		"mon code est 4f7k-2m9q merci",
		"4F7K 2M9Q",
		"4f7k2m9q",
		"4F7K2M9Q.",
		"Code:4F7K2M9Q",
		"4F7K\u00a02M9Q",                   // non-breaking space kept by HTML conversion
		"4F7K \u2013 2M9Q",                 // en dash
		"*4F7K-2M9Q*",                      // <b> rendered by enmime
		"*4F7K*-*2M9Q*",                    // each group in <b>
		"> Votre code : 4F7K-2M9Q",         // quoted reply
		"ＦＦ４Ｆ７Ｋ－２Ｍ９Ｑ"[6:],                  // full-width, folded by NFKC
		"4F7K-2M9\u00adQ",                  // soft hyphen inside
		"code de vérification : 4FTK-2M9Q", // T: not a confusable, another code
		"(4F7K-2M9Q)",
		"« 4F7K-2M9Q »",
	} {
		got := ExtractCodes(text, WhereBody)
		if len(got) != 1 {
			t.Errorf("%q: %d candidates, want 1", text, len(got))
			continue
		}
		if got[0].Masked != MaskedCode || strings.Contains(got[0].Masked, got[0].Value[:4]) {
			t.Errorf("%q: masked as %q", text, got[0].Masked)
		}
		if text != "code de vérification : 4FTK-2M9Q" && got[0].Value != testCode {
			t.Errorf("%q: value %q", text, got[0].Value)
		}
	}
}

func TestExtractCodesConfusables(t *testing.T) {
	// O/0 and I/L/1 (and U/V) read the same (SPEC §3).
	for _, text := range []string{"4F7K-2M9Q", "4f7k-2m9q"} {
		want := ExtractCodes(text, WhereBody)[0].Value
		for _, variant := range []string{strings.ReplaceAll(text, "0", "O")} {
			if got := ExtractCodes(variant, WhereBody); len(got) != 1 || got[0].Value != want {
				t.Errorf("%q: %v", variant, got)
			}
		}
	}
	for typed, canon := range map[string]string{"1O0L-IU7K": "10011V7K", "ABCD-EFGH": "ABCDEFGH", "LOIU-0I1L": "101V0111"} {
		got := ExtractCodes(typed, WhereBody)
		if len(got) != 1 || got[0].Value != canon {
			t.Errorf("%q: got %v, want %s", typed, got, canon)
		}
	}
}

func TestExtractCodesLettersOnly(t *testing.T) {
	// One code in twenty has no digit: in capitals, in two groups, on
	// its own line or after "code", it counts.
	for _, text := range []string{
		"ABCD-EFGH",
		"ABCD EFGH",
		"Bonjour,\n\nWXYZ-KMNP\n\nCordialement",
		"Re: WXYZ KMNP",
		"code : abcdefgh",
		"le code WXYZKMNP",
		"> WXYZ-KMNP",
	} {
		if got := ExtractCodes(text, WhereBody); len(got) != 1 {
			t.Errorf("%q: %d candidates, want 1", text, len(got))
		}
	}
}

func TestExtractCodesIgnoresWords(t *testing.T) {
	// Every false candidate is a failed attempt against the customer.
	for _, text := range []string{
		"Passport",
		"Bonjour!",
		"Bonjour, je n'arrive plus à me connecter à mon compte.",
		"Veuillez trouver ci-joint mon passport et mon Kbis.",
		"Cordialement, Jean-Marc",
		"JEAN-MARC DUPONT",
		"JEAN-PAUL",
		"TRES BIEN MERCI",
		"2 RCPT MIME",
		"STAR TREK 25TH ANNIVERSARY",
		"THIS 40MB MAIL",
		"Thu Apr 11, 2024 11am - 12pm",
		"Rendez-vous 10h30 - 11h30",
		"saison 2023-2024",
		"Tél : 0612 3456 78",
		"IBAN FR76 3000 6000 0112 3456 7890 189",
		"Carte 4970 1000 0000 0000",
		"Envoyé de mon iPhone12",
		"Windows10 Professionnel",
		"écrivez à support@abcd1234.example.org",
		"https://example.org/reset/ab12cd34/confirm",
		"https://example.org/?token=ab12cd34",
		"commande #AB12CD34",
		"montant 1234,5678 €",
		"550e8400-e29b-41d4-a716-446655440000",
		"j'ai bien reçu le code toujours pas arrivé",
		"mots-clés: peut-être",
		"Référence RC-7KQ2M9",
		"RC7KQ2M9",
		"le 12/03/2024 à 10:15",
		"numéro SIRET 552 100 554 00012",
		"Pourriez-vous m'aider ?",
	} {
		if got := ExtractCodes(text, WhereBody); len(got) != 0 {
			t.Errorf("%q: candidates %v", text, values(got))
		}
	}
}

func values(fs []Found) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Value)
	}
	return out
}

func TestExtractCodesEachOnce(t *testing.T) {
	got := ExtractCodes("4F7K-2M9Q\n> 4F7K-2M9Q\nou 4f7k2m9q, sinon 9Q2M-K7F4", WhereBody)
	if len(got) != 2 || got[0].Value != testCode || got[1].Value != "9Q2MK7F4" {
		t.Errorf("got %v", values(got))
	}
}

func TestExtractRefs(t *testing.T) {
	for text, want := range map[string]string{
		"[RC-7KQ2M9] Déblocage": "RC-7KQ2M9",
		"ref rc-7kq2m9":         "RC-7KQ2M9",
		"dossier RC7KQ2M9":      "RC-7KQ2M9",
		"Re: RC 7KQ2M9":         "RC-7KQ2M9",
		"(RC-7KQ2M9).":          "RC-7KQ2M9",
		"SRC-7KQ2M9":            "",
		"RC-7KQ2M0":             "", // 0 is not in the reference alphabet
		"RC-7KQ2M9X":            "",
	} {
		got := ExtractRefs(text, WhereSubject)
		switch {
		case want == "" && len(got) != 0:
			t.Errorf("%q: %v", text, got)
		case want != "" && (len(got) != 1 || got[0].Value != want || got[0].Masked != want):
			t.Errorf("%q: %v, want %s", text, got, want)
		}
	}
}

func FuzzExtractCodes(f *testing.F) {
	for _, s := range []string{"4F7K-2M9Q", "Voici mon code : 4f7k 2m9q", "*4F7K*-*2M9Q*", "ABCD EFGH", "RC-7KQ2M9",
		"IBAN FR76 3000 6000 0112", "> code: abcdefgh", "ＦＦ４Ｆ７Ｋ－２Ｍ９Ｑ"} {
		f.Add(s)
	}
	// The subjects and texts of the fixtures, as the parser reads them.
	fixtures, _ := filepath.Glob(filepath.Join(fixtureDir, "*.eml"))
	for _, fx := range fixtures {
		if raw, err := os.ReadFile(fx); err == nil {
			m, _ := Parse(raw, Options{})
			f.Add(m.Subject)
			f.Add(m.Text[:min(len(m.Text), 2048)])
		}
	}
	f.Fuzz(func(t *testing.T, text string) {
		seen := map[string]bool{}
		for _, c := range ExtractCodes(text, WhereBody) {
			canon, err := recoverybot.NormalizeCode(c.Value)
			if err != nil || canon != c.Value {
				t.Fatalf("candidate %q is not a normalised code", c.Value)
			}
			if seen[c.Value] {
				t.Fatalf("candidate %q twice", c.Value)
			}
			seen[c.Value] = true
			if c.Masked != MaskedCode || c.Where != WhereBody {
				t.Fatalf("candidate %+v", c)
			}
		}
		for _, r := range ExtractRefs(text, WhereBody) {
			if canon, err := recoverybot.ParseRef(r.Value); err != nil || canon != r.Value {
				t.Fatalf("reference %q", r.Value)
			}
		}
	})
}

// TestRefsInRaw: the references of bytes that could not be parsed are
// read with ExtractRefs's grammar ("RC: 7KQ2M9", two separators), in the
// Subject decoded whatever its charset, and only in the first MiB.
func TestRefsInRaw(t *testing.T) {
	for _, tc := range []struct {
		name, raw string
		want      []string
	}{
		{"two separators", "From: a@b.example\r\n\r\n--broken\r\nmy case RC: 7kq2m9 please\r\n", []string{"RC-7KQ2M9"}},
		{"encoded subject", "Subject: =?iso-8859-1?q?r=E9cup=E9ration_RC-7KQ2M9?=\r\n\r\nbody\r\n", []string{"RC-7KQ2M9"}},
		{"base64 subject", "Subject: =?utf-8?b?" + base64.StdEncoding.EncodeToString([]byte("récupération RC-3ABCDE")) + "?=\r\n\r\nRC-7KQ2M9\r\n", []string{"RC-7KQ2M9", "RC-3ABCDE"}},
		{"glued", "Subject: xRC-7KQ2M9 RC-7KQ2M9x\r\n\r\n", nil},
		{"past the first MiB", "Subject: hi\r\n\r\n" + strings.Repeat("a", 1<<20) + " RC-7KQ2M9\r\n", nil},
	} {
		got := RefsInRaw([]byte(tc.raw))
		var vals []string
		for _, f := range got {
			vals = append(vals, f.Value)
			if f.Where != WhereRaw {
				t.Errorf("%s: where %q", tc.name, f.Where)
			}
		}
		if strings.Join(vals, " ") != strings.Join(tc.want, " ") {
			t.Errorf("%s: RefsInRaw = %v, want %v", tc.name, vals, tc.want)
		}
	}
}
