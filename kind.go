package recoverybot

import (
	"errors"
	"fmt"
	"strings"
)

// Kind is the kind of a recovery case, spelled as on the command line.
type Kind string

// The three kinds of case of SPEC §1.
const (
	KindLostEmail   Kind = "lost-email"   // the customer lost access to the profile's email address
	KindTOTPLockout Kind = "totp-lockout" // the customer lost the second factor
	KindIPLockout   Kind = "ip-lockout"   // the customer is outside the profile's IP allowlist
)

// Kinds lists every kind, in the order of the seed.
var Kinds = []Kind{KindLostEmail, KindTOTPLockout, KindIPLockout}

// ErrUnknownKind is returned by ParseKind.
var ErrUnknownKind = errors.New("recoverybot: unknown case kind")

// ParseKind reads a kind as written on the command line.
func ParseKind(s string) (Kind, error) {
	k := Kind(strings.ToLower(strings.TrimSpace(s)))
	for _, known := range Kinds {
		if k == known {
			return k, nil
		}
	}
	return "", fmt.Errorf("%w %q (want lost-email, totp-lockout or ip-lockout)", ErrUnknownKind, s)
}

// NeedsCode reports whether opening a case of this kind issues a
// verification code that the customer must send back.
func (k Kind) NeedsCode() bool { return k == KindTOTPLockout || k == KindIPLockout }

// NeedsProfileAddress reports whether the customer must write from the
// profile's own, authenticated address (SPEC §4). A lost-email case is
// written from the case's contact address instead.
func (k Kind) NeedsProfileAddress() bool { return k.NeedsCode() }

// HolderKind is who holds the profile: a person, a company or an association.
type HolderKind string

// The holder kinds of SPEC §2.
const (
	HolderIndividual  HolderKind = "individual"
	HolderCompany     HolderKind = "company"
	HolderAssociation HolderKind = "association"
)

// HolderKinds lists every holder kind.
var HolderKinds = []HolderKind{HolderIndividual, HolderCompany, HolderAssociation}

// ErrUnknownHolderKind is returned by ParseHolderKind.
var ErrUnknownHolderKind = errors.New("recoverybot: unknown holder kind")

// ParseHolderKind reads a holder kind. The French words of the seed
// (particulier, entreprise) are accepted as well.
func ParseHolderKind(s string) (HolderKind, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "individual", "particulier":
		return HolderIndividual, nil
	case "company", "entreprise":
		return HolderCompany, nil
	case "association":
		return HolderAssociation, nil
	}
	return "", fmt.Errorf("%w %q (want individual, company or association)", ErrUnknownHolderKind, s)
}

// NeedsRepresentative reports whether the holder acts through a
// representative (gérant or président) whose identity must be proven.
func (h HolderKind) NeedsRepresentative() bool {
	return h == HolderCompany || h == HolderAssociation
}

// DocumentType is what a document proves. The zero value is not a type;
// a document nothing points anywhere is DocOther.
type DocumentType string

// The document types of SPEC §6.
const (
	DocIdentity            DocumentType = "identity_document"
	DocCompanyRegistration DocumentType = "company_registration"
	DocAssociationStatutes DocumentType = "association_statutes"
	DocOther               DocumentType = "other"
)

// Valid reports whether t is one of the four document types.
func (t DocumentType) Valid() bool {
	switch t {
	case DocIdentity, DocCompanyRegistration, DocAssociationStatutes, DocOther:
		return true
	}
	return false
}

// RequiredDocuments is the requirement table of SPEC §1: the documents a
// holder of kind h must send, whatever the kind of case. The result is a
// fresh slice.
func RequiredDocuments(h HolderKind) []DocumentType {
	switch h {
	case HolderIndividual:
		return []DocumentType{DocIdentity}
	case HolderCompany:
		return []DocumentType{DocIdentity, DocCompanyRegistration}
	case HolderAssociation:
		return []DocumentType{DocIdentity, DocAssociationStatutes}
	}
	return nil
}

// Requirement names something a case still lacks, as listed in `missing`:
// a document type, or the code, or an authenticated sender.
type Requirement string

// The requirements that are not documents.
const (
	NeedCode                Requirement = "code"
	NeedAuthenticatedSender Requirement = "authenticated_sender"
)
