package recoverybot

import (
	"slices"
	"testing"
)

// TestDocumentSatisfies: a document counts for its type only with bytes
// that are what the type needs and no hostile finding (SPEC §6).
func TestDocumentSatisfies(t *testing.T) {
	tests := []struct {
		name string
		doc  Document
		want bool
	}{
		{"JPEG identity document", Document{Type: DocIdentity, MediaType: "image/jpeg"}, true},
		{"PDF identity document", Document{Type: DocIdentity, MediaType: "application/pdf"}, true},
		{"HEIC identity document", Document{Type: DocIdentity, MediaType: "image/heic"}, true},
		{"HEIF identity document", Document{Type: DocIdentity, MediaType: "image/heif"}, true},
		{"WebP identity document", Document{Type: DocIdentity, MediaType: "image/webp"}, true},
		{"TIFF identity document", Document{Type: DocIdentity, MediaType: "image/tiff"}, true},
		{"GIF identity document", Document{Type: DocIdentity, MediaType: "image/gif"}, true},
		{"PNG Kbis", Document{Type: DocCompanyRegistration, MediaType: "image/png"}, true},
		{"PDF statutes", Document{Type: DocAssociationStatutes, MediaType: "application/pdf"}, true},
		{"text named cni.jpg", Document{Type: DocIdentity, Filename: "cni.jpg", MediaType: "text/plain"}, false},
		{"HTML Kbis", Document{Type: DocCompanyRegistration, MediaType: "text/html"}, false},
		{"Word statutes", Document{Type: DocAssociationStatutes, MediaType: "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}, false},
		{"zip identity document", Document{Type: DocIdentity, MediaType: "application/zip"}, false},
		{"BMP identity document", Document{Type: DocIdentity, MediaType: "image/bmp"}, false},
		{"SVG identity document", Document{Type: DocIdentity, MediaType: "image/svg+xml"}, false},
		{"other", Document{Type: DocOther, MediaType: "image/jpeg"}, false},
		{"renamed only", Document{Type: DocIdentity, MediaType: "image/jpeg", Findings: []string{FindingFilenameChange + ": control characters removed"}}, true},
		{"an unknown finding", Document{Type: DocIdentity, MediaType: "image/jpeg", Findings: []string{"something_new"}}, false},
	}
	for _, f := range HostileFindings() {
		tests = append(tests, struct {
			name string
			doc  Document
			want bool
		}{"finding " + f, Document{Type: DocIdentity, MediaType: "application/pdf", Findings: []string{f + ": details"}}, false})
	}
	for _, tt := range tests {
		if got := tt.doc.Satisfies(); got != tt.want {
			t.Errorf("%s: Satisfies = %v, want %v", tt.name, got, tt.want)
		}
		want := []Requirement{}
		if !tt.want || tt.doc.Type != DocIdentity {
			want = []Requirement{"identity_document"}
		}
		if got := Missing(KindLostEmail, HolderIndividual, Progress{Documents: []Document{tt.doc}}); !slices.Equal(got, want) {
			t.Errorf("%s: Missing = %v, want %v", tt.name, got, want)
		}
	}
	for _, f := range []string{FindingEncrypted, FindingActiveContent, FindingExecutable, FindingTypeMismatch, FindingUndecodable, FindingTruncated, FindingTooManyPixels} {
		if !slices.Contains(HostileFindings(), f) {
			t.Errorf("%s is not listed as hostile", f)
		}
	}
}
