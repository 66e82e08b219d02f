//go:build ignore

// milters-sign signs the test messages of scripts/capture-milters.sh with
// DKIM (rsa-sha256, relaxed/relaxed, standard library only), writing whatever i= it is given verbatim, so that a
// signature can carry a hostile AUID. It is run by that script only:
//
//	go run scripts/milters-sign.go -key K -d DOMAIN -s SELECTOR [-i AUID] < in > out
package main

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
)

func main() {
	keyFile := flag.String("key", "", "PEM RSA private key (opendkim-genkey's .private)")
	domain := flag.String("d", "", "d= (SDID)")
	selector := flag.String("s", "", "s= (selector)")
	auid := flag.String("i", "", "i= (AUID), written as given")
	flag.Parse()
	if err := run(*keyFile, *domain, *selector, *auid); err != nil {
		fmt.Fprintln(os.Stderr, "milters-sign:", err)
		os.Exit(1)
	}
}

func run(keyFile, domain, selector, auid string) error {
	pemBytes, err := os.ReadFile(keyFile)
	if err != nil {
		return fmt.Errorf("read key: %w", err)
	}
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return fmt.Errorf("%s: no PEM block", keyFile)
	}
	var signer *rsa.PrivateKey
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		signer = k
	} else {
		k8, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return fmt.Errorf("parse key: %w", err)
		}
		rk, ok := k8.(*rsa.PrivateKey)
		if !ok {
			return fmt.Errorf("%s: not an RSA key", keyFile)
		}
		signer = rk
	}
	msg, err := io.ReadAll(os.Stdin)
	if err != nil {
		return fmt.Errorf("read message: %w", err)
	}
	msg = bytes.ReplaceAll(bytes.ReplaceAll(msg, []byte("\r\n"), []byte("\n")), []byte("\n"), []byte("\r\n"))
	head, body, ok := bytes.Cut(msg, []byte("\r\n\r\n"))
	if !ok {
		return fmt.Errorf("message has no body")
	}
	fields := splitFields(string(head) + "\r\n")
	signed := []string{"from", "to", "subject", "date", "message-id"}
	bh := sha256.Sum256(relaxedBody(body))
	sig := fmt.Sprintf("v=1; a=rsa-sha256; c=relaxed/relaxed; d=%s; s=%s;", domain, selector)
	if auid != "" {
		sig += "\r\n\ti=" + auid + ";"
	}
	sig += fmt.Sprintf("\r\n\th=From:To:Subject:Date:Message-ID; bh=%s;\r\n\tb=", base64.StdEncoding.EncodeToString(bh[:]))
	h := sha256.New()
	used := map[int]bool{}
	for _, name := range signed {
		// RFC 6376 §5.4.2: the last instance not yet used.
		for i := len(fields) - 1; i >= 0; i-- {
			if !used[i] && strings.EqualFold(fieldName(fields[i]), name) {
				used[i] = true
				io.WriteString(h, relaxedHeader(fields[i]))
				break
			}
		}
	}
	io.WriteString(h, strings.TrimSuffix(relaxedHeader("DKIM-Signature: "+sig), "\r\n"))
	b, err := rsa.SignPKCS1v15(rand.Reader, signer, crypto.SHA256, h.Sum(nil))
	if err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	out := "DKIM-Signature: " + sig + fold(base64.StdEncoding.EncodeToString(b)) + "\r\n" + string(msg)
	_, err = io.WriteString(os.Stdout, out)
	return err
}

// splitFields splits a header block into fields, continuation lines kept.
func splitFields(head string) []string {
	var fields []string
	for _, line := range strings.SplitAfter(head, "\r\n") {
		if line == "" {
			continue
		}
		if (line[0] == ' ' || line[0] == '\t') && len(fields) > 0 {
			fields[len(fields)-1] += line
			continue
		}
		fields = append(fields, line)
	}
	return fields
}

func fieldName(f string) string {
	name, _, _ := strings.Cut(f, ":")
	return strings.TrimSpace(name)
}

var wsp = regexp.MustCompile(`[ \t]+`)

// relaxedHeader is RFC 6376 §3.4.2.
func relaxedHeader(f string) string {
	name, value, _ := strings.Cut(f, ":")
	value = strings.ReplaceAll(value, "\r\n", "")
	value = strings.TrimSpace(wsp.ReplaceAllString(value, " "))
	return strings.ToLower(strings.TrimSpace(name)) + ":" + value + "\r\n"
}

// relaxedBody is RFC 6376 §3.4.4.
func relaxedBody(body []byte) []byte {
	lines := strings.Split(string(body), "\r\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(wsp.ReplaceAllString(l, " "), " ")
	}
	s := strings.TrimRight(strings.Join(lines, "\r\n"), "\r\n")
	if s == "" {
		return nil
	}
	return []byte(s + "\r\n")
}

func fold(b64 string) string {
	var b strings.Builder
	for len(b64) > 64 {
		b.WriteString(b64[:64] + "\r\n\t ")
		b64 = b64[64:]
	}
	b.WriteString(b64)
	return b.String()
}
