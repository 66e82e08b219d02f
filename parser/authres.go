package parser

import (
	"fmt"
	"strings"
)

// Bounds of the Authentication-Results reading: a message cannot make
// the parser work on thousands of headers or results.
const (
	maxAuthResults = 50  // headers read
	maxAuthMethods = 100 // results in one header
	maxAuthProps   = 50  // properties of one result
)

// authResults reads Authentication-Results headers in order (RFC 8601).
func authResults(values []string) []AuthResult {
	out := []AuthResult{}
	for i, v := range values {
		if i == maxAuthResults {
			break
		}
		out = append(out, readAuthResult(v))
	}
	return out
}

// readAuthResult reads one Authentication-Results value with the grammar
// of RFC 8601 §2.2:
//
//	authres-payload = [CFWS] authserv-id [ CFWS authres-version ]
//	                  ( no-result / 1*resinfo ) [CFWS]
//	resinfo    = [CFWS] ";" methodspec [ CFWS reasonspec ] [ CFWS 1*propspec ]
//	methodspec = [CFWS] method [CFWS] "=" [CFWS] result
//	method     = Keyword [ [CFWS] "/" [CFWS] method-version ]
//	reasonspec = "reason" [CFWS] "=" [CFWS] value
//	propspec   = ptype [CFWS] "." [CFWS] property [CFWS] "=" pvalue
//	pvalue     = [CFWS] ( value / [ [ local-part ] "@" ] domain-name ) [CFWS]
//
// Comments (nested, with quoted pairs, RFC 5322 §3.2.2) separate like
// white space and are dropped; a quoted string is one value whatever it
// holds (";", "=", white space): text an MTA copied from the sender (the
// envelope sender, the HELO name, a DKIM i=) never becomes a result or a
// property. What departs from the grammar stops the reading with Error
// set; the results read before it are kept for display only.
//
// The departures real MTAs make are accepted, none of which can turn
// quoted or commented text into a result: Microsoft 365 writes no
// authserv-id ("spf=pass (…) smtp.mailfrom=…; compauth=pass reason=100",
// marked Lenient) and properties without a ptype ("action=none", kept
// under their bare name); unquoted values hold characters a token
// excludes (base64 "/+=" in header.b, ":" in IPv6 addresses); a value
// may be empty, reason= may come among the properties, the last result
// may end with ";". A property given twice in one result keeps its first
// value and is listed in AuthMethod.Repeated.
func readAuthResult(v string) AuthResult {
	ar := AuthResult{Results: []AuthMethod{}}
	s := &arScanner{s: v}
	fail := func(err error) AuthResult {
		ar.Error = err.Error()
		return ar
	}
	if err := s.cfws(); err != nil {
		return fail(err)
	}
	if s.eof() {
		return fail(fmt.Errorf("empty header"))
	}
	// No authserv-id when the header starts with "method=" or
	// "method/version=": a token never holds "=" or "/".
	save := s.i
	if k := s.keyword(); k != "" {
		if err := s.cfws(); err != nil {
			return fail(err)
		}
		if c := s.peek(); c == '=' || c == '/' {
			ar.Lenient = true
		}
	}
	s.i = save
	if !ar.Lenient {
		id, err := s.value()
		if err != nil {
			return fail(fmt.Errorf("authserv-id: %w", err))
		}
		if id == "" {
			return fail(fmt.Errorf("no authserv-id"))
		}
		ar.AuthServID = strings.ToLower(id)
		sep, err := s.cfwsSep()
		if err != nil {
			return fail(err)
		}
		if sep && isDigit(s.peek()) {
			ver := s.digits()
			if ver != "1" {
				// RFC 8601 §2.2: a version we do not know is ignored.
				return fail(fmt.Errorf("unsupported version %s", ver))
			}
			if err := s.cfws(); err != nil {
				return fail(err)
			}
		}
		if s.eof() {
			return fail(fmt.Errorf("no result after the authserv-id"))
		}
		if s.peek() != ';' {
			return fail(s.errorf("expected ';' after the authserv-id"))
		}
		s.i++
		if err := s.cfws(); err != nil {
			return fail(err)
		}
		save := s.i
		if k := s.keyword(); strings.EqualFold(k, "none") {
			if err := s.cfws(); err != nil {
				return fail(err)
			}
			if s.eof() {
				return ar
			}
		}
		s.i = save
	}
	for {
		if len(ar.Results) == maxAuthMethods {
			return fail(fmt.Errorf("more than %d results", maxAuthMethods))
		}
		am, err := s.resinfo()
		if err != nil {
			return fail(err)
		}
		ar.Results = append(ar.Results, am)
		if s.eof() {
			return ar
		}
		// s.peek() == ';': the next result, or a trailing ";" some
		// MTAs write.
		s.i++
		if err := s.cfws(); err != nil {
			return fail(err)
		}
		if s.eof() {
			return ar
		}
	}
}

// domainProps are the properties whose values are domains or addresses,
// compared without regard to case.
var domainProps = map[string]bool{"header.d": true, "header.from": true, "smtp.mailfrom": true, "smtp.helo": true, "header.i": true}

// arScanner reads an Authentication-Results value byte by byte.
type arScanner struct {
	s string
	i int
}

func (s *arScanner) eof() bool { return s.i >= len(s.s) }

func (s *arScanner) peek() byte {
	if s.eof() {
		return 0
	}
	return s.s[s.i]
}

func (s *arScanner) errorf(format string, a ...any) error {
	what := "the end"
	if !s.eof() {
		what = fmt.Sprintf("%q", s.s[s.i])
	}
	return fmt.Errorf(format+" at byte %d (%s)", append(a, s.i, what)...)
}

func isWSP(c byte) bool   { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isCtl(c byte) bool   { return c < 0x20 && !isWSP(c) || c == 0x7f }

// isKeyword reports whether c belongs to an ldh-str (RFC 5321 §4.1.2).
func isKeyword(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || isDigit(c) || c == '-'
}

// isTspecial reports the characters a token (RFC 2045 §5.1) excludes.
func isTspecial(c byte) bool { return strings.IndexByte(`()<>@,;:\"/[]?=`, c) >= 0 }

// cfws skips white space, folding and comments.
func (s *arScanner) cfws() error {
	_, err := s.cfwsSep()
	return err
}

// cfwsSep is cfws, reporting whether anything was skipped.
func (s *arScanner) cfwsSep() (bool, error) {
	start := s.i
	for !s.eof() {
		c := s.peek()
		switch {
		case isWSP(c):
			s.i++
		case c == '(':
			if err := s.comment(); err != nil {
				return true, err
			}
		default:
			return s.i > start, nil
		}
	}
	return s.i > start, nil
}

// comment skips a comment, nested comments and quoted pairs included.
func (s *arScanner) comment() error {
	start := s.i
	depth := 0
	for !s.eof() {
		c := s.peek()
		s.i++
		switch {
		case c == '\\':
			if s.eof() {
				s.i = start
				return s.errorf("unterminated comment")
			}
			s.i++
		case c == '(':
			depth++
		case c == ')':
			depth--
			if depth == 0 {
				return nil
			}
		case isCtl(c):
			s.i--
			return s.errorf("control character in a comment")
		}
	}
	s.i = start
	return s.errorf("unterminated comment")
}

// keyword reads an ldh-str; "" when there is none here.
func (s *arScanner) keyword() string {
	start := s.i
	for !s.eof() && isKeyword(s.peek()) {
		s.i++
	}
	return s.s[start:s.i]
}

func (s *arScanner) digits() string {
	start := s.i
	for !s.eof() && isDigit(s.peek()) {
		s.i++
	}
	return s.s[start:s.i]
}

// quoted reads a quoted string and returns its content, quoted pairs
// undone.
func (s *arScanner) quoted() (string, error) {
	start := s.i
	s.i++ // the opening quote
	var b strings.Builder
	for !s.eof() {
		c := s.peek()
		s.i++
		switch {
		case c == '"':
			return b.String(), nil
		case c == '\\':
			if s.eof() {
				break
			}
			b.WriteByte(s.peek())
			s.i++
		case isCtl(c):
			s.i--
			return "", s.errorf("control character in a quoted string")
		default:
			b.WriteByte(c)
		}
	}
	s.i = start
	return "", s.errorf("unterminated quoted string")
}

// value reads a value: a token (RFC 2045) or a quoted string.
func (s *arScanner) value() (string, error) {
	if s.peek() == '"' {
		return s.quoted()
	}
	start := s.i
	for !s.eof() {
		c := s.peek()
		if isWSP(c) || isCtl(c) || isTspecial(c) {
			break
		}
		s.i++
	}
	if s.i == start {
		return "", s.errorf("expected a value")
	}
	return s.s[start:s.i], nil
}

// pvalue reads a property's value: a token, a quoted string, or an
// address ("local@domain", "@domain", "\"quoted local\"@domain"). It
// ends at white space, a comment or ";"; it may be empty. A value that is
// one quoted string is returned without its quotes; one made of several
// pieces is returned as written.
func (s *arScanner) pvalue() (string, error) {
	start := s.i
	pieces := 0
	var only string
	for !s.eof() {
		c := s.peek()
		switch {
		case isWSP(c) || c == '(' || c == ';':
			goto done
		case isCtl(c):
			return "", s.errorf("control character in a value")
		case c == '"':
			q, err := s.quoted()
			if err != nil {
				return "", err
			}
			pieces++
			only = q
		default:
			for !s.eof() {
				c := s.peek()
				if isWSP(c) || isCtl(c) || c == '(' || c == ';' || c == '"' {
					break
				}
				s.i++
			}
			pieces += 2
		}
	}
done:
	switch {
	case pieces == 1:
		return only, nil
	}
	return s.s[start:s.i], nil
}

// resinfo reads one method's result and its properties, up to the next
// ";" or the end.
func (s *arScanner) resinfo() (AuthMethod, error) {
	var am AuthMethod
	if err := s.cfws(); err != nil {
		return am, err
	}
	method := s.keyword()
	if method == "" {
		return am, s.errorf("expected a method")
	}
	am.Method = strings.ToLower(method)
	if err := s.cfws(); err != nil {
		return am, err
	}
	if s.peek() == '/' {
		s.i++
		if err := s.cfws(); err != nil {
			return am, err
		}
		if am.Version = s.digits(); am.Version == "" {
			return am, s.errorf("expected the version of %s", am.Method)
		}
		if err := s.cfws(); err != nil {
			return am, err
		}
	}
	if s.peek() != '=' {
		return am, s.errorf("expected '=' after %s", am.Method)
	}
	s.i++
	if err := s.cfws(); err != nil {
		return am, err
	}
	result := s.keyword()
	if result == "" {
		return am, s.errorf("expected the result of %s", am.Method)
	}
	am.Result = strings.ToLower(result)
	for {
		sep, err := s.cfwsSep()
		if err != nil {
			return am, err
		}
		if s.eof() || s.peek() == ';' {
			return am, nil
		}
		if !sep {
			return am, s.errorf("expected white space after %s=%s", am.Method, am.Result)
		}
		if len(am.Props) == maxAuthProps {
			return am, fmt.Errorf("more than %d properties in %s", maxAuthProps, am.Method)
		}
		if err := s.prop(&am); err != nil {
			return am, err
		}
	}
}

// prop reads "ptype.property=pvalue", "reason=value" or the bare
// "name=value" Microsoft 365 writes.
func (s *arScanner) prop(am *AuthMethod) error {
	name := s.keyword()
	if name == "" {
		return s.errorf("expected a property of %s", am.Method)
	}
	if err := s.cfws(); err != nil {
		return err
	}
	if s.peek() == '.' {
		s.i++
		if err := s.cfws(); err != nil {
			return err
		}
		// property = special-smtp-verb / Keyword (RFC 8601 §2.2).
		p := s.keyword()
		if p == "" {
			return s.errorf("expected a property after %s.", name)
		}
		name += "." + p
		if err := s.cfws(); err != nil {
			return err
		}
	}
	name = strings.ToLower(name)
	if s.peek() != '=' {
		return s.errorf("expected '=' after %s", name)
	}
	s.i++
	if err := s.cfws(); err != nil {
		return err
	}
	v, err := s.pvalue()
	if err != nil {
		return err
	}
	if domainProps[name] {
		v = strings.ToLower(v)
	}
	if am.Props == nil {
		am.Props = map[string]string{}
	}
	if _, dup := am.Props[name]; dup {
		if !contains(am.Repeated, name) {
			am.Repeated = append(am.Repeated, name)
		}
		return nil
	}
	am.Props[name] = v
	return nil
}
