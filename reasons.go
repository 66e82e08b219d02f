package recoverybot

import (
	"errors"
	"fmt"
	"strings"
)

// AskReason is why an agent asks the customer again for a document: the
// list the dashboard offers, worded to the customer in their language.
type AskReason string

// The reasons to ask again for a document.
const (
	AskUnreadable  AskReason = "unreadable"   // blurred, too dark, too small
	AskExpired     AskReason = "expired"      // the document is past its expiry date
	AskWrongPerson AskReason = "wrong_person" // not the holder or the representative of the profile
	AskCropped     AskReason = "cropped"      // part of the document is cut off or hidden
)

// AskReasons lists every AskReason, in the order agents see them.
var AskReasons = []AskReason{AskUnreadable, AskExpired, AskWrongPerson, AskCropped}

// ErrUnknownReason is returned by ParseAskReason and ParseRejectReason.
var ErrUnknownReason = errors.New("recoverybot: unknown reason")

// ParseAskReason reads an AskReason ("wrong-person" reads as wrong_person).
func ParseAskReason(s string) (AskReason, error) {
	r := AskReason(strings.ReplaceAll(strings.ToLower(strings.TrimSpace(s)), "-", "_"))
	for _, known := range AskReasons {
		if r == known {
			return r, nil
		}
	}
	return "", fmt.Errorf("%w %q (want one of %s)", ErrUnknownReason, s, joinReasons(AskReasons))
}

// RejectReason is why an agent rejects a case: the list the dashboard
// offers, worded to the customer in their language, with the agent's own
// text beside it.
type RejectReason string

// The reasons to reject a case.
const (
	RejectDocumentsMismatch RejectReason = "documents_mismatch" // the documents do not match the profile
	RejectNotHolder         RejectReason = "not_holder"         // the writer is not the holder or its representative
	RejectForged            RejectReason = "forged"             // a document appears altered or forged
	RejectIncomplete        RejectReason = "incomplete"         // what was asked for did not come
	RejectOther             RejectReason = "other"              // the agent's text says why
)

// RejectReasons lists every RejectReason, in the order agents see them.
var RejectReasons = []RejectReason{RejectDocumentsMismatch, RejectNotHolder, RejectForged, RejectIncomplete, RejectOther}

// ParseRejectReason reads a RejectReason.
func ParseRejectReason(s string) (RejectReason, error) {
	r := RejectReason(strings.ReplaceAll(strings.ToLower(strings.TrimSpace(s)), "-", "_"))
	for _, known := range RejectReasons {
		if r == known {
			return r, nil
		}
	}
	return "", fmt.Errorf("%w %q (want one of %s)", ErrUnknownReason, s, joinReasons(RejectReasons))
}

func joinReasons[T ~string](list []T) string {
	parts := make([]string, len(list))
	for i, r := range list {
		parts[i] = string(r)
	}
	return strings.Join(parts, ", ")
}
