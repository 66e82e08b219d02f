package parser

import (
	"strings"

	"github.com/recoverybot/recoverybot"
)

// DKIMSignature is what a DKIM-Signature header field claims (RFC 6376
// §3.5). recoverybot verifies no signature itself: these claims only let
// the rules check that a dkim result our MX wrote is about a signature
// the message really carries, so that text an MTA copied from the
// sender into its Authentication-Results (a DKIM i= value) cannot pass
// for a result of its own.
type DKIMSignature struct {
	Domain   string `json:"d"`           // d=, lower case
	Selector string `json:"s,omitempty"` // s=
	Identity string `json:"i,omitempty"` // i=, as written (quoted-printable)
	// B is the signature (b=) without white space; never shown.
	B string `json:"-"`
}

// maxDKIMSignatures bounds the DKIM-Signature fields read.
const maxDKIMSignatures = 50

// dkimSignatures reads the tag lists of DKIM-Signature fields
// (RFC 6376 §3.2: tag=value pairs separated by ';', white space around
// them ignored). A field without a d= tag is kept with an empty Domain:
// it still counts as a signature the message carries.
func dkimSignatures(values []string) []DKIMSignature {
	var out []DKIMSignature
	for i, v := range values {
		if i == maxDKIMSignatures {
			break
		}
		var sig DKIMSignature
		for _, tag := range strings.Split(v, ";") {
			name, value, ok := strings.Cut(tag, "=")
			if !ok {
				continue
			}
			value = strings.Join(strings.Fields(value), "")
			switch strings.TrimSpace(name) {
			case "d":
				sig.Domain = strings.TrimSuffix(recoverybot.ASCIILower(value), ".")
			case "s":
				sig.Selector = value
			case "i":
				sig.Identity = value
			case "b":
				sig.B = value
			}
		}
		out = append(out, sig)
	}
	return out
}
