package web

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/desk"
)

type fact struct{ Label, Value string }

type option struct{ Value, Label string }

// pendingView is a first approval waiting for a second agent.
type pendingView struct {
	By, At, Note, NewEmail string
	Mine                   bool   // the agent looking approved first
	Token                  string // desk.PendingToken: what a confirmation confirms
}

type caseData struct {
	Ref, Kind, HolderKind, State string
	Facts                        []fact
	Attention                    []string
	Warnings                     []string
	Checklist                    []checkItem
	Docs                         []docView
	Messages                     []messageView
	Timeline                     []timelineEntry
	Decided                      []fact

	// The claim: who holds the case, and what the agent may do about it.
	Holder, ClaimedAt     string
	Mine                  bool // the agent looking holds it
	HeldByOther           bool // another agent holds it: the decisions are theirs
	CanClaim, CanRelease  bool
	CanReassign           bool
	ReassignTo            []option
	CanApprove, CanReject bool
	CanCancel, CanResend  bool
	CanReopen, CanAsk     bool
	CanJudge              bool
	Pending               *pendingView
	LostEmail             bool
	Contact               string
	RejectReasons         []option
	AskReasons            []option
	AskMissing            []option // the required document types still missing
	DocTypes              []option
	Action                *actionView
	CanStopAction, Closed bool
}

// caseShow is a case's page: the profile, what the case needs and what
// satisfies it, the documents, the messages, the timeline, the claim and
// the decision forms. Show is what fills in the messages, events and
// mail.
func (s *Server) caseShow(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ref := r.PathValue("ref")
	me := sessionOf(r).Agent
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
	agents, err := s.desk.Agents(ctx)
	if err != nil {
		s.serverError(w, r, err)
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
	d.Messages = messageViews(m, sum)
	d.Timeline = timeline(m, sum)
	d.Action = actionOf(m, sum.Action)

	open := sum.State.Open()
	d.Closed = !open
	if sum.ClaimedAt != nil {
		d.ClaimedAt = datetime(*sum.ClaimedAt)
	}
	d.Mine = sum.ClaimedBy == me
	d.HeldByOther = sum.ClaimedBy != "" && !d.Mine
	mayAct := open && !d.HeldByOther // deciding an unclaimed case claims it
	d.CanClaim = open && sum.ClaimedBy == ""
	d.CanRelease = d.Mine
	d.CanReassign = open
	for _, a := range agents {
		if a.Active() && a.Name != sum.ClaimedBy {
			d.ReassignTo = append(d.ReassignTo, option{Value: a.Name, Label: a.Name})
		}
	}
	d.CanReassign = d.CanReassign && len(d.ReassignTo) > 0

	ready := sum.State == recoverybot.StateReadyForReview
	if pa := sum.PendingApproval; pa != nil {
		d.Pending = &pendingView{By: pa.By, At: datetime(pa.At), Note: pa.Note, NewEmail: pa.NewEmail, Mine: pa.By == me,
			Token: desk.PendingToken(*pa)}
	}
	// A second agent confirms a pending approval without holding the case.
	d.CanApprove = ready && (mayAct || (d.Pending != nil && !d.Pending.Mine))
	d.CanReject, d.CanCancel = mayAct, mayAct
	d.CanResend = mayAct && sum.Kind.NeedsCode() && sum.State == recoverybot.StateAwaitingEvidence
	d.CanReopen = mayAct && sum.State == recoverybot.StateLocked
	d.CanAsk = mayAct && (sum.State == recoverybot.StateAwaitingEvidence || ready)
	d.CanJudge = mayAct
	if sum.Action != nil {
		d.CanStopAction = sum.Action.State == recoverybot.ActionPending && sum.Action.Attempts == 0
	}

	for _, rr := range recoverybot.RejectReasons {
		d.RejectReasons = append(d.RejectReasons, option{Value: string(rr), Label: m.S("reject." + string(rr))})
	}
	for _, ar := range recoverybot.AskReasons {
		d.AskReasons = append(d.AskReasons, option{Value: string(ar), Label: m.S("ask." + string(ar))})
	}
	required := recoverybot.RequiredDocuments(sum.HolderKind)
	for _, t := range required {
		if slices.Contains(sum.Missing, recoverybot.Requirement(t)) {
			d.AskMissing = append(d.AskMissing, option{Value: string(t), Label: m.S("req." + string(t))})
		}
	}
	for _, t := range documentTypes() {
		d.DocTypes = append(d.DocTypes, option{Value: string(t), Label: m.S("doctype." + string(t))})
	}
	d.Docs = documentViews(m, sum, docs, required)

	if sum.DecidedAt != nil {
		d.Decided = append(d.Decided, fact{m.S("case.decided_by"), sum.DecidedBy}, fact{m.S("case.decided_at"), datetime(*sum.DecidedAt)})
		if len(sum.Approvers) > 0 {
			d.Decided = append(d.Decided, fact{m.S("case.approvers"), strings.Join(sum.Approvers, ", ")})
		}
		for _, f := range []fact{{m.S("case.note"), sum.Note}, {m.S("case.reason"), sum.Reason}, {m.S("case.new_email"), sum.NewEmail}} {
			if f.Value != "" {
				d.Decided = append(d.Decided, f)
			}
		}
	}
	s.render(w, r, http.StatusOK, "case", sum.Ref, d)
}

// documentTypes are the types an agent may give a document.
func documentTypes() []recoverybot.DocumentType {
	return []recoverybot.DocumentType{recoverybot.DocIdentity, recoverybot.DocCompanyRegistration,
		recoverybot.DocAssociationStatutes, recoverybot.DocOther}
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
