package web

import (
	"errors"
	"net/http"
	"time"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/desk"
)

type queueTab struct {
	Name   desk.QueueName
	Label  string
	Active bool
}

type queueRow struct {
	Ref, Kind, HolderKind, State, Age string
	Missing                           []string
	Holder                            string
	Warnings                          []string
}

type queueData struct {
	Tabs  []queueTab
	Queue desk.QueueName
	Query string
	Rows  []queueRow
}

// queueShow lists a queue's cases (?queue=NAME, the first tab by
// default), filtered by ?q= when given: a search with no queue named
// looks through every case.
func (s *Server) queueShow(w http.ResponseWriter, r *http.Request) {
	cur := sessionOf(r)
	m := s.catalog.in(s.lang(r))
	query := r.URL.Query().Get("q")
	name := r.URL.Query().Get("queue")
	if name == "" && query != "" {
		name = string(desk.QueueAll)
	}
	q, err := desk.ParseQueue(name)
	if errors.Is(err, desk.ErrUnknownQueue) {
		s.notFound(w, r)
		return
	}
	cases, err := s.desk.Queue(r.Context(), q, cur.Agent, query)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	d := queueData{Queue: q, Query: query, Rows: []queueRow{}}
	for _, n := range desk.Queues() {
		d.Tabs = append(d.Tabs, queueTab{Name: n, Label: m.S("queue." + string(n)), Active: n == q})
	}
	now := s.now()
	for _, c := range cases {
		row := queueRow{Ref: c.Ref, Kind: m.S("kind." + string(c.Kind)), HolderKind: m.S("holder." + string(c.HolderKind)),
			State: m.S("state." + string(c.State)), Age: m.age(now.Sub(c.OpenedAt)), Holder: c.ClaimedBy, Warnings: warnings(m, c)}
		for _, need := range c.Missing {
			row.Missing = append(row.Missing, m.S("req."+string(need)))
		}
		d.Rows = append(d.Rows, row)
	}
	s.render(w, r, http.StatusOK, "queue", "queue.title", d)
}

// warnings are what an agent should notice about a case before opening
// it: the sender check, documents with findings, flags.
func warnings(m messages, c desk.Summary) []string {
	var out []string
	switch c.SenderStatus {
	case recoverybot.SenderUnverified:
		out = append(out, m.S("warn.sender_unverified"))
	case recoverybot.SenderFailed:
		out = append(out, m.S("warn.sender_failed"))
	}
	n := 0
	for _, doc := range c.Documents {
		if len(doc.Findings) > 0 || !doc.Counts {
			n++
		}
	}
	if n > 0 {
		out = append(out, m.F("warn.findings", n))
	}
	for _, f := range c.Flags {
		out = append(out, m.Or("flag."+f, f))
	}
	return out
}

// age is a duration as the queues show it.
func (m messages) age(d time.Duration) string {
	switch {
	case d < time.Hour:
		return m.F("age.minutes", int(d.Minutes()))
	case d < 48*time.Hour:
		return m.F("age.hours", int(d.Hours()))
	}
	return m.F("age.days", int(d.Hours()/24))
}
