package webtest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// FillLists gives db n more of each kind of listed row (posts, events,
// officers, pages, images, messages, admins, members, outbox mails,
// documents, albums), for the paging tests.
func FillLists(t testing.TB, db *tenantdb.DB, n int) {
	t.Helper()
	ctx := context.Background()
	start := time.Date(2026, 6, 9, 19, 0, 0, 0, time.UTC)
	for i := range n {
		Must(t, db.SavePost(ctx, &tenantdb.Post{Title: fmt.Sprintf("Post %d", i), Body: "Body", Published: i%2 == 0}))
		Must(t, db.SaveEvent(ctx, &tenantdb.Event{Title: fmt.Sprintf("Meeting %d", i), StartsAt: start.AddDate(0, 0, i),
			EndsAt: start.AddDate(0, 0, i).Add(time.Hour), Timezone: "UTC"}))
		Must(t, db.SaveOfficer(ctx, &tenantdb.Officer{Name: fmt.Sprintf("Officer %d", i), Role: "Member"}))
		Must(t, db.SavePage(ctx, &tenantdb.Page{Title: fmt.Sprintf("Page %d", i), Body: "Body", Published: true}))
		Must(t, db.AddMedia(ctx, &tenantdb.Media{Name: fmt.Sprintf("image-%d.png", i), ContentType: "image/png", Width: 1, Height: 1},
			PNG(1, 1)))
		m := &tenantdb.Message{Name: "Visitor", Email: "v@example.org", Subject: fmt.Sprintf("Hello %d", i), Body: "How do I join?"}
		Must(t, db.AddMessage(ctx, m))
		Must(t, db.AddAdmin(ctx, &tenantdb.Admin{Email: fmt.Sprintf("editor%d@example.org", i), Role: tenantdb.RoleEditor, PasswordHash: "unused"}))
		Must(t, db.SaveMember(ctx, &tenantdb.Member{Email: fmt.Sprintf("member%d@example.org", i), Name: fmt.Sprintf("Member %d", i)}))
		Must(t, db.QueueMail(ctx, tenantdb.OutMail{Kind: "test", To: fmt.Sprintf("member%d@example.org", i), Subject: "Hello", Text: "Hello"}))
		Must(t, db.AddDocument(ctx, &tenantdb.Document{Title: fmt.Sprintf("Minutes %d", i), Category: "minutes", Dated: "2026-05-12",
			Filename: "minutes.pdf", Visibility: tenantdb.Public}, []byte("%PDF-1.4\n%%EOF\n")))
		Must(t, db.SaveAlbum(ctx, &tenantdb.Album{Title: fmt.Sprintf("Album %d", i), Dated: "2026-05-12", Visibility: tenantdb.Public}))
	}
}
