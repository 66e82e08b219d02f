package parser

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestCharsets checks that the text of every charset in the corpus is
// decoded: what a person reads comes out right.
func TestCharsets(t *testing.T) {
	cases := []struct {
		file, subject, text string
	}{
		{"thunderbird/11-plaintext-greek.eml", "", "Καλησπέρα"},
		{"jstedfast__mimekit/messages_japanese.txt", "日本語メールテスト", "日本語が"},
		{"thunderbird/composition_data_iso-2022-jp.eml", "", "世界"},
		{"mikel__mail/multi_charset_ks_c_5601-1987.eml", "", "스티해"},
		{"mikel__mail/multi_charset_japanese_shift_jis.eml", "", "あいうえお"},
		{"thunderbird/composition_data_charset-cp932.eml", "ここに本文がきます。", "ここに本文がきます。"},
		{"thunderbird/composition_data_body-utf16.eml", "", "Hi Magnus, here a better UTF-16 encoded mail."},
		{"local-composed/mutt-fr-cp1252.eml", "Relance paiement (windows-1252, €)", "l’œuvre sera livrée"},
		{"local-composed/mutt-fr-latin1-pdf-jpeg.eml", "", "colis reçu abîmé"},
		{"local-composed/snail-fr-pdf.eml", "Devis signé", "colis reçu abîmé"},
		{"local-composed/mutt-html-only.eml", "", "Bonjour *Élodie*"},
		{"php-mime-mail-parser__php-mime-mail-parser/issue212", "Automatyczna odpowiedź", ""},
		{"php-mime-mail-parser__php-mime-mail-parser/issue149", "מענה 'אני לא נמצא'", ""},
		{"php-mime-mail-parser__php-mime-mail-parser/m0023", "", "Det här är ett flerdelat meddelande"},
		{"php-mime-mail-parser__php-mime-mail-parser/m0024", "Persil, abeilles", ""},
		{"mikel__mail/error_emails_invalid_subject_characters.eml", "Formação FrenetikPolis", ""},
		{"mikel__mail/rfc6532_utf8_headers.eml", "Säying Hello", ""},
		{"thunderbird/message-reader_data_noCharsetWindows1252.eml", "", "texto en español"},
		{"jstedfast__mimekit/tnef_ukr.eml", "", "шостий"},
		{"mailgun__flanker/bilingual-simple.eml", "Как ты поживаешь?", "А эта линия по-русски."},
		{"mailgun__flanker/8bitmime.eml", "", "Превел"},
		{"cpython/msg_10.txt", "", "¡This is a Quoted Printable encoded message!"},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(corpusDir, c.file))
			if err != nil {
				t.Fatal(err)
			}
			m, _ := Parse(raw, Options{})
			if !strings.Contains(m.Subject, c.subject) {
				t.Errorf("subject %q lacks %q", m.Subject, c.subject)
			}
			if !strings.Contains(m.Text, c.text) {
				t.Errorf("text %q lacks %q", m.Text, c.text)
			}
			if !utf8.ValidString(m.Text) || strings.ContainsRune(m.Text, utf8.RuneError) || strings.ContainsRune(m.Subject, utf8.RuneError) {
				t.Errorf("replacement characters in %q / %q", m.Subject, m.Text)
			}
		})
	}
}

func TestMislabelledUTF8(t *testing.T) {
	// "Élodie, été" sent as UTF-8 but declared ISO-8859-1: enmime
	// converted it to "Ã\u0089lodie, Ã©tÃ©".
	converted := "Ã\u0089lodie, Ã©tÃ©"
	if s, ok := mislabelledUTF8(converted, "ISO-8859-1"); !ok || s != "Élodie, été" {
		t.Errorf("got %q %v", s, ok)
	}
	// Genuine Latin-1 text stays as it is.
	if _, ok := mislabelledUTF8("Élodie, été", "iso-8859-1"); ok {
		t.Error("genuine Latin-1 taken for UTF-8")
	}
	if _, ok := mislabelledUTF8("plain ascii", "windows-1252"); ok {
		t.Error("ASCII taken for UTF-8")
	}
}
