// Package metricstest scrapes a /metrics handler in tests and reads its
// samples.
package metricstest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Scrape is one scrape: its body as served, and its samples by series,
// written `name{label="value",…}` (labels in the order served, which is
// by name). A histogram's series are its _count and _sum.
type Scrape struct {
	Body    string
	Samples map[string]float64
}

// Get scrapes h at /metrics and parses what it serves; a status other
// than 200 or a body that does not parse fails the test.
func Get(t testing.TB, h http.Handler) Scrape {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	if w.Code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", w.Code, w.Body)
	}
	return Parse(t, w.Body.String())
}

// Parse reads a scrape's body; one that does not parse fails the test.
func Parse(t testing.TB, body string) Scrape {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("metrics: %v\n%s", err, body)
	}
	s := Scrape{Body: body, Samples: map[string]float64{}}
	for name, f := range families {
		for _, m := range f.GetMetric() {
			key := name + labels(m)
			switch {
			case m.Counter != nil:
				s.Samples[key] = m.GetCounter().GetValue()
			case m.Gauge != nil:
				s.Samples[key] = m.GetGauge().GetValue()
			case m.Histogram != nil:
				s.Samples[name+"_count"+labels(m)] = float64(m.GetHistogram().GetSampleCount())
				s.Samples[name+"_sum"+labels(m)] = m.GetHistogram().GetSampleSum()
			case m.Untyped != nil:
				s.Samples[key] = m.GetUntyped().GetValue()
			}
		}
	}
	return s
}

func labels(m *dto.Metric) string {
	if len(m.GetLabel()) == 0 {
		return ""
	}
	var parts []string
	for _, l := range m.GetLabel() {
		parts = append(parts, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// Check reports, as test errors, each series of want whose value in s is
// not the one wanted (a series absent reads as missing, not 0).
func (s Scrape) Check(t testing.TB, want map[string]float64) {
	t.Helper()
	for key, v := range want {
		got, ok := s.Samples[key]
		switch {
		case !ok:
			t.Errorf("%s: missing from the scrape", key)
		case got != v:
			t.Errorf("%s = %v, want %v", key, got, v)
		}
	}
}
