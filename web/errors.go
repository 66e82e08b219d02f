package web

import (
	"errors"
	"net/http"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/desk"
)

// errorKey is the message an agent reads for an error of desk, and
// whether it is the agent's to fix (false: ours, logged).
func errorKey(err error) (string, bool) {
	switch {
	case errors.Is(err, desk.ErrNotFound), errors.Is(err, recoverybot.ErrBadRef):
		return "error.not_found", true
	case errors.Is(err, desk.ErrNotHolder):
		return "error.not_holder", true
	case errors.Is(err, desk.ErrClaimed):
		return "error.claimed", true
	case errors.Is(err, desk.ErrUnclaimed):
		return "error.unclaimed", true
	case errors.Is(err, desk.ErrUnknownAgent):
		return "error.unknown_agent", true
	case errors.Is(err, desk.ErrSameApprover):
		return "error.same_approver", true
	case errors.Is(err, desk.ErrApprovalChanged):
		return "error.approval_changed", true
	case errors.Is(err, desk.ErrNeedsReason):
		return "error.needs_reason", true
	case errors.Is(err, recoverybot.ErrUnknownReason):
		return "error.unknown_reason", true
	case errors.Is(err, desk.ErrClosed):
		return "error.closed", true
	case errors.Is(err, recoverybot.ErrIllegalTransition):
		return "error.illegal_transition", true
	case errors.Is(err, desk.ErrNoCode):
		return "error.no_code", true
	case errors.Is(err, desk.ErrNotAwaiting):
		return "error.not_awaiting", true
	case errors.Is(err, desk.ErrNoDocument):
		return "error.no_document", true
	case errors.Is(err, desk.ErrBadDocType):
		return "error.bad_doc_type", true
	case errors.Is(err, desk.ErrDocumentTaken):
		return "error.document_taken", true
	case errors.Is(err, desk.ErrBadVerdict):
		return "error.bad_verdict", true
	case errors.Is(err, desk.ErrNoAction):
		return "error.no_action", true
	case errors.Is(err, desk.ErrActionStarted):
		return "error.action_started", true
	case errors.Is(err, desk.ErrBadContact):
		return "error.bad_contact", true
	case errors.Is(err, desk.ErrBadNewEmail), errors.Is(err, desk.ErrNewEmailKind):
		return "error.bad_new_email", true
	case errors.Is(err, desk.ErrNoAgent), errors.Is(err, desk.ErrBadAgent):
		return "error.bad_agent", true
	}
	return "error.internal", false
}

// holderOf is the agent who holds the case an error of a claim speaks
// of; "" for any other error.
func holderOf(err error) string {
	var ce *desk.ClaimedError
	if errors.As(err, &ce) {
		return ce.Holder
	}
	return ""
}

// deskError answers a GET that desk refused: a page with the message.
func (s *Server) deskError(w http.ResponseWriter, r *http.Request, err error) {
	key, ours := errorKey(err)
	if !ours {
		s.serverError(w, r, err)
		return
	}
	code := http.StatusBadRequest
	if key == "error.not_found" {
		code = http.StatusNotFound
	}
	s.render(w, r, code, "error", "error.title", key)
}

// decided sends the agent back to the case after a decision form, with
// what happened.
func (s *Server) decided(w http.ResponseWriter, r *http.Request, err error, okKey string) {
	s.decidedWith(w, r, err, okKey, "")
}

// decidedWith is decided with a message of success that names an agent.
func (s *Server) decidedWith(w http.ResponseWriter, r *http.Request, err error, okKey, arg string) {
	to := caseURL(r.PathValue("ref"))
	if err == nil {
		s.backWith(w, r, to, okKey, arg, false)
		return
	}
	key, ours := errorKey(err)
	if !ours {
		s.log.Error("decision failed", "path", r.URL.Path, "agent", sessionOf(r).Agent, "error", err)
	}
	if key == "error.not_found" {
		to = "/"
	}
	s.backWith(w, r, to, key, holderOf(err), true)
}

// caseURL is the page of case ref, written canonically; "/" for what is
// not a reference.
func caseURL(ref string) string {
	ref, err := recoverybot.ParseRef(ref)
	if err != nil {
		return "/"
	}
	return "/cases/" + ref
}
