package recoverybot

// Action is what an approval asks the admin system to do.
type Action string

// The actions.
const (
	ActionDisableTOTP      Action = "disable_totp"
	ActionClearIPAllowlist Action = "clear_ip_allowlist"
	ActionChangeEmail      Action = "change_email"
	ActionTellEmail        Action = "tell_email"
)
