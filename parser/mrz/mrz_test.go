package mrz_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/recoverybot/recoverybot/parser/mrz"
)

// The specimens of ICAO Doc 9303 (part 4, 5 and 6, appendices).
const (
	td3 = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<10"
	td1 = "I<UTOD231458907<<<<<<<<<<<<<<<\n7408122F1204159UTO<<<<<<<<<<<6\nERIKSSON<<ANNA<MARIA<<<<<<<<<<"
	td2 = "I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<\nD231458907UTO7408122F1204159<<<<<<<6"
)

// frenchID builds an old French identity card zone with correct check
// digits.
func frenchID() string {
	l1 := "IDFRA" + pad("MARTIN", 25) + "750123"
	num := "880692310285"
	given := pad("ELODIE<<ANNE", 14)
	birth := "850712"
	l2 := num + cd(num) + given + birth + cd(birth) + "F"
	l2 += cd(l1 + l2)
	return l1 + "\n" + l2
}

func pad(s string, n int) string { return s + strings.Repeat("<", n-len(s)) }
func cd(s string) string         { return strconv.Itoa(mrz.CheckDigit(s)) }

func TestCheckDigit(t *testing.T) {
	for s, want := range map[string]int{"L898902C3": 6, "740812": 2, "120415": 9, "D23145890": 7, "<<<<<<<<<": 0} {
		if got := mrz.CheckDigit(s); got != want {
			t.Errorf("CheckDigit(%q) = %d, want %d", s, got, want)
		}
	}
	if mrz.CheckDigit("a") != -1 {
		t.Error("lower case accepted")
	}
}

func TestFind(t *testing.T) {
	cases := []struct {
		name, text string
		format     mrz.Format
		valid      bool
		code       string
	}{
		{"TD3 passport", "REPUBLIQUE\n" + td3 + "\nsignature", mrz.TD3, true, "P"},
		{"TD1 card", td1, mrz.TD1, true, "I"},
		{"TD2 card", td2, mrz.TD2, true, "I"},
		{"French ID", frenchID(), mrz.FrenchID, true, "ID"},
		{"spaced out by OCR", strings.ReplaceAll(td3, "<", " < "), mrz.TD3, true, "P"},
		{"lines run together", strings.ReplaceAll(td3, "\n", ""), mrz.TD3, true, "P"},
		{"lower case", strings.ToLower(td1), mrz.TD1, true, "I"},
		{"misread digit", strings.Replace(td3, "7408122F", "7408123F", 1), mrz.TD3, false, "P"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			z := mrz.Find(c.text)
			if len(z) != 1 {
				t.Fatalf("found %d zones", len(z))
			}
			if z[0].Format != c.format || z[0].Valid != c.valid || z[0].DocumentCode != c.code {
				t.Errorf("got %+v", z[0])
			}
			if c.valid && z[0].Issuer != "UTO" && z[0].Issuer != "FRA" {
				t.Errorf("issuer %q", z[0].Issuer)
			}
		})
	}
}

func TestNotAZone(t *testing.T) {
	for _, text := range []string{
		"",
		"Bonjour, voici mon Kbis.",
		strings.Repeat("<", 44) + "\n" + strings.Repeat("<", 44),
		strings.Repeat("A", 44) + "\n" + strings.Repeat("B", 44),
		"XYZABC<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<\n1234567890123456789012345678901234567890123<",
	} {
		if z := mrz.Find(text); len(z) != 0 {
			t.Errorf("Find(%.30q) = %+v", text, z)
		}
	}
}

func FuzzMRZ(f *testing.F) {
	for _, s := range []string{td1, td2, td3, frenchID(), "P<" + strings.Repeat("<", 42)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		for _, z := range mrz.Find(text) {
			switch z.Format {
			case mrz.TD1, mrz.TD2, mrz.TD3, mrz.FrenchID:
			default:
				t.Fatalf("format %q", z.Format)
			}
			if z.Checked == 0 || len(z.DocumentCode) > 2 || len(z.Issuer) > 3 {
				t.Fatalf("zone %+v", z)
			}
		}
	})
}
