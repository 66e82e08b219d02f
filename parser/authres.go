package parser

import (
	"strings"

	"github.com/emersion/go-msgauth/authres"
)

// maxAuthResults bounds the Authentication-Results headers read: a
// message cannot make the parser work on thousands of them.
const maxAuthResults = 50

// authResults reads Authentication-Results headers in order (RFC 8601).
// Comments are removed first; a header go-msgauth rejects (Microsoft 365
// writes them without an authserv-id, "spf=pass (…) smtp.mailfrom=…;
// compauth=pass reason=100") is read by a lenient parser and marked so.
func authResults(values []string) []AuthResult {
	out := []AuthResult{}
	for i, v := range values {
		if i == maxAuthResults {
			break
		}
		clean := stripComments(oneLine(v))
		id, results, err := authres.Parse(clean)
		if err == nil && !looksLikeResult(id) {
			ar := AuthResult{AuthServID: strings.ToLower(id), Results: []AuthMethod{}}
			for _, r := range results {
				if am := authMethod(r); am.Method != "" {
					ar.Results = append(ar.Results, am)
				}
			}
			out = append(out, ar)
			continue
		}
		ar := lenientAuthResult(clean)
		if len(ar.Results) == 0 && ar.AuthServID == "" && err != nil {
			ar.Error = oneLine(err.Error())
		}
		out = append(out, ar)
	}
	return out
}

// looksLikeResult reports whether what go-msgauth took for the
// authserv-id is in fact a result ("spf=pass"): the header has no
// authserv-id.
func looksLikeResult(id string) bool { return strings.Contains(id, "=") }

// stripComments removes RFC 5322 comments (nested parentheses), leaving
// quoted strings alone.
func stripComments(s string) string {
	var b strings.Builder
	depth := 0
	quoted := false
	escaped := false
	for _, r := range s {
		switch {
		case escaped:
			escaped = false
			if depth == 0 {
				b.WriteRune(r)
			}
			continue
		case r == '\\':
			escaped = true
			if depth == 0 {
				b.WriteRune(r)
			}
			continue
		case quoted:
			if r == '"' {
				quoted = false
			}
		case r == '"' && depth == 0:
			quoted = true
		case r == '(':
			depth++
			continue
		case r == ')' && depth > 0:
			depth--
			if depth == 0 {
				b.WriteByte(' ')
			}
			continue
		}
		if depth == 0 {
			b.WriteRune(r)
		}
	}
	return oneLine(b.String())
}

// lenientAuthResult reads "[authserv-id [version];] method=result
// ptype.prop=value …; …" without insisting on the authserv-id.
func lenientAuthResult(s string) AuthResult {
	ar := AuthResult{Results: []AuthMethod{}, Lenient: true}
	parts := strings.Split(s, ";")
	first := strings.TrimSpace(parts[0])
	if f := strings.Fields(first); len(f) > 0 && !strings.Contains(f[0], "=") {
		if len(f) > 1 && f[1] != "1" {
			// RFC 8601 §2.2: a version we do not know is ignored.
			return AuthResult{AuthServID: strings.ToLower(f[0]), Results: []AuthMethod{}, Error: "unsupported version " + f[1]}
		}
		ar.AuthServID = strings.ToLower(f[0])
		parts = parts[1:]
	}
	for _, p := range parts {
		fields := strings.Fields(p)
		if len(fields) == 0 || fields[0] == "none" {
			continue
		}
		method, result, ok := strings.Cut(fields[0], "=")
		if !ok || method == "" {
			continue
		}
		am := AuthMethod{Method: strings.ToLower(method), Result: strings.ToLower(strings.Trim(result, `"`))}
		for _, f := range fields[1:] {
			if k, v, ok := strings.Cut(f, "="); ok && k != "" {
				setProp(&am, strings.ToLower(k), strings.Trim(v, `"`))
			}
		}
		ar.Results = append(ar.Results, am)
		if len(ar.Results) == 100 {
			break
		}
	}
	return ar
}

// domainProps are the properties whose values are domains or addresses,
// compared without regard to case.
var domainProps = map[string]bool{"header.d": true, "header.from": true, "smtp.mailfrom": true, "smtp.helo": true, "header.i": true}

func setProp(am *AuthMethod, k, v string) {
	if v == "" {
		return
	}
	if am.Props == nil {
		am.Props = map[string]string{}
	}
	if domainProps[k] {
		v = strings.ToLower(v)
	}
	am.Props[k] = v
}

func authMethod(r authres.Result) AuthMethod {
	var am AuthMethod
	set := func(k, v string) { setProp(&am, k, v) }
	switch r := r.(type) {
	case *authres.DMARCResult:
		am = AuthMethod{Method: "dmarc", Result: string(r.Value)}
		set("header.from", r.From)
		set("reason", r.Reason)
	case *authres.DKIMResult:
		am = AuthMethod{Method: "dkim", Result: string(r.Value)}
		set("header.d", r.Domain)
		set("header.i", r.Identifier)
		set("reason", r.Reason)
	case *authres.SPFResult:
		am = AuthMethod{Method: "spf", Result: string(r.Value)}
		set("smtp.mailfrom", r.From)
		set("smtp.helo", r.Helo)
		set("reason", r.Reason)
	case *authres.ARCResult:
		am = AuthMethod{Method: "arc", Result: string(r.Value)}
		set("smtp.remote-ip", r.RemoteIP)
	case *authres.IPRevResult:
		am = AuthMethod{Method: "iprev", Result: string(r.Value)}
		set("policy.iprev", r.IP)
		set("reason", r.Reason)
	case *authres.AuthResult:
		am = AuthMethod{Method: "auth", Result: string(r.Value)}
		set("smtp.auth", r.Auth)
		set("reason", r.Reason)
	case *authres.DomainKeysResult:
		am = AuthMethod{Method: "domainkeys", Result: string(r.Value)}
		set("header.d", r.Domain)
		set("header.from", r.From)
	case *authres.SenderIDResult:
		am = AuthMethod{Method: "sender-id", Result: string(r.Value)}
		if r.HeaderKey != "" {
			set("header."+strings.ToLower(r.HeaderKey), r.HeaderValue)
		}
	case *authres.GenericResult:
		am = AuthMethod{Method: strings.ToLower(r.Method), Result: string(r.Value)}
		for k, v := range r.Params {
			set(k, v)
		}
	default:
		am = AuthMethod{Method: "unknown"}
	}
	am.Result = strings.ToLower(am.Result)
	return am
}
