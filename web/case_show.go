package web

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/desk"
)

type fact struct{ Label, Value string }

type checkItem struct {
	Label    string
	Done     bool
	Optional bool // shown, not required for this kind of case
	Evidence []string
}

type docView struct {
	Type, Filename, MediaType, Size, SHA256, Received string
	Signals, Findings                                 []string
	Counts, Purged                                    bool
	Preview                                           bool // a preview can be rendered
	Pages                                             bool // it may have several pages (PDF)
	PreviewURL, PagesURL, DownloadURL                 string
}

type timelineEntry struct {
	At      time.Time
	Actor   string
	What    string
	Details []fact
	Message bool // a message we received: the sender verdict and the code result
	Mail    bool // a mail we sent
}

type option struct{ Value, Label string }

type caseData struct {
	Ref, Kind, HolderKind, State, Holder string
	Facts                                []fact
	Attention                            []string
	Warnings                             []string
	Checklist                            []checkItem
	Docs                                 []docView
	Timeline                             []timelineEntry
	CanApprove, CanReject, CanCancel     bool
	CanResend, CanReopen                 bool
	LostEmail                            bool
	Contact                              string
	RejectReasons                        []option
	Decided                              []fact
}

// caseShow is a case's page: the profile, what the case needs and what
// satisfies it, the documents, the timeline and the decision forms.
func (s *Server) caseShow(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ref := r.PathValue("ref")
	sum, err := s.desk.Show(ctx, ref)
	if err != nil {
		s.deskError(w, r, err)
		return
	}
	p, err := s.desk.Profile(ctx, ref)
	if err != nil {
		s.deskError(w, r, err)
		return
	}
	docs, err := s.desk.Documents(ctx, ref)
	if err != nil {
		s.deskError(w, r, err)
		return
	}
	why, err := s.desk.Attention(ctx, ref)
	if err != nil {
		s.deskError(w, r, err)
		return
	}
	m := s.catalog.in(s.lang(r))
	d := caseData{Ref: sum.Ref, Kind: m.S("kind." + string(sum.Kind)), HolderKind: m.S("holder." + string(sum.HolderKind)),
		State: m.S("state." + string(sum.State)), Holder: sum.ClaimedBy, Warnings: warnings(m, sum),
		LostEmail: sum.Kind == recoverybot.KindLostEmail, Contact: sum.Contact}
	for _, a := range why {
		d.Attention = append(d.Attention, m.S("attention."+a))
	}
	d.Facts = profileFacts(m, p, sum)
	d.Checklist = checklist(m, sum)
	d.Docs = documentViews(m, sum, docs)
	d.Timeline = timeline(m, sum)
	open := sum.State.Open()
	d.CanApprove = sum.State == recoverybot.StateReadyForReview
	d.CanReject, d.CanCancel = open, open
	d.CanResend = sum.Kind.NeedsCode() && sum.State == recoverybot.StateAwaitingEvidence
	d.CanReopen = sum.State == recoverybot.StateLocked
	for _, rr := range rejectReasons() {
		d.RejectReasons = append(d.RejectReasons, option{Value: string(rr), Label: m.S("reject." + string(rr))})
	}
	if sum.DecidedAt != nil {
		d.Decided = append(d.Decided, fact{m.S("case.decided_by"), sum.DecidedBy}, fact{m.S("case.decided_at"), datetime(*sum.DecidedAt)})
		for _, f := range []fact{{m.S("case.note"), sum.Note}, {m.S("case.reason"), sum.Reason}, {m.S("case.new_email"), sum.NewEmail}} {
			if f.Value != "" {
				d.Decided = append(d.Decided, f)
			}
		}
	}
	s.render(w, r, http.StatusOK, "case", sum.Ref, d)
}

func datetime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

func profileFacts(m messages, p recoverybot.Profile, sum desk.Summary) []fact {
	facts := []fact{
		{m.S("profile.id"), p.ID},
		{m.S("profile.holder_name"), p.HolderName},
		{m.S("profile.holder_kind"), m.S("holder." + string(p.HolderKind))},
	}
	if p.HolderKind.NeedsRepresentative() {
		facts = append(facts, fact{m.S("profile.representative"), p.Representative})
	}
	if p.SIREN != "" {
		facts = append(facts, fact{"SIREN", p.SIREN})
	}
	if p.RNA != "" {
		facts = append(facts, fact{"RNA", p.RNA})
	}
	facts = append(facts, fact{m.S("profile.email"), p.Email}, fact{m.S("profile.locale"), p.Locale},
		fact{m.S("case.contact"), sum.Contact}, fact{m.S("case.opened"), sum.OpenedBy + ", " + datetime(sum.OpenedAt)})
	if sum.PurgedAt != nil {
		facts = append(facts, fact{m.S("case.purged"), datetime(*sum.PurgedAt)})
	}
	return facts
}

// checklist is what the case needs, each item with the evidence that
// satisfies it: the documents of the requirement table, the sender and
// the code.
func checklist(m messages, sum desk.Summary) []checkItem {
	missing := func(r recoverybot.Requirement) bool { return slices.Contains(sum.Missing, r) }
	var items []checkItem
	for _, t := range recoverybot.RequiredDocuments(sum.HolderKind) {
		it := checkItem{Label: m.S("req." + string(t)), Done: !missing(recoverybot.Requirement(t))}
		for _, doc := range sum.Documents {
			if doc.Type == t {
				e := fmt.Sprintf("%s (%s, %s)", doc.Filename, doc.MediaType, datetime(doc.ReceivedAt))
				if !doc.Counts {
					e += " — " + m.S("doc.does_not_count")
				}
				it.Evidence = append(it.Evidence, e)
			}
		}
		items = append(items, it)
	}
	sender := checkItem{Label: m.S("req.authenticated_sender"), Optional: !sum.Kind.NeedsProfileAddress(),
		Done: sum.Kind.NeedsProfileAddress() && !missing(recoverybot.NeedAuthenticatedSender)}
	sender.Evidence = append(sender.Evidence, m.S("sender."+string(orNone(sum.SenderStatus))))
	for _, e := range sum.Events {
		if strings.HasPrefix(e.Action, "message_") && e.Details["sender_status"] == string(recoverybot.SenderVerified) {
			sender.Evidence = append(sender.Evidence, fmt.Sprintf("%s: %s — %s", datetime(e.At), e.Details["sender"], e.Details["sender_detail"]))
		}
	}
	items = append(items, sender)
	if sum.Kind.NeedsCode() {
		code := checkItem{Label: m.S("req.code"), Done: sum.CodeVerified}
		for _, e := range sum.Events {
			if e.Action == "code_verified" {
				code.Evidence = append(code.Evidence, m.F("code.verified_at", datetime(e.At)))
			}
		}
		if sum.FailedCodeAttempts > 0 {
			code.Evidence = append(code.Evidence, m.F("code.failed_attempts", sum.FailedCodeAttempts))
		}
		if sum.CodeExpiresAt != nil {
			code.Evidence = append(code.Evidence, m.F("code.expires_at", datetime(*sum.CodeExpiresAt)))
		}
		items = append(items, code)
	}
	return items
}

func orNone(s recoverybot.SenderStatus) recoverybot.SenderStatus {
	if s == "" {
		return recoverybot.SenderNone
	}
	return s
}

// previewable reports whether a Previewer is asked to render bytes of a
// sniffed media type: the photos and scans customers send. Anything else
// (SVG, HTML, archives…) has no preview, only the audited download.
func previewable(mediaType string) bool {
	switch mediaType {
	case "image/jpeg", "image/png", "image/gif", "image/webp", "image/tiff", "application/pdf":
		return true
	}
	return false
}

func documentViews(m messages, sum desk.Summary, docs []recoverybot.Document) []docView {
	signals := map[string][]string{}
	for _, d := range docs {
		if _, ok := signals[d.SHA256]; !ok {
			signals[d.SHA256] = d.Signals
		}
	}
	var out []docView
	for _, doc := range sum.Documents {
		base := "/cases/" + sum.Ref + "/documents/" + doc.SHA256
		v := docView{Type: m.S("doctype." + string(doc.Type)), Filename: doc.Filename, MediaType: doc.MediaType,
			Size: m.size(doc.Size), SHA256: doc.SHA256, Received: datetime(doc.ReceivedAt), Signals: signals[doc.SHA256],
			Findings: doc.Findings, Counts: doc.Counts, Purged: doc.Purged, DownloadURL: base + "/download"}
		if !doc.Purged && previewable(doc.MediaType) {
			v.Preview, v.PreviewURL = true, base+"/preview/1"
			v.Pages, v.PagesURL = doc.MediaType == "application/pdf", base
		}
		out = append(out, v)
	}
	return out
}

// size is a byte count as people read it.
func (m messages) size(n int64) string {
	switch {
	case n < 1024:
		return m.F("size.bytes", n)
	case n < 1024*1024:
		return m.F("size.kib", float64(n)/1024)
	}
	return m.F("size.mib", float64(n)/(1024*1024))
}

// timeline merges the audit events and the mail of a case, in time
// order. The details of the events about messages carry the sender
// verdict, with the Authentication-Results it rests on, and the code
// result: never the code, which nothing stores in clear.
func timeline(m messages, sum desk.Summary) []timelineEntry {
	var out []timelineEntry
	for _, e := range sum.Events {
		te := timelineEntry{At: e.At, Actor: e.Actor, What: m.Or("action."+e.Action, e.Action),
			Message: strings.HasPrefix(e.Action, "message_")}
		keys := make([]string, 0, len(e.Details))
		for k := range e.Details {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			v := e.Details[k]
			if k == "sender_status" {
				v = m.Or("sender."+v, v)
			}
			if k == "code" && te.Message {
				v = m.Or("coderesult."+v, v)
			}
			te.Details = append(te.Details, fact{m.Or("detail."+k, k), v})
		}
		out = append(out, te)
	}
	for _, mail := range sum.Mail {
		te := timelineEntry{At: mail.CreatedAt, Actor: recoverybot.SystemActor, Mail: true,
			What: m.F("mail.queued", m.Or("template."+mail.Template, mail.Template))}
		te.Details = append(te.Details, fact{m.S("mail.to"), mail.To}, fact{m.S("mail.state"), m.Or("mailstate."+mail.State, mail.State)})
		if mail.SentAt != nil {
			te.Details = append(te.Details, fact{m.S("mail.sent_at"), datetime(*mail.SentAt)})
		}
		if mail.Attempts > 0 {
			te.Details = append(te.Details, fact{m.S("mail.attempts"), fmt.Sprint(mail.Attempts)})
		}
		if mail.LastError != "" {
			te.Details = append(te.Details, fact{m.S("mail.last_error"), mail.LastError})
		}
		out = append(out, te)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out
}
