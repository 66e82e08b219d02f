package recoverybot

import "strings"

// Document findings: what is wrong with a document's bytes (the parser
// writes them; SPEC §6 shows them). Each finding starts with one of these,
// followed by ": " and details when there are any.
const (
	FindingEmpty          = "empty"            // no bytes
	FindingTruncated      = "truncated"        // the file ends early
	FindingUndecodable    = "undecodable"      // transfer encoding or structure unreadable
	FindingTooManyPixels  = "too_many_pixels"  // the image header announces more pixels than the parser allows
	FindingTooManyPages   = "too_many_pages"   // more pages than the parser reads
	FindingEncrypted      = "encrypted"        // encrypted PDF or message
	FindingActiveContent  = "active_content"   // PDF JavaScript, launch, embedded file, open action…
	FindingTypeMismatch   = "type_mismatch"    // declared type or extension disagrees with the bytes
	FindingExecutable     = "executable"       // a program or script
	FindingLimitReached   = "limit_reached"    // analysis stopped at a limit: the rest was not read
	FindingNestedTooDeep  = "nested_too_deep"  // a forwarded message beyond the depth read, kept whole
	FindingPartial        = "partial"          // message/partial or message/external-body: not the whole file
	FindingFilenameChange = "filename_changed" // the name was sanitised
)

// HostileFindings are the findings that keep a document from satisfying
// any requirement: bytes that are not all there, not all read, hidden
// from reading, or able to act. Such a document stays recorded and
// listed with its findings for the agent; the customer is asked again.
// Any finding not listed here nor known to be harmless (filename_changed)
// counts as hostile too: an unknown problem never passes.
func HostileFindings() []string {
	return []string{FindingEmpty, FindingTruncated, FindingUndecodable, FindingTooManyPixels, FindingTooManyPages,
		FindingEncrypted, FindingActiveContent, FindingTypeMismatch, FindingExecutable, FindingLimitReached,
		FindingNestedTooDeep, FindingPartial}
}

// HostileFinding reports whether finding f (with or without its details)
// keeps a document from satisfying a requirement.
func HostileFinding(f string) bool {
	name, _, _ := strings.Cut(f, ":")
	return strings.TrimSpace(name) != FindingFilenameChange
}

// AcceptsMediaType reports whether a document of type t may have bytes of
// mediaType (as sniffed from the bytes, never as declared): an identity
// document is a photo or a scan, an image or a PDF; a company registration
// or association statutes, a PDF or an image of one. The image formats
// are those phones and scanners write: JPEG, PNG, HEIC/HEIF, WebP, TIFF,
// GIF. Nothing satisfies DocOther.
func AcceptsMediaType(t DocumentType, mediaType string) bool {
	switch t {
	case DocIdentity, DocCompanyRegistration, DocAssociationStatutes:
		switch mediaType {
		case "application/pdf", "image/jpeg", "image/png", "image/heic", "image/heif", "image/webp", "image/tiff", "image/gif":
			return true
		}
	}
	return false
}

// Satisfies reports whether d proves what its type says, as far as
// recoverybot can tell: its bytes are of a media type its type accepts
// and it has no hostile finding, unless an agent judged otherwise: a
// refused document never counts, and an accepted one counts whatever its
// findings (its bytes must still fit its type). The one rule of what a
// document counts for; Missing applies it.
func (d Document) Satisfies() bool {
	if d.Verdict == VerdictRefused || !AcceptsMediaType(d.Type, d.MediaType) {
		return false
	}
	if d.Verdict == VerdictAccepted {
		return true // the agent looked at the findings and judged them harmless
	}
	for _, f := range d.Findings {
		if HostileFinding(f) {
			return false
		}
	}
	return true
}
