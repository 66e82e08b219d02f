package store

import (
	"context"
	"testing"
	"time"
)

func TestSweepRuns(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for i, r := range []SweepRun{
		{Job: "expire", StartedAt: t0, EndedAt: t0.Add(time.Millisecond), Outcome: RunOK, Counts: map[string]int{"expired": 2}},
		{Job: "remind", StartedAt: t0.Add(time.Minute), EndedAt: t0.Add(time.Minute), Outcome: RunPanicked, Error: "panic: boom"},
		{Job: "expire", StartedAt: t0.Add(time.Hour), EndedAt: t0.Add(time.Hour), Outcome: RunFailed, Error: "disk full"},
	} {
		if id, err := s.RecordSweepRun(ctx, r); err != nil || id != int64(i+1) {
			t.Fatalf("record %d: %d, %v", i, id, err)
		}
	}
	if _, err := s.RecordSweepRun(ctx, SweepRun{Job: "x", StartedAt: t0, EndedAt: t0, Outcome: "fine"}); err == nil {
		t.Error("an unknown outcome was recorded")
	}
	err := s.View(ctx, func(tx *Tx) error {
		all, err := tx.SweepRuns(SweepRunFilter{})
		if err != nil {
			return err
		}
		if len(all) != 3 || all[0].Error != "disk full" || all[2].Counts["expired"] != 2 || all[1].Counts == nil ||
			!all[2].EndedAt.Equal(t0.Add(time.Millisecond)) {
			t.Errorf("all runs, newest first: %+v", all)
		}
		expire, err := tx.SweepRuns(SweepRunFilter{Job: "expire", Limit: 1})
		if err != nil {
			return err
		}
		if len(expire) != 1 || expire[0].Outcome != RunFailed {
			t.Errorf("last expire run: %+v", expire)
		}
		failed, err := tx.SweepRuns(SweepRunFilter{Failed: true, Since: t0.Add(time.Minute)})
		if err != nil {
			return err
		}
		if len(failed) != 2 || failed[1].Job != "remind" {
			t.Errorf("failed since: %+v", failed)
		}
		none, err := tx.SweepRuns(SweepRunFilter{Job: "digest"})
		if err != nil || none == nil || len(none) != 0 {
			t.Errorf("no runs: %#v, %v", none, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
