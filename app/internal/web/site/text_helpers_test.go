package site

import (
	"testing"

	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// TestTelURL checks the tel: link: digits and a leading + only, and no
// link for fewer than three of them.
func TestTelURL(t *testing.T) {
	for _, tc := range []struct{ phone, want string }{
		{"(708) 555-0142", "tel:7085550142"},
		{"+1 (312) 999-9999", "tel:+13129999999"}, // every digit, 0 to 9, kept
		{"+1 708 555 0142", "tel:+17085550142"},
		{"708+555", "tel:708555"}, // a + inside is dropped
		{"12", ""},
		{"+12", "tel:+12"}, // three characters, the + counted
		{"123", "tel:123"},
		{"", ""},
		{"0", ""},
		{"javascript:alert(1)", ""}, // one digit: no link
		{"9/8", ""},
	} {
		if got := string(telURL(tc.phone)); got != tc.want {
			t.Errorf("telURL(%q) = %q, want %q", tc.phone, got, tc.want)
		}
	}
}

// TestInitials checks the initials shown for an officer without a photo.
func TestInitials(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{"Maria Delgado", "MD"},
		{"maria de la cruz", "MC"},
		{"Cher", "C"},
		{"  Ángela   Brooks ", "ÁB"},
		{"", ""},
	} {
		if got := initials(tc.name); got != tc.want {
			t.Errorf("initials(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestFieldMessage checks how a contact form error is worded for a
// visitor: the field's label, the rule and a full stop; a friendlier line
// for an email that is not one; the field's name for an unknown field.
func TestFieldMessage(t *testing.T) {
	for _, tc := range []struct {
		field, msg, want string
	}{
		{"name", "is required", "Your name is required."},
		{"body", "must be at most 5000 characters", "Message must be at most 5000 characters."},
		{"email", "is not an email address", "Your email does not look like an email address (like name@example.com)."},
		{"email", "is required", "Your email is required."},
		{"subject", "is too long", "Subject is too long."},
		{"phone", "is required", "phone is required."},
	} {
		if got := fieldMessage(&tenantdb.ValidationError{Field: tc.field, Message: tc.msg}); got != tc.want {
			t.Errorf("fieldMessage(%s, %q) = %q, want %q", tc.field, tc.msg, got, tc.want)
		}
	}
}

// TestMenuMarksTheCurrentSection checks the main menu: the fixed
// sections, the menu pages before Contact, only the current one marked.
func TestMenuMarksTheCurrentSection(t *testing.T) {
	p := sitePage{Path: "/p/hall", Nav: []tenantdb.Page{{Slug: "hall", Title: "Hall"}, {Slug: "faq", Title: "FAQ"}}}
	got := p.Menu()
	want := []menuItem{{"/", "Home", false}, {"/about", "About", false}, {"/news", "News", false}, {"/events", "Events", false},
		{"/p/hall", "Hall", true}, {"/p/faq", "FAQ", false}, {"/contact", "Contact", false}}
	if len(got) != len(want) {
		t.Fatalf("Menu() = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("Menu()[%d] = %v, want %v", i, got[i], want[i])
		}
	}
}
