package mailbox_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"

	"github.com/recoverybot/recoverybot/mailbox"
)

const (
	memUser = "contact@example.net"
	memPass = "correct horse battery staple"
)

func message(i int) []byte {
	return fmt.Appendf(nil, "From: a%d@example.org\r\nTo: contact@example.net\r\nSubject: test %d\r\nMessage-ID: <m%d@example.org>\r\nX-Seq: %d\r\n\r\nbody %d\r\n", i, i, i, i, i)
}

type literal struct{ *bytes.Reader }

func appendMem(t *testing.T, u *imapmemserver.User, mailbox string, raw []byte) {
	t.Helper()
	if _, err := u.Append(mailbox, literal{bytes.NewReader(raw)}, &imap.AppendOptions{}); err != nil {
		t.Fatal(err)
	}
}

type memOptions struct {
	caps       imap.CapSet // nil: IMAP4rev2
	tls        string      // "", "implicit", "starttls"
	newSession func(*imapmemserver.Server) imapserver.Session
}

// startMem runs go-imap's in-memory server on loopback and returns its
// address and the account's user, which has an INBOX.
func startMem(t *testing.T, o memOptions) (string, *imapmemserver.User, *tls.Config) {
	t.Helper()
	mem := imapmemserver.New()
	u := imapmemserver.NewUser(memUser, memPass)
	if err := u.Create("INBOX", nil); err != nil {
		t.Fatal(err)
	}
	mem.AddUser(u)
	caps := o.caps
	if caps == nil {
		caps = imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}}
	}
	serverTLS, clientTLS := testTLS(t)
	opts := &imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			if o.newSession != nil {
				return o.newSession(mem), nil, nil
			}
			return mem.NewSession(), nil, nil
		},
		Caps:         caps,
		InsecureAuth: o.tls == "",
		Logger:       log.New(io.Discard, "", 0),
	}
	if o.tls == "starttls" {
		opts.TLSConfig = serverTLS
	}
	srv := imapserver.New(opts)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if o.tls == "implicit" {
		ln = tls.NewListener(ln, serverTLS)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return addr, u, clientTLS
}

// testTLS makes a self-signed certificate for 127.0.0.1 and localhost.
func testTLS(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "localhost"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")},
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	client = &tls.Config{RootCAs: pool}
	return server, client
}

func dial(t *testing.T, o mailbox.Options) *mailbox.Conn {
	t.Helper()
	if o.Security == "" {
		o.Security = mailbox.SecurityNone
	}
	if o.CommandTimeout == 0 {
		o.CommandTimeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := mailbox.Dial(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func uids(list []mailbox.Summary) []uint32 {
	var out []uint32
	for _, s := range list {
		out = append(out, s.UID)
	}
	return out
}
