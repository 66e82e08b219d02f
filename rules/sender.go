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
	first := -1
	for i := range m.AuthResults {
		if isTrusted(m.AuthResults[i].AuthServID, trusted) {
			first = i
			break
		}
	}
	if first < 0 {
		sc.Detail = "no Authentication-Results header from a trusted server"
		return sc
	}
	// ours are the headers our MX wrote: the topmost trusted one and the
	// trusted ones right below it (one per milter). The verdict is the
	// topmost's; the others can only take it away.
	ours := []*parser.AuthResult{&m.AuthResults[first]}
	for j := first + 1; j < len(m.AuthResults) && isTrusted(m.AuthResults[j].AuthServID, trusted); j++ {
		ours = append(ours, &m.AuthResults[j])
	}
	header := ours[0]
	id := " (" + header.AuthServID + ")"
	if header.Error != "" {
		return failed("the trusted Authentication-Results header cannot be read: " + header.Error + id)
	}
	var (
		dmarcPass  bool
		dkimPass   *parser.AuthMethod
		dkimFailed []string
		dmarcs     int
		forDomain  int // dkim results aligned with the From domain
	)
	for i := range header.Results {
		r := &header.Results[i]
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
			case r.Result == "pass":
				dmarcPass = true
			}
		case "dkim":
			d := dkimDomain(*r)
			if r.Result == "none" && d == "" {
				continue // no signature
			}
			if d == "" {
				return failed("dkim=" + r.Result + " without header.d" + id)
			}
			if !aligned(d, domain) {
				continue
			}
			if forDomain++; forDomain > 1 {
				return failed("more than one dkim result for " + domain + id)
			}
			switch r.Result {
			case "pass":
				dkimPass = r
			case "fail":
				dkimFailed = append(dkimFailed, "dkim=fail header.d="+d)
			}
		}
	}
	// Across our MX's headers: a failure anywhere, or dkim results that no
	// signature of the message accounts for (text copied from a sender's
	// i= that reads as a result of its own).
	var backed bool
	for _, h := range ours {
		if h.Error != "" {
			continue // proves nothing either way
		}
		dkims := 0
		for _, r := range h.Results {
			switch r.Method {
			case "dmarc":
				if r.Result == "fail" && canonDomain(r.Props["header.from"]) == domain {
					return failed("dmarc=fail for " + domain + " (" + h.AuthServID + ")")
				}
			case "dkim":
				d := dkimDomain(r)
				if d == "" {
					continue
				}
				dkims++
				if why := identityOutside(r); why != "" {
					return failed(why + " (" + h.AuthServID + ")")
				}
				if r.Result == "pass" && aligned(d, domain) {
					if !signed(r, m.DKIMSignatures) {
						return failed("dkim=pass header.d=" + d + ", but no signature of the message is that one alone (" + h.AuthServID + ")")
					}
					backed = true
				}
			case "spf":
				if r.Result == "pass" && aligned(mailDomain(r.Props["smtp.mailfrom"]), domain) {
					backed = true
				}
			}
		}
		if dkims > len(m.DKIMSignatures) {
			return failed(fmt.Sprintf("%d dkim results for %d signatures (%s)", dkims, len(m.DKIMSignatures), h.AuthServID))
		}
	}
	switch {
	case dkimPass != nil:
		sc.Status, sc.Detail = recoverybot.SenderVerified, "dkim=pass header.d="+dkimDomain(*dkimPass)+" aligned with "+domain+id
		return sc
	case dmarcPass && !backed:
		// OpenDMARC takes OpenDKIM's results, and an attacker's forged
		// header when it runs first: a pass that nothing of our MX
		// backs proves nothing.
		sc.Detail = "dmarc=pass for " + domain + ", but no aligned dkim or spf pass of our MX backs it" + id
		return sc
	case dmarcPass:
		sc.Status, sc.Detail = recoverybot.SenderVerified, "dmarc=pass for "+domain+id
		return sc
	case len(dkimFailed) > 0:
		return failed(strings.Join(dkimFailed, ", ") + id)
	}
	sc.Detail = "the trusted header" + id + " has no aligned dmarc or dkim pass"
	return sc
}

// dkimDomain is the signing domain a dkim result names: header.d, or
// the domain of header.i (Gmail writes only that; RFC 6376 §3.5 makes it
// the signing domain or a subdomain of it).
func dkimDomain(r parser.AuthMethod) string {
	if d := r.Props["header.d"]; d != "" {
		return canonDomain(d)
	}
	if i := r.Props["header.i"]; i != "" {
		return mailDomain(i)
	}
	return ""
}

// mailDomain is the domain of an address, an "@domain" or a bare domain.
func mailDomain(a string) string {
	if at := strings.LastIndexByte(a, '@'); at >= 0 {
		a = a[at+1:]
	}
	return canonDomain(a)
}

// identityOutside explains why a dkim result's header.i cannot be the
// identity of a signature of header.d (RFC 6376 §3.5: "[local-part] @
// domain", the domain that of d= or a subdomain), or returns "". Such
// a value is text the MTA copied from a sender.
func identityOutside(r parser.AuthMethod) string {
	i, ok := r.Props["header.i"]
	d := canonDomain(r.Props["header.d"])
	if !ok || d == "" {
		return ""
	}
	at := strings.LastIndexByte(i, '@')
	if at < 0 {
		return fmt.Sprintf("dkim header.i %q is no identity", i)
	}
	if id := canonDomain(i[at+1:]); id != d && !strings.HasSuffix(id, "."+d) {
		return fmt.Sprintf("dkim header.i %q is outside header.d=%s", i, d)
	}
	return ""
}

// signed reports whether the message carries a DKIM-Signature that the
// dkim result r can be about: same signing domain, and the same
// selector and signature prefix (RFC 8601 §2.7.1 header.s, RFC 6008
// header.b) when r names them. A header.b that is the prefix of more
// than one signature does not say which it is about (RFC 6008 §4 wants
// it long enough to tell them apart): an attacker's decoy signature can
// share the prefix of their real one, which OpenDKIM appends to text it
// copied from an i= value.
func signed(r parser.AuthMethod, sigs []parser.DKIMSignature) bool {
	d := dkimDomain(r)
	_, hasD := r.Props["header.d"]
	b := r.Props["header.b"]
	matches := 0
	if b != "" {
		for _, s := range sigs {
			if strings.HasPrefix(s.B, b) {
				matches++
			}
		}
		if matches > 1 {
			return false
		}
	}
	for _, s := range sigs {
		switch {
		case s.Domain == "":
			continue
		case hasD && s.Domain != d:
			continue
		case !hasD && d != s.Domain && !strings.HasSuffix(d, "."+s.Domain):
			continue
		}
		if sel := r.Props["header.s"]; sel != "" && !strings.EqualFold(sel, s.Selector) {
			continue
		}
		if b != "" && !strings.HasPrefix(s.B, b) {
			continue
		}
		return true
	}
	return false
}

// canonDomain is a domain as compared: lower case (ASCII only), without
// a final dot.
func canonDomain(d string) string {
	return strings.TrimSuffix(recoverybot.ASCIILower(strings.TrimSpace(d)), ".")
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
		if t = strings.TrimSpace(t); t != "" && recoverybot.ASCIILower(id) == recoverybot.ASCIILower(t) {
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
