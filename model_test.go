package recoverybot_test

import (
	"testing"

	"github.com/recoverybot/recoverybot"
)

// TestCustomerAddress: a lost-email case writes to its contact address,
// never to the profile's (the one lost); the code kinds to the profile's,
// never to a contact address someone gave.
func TestCustomerAddress(t *testing.T) {
	p := recoverybot.Profile{Email: "owner@example.com"}
	for kind, want := range map[recoverybot.Kind]string{
		recoverybot.KindLostEmail:   "new@example.org",
		recoverybot.KindTOTPLockout: "owner@example.com",
		recoverybot.KindIPLockout:   "owner@example.com",
	} {
		c := recoverybot.Case{Kind: kind, Contact: "new@example.org"}
		if got := c.CustomerAddress(p); got != want {
			t.Errorf("%s: mail goes to %q, want %q", kind, got, want)
		}
	}
}
