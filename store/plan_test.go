package store

import (
	"context"
	"strings"
	"testing"
)

// The queries the intake pipeline and the courier run for every message
// must use an index: a scan of the ledger makes draining a mailbox, or
// sending its replies, quadratic in the number of messages ever seen.
func TestHotQueriesUseIndexes(t *testing.T) {
	s, _ := openTest(t)
	for name, q := range map[string]struct {
		sql  string
		args []any
	}{
		"FirstCopy": {firstCopyQuery, []any{"mid:x", 1}},
		// What SQLite looks up for ON DELETE SET NULL when a blob is
		// deleted (every sent mail, every purge).
		"blob of a message":  {`SELECT 1 FROM messages WHERE blob_id = ?`, []any{1}},
		"blob of a document": {`SELECT 1 FROM documents WHERE blob_id = ?`, []any{1}},
		"blob of a mail":     {`SELECT 1 FROM outbox WHERE blob_id = ?`, []any{1}},
		"raw of a message":   {`SELECT 1 FROM messages WHERE raw_id = ?`, []any{1}},
		"open case of":       {`SELECT 1 FROM cases WHERE contact = ? AND state IN ('awaiting_evidence', 'ready_for_review', 'locked')`, []any{"a@b"}},
	} {
		rows, err := s.w.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+q.sql, q.args...)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		if p := strings.Join(plan, "; "); !strings.Contains(p, "USING") || !strings.Contains(p, "INDEX") || strings.Contains(p, "SCAN ") {
			t.Errorf("%s: query plan %q scans a table", name, p)
		}
	}
}
