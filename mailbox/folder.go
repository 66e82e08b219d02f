package mailbox

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/emersion/go-imap/v2"
)

// EnsureFolder returns the server's name for path, creating the folder (and
// its parents) when missing. path separates levels with '/' whatever the
// server uses: "Recovery/Processed" is "Recovery.Processed" on Dovecot with
// Maildir++ and "INBOX.Recovery.Processed" on servers whose personal
// namespace is "INBOX." (RFC 2342). Names are cached for the Conn's life.
// New folders are subscribed so that agents' mail clients show them.
func (c *Conn) EnsureFolder(ctx context.Context, path string) (string, error) {
	if name, ok := c.folders[path]; ok {
		return name, nil
	}
	action := fmt.Sprintf("ensure folder %q", path)
	parts := strings.Split(path, "/")
	for _, p := range parts {
		if p == "" || strings.TrimSpace(p) != p || strings.ContainsAny(p, "%*\r\n") {
			return "", fmt.Errorf("%s: bad folder name", action)
		}
	}
	if len(parts) == 1 && strings.EqualFold(parts[0], "INBOX") {
		return "INBOX", nil
	}
	if err := c.learnNaming(ctx); err != nil {
		return "", fmt.Errorf("%s: %w", action, err)
	}
	if c.delim == 0 && len(parts) > 1 {
		return "", fmt.Errorf("%s: server has no hierarchy", action)
	}
	for _, p := range parts {
		if c.delim != 0 && strings.ContainsRune(p, c.delim) {
			return "", fmt.Errorf("%s: %q contains the server's separator %q", action, p, c.delim)
		}
	}
	prefix := c.prefix
	if prefix != "" && len(path) >= len(prefix) && strings.EqualFold(strings.ReplaceAll(path[:len(prefix)], "/", string(c.delim)), prefix) {
		prefix = "" // the path already names the namespace
	}

	var name string
	for i := range parts {
		name = prefix + strings.Join(parts[:i+1], string(c.delim))
		last := i == len(parts)-1
		attrs, found, err := c.list(ctx, name)
		if err != nil {
			return "", fmt.Errorf("%s: %w", action, err)
		}
		missing := !found || slices.Contains(attrs, imap.MailboxAttrNonExistent)
		if last {
			missing = missing || slices.Contains(attrs, imap.MailboxAttrNoSelect)
		}
		if !missing {
			continue
		}
		err = c.do(ctx, fmt.Sprintf("create %q", name), func(*watchdog) error {
			return c.client.Create(name, nil).Wait()
		})
		if err != nil {
			// Someone else may have created it meanwhile.
			if _, found, lerr := c.list(ctx, name); lerr != nil || !found {
				return "", fmt.Errorf("%s: %w", action, err)
			}
		}
		if last {
			c.do(ctx, fmt.Sprintf("subscribe %q", name), func(*watchdog) error {
				return c.client.Subscribe(name).Wait()
			})
		}
	}
	c.folders[path] = name
	return name, nil
}

// learnNaming finds the hierarchy separator (LIST "" "", RFC 3501 section
// 6.3.8) and the personal namespace prefix (NAMESPACE, RFC 2342).
func (c *Conn) learnNaming(ctx context.Context) error {
	if c.nsKnown {
		return nil
	}
	err := c.do(ctx, `list "" ""`, func(*watchdog) error {
		cmd := c.client.List("", "", nil)
		for d := cmd.Next(); d != nil; d = cmd.Next() {
			c.delim = d.Delim
		}
		return cmd.Close()
	})
	if err != nil {
		return err
	}
	if c.caps.Has(imap.CapNamespace) {
		err := c.do(ctx, "namespace", func(*watchdog) error {
			data, err := c.client.Namespace().Wait()
			if err != nil {
				return err
			}
			if len(data.Personal) > 0 {
				c.prefix = data.Personal[0].Prefix
				if data.Personal[0].Delim != 0 {
					c.delim = data.Personal[0].Delim
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if c.prefix != "" && c.delim != 0 && !strings.HasSuffix(c.prefix, string(c.delim)) {
		return errors.New("namespace prefix does not end with the separator")
	}
	c.nsKnown = true
	return nil
}

// list reports whether a mailbox exists, with its attributes.
func (c *Conn) list(ctx context.Context, name string) (attrs []imap.MailboxAttr, found bool, err error) {
	err = c.do(ctx, fmt.Sprintf("list %q", name), func(*watchdog) error {
		cmd := c.client.List("", name, nil)
		for d := cmd.Next(); d != nil; d = cmd.Next() {
			if d.Mailbox == name || strings.EqualFold(name, "INBOX") && strings.EqualFold(d.Mailbox, "INBOX") {
				attrs, found = d.Attrs, true
			}
		}
		return cmd.Close()
	})
	return attrs, found, err
}
