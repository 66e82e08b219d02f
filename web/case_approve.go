package web

import (
	"net/http"

	"github.com/recoverybot/recoverybot/desk"
)

// caseApprove approves a case with the agent's note, or confirms another
// agent's approval that waits for a second one. For lost-email, the
// profile's address is changed to the contact address only when the
// agent ticked the box ("change_email", unchecked by default).
func (s *Server) caseApprove(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ref := r.PathValue("ref")
	req := desk.ApproveRequest{Ref: ref, By: sessionOf(r).Agent, Note: r.PostFormValue("note"),
		Confirms: r.PostFormValue("confirms")}
	if r.PostFormValue("change_email") == "yes" {
		sum, err := s.desk.Show(ctx, ref)
		if err != nil {
			s.decided(w, r, err, "")
			return
		}
		req.NewEmail = sum.Contact
	}
	sum, err := s.desk.Approve(ctx, req)
	key := "flash.approved"
	switch {
	case sum.PendingApproval != nil:
		key = "flash.approval_pending"
	case sum.Action != nil:
		key = "flash.approved_hook"
	}
	s.decided(w, r, err, key)
}
