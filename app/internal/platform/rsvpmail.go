package platform

import (
	"fmt"

	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// RSVPMail composes the mails about RSVPs to event e of a chapter: the
// confirmation of a place or of a place on the waitlist, and the notice
// that a waited-for place came free. when words an RSVP's date; base is
// the site's scheme://host[:port]. The confirmation links to the
// attendee's own page, where they can cancel; the notice of a promotion
// cannot (only a hash of the link's secret is stored) and points to the
// confirmation. Without --smtp the mails wait in the outbox, like every
// other mail.
func (p *Platform) RSVPMail(siteName, siteEmail, base string, e tenantdb.Event, when func(tenantdb.RSVP) string) tenantdb.RSVPMail {
	return func(r tenantdb.RSVP) tenantdb.OutMail {
		title := oneLine(e.Title, 120)
		people := "1 person"
		if r.PartySize > 1 {
			people = fmt.Sprintf("%d people", r.PartySize)
		}
		var subject, lead string
		switch {
		case r.Status == tenantdb.RSVPWaitlist:
			subject = "Waitlist: " + title
			lead = fmt.Sprintf("Every place at %s on %s is taken, so you are on the waitlist (%s). If places come free, they are yours and we write again.",
				title, when(r), people)
		case r.Token != "":
			subject = "You are on the list: " + title
			lead = fmt.Sprintf("Thank you, %s: you are on the list for %s on %s (%s).", oneLine(r.Name, 100), title, when(r), people)
		default:
			subject = "A place came free: " + title
			lead = fmt.Sprintf("Good news, %s: a place came free, and you are now on the list for %s on %s (%s).",
				oneLine(r.Name, 100), title, when(r), people)
		}
		paras := []string{lead}
		if e.Location != "" {
			paras = append(paras, "Where: "+oneLine(e.Location, 300))
		}
		parts := mailParts{
			Footer: fmt.Sprintf("You get this because this address answered an event of %s (%s).", siteName, base),
		}
		if r.Token != "" {
			paras = append(paras, "If your plans change, cancel on your RSVP's page, so that someone else can come:")
			parts.Link, parts.LinkText = base+"/rsvp/"+r.Token, "Your RSVP"
		} else {
			paras = append(paras, "If your plans change, cancel with the link in the first mail we sent you, so that someone else can come.")
		}
		parts.Paras = paras
		return tenantdb.OutMail{Kind: tenantdb.MailRSVP, To: r.Email, ReplyTo: siteEmail,
			Subject: oneLine(subject, 150), Text: parts.text(), HTML: parts.html()}
	}
}
