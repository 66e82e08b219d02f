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

// CheckSender decides whether a message was sent by its From address
// (SPEC §4).
//
// Only the topmost Authentication-Results header whose authserv-id is
// exactly (ASCII case-insensitively) a trusted one counts (RFC 8601 §5:
// any other may be forged by the sender, and our own MTA adds its header
// on top); a header without an authserv-id is never trusted. It vouches
// for the From domain with dmarc=pass whose header.from is that domain,
// or dkim=pass with a header.d in the same organisational domain
// (relaxed alignment, RFC 7489 §3.1.1).
//
// The sender is failed, whatever else the header says, when the header
// says the domain failed (any dmarc=fail for it; an aligned dkim=fail
// with no aligned pass) or cannot be read unambiguously: it departs from
// RFC 8601 (parser.AuthResult.Error), repeats a property in a result,
// has a dmarc result without header.from or for another domain than
// From's (the MTA read another From), more than one dmarc result, a dkim
// result without header.d (but dkim=none, no signature), or the same
// signature (header.d, header.s, header.b) twice. It is failed too when
// the message repeats a single-instance header (RFC 5322 §3.6): a DKIM
// verifier may have read the other one. Reply-To, Sender and display
// names never count.
func CheckSender(m *parser.Message, trusted []string) SenderCheck {
	if len(m.From) != 1 || m.Sender == "" {
		return SenderCheck{Status: recoverybot.SenderFailed,
			Detail: fmt.Sprintf("%d From addresses; exactly one is required", len(m.From))}
	}
	sc := SenderCheck{Address: m.Sender, Status: recoverybot.SenderUnverified}
	failed := func(why string) SenderCheck {
		sc.Status, sc.Detail = recoverybot.SenderFailed, why
		return sc
	}
	if len(m.RepeatedHeaders) > 0 {
		return failed("repeated header: " + strings.Join(m.RepeatedHeaders, ", ") + " (a message has one of each)")
	}
	_, domain, _ := strings.Cut(m.Sender, "@")
	domain = canonDomain(domain)
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
	id := " (" + header.AuthServID + ")"
	if header.Error != "" {
		return failed("the trusted Authentication-Results header cannot be read: " + header.Error + id)
	}
	var (
		verified   string
		dkimFailed []string
		dmarcs     int
		signatures = map[[3]string]bool{}
	)
	for _, r := range header.Results {
		if len(r.Repeated) > 0 {
			return failed(r.Method + " result with a repeated property: " + strings.Join(r.Repeated, ", ") + id)
		}
		switch r.Method {
		case "dmarc":
			dmarcs++
			from, ok := r.Props["header.from"]
			switch {
			case dmarcs > 1:
				return failed("more than one dmarc result" + id)
			case !ok || from == "":
				return failed("dmarc=" + r.Result + " without header.from" + id)
			case canonDomain(from) != domain:
				return failed("dmarc=" + r.Result + " for " + from + ", not for the From domain " + domain + id)
			case r.Result == "fail":
				return failed("dmarc=fail for " + domain + id)
			case r.Result == "pass" && verified == "":
				verified = "dmarc=pass for " + domain + id
			}
		case "dkim":
			d, ok := r.Props["header.d"]
			if r.Result == "none" && !ok {
				continue // no signature
			}
			if !ok || d == "" {
				return failed("dkim=" + r.Result + " without header.d" + id)
			}
			sig := [3]string{canonDomain(d), r.Props["header.s"], r.Props["header.b"]}
			if signatures[sig] {
				return failed("the same dkim signature of " + d + " twice" + id)
			}
			signatures[sig] = true
			if !aligned(d, domain) {
				continue
			}
			switch r.Result {
			case "pass":
				if verified == "" {
					verified = "dkim=pass header.d=" + d + " aligned with " + domain + id
				}
			case "fail":
				dkimFailed = append(dkimFailed, "dkim=fail header.d="+d)
			}
		}
	}
	if verified != "" {
		sc.Status, sc.Detail = recoverybot.SenderVerified, verified
		return sc
	}
	if len(dkimFailed) > 0 {
		return failed(strings.Join(dkimFailed, ", ") + id)
	}
	sc.Detail = "the trusted header" + id + " has no aligned dmarc or dkim pass"
	return sc
}

// canonDomain is a domain as compared: lower case (ASCII only), without
// a final dot.
func canonDomain(d string) string {
	return strings.TrimSuffix(asciiLower(strings.TrimSpace(d)), ".")
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// isTrusted reports whether id is exactly one of the trusted
// authserv-ids, ASCII letters compared without regard to case. An empty
// id (a header without one) is never trusted.
func isTrusted(id string, trusted []string) bool {
	id = strings.TrimSpace(id)
	if id == "" {
		return false
	}
	for _, t := range trusted {
		if t = strings.TrimSpace(t); t != "" && asciiLower(id) == asciiLower(t) {
			return true
		}
	}
	return false
}

// aligned reports relaxed alignment: the two domains share their
// organisational domain (public suffix + 1).
func aligned(a, b string) bool {
	a, b = canonDomain(a), canonDomain(b)
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
