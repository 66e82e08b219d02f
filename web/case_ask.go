package web

import (
	"net/http"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/desk"
)

// caseAsk asks the customer again for a document: "document" names one
// of the case's documents by its SHA-256, or a document type the case
// still lacks. The reason comes from recoverybot.AskReasons; the case
// waits for the new document and the customer is mailed.
func (s *Server) caseAsk(w http.ResponseWriter, r *http.Request) {
	_, err := s.desk.Ask(r.Context(), desk.AskRequest{Ref: r.PathValue("ref"), By: sessionOf(r).Agent,
		Reason: recoverybot.AskReason(r.PostFormValue("reason")), Document: r.PostFormValue("document"),
		Note: r.PostFormValue("note")})
	s.decided(w, r, err, "flash.asked")
}
