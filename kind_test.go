package recoverybot

import (
	"errors"
	"slices"
	"testing"
)

func TestRequirementTable(t *testing.T) {
	tests := []struct {
		holder HolderKind
		docs   []DocumentType
	}{
		{HolderIndividual, []DocumentType{DocIdentity}},
		{HolderCompany, []DocumentType{DocIdentity, DocCompanyRegistration}},
		{HolderAssociation, []DocumentType{DocIdentity, DocAssociationStatutes}},
	}
	for _, tt := range tests {
		if got := RequiredDocuments(tt.holder); !slices.Equal(got, tt.docs) {
			t.Errorf("RequiredDocuments(%s) = %v, want %v", tt.holder, got, tt.docs)
		}
	}
	if RequiredDocuments("alien") != nil {
		t.Error("unknown holder kind has requirements")
	}
}

func TestMissing(t *testing.T) {
	docs := func(ts ...DocumentType) []Document {
		var ds []Document
		for _, t := range ts {
			ds = append(ds, Document{Type: t, MediaType: "application/pdf"})
		}
		return ds
	}
	all := func(h HolderKind) []Document { return docs(RequiredDocuments(h)...) }
	tests := []struct {
		name   string
		kind   Kind
		holder HolderKind
		p      Progress
		want   []Requirement
	}{
		{"lost-email individual, nothing", KindLostEmail, HolderIndividual, Progress{}, []Requirement{"identity_document"}},
		{"lost-email individual, complete", KindLostEmail, HolderIndividual, Progress{Documents: all(HolderIndividual)}, []Requirement{}},
		{"lost-email company, ID only", KindLostEmail, HolderCompany, Progress{Documents: docs(DocIdentity)}, []Requirement{"company_registration"}},
		{"lost-email association, other docs do not count", KindLostEmail, HolderAssociation,
			Progress{Documents: docs(DocOther, DocCompanyRegistration)}, []Requirement{"identity_document", "association_statutes"}},
		{"lost-email needs no code nor authenticated sender", KindLostEmail, HolderCompany,
			Progress{Documents: all(HolderCompany), SenderStatus: SenderUnverified}, []Requirement{}},
		{"totp individual, nothing", KindTOTPLockout, HolderIndividual, Progress{}, []Requirement{"identity_document", "authenticated_sender", "code"}},
		{"totp company, docs and code, sender unverified", KindTOTPLockout, HolderCompany,
			Progress{Documents: all(HolderCompany), CodeVerified: true, SenderStatus: SenderUnverified}, []Requirement{"authenticated_sender"}},
		{"totp, unverified counts when allowed", KindTOTPLockout, HolderIndividual,
			Progress{Documents: all(HolderIndividual), CodeVerified: true, SenderStatus: SenderUnverified, UnverifiedSenderCounts: true}, []Requirement{}},
		{"totp, failed never counts", KindTOTPLockout, HolderIndividual,
			Progress{Documents: all(HolderIndividual), CodeVerified: true, SenderStatus: SenderFailed, UnverifiedSenderCounts: true}, []Requirement{"authenticated_sender"}},
		{"ip association, complete", KindIPLockout, HolderAssociation,
			Progress{Documents: all(HolderAssociation), CodeVerified: true, SenderStatus: SenderVerified}, []Requirement{}},
		{"ip association, code missing", KindIPLockout, HolderAssociation,
			Progress{Documents: all(HolderAssociation), SenderStatus: SenderVerified}, []Requirement{"code"}},
	}
	for _, tt := range tests {
		got := Missing(tt.kind, tt.holder, tt.p)
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: Missing = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestParseKinds(t *testing.T) {
	for _, k := range Kinds {
		if got, err := ParseKind(string(k)); err != nil || got != k {
			t.Errorf("ParseKind(%s) = %s, %v", k, got, err)
		}
	}
	if _, err := ParseKind("password"); !errors.Is(err, ErrUnknownKind) {
		t.Errorf("ParseKind(password) = %v", err)
	}
	if !KindTOTPLockout.NeedsCode() || !KindIPLockout.NeedsCode() || KindLostEmail.NeedsCode() {
		t.Error("NeedsCode is wrong")
	}
	for in, want := range map[string]HolderKind{"individual": HolderIndividual, "Particulier": HolderIndividual,
		"company": HolderCompany, "entreprise": HolderCompany, "association": HolderAssociation} {
		if got, err := ParseHolderKind(in); err != nil || got != want {
			t.Errorf("ParseHolderKind(%s) = %s, %v", in, got, err)
		}
	}
	if _, err := ParseHolderKind("trust"); !errors.Is(err, ErrUnknownHolderKind) {
		t.Errorf("ParseHolderKind(trust) = %v", err)
	}
}
