package web

import "fmt"

// messages is the catalogue of one language: key -> text, with fmt verbs
// where F fills them in.
type messages map[string]string

// S is the text of key; the key itself when the catalogue lacks it (a
// test keeps both catalogues complete).
func (m messages) S(key string) string {
	if t, ok := m[key]; ok {
		return t
	}
	return key
}

// F is the text of key with args filled in.
func (m messages) F(key string, args ...any) string { return fmt.Sprintf(m.S(key), args...) }

// Or is the text of key, or fallback when the catalogue has none: for
// names the rest of recoverybot makes (audit actions, flags), shown as
// they are when we have no words for them.
func (m messages) Or(key, fallback string) string {
	if t, ok := m[key]; ok {
		return t
	}
	return fallback
}

// catalog holds the dashboard's languages; built by newCatalog, never
// changed after.
type catalog struct{ langs map[string]messages }

func (c catalog) in(lang string) messages {
	if m, ok := c.langs[lang]; ok {
		return m
	}
	return c.langs["fr"]
}

// has reports whether key is a message (of the French catalogue, which
// a test keeps equal in keys to the English one).
func (c catalog) has(key string) bool {
	_, ok := c.langs["fr"][key]
	return ok
}

func newCatalog() catalog {
	return catalog{langs: map[string]messages{"en": english(), "fr": french()}}
}

func english() messages {
	return messages{
		"search.placeholder": "Reference, profile or address (/)",
		"search.label":       "Search cases",
		"search.results":     "Cases matching “%s”.",
		"search.clear":       "Clear",
		"nav.logout":         "Log out",
		"nav.queues":         "Back to the queues",
		"keys.help":          "Keys: j/k next/previous case, Enter open, / search.",

		"login.title":           "Log in",
		"login.name":            "Name",
		"login.password":        "Password",
		"login.submit":          "Log in",
		"login.bad_credentials": "Wrong name or password.",
		"login.throttled":       "Too many failed logins. Wait a quarter of an hour and try again.",

		"error.title":              "Something is wrong",
		"error.not_found":          "No such case or document.",
		"error.needs_reason":       "Give a reason.",
		"error.illegal_transition": "The case is no longer in a state that allows this: reload it.",
		"error.no_code":            "This kind of case has no code.",
		"error.not_awaiting":       "The case is not awaiting evidence.",
		"error.bad_contact":        "That address is not usable.",
		"error.bad_agent":          "Your agent name is not usable.",
		"error.internal":           "Something failed on our side; it is logged. Try again or tell the operator.",

		"queue.title":      "Cases",
		"queue.tabs":       "Queues",
		"queue.empty":      "No case here.",
		"queue.ready":      "Ready for review",
		"queue.mine":       "Mine",
		"queue.unassigned": "Unassigned",
		"queue.waiting":    "Waiting on the customer",
		"queue.attention":  "Needs attention",
		"queue.closed":     "Closed",
		"queue.all":        "All",

		"col.ref":         "Reference",
		"col.kind":        "Kind",
		"col.holder_kind": "Holder",
		"col.state":       "State",
		"col.age":         "Age",
		"col.missing":     "Missing",
		"col.holder":      "Held by",
		"col.warnings":    "Warnings",

		"age.minutes": "%d min",
		"age.hours":   "%d h",
		"age.days":    "%d d",

		"warn.sender_unverified": "sender unverified",
		"warn.sender_failed":     "sender check failed",
		"warn.findings":          "%d document(s) with findings",

		"flag.code email bounced": "code email bounced",
		"flag.our mail bounced":   "our mail bounced",

		"attention.locked":        "Locked: too many wrong codes.",
		"attention.bounced":       "Our mail to the customer bounced.",
		"attention.mail_failed":   "A mail to the customer could not be sent.",
		"attention.review":        "A message about this case went to the review folder.",
		"attention.action_failed": "The admin system refused or never answered the approval's action.",

		"kind.lost-email":   "lost email",
		"kind.totp-lockout": "2FA lockout",
		"kind.ip-lockout":   "IP lockout",

		"holder.individual":  "individual",
		"holder.company":     "company",
		"holder.association": "association",

		"state.awaiting_evidence": "awaiting evidence",
		"state.ready_for_review":  "ready for review",
		"state.approved":          "approved",
		"state.rejected":          "rejected",
		"state.locked":            "locked",
		"state.expired":           "expired",
		"state.cancelled":         "cancelled",

		"req.identity_document":    "ID card or passport",
		"req.company_registration": "company registration (Kbis)",
		"req.association_statutes": "association statutes",
		"req.other":                "other document",
		"req.code":                 "verification code",
		"req.authenticated_sender": "authenticated sender",

		"doctype.identity_document":    "ID card or passport",
		"doctype.company_registration": "company registration (Kbis)",
		"doctype.association_statutes": "association statutes",
		"doctype.other":                "other",

		"sender.none":       "no message yet",
		"sender.verified":   "verified",
		"sender.unverified": "unverified",
		"sender.failed":     "failed",

		"coderesult.match":    "right code",
		"coderesult.mismatch": "wrong code",
		"coderesult.expired":  "right code, expired",
		"coderesult.used":     "code already used",

		"check.optional":       "not required for this kind",
		"code.verified_at":     "code verified on %s",
		"code.failed_attempts": "%d wrong code(s)",
		"code.expires_at":      "current code valid until %s",

		"case.held_by":    "held by %s",
		"case.profile":    "Profile",
		"case.decision":   "Decision",
		"case.checklist":  "What the case needs",
		"case.documents":  "Documents",
		"case.decide":     "Decide",
		"case.timeline":   "Timeline",
		"case.decided_by": "Decided by",
		"case.decided_at": "Decided on",
		"case.note":       "Note",
		"case.reason":     "Reason",
		"case.new_email":  "New email",
		"case.contact":    "Contact address",
		"case.opened":     "Opened by",
		"case.purged":     "Documents purged on",

		"profile.id":             "Profile",
		"profile.holder_name":    "Holder",
		"profile.holder_kind":    "Holder kind",
		"profile.representative": "Representative",
		"profile.email":          "Profile email",
		"profile.locale":         "Language",

		"doc.title":            "Document",
		"doc.no_preview":       "No preview; download the original.",
		"doc.purged":           "Purged: only the metadata is kept.",
		"doc.page":             "Page %d",
		"doc.preview_of":       "Preview of %s",
		"doc.all_pages":        "All pages",
		"doc.filename":         "File name",
		"doc.type":             "Type",
		"doc.does_not_count":   "does not count",
		"doc.media_type":       "Media type",
		"doc.size":             "Size",
		"doc.received":         "Received",
		"doc.signals":          "Signals",
		"doc.findings":         "Findings",
		"doc.download":         "Download the original",
		"doc.download_audited": "(recorded in the audit log)",
		"doc.none":             "No document yet.",

		"size.bytes": "%d B",
		"size.kib":   "%.1f KiB",
		"size.mib":   "%.1f MiB",

		"decide.note":          "Note",
		"decide.change_email":  "Change the profile's email to the contact address (%s)",
		"decide.approve":       "Approve",
		"decide.reject_reason": "Reason",
		"decide.reject_text":   "Words for the customer (optional, required for “other”)",
		"decide.reject":        "Reject",
		"decide.resend_code":   "Send a new code",
		"decide.reopen":        "Reopen",
		"decide.cancel_reason": "Reason for cancelling (not sent)",
		"decide.cancel":        "Cancel the case",
		"decide.closed":        "The case is closed.",

		"reject.unreadable":   "The document is unreadable.",
		"reject.expired":      "The identity document has expired.",
		"reject.wrong_person": "The document is not of the profile's holder or representative.",
		"reject.cropped":      "The document is cropped: part of it is missing.",
		"reject.incomplete":   "The documents sent are not all those required.",
		"reject.not_holder":   "We could not establish that you hold the account.",
		"reject.other":        "Other (write it below)",

		"mail.queued":     "Mail: %s",
		"mail.to":         "to",
		"mail.state":      "state",
		"mail.sent_at":    "sent",
		"mail.attempts":   "attempts",
		"mail.last_error": "last error",

		"template.instructions":    "instructions",
		"template.owner_notice":    "notice to the profile's address",
		"template.acknowledgement": "acknowledgement",
		"template.under_review":    "under review",
		"template.approved":        "approval",
		"template.rejected":        "rejection",
		"template.reminder":        "reminder",
		"template.expired":         "expiry",

		"mailstate.pending": "pending",
		"mailstate.sending": "sending",
		"mailstate.sent":    "sent",
		"mailstate.failed":  "failed",

		"action.case_opened":         "Case opened",
		"action.case_approved":       "Approved",
		"action.case_rejected":       "Rejected",
		"action.case_cancelled":      "Cancelled",
		"action.case_reopened":       "Reopened",
		"action.case_locked":         "Locked",
		"action.case_expired":        "Expired",
		"action.case_purged":         "Documents purged",
		"action.code_reissued":       "New code sent",
		"action.code_verified":       "Code verified",
		"action.code_rejected":       "Wrong code",
		"action.code_expired":        "Expired code",
		"action.document_viewed":     "Document viewed",
		"action.document_downloaded": "Document downloaded",
		"action.message_apply":       "Message taken",
		"action.message_record":      "Message recorded",
		"action.message_review":      "Message sent to review",
		"action.mail_bounced":        "Mail bounced",

		"detail.sender":               "sender",
		"detail.sender_status":        "sender check",
		"detail.sender_detail":        "Authentication-Results",
		"detail.code":                 "code result",
		"detail.reason":               "reason",
		"detail.note":                 "note",
		"detail.documents":            "documents",
		"detail.message":              "message",
		"detail.outcome":              "outcome",
		"detail.contact":              "contact",
		"detail.kind":                 "kind",
		"detail.profile":              "profile",
		"detail.effect":               "effect",
		"detail.flag":                 "flag",
		"detail.failed_code_attempts": "wrong codes",
		"detail.sha256":               "SHA-256",
		"detail.filename":             "file name",

		"flash.logged_out":  "You are logged out.",
		"flash.approved":    "Case approved; the customer will be told.",
		"flash.rejected":    "Case rejected; the customer will be told.",
		"flash.cancelled":   "Case cancelled.",
		"flash.code_resent": "A new code was sent; the former one no longer works.",
		"flash.reopened":    "Case reopened.",
	}
}

func french() messages {
	return messages{
		"search.placeholder": "Référence, profil ou adresse (/)",
		"search.label":       "Chercher des dossiers",
		"search.results":     "Dossiers correspondant à « %s ».",
		"search.clear":       "Effacer",
		"nav.logout":         "Se déconnecter",
		"nav.queues":         "Retour aux files",
		"keys.help":          "Touches : j/k dossier suivant/précédent, Entrée ouvrir, / chercher.",

		"login.title":           "Connexion",
		"login.name":            "Nom",
		"login.password":        "Mot de passe",
		"login.submit":          "Se connecter",
		"login.bad_credentials": "Nom ou mot de passe incorrect.",
		"login.throttled":       "Trop d'échecs de connexion. Attendez un quart d'heure et réessayez.",

		"error.title":              "Un problème est survenu",
		"error.not_found":          "Ce dossier ou ce document n'existe pas.",
		"error.needs_reason":       "Indiquez un motif.",
		"error.illegal_transition": "L'état du dossier ne permet plus cette action : rechargez-le.",
		"error.no_code":            "Ce type de dossier n'a pas de code.",
		"error.not_awaiting":       "Le dossier n'attend pas de pièces.",
		"error.bad_contact":        "Cette adresse n'est pas utilisable.",
		"error.bad_agent":          "Votre nom d'agent n'est pas utilisable.",
		"error.internal":           "Une erreur est survenue de notre côté ; elle est journalisée. Réessayez ou prévenez l'exploitant.",

		"queue.title":      "Dossiers",
		"queue.tabs":       "Files",
		"queue.empty":      "Aucun dossier ici.",
		"queue.ready":      "À examiner",
		"queue.mine":       "Les miens",
		"queue.unassigned": "Non attribués",
		"queue.waiting":    "En attente du client",
		"queue.attention":  "À surveiller",
		"queue.closed":     "Clos",
		"queue.all":        "Tous",

		"col.ref":         "Référence",
		"col.kind":        "Type",
		"col.holder_kind": "Titulaire",
		"col.state":       "État",
		"col.age":         "Âge",
		"col.missing":     "Manque",
		"col.holder":      "Pris par",
		"col.warnings":    "Alertes",

		"age.minutes": "%d min",
		"age.hours":   "%d h",
		"age.days":    "%d j",

		"warn.sender_unverified": "expéditeur non vérifié",
		"warn.sender_failed":     "expéditeur en échec",
		"warn.findings":          "%d document(s) avec anomalies",

		"flag.code email bounced": "le mail du code est revenu",
		"flag.our mail bounced":   "notre mail est revenu",

		"attention.locked":        "Verrouillé : trop de codes erronés.",
		"attention.bounced":       "Notre mail au client est revenu en erreur.",
		"attention.mail_failed":   "Un mail au client n'a pas pu être envoyé.",
		"attention.review":        "Un message sur ce dossier est parti dans le dossier de revue.",
		"attention.action_failed": "Le système d'administration a refusé l'action de l'approbation, ou n'a jamais répondu.",

		"kind.lost-email":   "email perdu",
		"kind.totp-lockout": "blocage 2FA",
		"kind.ip-lockout":   "blocage IP",

		"holder.individual":  "particulier",
		"holder.company":     "entreprise",
		"holder.association": "association",

		"state.awaiting_evidence": "en attente de pièces",
		"state.ready_for_review":  "à examiner",
		"state.approved":          "approuvé",
		"state.rejected":          "refusé",
		"state.locked":            "verrouillé",
		"state.expired":           "expiré",
		"state.cancelled":         "annulé",

		"req.identity_document":    "carte d'identité ou passeport",
		"req.company_registration": "extrait Kbis",
		"req.association_statutes": "statuts de l'association",
		"req.other":                "autre document",
		"req.code":                 "code de vérification",
		"req.authenticated_sender": "expéditeur authentifié",

		"doctype.identity_document":    "carte d'identité ou passeport",
		"doctype.company_registration": "extrait Kbis",
		"doctype.association_statutes": "statuts de l'association",
		"doctype.other":                "autre",

		"sender.none":       "aucun message encore",
		"sender.verified":   "vérifié",
		"sender.unverified": "non vérifié",
		"sender.failed":     "en échec",

		"coderesult.match":    "bon code",
		"coderesult.mismatch": "code erroné",
		"coderesult.expired":  "bon code, expiré",
		"coderesult.used":     "code déjà utilisé",

		"check.optional":       "non exigé pour ce type",
		"code.verified_at":     "code vérifié le %s",
		"code.failed_attempts": "%d code(s) erroné(s)",
		"code.expires_at":      "code actuel valable jusqu'au %s",

		"case.held_by":    "pris par %s",
		"case.profile":    "Profil",
		"case.decision":   "Décision",
		"case.checklist":  "Ce qu'il faut au dossier",
		"case.documents":  "Documents",
		"case.decide":     "Décider",
		"case.timeline":   "Historique",
		"case.decided_by": "Décidé par",
		"case.decided_at": "Décidé le",
		"case.note":       "Note",
		"case.reason":     "Motif",
		"case.new_email":  "Nouvel email",
		"case.contact":    "Adresse de contact",
		"case.opened":     "Ouvert par",
		"case.purged":     "Documents purgés le",

		"profile.id":             "Profil",
		"profile.holder_name":    "Titulaire",
		"profile.holder_kind":    "Type de titulaire",
		"profile.representative": "Représentant",
		"profile.email":          "Email du profil",
		"profile.locale":         "Langue",

		"doc.title":            "Document",
		"doc.no_preview":       "Pas d'aperçu ; téléchargez l'original.",
		"doc.purged":           "Purgé : seules les métadonnées restent.",
		"doc.page":             "Page %d",
		"doc.preview_of":       "Aperçu de %s",
		"doc.all_pages":        "Toutes les pages",
		"doc.filename":         "Nom du fichier",
		"doc.type":             "Type",
		"doc.does_not_count":   "ne compte pas",
		"doc.media_type":       "Type de média",
		"doc.size":             "Taille",
		"doc.received":         "Reçu",
		"doc.signals":          "Indices",
		"doc.findings":         "Anomalies",
		"doc.download":         "Télécharger l'original",
		"doc.download_audited": "(inscrit au journal d'audit)",
		"doc.none":             "Aucun document encore.",

		"size.bytes": "%d o",
		"size.kib":   "%.1f Kio",
		"size.mib":   "%.1f Mio",

		"decide.note":          "Note",
		"decide.change_email":  "Remplacer l'email du profil par l'adresse de contact (%s)",
		"decide.approve":       "Approuver",
		"decide.reject_reason": "Motif",
		"decide.reject_text":   "Message au client (facultatif, exigé pour « autre »)",
		"decide.reject":        "Refuser",
		"decide.resend_code":   "Envoyer un nouveau code",
		"decide.reopen":        "Rouvrir",
		"decide.cancel_reason": "Motif de l'annulation (non envoyé)",
		"decide.cancel":        "Annuler le dossier",
		"decide.closed":        "Le dossier est clos.",

		"reject.unreadable":   "Le document est illisible.",
		"reject.expired":      "La pièce d'identité est expirée.",
		"reject.wrong_person": "Le document n'est pas celui du titulaire ou du représentant du profil.",
		"reject.cropped":      "Le document est coupé : une partie manque.",
		"reject.incomplete":   "Les documents envoyés ne sont pas tous ceux demandés.",
		"reject.not_holder":   "Nous n'avons pas pu établir que vous êtes titulaire du compte.",
		"reject.other":        "Autre (à écrire ci-dessous)",

		"mail.queued":     "Mail : %s",
		"mail.to":         "à",
		"mail.state":      "état",
		"mail.sent_at":    "envoyé",
		"mail.attempts":   "tentatives",
		"mail.last_error": "dernière erreur",

		"template.instructions":    "instructions",
		"template.owner_notice":    "avis à l'adresse du profil",
		"template.acknowledgement": "accusé de réception",
		"template.under_review":    "en cours d'examen",
		"template.approved":        "approbation",
		"template.rejected":        "refus",
		"template.reminder":        "relance",
		"template.expired":         "expiration",

		"mailstate.pending": "en attente",
		"mailstate.sending": "en cours d'envoi",
		"mailstate.sent":    "envoyé",
		"mailstate.failed":  "en échec",

		"action.case_opened":         "Dossier ouvert",
		"action.case_approved":       "Approuvé",
		"action.case_rejected":       "Refusé",
		"action.case_cancelled":      "Annulé",
		"action.case_reopened":       "Rouvert",
		"action.case_locked":         "Verrouillé",
		"action.case_expired":        "Expiré",
		"action.case_purged":         "Documents purgés",
		"action.code_reissued":       "Nouveau code envoyé",
		"action.code_verified":       "Code vérifié",
		"action.code_rejected":       "Code erroné",
		"action.code_expired":        "Code expiré",
		"action.document_viewed":     "Document consulté",
		"action.document_downloaded": "Document téléchargé",
		"action.message_apply":       "Message pris en compte",
		"action.message_record":      "Message enregistré",
		"action.message_review":      "Message envoyé en revue",
		"action.mail_bounced":        "Mail revenu",

		"detail.sender":               "expéditeur",
		"detail.sender_status":        "vérification de l'expéditeur",
		"detail.sender_detail":        "Authentication-Results",
		"detail.code":                 "résultat du code",
		"detail.reason":               "motif",
		"detail.note":                 "note",
		"detail.documents":            "documents",
		"detail.message":              "message",
		"detail.outcome":              "issue",
		"detail.contact":              "contact",
		"detail.kind":                 "type",
		"detail.profile":              "profil",
		"detail.effect":               "effet",
		"detail.flag":                 "signalement",
		"detail.failed_code_attempts": "codes erronés",
		"detail.sha256":               "SHA-256",
		"detail.filename":             "nom du fichier",

		"flash.logged_out":  "Vous êtes déconnecté.",
		"flash.approved":    "Dossier approuvé ; le client sera prévenu.",
		"flash.rejected":    "Dossier refusé ; le client sera prévenu.",
		"flash.cancelled":   "Dossier annulé.",
		"flash.code_resent": "Un nouveau code a été envoyé ; l'ancien ne fonctionne plus.",
		"flash.reopened":    "Dossier rouvert.",
	}
}
