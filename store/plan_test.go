package store

import (
	"context"
	"strings"
	"testing"
)

// The queries the intake pipeline runs for every message must use an
// index: a scan of the ledger makes draining a mailbox quadratic in the
// number of messages ever seen.
func TestHotQueriesUseIndexes(t *testing.T) {
	s, _ := openTest(t)
	for name, q := range map[string]struct {
		sql  string
		args []any
	}{
		"FirstCopy": {firstCopyQuery, []any{"mid:x", 1}},
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
		if p := strings.Join(plan, "; "); !strings.Contains(p, "USING INDEX") || strings.Contains(p, "SCAN messages") {
			t.Errorf("%s: query plan %q scans the ledger", name, p)
		}
	}
}
