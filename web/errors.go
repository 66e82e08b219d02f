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
	case errors.Is(err, desk.ErrNeedsReason):
		return "error.needs_reason", true
	case errors.Is(err, recoverybot.ErrIllegalTransition):
		return "error.illegal_transition", true
	case errors.Is(err, desk.ErrNoCode):
		return "error.no_code", true
	case errors.Is(err, desk.ErrNotAwaiting):
		return "error.not_awaiting", true
	case errors.Is(err, desk.ErrBadContact):
		return "error.bad_contact", true
	case errors.Is(err, desk.ErrNoAgent), errors.Is(err, desk.ErrBadAgent):
		return "error.bad_agent", true
	}
	return "error.internal", false
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
	to := caseURL(r.PathValue("ref"))
	if err == nil {
		s.back(w, r, to, okKey, false)
		return
	}
	key, ours := errorKey(err)
	if !ours {
		s.log.Error("decision failed", "path", r.URL.Path, "agent", sessionOf(r).Agent, "error", err)
	}
	if key == "error.not_found" {
		to = "/"
	}
	s.back(w, r, to, key, true)
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
