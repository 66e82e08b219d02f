package sweep

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/recoverybot/recoverybot/store"
)

// recorder keeps the runs in memory.
type recorder struct {
	mu   sync.Mutex
	runs []store.SweepRun
}

func (r *recorder) record(_ context.Context, run store.SweepRun) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.runs = append(r.runs, run)
	return nil
}

func (r *recorder) of(job string) []store.SweepRun {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []store.SweepRun
	for _, run := range r.runs {
		if run.Job == job {
			out = append(out, run)
		}
	}
	return out
}

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func testJobs(spec string) []Job {
	return []Job{
		{Name: "ok", Spec: spec, Run: func(ctx context.Context, now time.Time) (map[string]int, error) {
			return map[string]int{"done": 1}, nil
		}},
		{Name: "fails", Spec: spec, Run: func(ctx context.Context, now time.Time) (map[string]int, error) {
			return map[string]int{"done": 0}, errors.New("the store is gone")
		}},
		{Name: "panics", Spec: spec, Run: func(ctx context.Context, now time.Time) (map[string]int, error) {
			var counts []int
			n := len(counts)
			return map[string]int{"boom": counts[n]}, nil // out of range: a runtime panic
		}},
	}
}

func TestRunRecordsEveryOutcome(t *testing.T) {
	rec := &recorder{}
	now := t0
	s := New(Options{Record: rec.record, Now: func() time.Time { return now }})
	for _, j := range testJobs("@every 10m") {
		if err := s.Register(j); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	for _, name := range []string{"panics", "fails", "ok"} {
		if _, err := s.Run(ctx, name); err != nil {
			t.Fatalf("run %s: %v", name, err)
		}
	}
	want := map[string]struct{ outcome, err string }{
		"panics": {store.RunPanicked, "panic: runtime error: index out of range [0] with length 0"},
		"fails":  {store.RunFailed, "the store is gone"},
		"ok":     {store.RunOK, ""},
	}
	for name, w := range want {
		runs := rec.of(name)
		if len(runs) != 1 || runs[0].Outcome != w.outcome || runs[0].Error != w.err ||
			!runs[0].StartedAt.Equal(t0) || !runs[0].EndedAt.Equal(t0) || runs[0].Counts == nil {
			t.Errorf("%s: %+v, want %+v", name, runs, w)
		}
	}
	if runs := rec.of("ok"); runs[0].Counts["done"] != 1 {
		t.Errorf("counts %v", runs[0].Counts)
	}
	if _, err := s.Run(ctx, "purge-everything"); !errors.Is(err, ErrUnknownJob) {
		t.Errorf("unknown job: %v", err)
	}
}

func TestRegisterRefusals(t *testing.T) {
	s := New(Options{Record: (&recorder{}).record})
	run := func(context.Context, time.Time) (map[string]int, error) { return nil, nil }
	if err := s.Register(Job{Name: "a", Spec: "@every 1h", Run: run}); err != nil {
		t.Fatal(err)
	}
	for name, j := range map[string]Job{
		"duplicate": {Name: "a", Spec: "@hourly", Run: run},
		"bad spec":  {Name: "b", Spec: "every hour", Run: run},
		"seconds":   {Name: "c", Spec: "0 0 8 * * 1-5", Run: run},
		"no name":   {Spec: "@hourly", Run: run},
		"no func":   {Name: "d", Spec: "@hourly"},
	} {
		if err := s.Register(j); err == nil {
			t.Errorf("%s: registered", name)
		}
	}
	if got := s.Jobs(); len(got) != 1 || got[0].Name != "a" {
		t.Errorf("jobs %v", got)
	}
	if err := ParseSpec("0 8 * * 1-5"); err != nil {
		t.Error(err)
	}
}

// TestScheduleRunsAndSurvivesFailures runs the scheduler in a synctest
// bubble: fake time advances by 25 minutes with no real waiting, every
// "@every 10m" job runs twice, and the failing and panicking ones do not
// stop the others or the scheduler.
func TestScheduleRunsAndSurvivesFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		s := New(Options{Record: rec.record})
		for _, j := range testJobs("@every 10m") {
			if err := s.Register(j); err != nil {
				t.Fatal(err)
			}
		}
		ctx, cancel := context.WithCancel(t.Context())
		s.Start(ctx)
		start := time.Now()
		for _, e := range s.Entries() {
			if !e.Next.Equal(start.Add(10*time.Minute).Truncate(time.Second)) && !e.Next.Equal(start.Add(10*time.Minute)) {
				t.Errorf("%s next at %v, want %v", e.Name, e.Next, start.Add(10*time.Minute))
			}
		}
		time.Sleep(25 * time.Minute)
		synctest.Wait()
		for name, outcome := range map[string]string{"ok": store.RunOK, "fails": store.RunFailed, "panics": store.RunPanicked} {
			runs := rec.of(name)
			if len(runs) != 2 {
				t.Errorf("%s ran %d times in 25 minutes, want 2", name, len(runs))
			}
			for _, r := range runs {
				if r.Outcome != outcome {
					t.Errorf("%s: outcome %s", name, r.Outcome)
				}
			}
		}
		// A job registered while running is scheduled too.
		if err := s.Register(Job{Name: "late", Spec: "@every 1m", Run: testJobs("")[0].Run}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(90 * time.Second)
		synctest.Wait()
		if n := len(rec.of("late")); n != 1 {
			t.Errorf("late job ran %d times", n)
		}
		cancel()
		s.Stop()
	})
}

// TestScheduleSkipsWhileRunning: a run that outlasts its interval is not
// doubled (cron.SkipIfStillRunning), and an on-demand run waits for it.
func TestScheduleSkipsWhileRunning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		s := New(Options{Record: rec.record})
		release := make(chan struct{})
		var mu sync.Mutex
		started := 0
		err := s.Register(Job{Name: "slow", Spec: "@every 1m", Run: func(ctx context.Context, now time.Time) (map[string]int, error) {
			mu.Lock()
			started++
			mu.Unlock()
			<-release
			return nil, nil
		}})
		if err != nil {
			t.Fatal(err)
		}
		s.Start(t.Context())
		time.Sleep(5*time.Minute + time.Second)
		synctest.Wait()
		mu.Lock()
		if started != 1 {
			t.Errorf("%d runs started while the first was still going", started)
		}
		mu.Unlock()
		close(release)
		synctest.Wait()
		if n := len(rec.of("slow")); n != 1 {
			t.Errorf("%d runs recorded", n)
		}
		s.Stop()
	})
}
