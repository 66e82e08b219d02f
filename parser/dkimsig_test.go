package parser

import (
	"reflect"
	"testing"
)

func TestDKIMSignatures(t *testing.T) {
	got := dkimSignatures([]string{
		"v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n\td=Example.ORG.; s=sel; i=x=3B=20y@example.org;\r\n\th=from:to; bh=abc=;\r\n\tb=AbCd 1234\r\n\t efgh==",
		" d = mail.example.org ;b=Zz",
		"garbage without tags",
	})
	want := []DKIMSignature{
		{Domain: "example.org", Selector: "sel", Identity: "x=3B=20y@example.org", B: "AbCd1234efgh=="},
		{Domain: "mail.example.org", B: "Zz"},
		{},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("dkimSignatures = %+v\nwant %+v", got, want)
	}
	many := make([]string, 2*maxDKIMSignatures)
	if n := len(dkimSignatures(many)); n != maxDKIMSignatures {
		t.Errorf("%d signatures read, want at most %d", n, maxDKIMSignatures)
	}
}
