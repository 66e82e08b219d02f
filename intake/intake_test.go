package intake_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jhillyerd/enmime/v2"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/desk"
	"github.com/recoverybot/recoverybot/intake"
	"github.com/recoverybot/recoverybot/internal/dovecottest"
	"github.com/recoverybot/recoverybot/internal/testfiles"
	"github.com/recoverybot/recoverybot/mailbox"
	"github.com/recoverybot/recoverybot/outbound"
	"github.com/recoverybot/recoverybot/rules"
	"github.com/recoverybot/recoverybot/store"
	"github.com/recoverybot/recoverybot/vault"
)

// world is a real Dovecot, a real SQLite file, a desk and a pipeline.
type world struct {
	t        *testing.T
	dovecot  *dovecottest.Server
	st       *store.Store
	desk     *desk.Desk
	pipeline *intake.Pipeline
	key      recoverybot.CodeKey
	letters  outbound.Letters
	opts     intake.Options // of pipeline
	dbFile   string         // the SQLite file behind st
}

const trustedID = "mx.hosting.example"

func newWorld(t *testing.T) *world {
	t.Helper()
	return newWorldWith(t, nil)
}

// newWorldWith is newWorld with the pipeline's options adjusted by tune.
func newWorldWith(t *testing.T, tune func(*intake.Options)) *world {
	t.Helper()
	w := &world{t: t, dovecot: dovecottest.Start(t)}
	dir := t.TempDir()
	v, err := vault.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	w.dbFile = filepath.Join(dir, "recoverybot.db")
	w.st, err = store.Open(context.Background(), w.dbFile, v, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.st.Close() })
	w.key, _ = recoverybot.NewCodeKey(v.CodeKey())
	letters := outbound.Letters{From: "contact@hosting.example", Provider: "Hosting", CodeTTL: 24 * time.Hour,
		MessageIDKey: v.Key(vault.PurposeMessageID)}
	w.letters = letters
	w.desk = desk.New(w.st, w.key, desk.Options{From: letters.From, Provider: letters.Provider, MessageIDKey: letters.MessageIDKey})
	opts := intake.Options{
		Mailbox: "INBOX", ProcessedFolder: "Recovery/Processed", ReviewFolder: "Recovery/Review",
		Policy:  rules.Policy{TrustedAuthservIDs: []string{trustedID}, RequireAuthenticatedSender: true, ReplyInterval: time.Hour, CodeKey: w.key},
		Letters: letters,
	}
	if tune != nil {
		tune(&opts)
	}
	w.opts = opts
	w.pipeline = intake.New(w.st, opts)
	profiles := []recoverybot.Profile{
		{ID: "p-1", Email: "jean@example.org", HolderKind: recoverybot.HolderIndividual, HolderName: "Jean", Locale: "fr"},
		{ID: "p-2", Email: "gerant@acme.example", HolderKind: recoverybot.HolderCompany, HolderName: "ACME", Representative: "Marie", Locale: "en"},
	}
	if _, err := w.desk.ImportProfiles(context.Background(), profiles, "test", "t"); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *world) conn() *mailbox.Conn {
	w.t.Helper()
	c, err := mailbox.Dial(context.Background(), mailbox.Options{Address: w.dovecot.Addr(), Security: mailbox.SecurityNone,
		Username: w.dovecot.User(), Password: w.dovecot.Password(), CommandTimeout: 20 * time.Second})
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { c.Close() })
	return c
}

// code opens the case's code mail in the outbox and reads the code, as the
// customer would.
func (w *world) code(ref string) string {
	w.t.Helper()
	var code string
	w.st.View(context.Background(), func(tx *store.Tx) error {
		c, _ := tx.CaseByRef(ref)
		mail, _ := tx.Outbox(store.OutboxFilter{CaseID: c.ID, WithRaw: true})
		env, err := enmime.ReadEnvelope(bytes.NewReader(mail[len(mail)-1].Raw))
		if err != nil {
			w.t.Fatal(err)
		}
		code = regexp.MustCompile(`\b[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}\b`).FindString(env.Text)
		return nil
	})
	if code == "" {
		w.t.Fatal("no code in the code mail")
	}
	return code
}

// customerMail composes a message as the customer's MTA delivers it to
// the contact mailbox, with our MX's Authentication-Results on top.
func customerMail(from, subject, body string, auth string, attachments map[string][]byte) []byte {
	var b strings.Builder
	if auth != "" {
		fmt.Fprintf(&b, "Authentication-Results: %s\r\n", auth)
	}
	fmt.Fprintf(&b, "From: Client <%s>\r\nTo: contact@hosting.example\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: <%d.%s>\r\nMIME-Version: 1.0\r\n",
		from, subject, time.Now().Format(time.RFC1123Z), time.Now().UnixNano(), from)
	if len(attachments) == 0 {
		fmt.Fprintf(&b, "Content-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n", body)
		return []byte(b.String())
	}
	b.WriteString("Content-Type: multipart/mixed; boundary=XYZ\r\n\r\n--XYZ\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + body + "\r\n")
	for name, data := range attachments {
		fmt.Fprintf(&b, "--XYZ\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=%q\r\nContent-Transfer-Encoding: base64\r\n\r\n%s\r\n",
			name, base64.StdEncoding.EncodeToString(data))
	}
	b.WriteString("--XYZ--\r\n")
	return []byte(b.String())
}

var jpeg = testfiles.JPEG(bytes.Repeat([]byte{0x42}, 2000))

func TestDrainTiesProcessesAndMoves(t *testing.T) {
	var commits atomic.Int32
	w := newWorldWith(t, func(o *intake.Options) { o.AfterCommit = func() { commits.Add(1) } })
	ctx := context.Background()
	s, err := w.desk.Open(ctx, desk.OpenRequest{ProfileID: "p-1", Kind: recoverybot.KindTOTPLockout, By: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	code := w.code(s.Ref)
	user := w.dovecot.User()
	// Ordinary support mail, before and after.
	w.dovecot.Deliver(user, customerMail("someone@else.example", "Question about my invoice", "Hello", "", nil))
	w.dovecot.Deliver(user, customerMail("jean@example.org", "Re: ["+s.Ref+"] recovery",
		"Voici ma carte d'identité et le code "+code, trustedID+"; spf=pass smtp.mailfrom=example.org; dmarc=pass header.from=example.org",
		map[string][]byte{"cni.jpg": jpeg}))
	w.dovecot.Deliver(user, customerMail("other@else.example", "Domain renewal", "Hi", "", nil))

	stats, err := w.pipeline.Drain(ctx, w.conn())
	if err != nil {
		t.Fatal(err)
	}
	if stats.Fetched != 3 || stats.Processed != 1 || stats.Ignored != 2 || stats.Moved != 1 {
		t.Errorf("stats = %+v", stats)
	}
	if commits.Load() == 0 {
		t.Error("AfterCommit was not called: the courier would not be woken")
	}
	got, _ := w.desk.Show(ctx, s.Ref)
	if got.State != recoverybot.StateReadyForReview || !got.CodeVerified || !got.SenderVerified || len(got.Documents) != 1 {
		t.Errorf("case after its mail = %+v", got)
	}
	if n, _ := w.dovecot.Count(user, "INBOX"); n != 2 {
		t.Errorf("INBOX has %d messages, want the 2 unrelated ones", n)
	}
	if n, _ := w.dovecot.Count(user, "Recovery.Processed"); n != 1 {
		t.Errorf("processed folder has %d messages", n)
	}
	flags, _ := w.dovecot.Flags(user, "INBOX")
	for uid, f := range flags {
		if len(f) != 0 {
			t.Errorf("unrelated message %d got flags %v", uid, f)
		}
	}
	// Nothing new: a second drain fetches nothing.
	stats, err = w.pipeline.Drain(ctx, w.conn())
	if err != nil || stats.Fetched != 0 {
		t.Errorf("second drain = %+v, %v", stats, err)
	}
}
