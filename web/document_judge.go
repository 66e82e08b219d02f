package web

import (
	"net/http"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/desk"
)

// documentJudge records the agent's verdict on one document: accepted
// (optionally as another type than recoverybot gave it) or refused with a
// reason. The customer is not written to; asking again does that.
func (s *Server) documentJudge(w http.ResponseWriter, r *http.Request) {
	v := recoverybot.Verdict(r.PostFormValue("verdict"))
	req := desk.JudgeRequest{Ref: r.PathValue("ref"), By: sessionOf(r).Agent, SHA256: r.PathValue("sha"), Verdict: v,
		Reason: r.PostFormValue("reason")}
	if v == recoverybot.VerdictAccepted {
		req.Type = recoverybot.DocumentType(r.PostFormValue("type"))
	}
	_, err := s.desk.JudgeDocument(r.Context(), req)
	key := "flash.document_accepted"
	if v == recoverybot.VerdictRefused {
		key = "flash.document_refused"
	}
	s.decided(w, r, err, key)
}
