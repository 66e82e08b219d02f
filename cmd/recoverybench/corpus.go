package main

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/recoverybot/recoverybot/internal/testfiles"
)

// corpus writes the benchmark's mail: deterministic, each message with its
// own Message-ID, documents that do not compress.
type corpus struct {
	rnd    *rand.Rand
	n      int
	lastID string // the Message-ID of the last message written
}

func newCorpus(seed uint64) *corpus { return &corpus{rnd: rand.New(rand.NewPCG(seed, 2001))} }

func (c *corpus) messageID() string {
	c.n++
	c.lastID = fmt.Sprintf("bench.%d.%d@customers.example", c.n, c.rnd.Uint32())
	return c.lastID
}

// junk returns n random bytes.
func (c *corpus) junk(n int) []byte {
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := c.rnd.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

var words = strings.Fields(`bonjour hello site web hébergement hosting domaine domain facture invoice
	paiement payment serveur server erreur error page accueil base données database sauvegarde backup
	certificat certificate email messagerie mailbox mot passe password merci thanks cordialement regards
	depuis since hier yesterday matin morning problème problem question renouvellement renewal dns
	redirection redirect quota espace disque disk php version mise jour update ticket support urgent`)

// text returns about n bytes of prose in lines of about 70 characters.
func (c *corpus) text(n int) string {
	var b strings.Builder
	line := 0
	for b.Len() < n {
		w := words[c.rnd.IntN(len(words))]
		b.WriteString(w)
		line += len(w) + 1
		if line > 70 {
			b.WriteString("\r\n")
			line = 0
		} else {
			b.WriteByte(' ')
		}
	}
	return b.String()
}

// caseMail is a lost-email customer writing from the case's contact
// address, its reference in the subject, with a scan of an identity card
// of about attach bytes.
func (c *corpus) caseMail(ref, contact string, attach int) []byte {
	img := testfiles.JPEG(c.junk(max(attach-4000, 64)))
	return compose(c.messageID(), "Client <"+contact+">", "Re: ["+ref+"] récupération de mon compte",
		"Bonjour,\r\nvoici ma carte d'identité, comme demandé.\r\nCordialement\r\n",
		attachment{"carte-identite.jpg", "image/jpeg", img})
}

// supportMail is ordinary support mail of about size bytes: text alone
// when small, text with a file when larger.
func (c *corpus) supportMail(size int) []byte {
	from := fmt.Sprintf("Customer %d <customer%d@support.example>", c.n, c.rnd.IntN(100000))
	subject := fmt.Sprintf("Question %d: %s %s", c.n, words[c.rnd.IntN(len(words))], words[c.rnd.IntN(len(words))])
	if size < 16<<10 {
		return compose(c.messageID(), from, subject, c.text(max(size-700, 100)))
	}
	names := []attachment{{"capture.png", "image/png", []byte("\x89PNG\r\n\x1a\n")},
		{"facture.pdf", "application/pdf", []byte("%PDF-1.4\n")}, {"logs.zip", "application/zip", []byte("PK\x03\x04")}}
	a := names[c.rnd.IntN(len(names))]
	a.data = append(a.data, c.junk(size*3/4-1500)...)
	return compose(c.messageID(), from, subject, c.text(800), a)
}

// logUniform returns a size between lo and hi, most of them small, as in
// a real mailbox.
func (c *corpus) logUniform(lo, hi int) int {
	return int(float64(lo) * math.Exp(c.rnd.Float64()*math.Log(float64(hi)/float64(lo))))
}

type attachment struct {
	name, mediaType string
	data            []byte
}

func compose(messageID, from, subject, text string, atts ...attachment) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "Received: from mx.hosting.example by store.hosting.example with LMTP;\r\n\t%s\r\n",
		time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC).Format(time.RFC1123Z))
	fmt.Fprintf(&b, "From: %s\r\nTo: contact@hosting.example\r\nSubject: =?utf-8?b?%s?=\r\nDate: %s\r\nMessage-ID: <%s>\r\nMIME-Version: 1.0\r\n",
		from, base64.StdEncoding.EncodeToString([]byte(subject)), time.Date(2025, 3, 4, 9, 59, 0, 0, time.UTC).Format(time.RFC1123Z), messageID)
	if len(atts) == 0 {
		fmt.Fprintf(&b, "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n%s\r\n", text)
		return b.Bytes()
	}
	b.WriteString("Content-Type: multipart/mixed; boundary=\"=_bench\"\r\n\r\n--=_bench\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + text + "\r\n")
	for _, a := range atts {
		fmt.Fprintf(&b, "--=_bench\r\nContent-Type: %s; name=%q\r\nContent-Disposition: attachment; filename=%q\r\n"+
			"Content-Transfer-Encoding: base64\r\n\r\n", a.mediaType, a.name, a.name)
		enc := base64.StdEncoding.EncodeToString(a.data)
		b.Grow(len(enc) + len(enc)/76*2 + 64)
		for len(enc) > 76 {
			b.WriteString(enc[:76])
			b.WriteString("\r\n")
			enc = enc[76:]
		}
		b.WriteString(enc + "\r\n")
	}
	b.WriteString("--=_bench--\r\n")
	return b.Bytes()
}
