package tenantdb

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestMemberFieldsTakeTheirLimitsInclusively: each text field of a member
// takes exactly its limit, one more is refused naming the field, and one-
// line fields refuse a line break.
func TestMemberFieldsTakeTheirLimitsInclusively(t *testing.T) {
	base := Member{Email: "a@example.org", Name: "A"}
	for _, tc := range []struct {
		field string
		limit int
		set   func(*Member, string)
	}{
		{"name", 100, func(m *Member, v string) { m.Name = v }},
		{"phone", 50, func(m *Member, v string) { m.Phone = v }},
		{"address", 300, func(m *Member, v string) { m.Address = v }},
		{"qualification", 2000, func(m *Member, v string) { m.Qualification = v }},
	} {
		m := base
		tc.set(&m, strings.Repeat("é", tc.limit))
		if err := m.Validate(); err != nil {
			t.Errorf("%s of %d characters: %v", tc.field, tc.limit, err)
		}
		m = base
		tc.set(&m, strings.Repeat("é", tc.limit+1))
		if f := field(m.Validate()); f != tc.field {
			t.Errorf("%s of %d characters: field %q", tc.field, tc.limit+1, f)
		}
	}
	m := base
	m.Name = "Ann\nBcc: x@y.z"
	if f := field(m.Validate()); f != "name" {
		t.Errorf("a two-line name: field %q", f)
	}
	m = base
	m.RemindedFor = "2027-13-01"
	if f := field(m.Validate()); f != "reminded_for" {
		t.Errorf("a bad reminder date: field %q", f)
	}
	m = base
	m.Name, m.Status = "  Ann  ", ""
	if err := m.Validate(); err != nil || m.Name != "Ann" || m.Status != MemberActive {
		t.Errorf("trimmed and defaulted: %+v, %v", m, err)
	}
	for status, can := range map[string]bool{MemberActive: true, MemberInvited: true, MemberLapsed: false, MemberResigned: false} {
		if got := (Member{Status: status}).CanLogIn(); got != can {
			t.Errorf("CanLogIn(%s) = %v", status, got)
		}
	}
}

// TestApplicationValidateNamesEveryBadField: an application's errors come
// one per bad field, in the form's order, so the form can mark each.
func TestApplicationValidateNamesEveryBadField(t *testing.T) {
	a := Application{Name: "Ann\nX", Email: "not mail", Phone: strings.Repeat("1", 51), Address: strings.Repeat("a", 301),
		Qualification: "", IP: strings.Repeat("1", 65)}
	var got []string
	for _, err := range a.Validate() {
		got = append(got, field(err))
	}
	if want := "name email phone address qualification ip"; strings.Join(got, " ") != want {
		t.Errorf("fields %v, want %s", got, want)
	}
	ok := Application{Name: strings.Repeat("n", 100), Email: " ann@example.org ", Phone: strings.Repeat("1", 50),
		Address: strings.Repeat("a", 300), Qualification: strings.Repeat("q", 2000), IP: strings.Repeat("1", 64)}
	if errs := ok.Validate(); len(errs) != 0 || ok.Email != "ann@example.org" {
		t.Errorf("every field at its limit: %v (email %q)", errs, ok.Email)
	}
	empty := Application{}
	got = got[:0]
	for _, err := range empty.Validate() {
		got = append(got, field(err))
	}
	if want := "name email qualification"; strings.Join(got, " ") != want {
		t.Errorf("an empty form: fields %v, want %s", got, want)
	}
}

// TestRosterAndApplications: the roster is by name in any case; a
// deleted member or application is gone (a second delete is not found);
// an approved application becomes an active member and leaves the queue,
// unless its email is a member's already.
func TestRosterAndApplications(t *testing.T) {
	ctx := context.Background()
	db := openTenant(t)
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	for _, n := range []string{"carol", "Bob", "alice"} {
		must(t, db.SaveMember(ctx, &Member{Email: n + "@example.org", Name: n}))
	}
	ms, err := db.Members(ctx)
	must(t, err)
	var names []string
	for _, m := range ms {
		names = append(names, m.Name)
	}
	if strings.Join(names, " ") != "alice Bob carol" {
		t.Errorf("roster order: %v", names)
	}
	page, err := db.MembersIn(ctx, Window{Offset: 1, Limit: 1})
	if err != nil || len(page) != 1 || page[0].Name != "Bob" {
		t.Errorf("second page of one: %+v %v", page, err)
	}
	must(t, db.DeleteMember(ctx, ms[0].ID))
	if err := db.DeleteMember(ctx, ms[0].ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleting a member twice: %v", err)
	}
	if _, err := db.Member(ctx, ms[0].ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("a deleted member: %v", err)
	}

	dave := &Application{Name: "Dave", Email: "dave@example.org", Qualification: "Served 1990-94"}
	dup := &Application{Name: "Bobby", Email: "bob@example.org", Qualification: "Again"}
	gone := &Application{Name: "Eve", Email: "eve@example.org", Qualification: "?"}
	for _, a := range []*Application{dave, dup, gone} {
		must(t, db.AddApplication(ctx, a))
	}
	if err := db.AddApplication(ctx, &Application{Name: "X"}); field(err) != "email" {
		t.Errorf("an application without an email: %v", err)
	}
	must(t, db.DeleteApplication(ctx, gone.ID))
	if err := db.DeleteApplication(ctx, gone.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleting an application twice: %v", err)
	}
	approve := func(id int64) (m Member, err error) {
		werr := db.write(ctx, func(tx *sql.Tx) error {
			m, err = approveApplication(ctx, tx, id, "2027-12-31", now)
			return err
		})
		if err == nil {
			err = werr
		}
		return m, err
	}
	m, err := approve(dave.ID)
	if err != nil || m.ID == 0 || m.Status != MemberActive || m.RenewalDate != "2027-12-31" || m.Qualification != "Served 1990-94" {
		t.Errorf("approved: %+v, %v", m, err)
	}
	if _, err := approve(dup.ID); !errors.Is(err, ErrConflict) {
		t.Errorf("approving an email that is a member's: %v, want ErrConflict", err)
	}
	if _, err := approve(gone.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("approving a deleted application: %v, want ErrNotFound", err)
	}
	as, err := db.Applications(ctx)
	if err != nil || len(as) != 1 || as[0].ID != dup.ID {
		t.Errorf("applications left: %+v %v; want the duplicate only", as, err)
	}
}

// TestLapsedMemberLosesTheirLinks: a member who lapses loses their open
// login links with their sessions, so a link sent before does not work
// once they are active again.
func TestLapsedMemberLosesTheirLinks(t *testing.T) {
	ctx := context.Background()
	db := openTenant(t)
	m := &Member{Email: "sam@example.org", Name: "Sam"}
	must(t, db.SaveMember(ctx, m))
	old := linkFor(t, db, m.ID, "login")
	m.Status = MemberLapsed
	must(t, db.SaveMember(ctx, m))
	m.Status = MemberActive
	must(t, db.SaveMember(ctx, m))
	if _, _, err := db.UseMemberLink(ctx, old); !errors.Is(err, ErrLinkInvalid) {
		t.Errorf("a link sent before the lapse: %v, want ErrLinkInvalid", err)
	}
	if _, _, err := db.UseMemberLink(ctx, linkFor(t, db, m.ID, "login")); err != nil {
		t.Errorf("a new link: %v", err)
	}
}
