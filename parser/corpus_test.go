package parser

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/recoverybot/recoverybot/parser/tnef"
)

// errIncomparable marks a message the standard library cannot walk
// (malformed MIME that enmime repairs): it is parsed, but not compared.
var errIncomparable = errors.New("incomparable")

// walkDocuments is an independent MIME walk with net/mail and
// mime/multipart. It returns the SHA-256 of every document as SPEC §6
// defines them: every leaf part except the text a person reads (plain,
// HTML and enriched text without a file name or attachment disposition,
// any text inside multipart/alternative), the machinery of reports and
// signatures, and containers: a forwarded message/rfc822 counts for its
// own documents (to 5 levels), a winmail.dat for the files it carries.
func walkDocuments(raw []byte) ([]string, error) {
	raw, _ = repair(raw)
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return nil, errIncomparable
	}
	var docs []string
	err = walkEntity(textproto.MIMEHeader(msg.Header), msg.Body, "", 0, &docs)
	return docs, err
}

func walkEntity(h textproto.MIMEHeader, body io.Reader, parent string, depth int, docs *[]string) error {
	ct := "text/plain"
	var params map[string]string
	if v := h.Get("Content-Type"); v != "" {
		var err error
		ct, params, err = mime.ParseMediaType(v)
		if err != nil {
			return errIncomparable
		}
	} else if parent == "multipart/digest" {
		ct = "message/rfc822"
	}
	if strings.HasPrefix(ct, "multipart/") {
		if params["boundary"] == "" {
			return errIncomparable
		}
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return errIncomparable
			}
			if err := walkEntity(p.Header, p, ct, depth, docs); err != nil {
				return err
			}
		}
	}
	data, err := decodeTransfer(h.Get("Content-Transfer-Encoding"), body)
	if err != nil {
		return errIncomparable
	}
	disp, dparams, _ := mime.ParseMediaType(h.Get("Content-Disposition"))
	named := dparams["filename"] != "" || params["name"] != ""
	textual := ct == "text/plain" || ct == "text/html" || ct == "text/enriched" || ct == "text/richtext" ||
		parent == "multipart/alternative" && strings.HasPrefix(ct, "text/")
	switch {
	case textual && !strings.EqualFold(disp, "attachment") && !named:
	case reportParts[ct]:
	case signatureTypes[ct] && parent == "multipart/signed":
	case (ct == "message/rfc822" || ct == "message/global") && parent == "multipart/report":
	case ct == "message/rfc822" || ct == "message/global":
		if depth+1 > 5 {
			*docs = append(*docs, hash(data))
			return nil
		}
		inner, err := mail.ReadMessage(bytes.NewReader(data))
		if err != nil {
			return errIncomparable
		}
		return walkEntity(textproto.MIMEHeader(inner.Header), inner.Body, "", depth+1, docs)
	case ct == "application/ms-tnef" || ct == "application/vnd.ms-tnef":
		m, err := tnef.Decode(data)
		if err != nil {
			return errIncomparable
		}
		var add func(*tnef.Message)
		add = func(m *tnef.Message) {
			for _, a := range m.Attachments {
				if a.Embedded != nil {
					add(a.Embedded)
				} else {
					*docs = append(*docs, hash(a.Data))
				}
			}
		}
		add(m)
	default:
		*docs = append(*docs, hash(data))
	}
	return nil
}

func decodeTransfer(cte string, r io.Reader) ([]byte, error) {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "base64":
		clean, err := io.ReadAll(r)
		if err != nil {
			return nil, err
		}
		clean = bytes.Map(func(r rune) rune {
			if r == '\r' || r == '\n' || r == ' ' || r == '\t' {
				return -1
			}
			return r
		}, clean)
		// Decoders differ on damaged base64 (bad padding, stray
		// characters): only well-formed parts are compared.
		data, err := base64.StdEncoding.Strict().DecodeString(string(clean))
		if err != nil || base64.StdEncoding.EncodeToString(data) != string(clean) {
			return nil, errIncomparable
		}
		return data, nil
	case "quoted-printable":
		return io.ReadAll(quotedprintable.NewReader(r))
	case "", "7bit", "8bit", "binary":
		return io.ReadAll(bufio.NewReader(r))
	}
	return nil, errIncomparable
}

func hash(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// messageFiles lists every corpus message and fixture, as paths.
func messageFiles(t testing.TB) []string {
	var paths []string
	for _, rel := range corpusFiles(t) {
		paths = append(paths, filepath.Join(corpusDir, rel))
	}
	fixtures, _ := filepath.Glob(filepath.Join(fixtureDir, "*.eml"))
	return append(paths, fixtures...)
}

// TestNoPartLost parses every corpus message and fixture: none panics,
// and the documents found are the ones the independent walk finds.
func TestNoPartLost(t *testing.T) {
	paths := messageFiles(t)
	compared := 0
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		m, perr := Parse(raw, Options{})
		if m == nil {
			t.Fatalf("%s: nil message", p)
		}
		want, err := walkDocuments(raw)
		if err != nil || perr != nil {
			continue
		}
		compared++
		var got []string
		for _, d := range m.Documents {
			got = append(got, d.SHA256)
			if len(d.Data) != int(d.Size) || hash(d.Data) != d.SHA256 {
				t.Errorf("%s: document %s: data does not match its size and hash", p, d.Filename)
			}
			if !d.Type.Valid() {
				t.Errorf("%s: document %s: type %q", p, d.Filename, d.Type)
			}
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: parser found %d documents, the walk %d:\n got %v\nwant %v", p, len(got), len(want), got, want)
		}
	}
	t.Logf("%d of %d messages compared with the independent walk", compared, len(paths))
	if compared < 120 {
		t.Errorf("only %d messages compared", compared)
	}
}
