package tenantdb

import (
	"context"
	"strings"
	"testing"
)

// TestReceiveMessageNotifiesTheAdminsWhoOptedIn: a contact message is
// stored and, in the same transaction, one mail is queued for each admin
// who asked for them and for nobody else; a message refused for a field
// stores and queues nothing.
func TestReceiveMessageNotifiesTheAdminsWhoOptedIn(t *testing.T) {
	ctx := context.Background()
	db := openTenant(t)
	admins := map[string]*Admin{}
	for _, e := range []string{"a@example.org", "b@example.org", "c@example.org"} {
		a := &Admin{Email: e, Role: RoleEditor, PasswordHash: testHash}
		must(t, db.AddAdmin(ctx, a))
		admins[e] = a
	}
	must(t, db.SetNotifyMessages(ctx, admins["a@example.org"].ID, true))
	must(t, db.SetNotifyMessages(ctx, admins["c@example.org"].ID, true))
	if on, err := db.NotifyMessages(ctx, admins["b@example.org"].ID); err != nil || on {
		t.Errorf("b's setting: %v %v, want off", on, err)
	}
	compose := func(to string) OutMail {
		return OutMail{Kind: "contact_message", To: to, Subject: "New message", Text: "Someone wrote."}
	}
	if err := db.ReceiveMessage(ctx, &Message{Name: "V", Email: "v@example.org", Body: ""}, compose); field(err) != "body" {
		t.Errorf("an empty message: %v", err)
	}
	if out, _ := db.Outbox(ctx, Window{}); len(out) != 0 {
		t.Fatalf("a refused message queued %d mails", len(out))
	}
	m := &Message{Name: "Visitor", Email: "v@example.org", Subject: "Hello", Body: "When is the picnic?", IP: "192.0.2.1"}
	must(t, db.ReceiveMessage(ctx, m, compose))
	stored, err := db.Message(ctx, m.ID)
	if err != nil || stored.Body != m.Body || stored.Read {
		t.Errorf("stored: %+v %v", stored, err)
	}
	out, err := db.Outbox(ctx, Window{})
	must(t, err)
	var to []string
	for _, o := range out {
		to = append(to, o.To)
	}
	if got := strings.Join(to, " "); len(out) != 2 || !strings.Contains(got, "a@example.org") || !strings.Contains(got, "c@example.org") {
		t.Errorf("mails queued to %q, want a and c", got)
	}
}
