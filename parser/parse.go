package parser

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/textproto"
	"path"
	"regexp"
	"strings"

	"github.com/emersion/go-msgauth/authres"
	"github.com/jhillyerd/enmime/v2"

	"github.com/recoverybot/recoverybot"
)

// Options bound the work of Parse. The zero value uses the defaults.
type Options struct {
	MaxParts int // MIME parts; 0: 1000
}

// Parse reads a raw message. It returns an error only when the bytes are
// not a message at all; even then the returned Message lists why.
func Parse(raw []byte, o Options) (*Message, error) {
	if o.MaxParts == 0 {
		o.MaxParts = 1000
	}
	m := &Message{ParserVersion: Version, Documents: []Document{}, AuthResults: []AuthResult{},
		CaseRefs: []Found{}, Codes: []Found{}, Findings: []string{}}
	p := enmime.NewParser(enmime.MaxMIMEParts(o.MaxParts), enmime.SkipMalformedParts(true))
	env, err := p.ReadEnvelope(bytes.NewReader(raw))
	if err != nil {
		m.Findings = append(m.Findings, "unreadable message: "+oneLine(err.Error()))
		return m, fmt.Errorf("parse: %w", err)
	}
	for _, e := range env.Errors {
		m.Findings = append(m.Findings, oneLine(e.Error()))
	}
	readHeaders(m, env)
	m.Text = env.Text
	if strings.TrimSpace(m.Text) == "" && env.HTML != "" {
		m.Text = env.HTML
	}
	m.NewText = stripQuoted(m.Text)
	for _, group := range []struct {
		origin string
		parts  []*enmime.Part
	}{{"attachment", env.Attachments}, {"inline", env.Inlines}, {"other", env.OtherParts}} {
		for _, part := range group.parts {
			m.Documents = append(m.Documents, document(part, group.origin, m.Text))
		}
	}
	findRefs(m)
	findCodes(m)
	return m, nil
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func addresses(env *enmime.Envelope, key string) []string {
	list, err := env.AddressList(key)
	if err != nil {
		return nil
	}
	var out []string
	for _, a := range list {
		if addr, err := recoverybot.NormalizeAddress(a.Address); err == nil {
			out = append(out, addr)
		}
	}
	return out
}

func messageIDs(v string) []string {
	var out []string
	for _, f := range strings.Fields(v) {
		f = strings.Trim(f, "<>,")
		if f != "" {
			out = append(out, f)
		}
	}
	return out
}

func readHeaders(m *Message, env *enmime.Envelope) {
	m.From = addresses(env, "From")
	if len(m.From) == 1 {
		m.Sender = m.From[0]
	}
	if s := addresses(env, "Sender"); len(s) == 1 {
		m.SenderHdr = s[0]
	}
	m.ReplyTo = addresses(env, "Reply-To")
	m.To = append(addresses(env, "To"), addresses(env, "Cc")...)
	m.Subject = env.GetHeader("Subject")
	if d, err := env.Date(); err == nil {
		m.Date = d.UTC()
	}
	if ids := messageIDs(env.GetHeader("Message-ID")); len(ids) > 0 {
		m.MessageID = ids[0]
	}
	m.InReplyTo = messageIDs(env.GetHeader("In-Reply-To"))
	m.References = messageIDs(env.GetHeader("References"))

	h := textproto.MIMEHeader(env.Root.Header)
	if v := strings.ToLower(strings.TrimSpace(h.Get("Auto-Submitted"))); v != "" && v != "no" {
		m.AutomaticSignals = append(m.AutomaticSignals, "Auto-Submitted: "+v)
	}
	switch v := strings.ToLower(strings.TrimSpace(h.Get("Precedence"))); v {
	case "bulk", "list", "junk":
		m.AutomaticSignals = append(m.AutomaticSignals, "Precedence: "+v)
	}
	for _, k := range []string{"X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress", "List-Id", "List-Unsubscribe"} {
		if h.Get(k) != "" {
			m.AutomaticSignals = append(m.AutomaticSignals, k)
		}
	}
	if rp := strings.TrimSpace(h.Get("Return-Path")); rp == "<>" {
		m.AutomaticSignals = append(m.AutomaticSignals, "null return path")
	}
	if strings.HasPrefix(strings.ToLower(env.Root.ContentType), "multipart/report") {
		m.AutomaticSignals = append(m.AutomaticSignals, "multipart/report")
		m.Bounce = &Bounce{}
	}
	m.Automatic = len(m.AutomaticSignals) > 0

	for _, v := range h.Values("Authentication-Results") {
		id, results, err := authres.Parse(v)
		ar := AuthResult{AuthServID: strings.ToLower(id), Results: []AuthMethod{}}
		if err != nil {
			ar.Error = oneLine(err.Error())
		}
		for _, r := range results {
			ar.Results = append(ar.Results, authMethod(r))
		}
		m.AuthResults = append(m.AuthResults, ar)
	}
}

func authMethod(r authres.Result) AuthMethod {
	switch r := r.(type) {
	case *authres.DMARCResult:
		return AuthMethod{Method: "dmarc", Result: string(r.Value), Props: map[string]string{"header.from": strings.ToLower(r.From)}}
	case *authres.DKIMResult:
		return AuthMethod{Method: "dkim", Result: string(r.Value), Props: map[string]string{"header.d": strings.ToLower(r.Domain), "header.i": r.Identifier}}
	case *authres.SPFResult:
		return AuthMethod{Method: "spf", Result: string(r.Value), Props: map[string]string{"smtp.mailfrom": strings.ToLower(r.From)}}
	case *authres.GenericResult:
		return AuthMethod{Method: r.Method, Result: string(r.Value), Props: r.Params}
	}
	return AuthMethod{Method: "unknown"}
}

var nonFilename = regexp.MustCompile(`[^\p{L}\p{N}._ ()+-]+`)

func document(part *enmime.Part, origin, text string) Document {
	sum := sha256.Sum256(part.Content)
	name := part.FileName
	name = path.Base(strings.ReplaceAll(name, `\`, "/"))
	name = strings.TrimSpace(nonFilename.ReplaceAllString(name, "_"))
	if name == "" || name == "." || name == "/" {
		name = "unnamed"
	}
	d := Document{Filename: name, DeclaredType: part.ContentType, Size: int64(len(part.Content)),
		SHA256: hex.EncodeToString(sum[:]), Origin: origin, Data: part.Content, Signals: []string{}, Findings: []string{}}
	d.MediaType = sniff(part.Content, part.ContentType)
	d.Type, d.Signals = classify(d.Filename, text)
	return d
}

