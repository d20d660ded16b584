package platform

import (
	"bytes"
	"fmt"
	"html/template"
	"strings"
	"unicode"

	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// The mails Chapterhouse writes: plain text, and the same in simple HTML.
// Everything a visitor typed goes into the bodies escaped (HTML) and into
// the subject on one line, so nothing they type can add a header or
// markup.

// MailOn reports whether the server sends mail (--smtp).
func (p *Platform) MailOn() bool { return p.Mail.Sender != nil }

// oneLine makes s a header-safe line of at most n characters: every
// control character (CR, LF, tab, ...) becomes a space.
func oneLine(s string, n int) string {
	s = strings.Join(strings.FieldsFunc(s, unicode.IsControl), " ")
	if r := []rune(strings.TrimSpace(s)); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return strings.TrimSpace(s)
}

var mailHTML = template.Must(template.New("mail").Parse(`<!doctype html>
<html><body style="font-family: sans-serif; line-height: 1.5">
{{range .Paras}}<p>{{.}}</p>
{{end}}{{if .Link}}<p><a href="{{.Link}}">{{.LinkText}}</a></p>
{{end}}{{if .Quote}}<blockquote style="border-left: 3px solid #ccc; margin: 0; padding-left: 1em; white-space: pre-wrap">{{.Quote}}</blockquote>
{{end}}<p style="color: #666; font-size: small">{{.Footer}}</p>
</body></html>`))

type mailParts struct {
	Paras          []string
	Link, LinkText string
	Quote          string
	Footer         string
}

func (m mailParts) text() string {
	var b strings.Builder
	for _, p := range m.Paras {
		b.WriteString(p + "\n\n")
	}
	if m.Link != "" {
		b.WriteString(m.Link + "\n\n")
	}
	if m.Quote != "" {
		for _, l := range strings.Split(strings.TrimRight(m.Quote, "\n"), "\n") {
			b.WriteString("> " + l + "\n")
		}
		b.WriteString("\n")
	}
	b.WriteString("-- \n" + m.Footer + "\n")
	return b.String()
}

func (m mailParts) html() string {
	var b bytes.Buffer
	if err := mailHTML.Execute(&b, m); err != nil {
		return ""
	}
	return b.String()
}

// ContactNotice composes the mail an opted-in admin gets for message m;
// base is the site's scheme://host[:port]. Its Reply-To is the visitor's
// address, so a reply goes to them.
func ContactNotice(siteName, base string, m *tenantdb.Message) func(to string) tenantdb.OutMail {
	return func(to string) tenantdb.OutMail {
		parts := mailParts{
			Paras: []string{fmt.Sprintf("%s <%s> sent a message through the contact form of %s:",
				oneLine(m.Name, 100), m.Email, siteName)},
			Quote:    m.Body,
			Link:     base + "/admin/messages",
			LinkText: "Open the inbox",
			Footer: fmt.Sprintf("You get this because you asked for a mail for each new message on %s. "+
				"Turn it off on the Messages page of the dashboard.", base),
		}
		subject := "New message"
		if m.Subject != "" {
			subject += ": " + m.Subject
		}
		return tenantdb.OutMail{Kind: tenantdb.MailContact, To: to, ReplyTo: m.Email,
			Subject: oneLine(subject, 150), Text: parts.text(), HTML: parts.html()}
	}
}

// ResetMail composes a password reset mail with the token's link.
func ResetMail(siteName, base string) func(to, token string) tenantdb.OutMail {
	return func(to, token string) tenantdb.OutMail {
		link := base + "/admin/reset?token=" + token
		parts := mailParts{
			Paras: []string{
				fmt.Sprintf("Someone (we hope you) asked to reset the password of %s for the dashboard of %s.", to, siteName),
				"To choose a new password, open this link within an hour. It works once.",
			},
			Link: link, LinkText: "Choose a new password",
			Footer: "If you did not ask for this, ignore this mail: your password stays as it is.",
		}
		return tenantdb.OutMail{Kind: tenantdb.MailPasswordReset, To: to,
			Subject: oneLine("Reset your password for "+siteName, 150), Text: parts.text(), HTML: parts.html()}
	}
}

// InviteMail composes an invitation to become an admin with role.
func InviteMail(siteName, base, inviter, role string) func(to, token string) tenantdb.OutMail {
	return func(to, token string) tenantdb.OutMail {
		what := "edit the site"
		if role == tenantdb.RoleOwner {
			what = "run the site, its admins included"
		}
		parts := mailParts{
			Paras: []string{
				fmt.Sprintf("%s invites you to %s of %s (%s), as %s.", inviter, what, siteName, base, role),
				"Open this link within 7 days to choose your password; then log in with this email address.",
			},
			Link: base + "/admin/invite?token=" + token, LinkText: "Accept the invitation",
			Footer: "If you do not know why you got this, ignore it: nothing happens unless the link is opened.",
		}
		return tenantdb.OutMail{Kind: tenantdb.MailAdminInvite, To: to,
			Subject: oneLine("You are invited to "+siteName, 150), Text: parts.text(), HTML: parts.html()}
	}
}
