package recoverybot

// Template names one of the mails recoverybot sends about a case. The
// names are what the outbox records; a mail is always named by one of
// these constants, so that a misspelt name does not compile. Each exists
// in every locale of Locales (package outbound holds the templates and
// tests that each constant has its files and each file its constant).
type Template string

// The mails recoverybot sends about a case.
const (
	// TemplateInstructions opens a case: what to send, where, the
	// reference, and for the code kinds the code and how long it is
	// valid. Sent to the case's contact address. It can also announce a
	// new code that replaces the previous one.
	TemplateInstructions Template = "instructions"
	// TemplateOwnerNotice tells the profile's own address that a
	// lost-email case was opened, with the contact address masked, so
	// that a real owner can object by replying.
	TemplateOwnerNotice Template = "owner_notice"
	// TemplateAcknowledgement answers a customer's message: received,
	// and what is still missing.
	TemplateAcknowledgement Template = "acknowledgement"
	// TemplateUnderReview tells the customer that everything is there
	// and that an agent reviews it.
	TemplateUnderReview Template = "under_review"
	// TemplateApproved announces the approval and what was done.
	TemplateApproved Template = "approved"
	// TemplateRejected announces the rejection and its reason.
	TemplateRejected Template = "rejected"
	// TemplateAskAgain asks the customer to send one document again.
	TemplateAskAgain Template = "ask_again"
	// TemplateApprovalNotice tells the profile's own address that an
	// approval changed the profile.
	TemplateApprovalNotice Template = "approval_notice"
	// TemplateReminder reminds a customer whose case still waits for
	// evidence of what is missing.
	TemplateReminder Template = "reminder"
	// TemplateExpired tells the customer that the case expired without
	// complete evidence and is closed.
	TemplateExpired Template = "expired"
)

// Templates lists every template.
var Templates = []Template{TemplateInstructions, TemplateOwnerNotice, TemplateAcknowledgement, TemplateUnderReview,
	TemplateApproved, TemplateRejected, TemplateAskAgain, TemplateApprovalNotice, TemplateReminder, TemplateExpired}
