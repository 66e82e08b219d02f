package web

import (
	"net/http"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/desk"
)

// caseReject rejects a case for a reason of recoverybot.RejectReasons,
// which desk words to the customer in their language, with the agent's
// text beside it (required for "other").
func (s *Server) caseReject(w http.ResponseWriter, r *http.Request) {
	_, err := s.desk.RejectWith(r.Context(), desk.RejectRequest{Ref: r.PathValue("ref"), By: sessionOf(r).Agent,
		Reason: recoverybot.RejectReason(r.PostFormValue("reason")), Text: r.PostFormValue("text")})
	s.decided(w, r, err, "flash.rejected")
}
