package web

import (
	"net/http"
	"slices"
	"strings"
)

// rejectReason is one of the reasons of the reject form's list.
type rejectReason string

// The reasons an agent rejects a case for.
const (
	rejectUnreadable  rejectReason = "unreadable"
	rejectExpired     rejectReason = "expired"
	rejectWrongPerson rejectReason = "wrong_person"
	rejectCropped     rejectReason = "cropped"
	rejectIncomplete  rejectReason = "incomplete"
	rejectNotHolder   rejectReason = "not_holder"
	rejectOther       rejectReason = "other"
)

func rejectReasons() []rejectReason {
	return []rejectReason{rejectUnreadable, rejectExpired, rejectWrongPerson, rejectCropped, rejectIncomplete,
		rejectNotHolder, rejectOther}
}

// caseReject rejects a case. The reason mailed to the customer is the
// list's, in the customer's language, followed by the agent's words.
func (s *Server) caseReject(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ref := r.PathValue("ref")
	rr := rejectReason(r.PostFormValue("reason"))
	text := strings.TrimSpace(r.PostFormValue("text"))
	if !slices.Contains(rejectReasons(), rr) || (rr == rejectOther && text == "") {
		s.back(w, r, caseURL(ref), "error.needs_reason", true)
		return
	}
	p, err := s.desk.Profile(ctx, ref)
	if err != nil {
		s.decided(w, r, err, "")
		return
	}
	reason := text
	if rr != rejectOther {
		reason = s.catalog.in(customerLang(p.Locale)).S("reject." + string(rr))
		if text != "" {
			reason += " — " + text
		}
	}
	_, err = s.desk.Reject(ctx, ref, sessionOf(r).Agent, reason)
	s.decided(w, r, err, "flash.rejected")
}

// customerLang is the language mail to a customer of locale l is in.
func customerLang(l string) string {
	if l == "en" {
		return "en"
	}
	return "fr"
}
