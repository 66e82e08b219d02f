package web

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/desk"
)

// What the case page shows of a case, built from desk's Summary.

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
	PreviewURL, PagesURL, DownloadURL, JudgeURL       string
	// The agent's verdict, if any: Verdict is its words, VerdictClass
	// its CSS class ("accepted", "refused").
	Verdict, VerdictClass, VerdictBy, VerdictReason string
	Askable                                         bool // of a type the profile is asked for
}

// messageView is one message of the case: its sender verdict, with the
// trusted Authentication-Results it rests on, and its code result.
type messageView struct {
	UID, Received, Date, Sender string
	Status                      string // the sender verdict, in words
	StatusClass                 string // its CSS class: verified, unverified, failed, none
	Detail                      string
	Code                        string // the code result in words; "" without one
	Outcome, Reason             string
}

type timelineEntry struct {
	At      time.Time
	Actor   string
	What    string
	Details []fact
	Message *messageView // a message we received: the sender verdict and the code result
	Mail    bool         // a mail we sent
	Action  bool         // the call of the admin system's hook
}

// actionView is where the call of the admin system's hook stands.
type actionView struct {
	Action, State, StateClass string
	Facts                     []fact
}

// checklist is what the case needs, each item with the evidence that
// satisfies it: the documents of the requirement table (the filename of
// the one that counts), the authenticated sender (the message that
// verified it) and the code.
func checklist(m messages, sum desk.Summary) []checkItem {
	missing := func(r recoverybot.Requirement) bool { return slices.Contains(sum.Missing, r) }
	var items []checkItem
	for _, t := range recoverybot.RequiredDocuments(sum.HolderKind) {
		it := checkItem{Label: m.S("req." + string(t)), Done: !missing(recoverybot.Requirement(t))}
		var others []string
		for _, doc := range sum.Documents {
			if doc.Type != t {
				continue
			}
			e := fmt.Sprintf("%s (%s, %s)", doc.Filename, doc.MediaType, datetime(doc.ReceivedAt))
			switch {
			case doc.Counts && doc.Verdict == recoverybot.VerdictAccepted:
				it.Evidence = append(it.Evidence, e+" — "+m.F("verdict.accepted_by", doc.VerdictBy))
			case doc.Counts:
				it.Evidence = append(it.Evidence, e)
			case doc.Verdict == recoverybot.VerdictRefused:
				others = append(others, e+" — "+m.F("verdict.refused_by", doc.VerdictBy, doc.VerdictReason))
			default:
				others = append(others, e+" — "+m.S("doc.does_not_count"))
			}
		}
		it.Evidence = append(it.Evidence, others...)
		items = append(items, it)
	}
	sender := checkItem{Label: m.S("req.authenticated_sender"), Optional: !sum.Kind.NeedsProfileAddress(),
		Done: sum.Kind.NeedsProfileAddress() && !missing(recoverybot.NeedAuthenticatedSender)}
	for _, msg := range sum.Messages {
		if msg.SenderStatus == recoverybot.SenderVerified {
			sender.Evidence = append(sender.Evidence, m.F("check.sender_verified_by", datetime(msg.ReceivedAt), msg.Sender, msg.SenderDetail))
		}
	}
	if len(sender.Evidence) == 0 {
		sender.Evidence = append(sender.Evidence, m.S("sender."+string(orNone(sum.SenderStatus))))
	}
	items = append(items, sender)
	if sum.Kind.NeedsCode() {
		code := checkItem{Label: m.S("req.code"), Done: sum.CodeVerified}
		for _, msg := range sum.Messages {
			if msg.CodeResult == recoverybot.CodeMatch {
				code.Evidence = append(code.Evidence, m.F("code.verified_by", datetime(msg.ReceivedAt), msg.Sender))
			}
		}
		if sum.CodeVerified && len(code.Evidence) == 0 {
			for _, e := range sum.Events {
				if e.Action == "code_verified" {
					code.Evidence = append(code.Evidence, m.F("code.verified_at", datetime(e.At)))
				}
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

func documentViews(m messages, sum desk.Summary, docs []recoverybot.Document, required []recoverybot.DocumentType) []docView {
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
			Findings: doc.Findings, Counts: doc.Counts, Purged: doc.Purged, DownloadURL: base + "/download",
			JudgeURL: base + "/judge", VerdictBy: doc.VerdictBy, VerdictReason: doc.VerdictReason,
			Askable: slices.Contains(required, doc.Type)}
		if doc.Verdict != recoverybot.VerdictNone {
			v.Verdict, v.VerdictClass = m.S("verdict."+string(doc.Verdict)), string(doc.Verdict)
		}
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

// messageViews are the case's messages, in the order they were taken.
func messageViews(m messages, sum desk.Summary) []messageView {
	var out []messageView
	for _, msg := range sum.Messages {
		st := orNone(msg.SenderStatus)
		v := messageView{UID: fmt.Sprint(msg.UID), Received: datetime(msg.ReceivedAt), Sender: msg.Sender,
			Status: m.Or("sender."+string(st), string(st)), StatusClass: string(st), Detail: msg.SenderDetail,
			Outcome: m.Or("ledger."+msg.Status, msg.Status), Reason: msg.Reason}
		if msg.Date != nil {
			v.Date = datetime(*msg.Date)
		}
		if msg.CodeResult != "" {
			v.Code = m.Or("coderesult."+string(msg.CodeResult), string(msg.CodeResult))
		}
		out = append(out, v)
	}
	return out
}

// timeline merges the audit events, the messages, the mail and the call
// of the admin system's hook of a case, in time order. An event about a
// message is shown with the message: its sender verdict, with the
// Authentication-Results it rests on, and its code result, never the
// code, which nothing stores in clear.
func timeline(m messages, sum desk.Summary) []timelineEntry {
	var out []timelineEntry
	views := messageViews(m, sum)
	byID := map[string]int{}
	for i, msg := range sum.Messages {
		byID[fmt.Sprint(msg.ID)] = i
	}
	shown := map[int]bool{}
	for _, e := range sum.Events {
		te := timelineEntry{At: e.At, Actor: e.Actor, What: m.Or("action."+e.Action, e.Action)}
		skip := map[string]bool{}
		if strings.HasPrefix(e.Action, "message_") {
			if i, ok := byID[e.Details["message"]]; ok && !shown[i] {
				shown[i] = true
				te.Message = &views[i]
				// The message's own line says these.
				skip = map[string]bool{"message": true, "sender": true, "sender_status": true, "sender_detail": true, "code": true}
			}
		}
		keys := make([]string, 0, len(e.Details))
		for k := range e.Details {
			if !skip[k] {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			v := e.Details[k]
			if k == "sender_status" {
				v = m.Or("sender."+v, v)
			}
			if k == "code" && strings.HasPrefix(e.Action, "message_") {
				v = m.Or("coderesult."+v, v)
			}
			if k == "action" {
				v = m.Or("hook."+v, v)
			}
			te.Details = append(te.Details, fact{m.Or("detail."+k, k), v})
		}
		out = append(out, te)
	}
	for i, msg := range sum.Messages {
		if !shown[i] {
			out = append(out, timelineEntry{At: msg.ReceivedAt, Actor: msg.Sender, What: m.S("timeline.message"), Message: &views[i]})
		}
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
	if a := actionOf(m, sum.Action); a != nil {
		at := sum.Action.CreatedAt
		if sum.Action.DoneAt != nil {
			at = *sum.Action.DoneAt
		}
		out = append(out, timelineEntry{At: at, Actor: recoverybot.SystemActor, Action: true,
			What: m.F("hook.timeline", a.Action, a.State), Details: a.Facts})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out
}

// actionOf is what the case page shows of the hook's call; nil without one.
func actionOf(m messages, a *desk.ActionSummary) *actionView {
	if a == nil {
		return nil
	}
	v := &actionView{Action: m.Or("hook."+string(a.Action), string(a.Action)),
		State: m.Or("hookstate."+string(a.State), string(a.State)), StateClass: string(a.State)}
	add := func(key, value string) {
		if value != "" {
			v.Facts = append(v.Facts, fact{m.S(key), value})
		}
	}
	add("hook.not_before", datetime(a.NotBefore))
	add("hook.new_email", a.NewEmail)
	add("hook.approvers", strings.Join(a.Approvers, ", "))
	add("hook.attempts", fmt.Sprint(a.Attempts))
	if a.NextAt != nil && a.Attempts > 0 {
		add("hook.next_at", datetime(*a.NextAt))
	}
	add("hook.last_error", a.LastError)
	add("hook.result", a.Result)
	add("hook.stopped_by", a.StoppedBy)
	add("hook.stop_reason", a.StopReason)
	if a.DoneAt != nil {
		add("hook.done_at", datetime(*a.DoneAt))
	}
	return v
}
