package rules

import (
	"fmt"
	"strings"

	"golang.org/x/net/publicsuffix"

	"github.com/recoverybot/recoverybot"
	"github.com/recoverybot/recoverybot/parser"
)

// SenderCheck is the result of the sender verification of SPEC §4 for one
// message.
type SenderCheck struct {
	Address string                   // the single From address, "" when there is not exactly one
	Status  recoverybot.SenderStatus // verified, unverified or failed
	Detail  string                   // why, for the agent
}

// CheckSender decides whether a message was sent by its From address.
// Only the topmost Authentication-Results header whose authserv-id is
// trusted counts (RFC 8601 §5: any other may be forged by the sender, and
// our own MTA adds its header on top). It vouches for the From domain
// with dmarc=pass for that domain, or dkim=pass with a header.d in the
// same organisational domain (relaxed alignment, RFC 7489 §3.1.1). It
// says the domain failed with dmarc=fail for it, or an aligned dkim=fail
// with no aligned pass. Reply-To, Sender and display names never count.
func CheckSender(m *parser.Message, trusted []string) SenderCheck {
	if len(m.From) != 1 || m.Sender == "" {
		return SenderCheck{Status: recoverybot.SenderFailed,
			Detail: fmt.Sprintf("%d From addresses; exactly one is required", len(m.From))}
	}
	sc := SenderCheck{Address: m.Sender, Status: recoverybot.SenderUnverified}
	_, domain, _ := strings.Cut(m.Sender, "@")
	var header *parser.AuthResult
	for i := range m.AuthResults {
		if isTrusted(m.AuthResults[i].AuthServID, trusted) {
			header = &m.AuthResults[i]
			break
		}
	}
	if header == nil {
		sc.Detail = "no Authentication-Results header from a trusted server"
		return sc
	}
	if header.Error != "" && len(header.Results) == 0 {
		sc.Detail = "the trusted Authentication-Results header could not be read"
		return sc
	}
	var failed []string
	for _, r := range header.Results {
		switch r.Method {
		case "dmarc":
			from := r.Props["header.from"]
			if from != "" && !strings.EqualFold(from, domain) {
				continue
			}
			switch r.Result {
			case "pass":
				sc.Status, sc.Detail = recoverybot.SenderVerified, "dmarc=pass for "+domain+" ("+header.AuthServID+")"
				return sc
			case "fail":
				failed = append(failed, "dmarc=fail for "+domain)
			}
		case "dkim":
			d := r.Props["header.d"]
			if d == "" || !aligned(d, domain) {
				continue
			}
			switch r.Result {
			case "pass":
				sc.Status, sc.Detail = recoverybot.SenderVerified, "dkim=pass header.d="+d+" aligned with "+domain+" ("+header.AuthServID+")"
				return sc
			case "fail":
				failed = append(failed, "dkim=fail header.d="+d)
			}
		}
	}
	if len(failed) > 0 {
		sc.Status, sc.Detail = recoverybot.SenderFailed, strings.Join(failed, ", ")+" ("+header.AuthServID+")"
		return sc
	}
	sc.Detail = "the trusted header (" + header.AuthServID + ") has no aligned dmarc or dkim pass"
	return sc
}

func isTrusted(id string, trusted []string) bool {
	for _, t := range trusted {
		if strings.EqualFold(strings.TrimSpace(id), strings.TrimSpace(t)) {
			return true
		}
	}
	return false
}

// aligned reports relaxed alignment: the two domains share their
// organisational domain (public suffix + 1).
func aligned(a, b string) bool {
	a, b = strings.ToLower(strings.TrimSuffix(a, ".")), strings.ToLower(strings.TrimSuffix(b, "."))
	if a == b {
		return true
	}
	oa, err := publicsuffix.EffectiveTLDPlusOne(a)
	if err != nil {
		return false
	}
	ob, err := publicsuffix.EffectiveTLDPlusOne(b)
	if err != nil {
		return false
	}
	return oa == ob
}
