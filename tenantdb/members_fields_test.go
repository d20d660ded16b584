package tenantdb

import "testing"

// TestMemberSetFieldsByName: each name of MemberFields sets its own field
// and no other; a name not given leaves its field as it is.
func TestMemberSetFieldsByName(t *testing.T) {
	get := func(m *Member) map[string]string {
		return map[string]string{"email": m.Email, "name": m.Name, "phone": m.Phone, "address": m.Address,
			"qualification": m.Qualification, "status": m.Status, "renewal_date": m.RenewalDate}
	}
	if len(MemberFields) != len(get(&Member{})) {
		t.Fatalf("MemberFields %v: a field without a test", MemberFields)
	}
	for _, name := range MemberFields {
		m := Member{ID: 7, Email: "kept", Name: "kept", Phone: "kept", Address: "kept", Qualification: "kept", Status: "kept", RenewalDate: "kept", RemindedFor: "kept"}
		m.SetFields(func(n string) (string, bool) { return "set", n == name })
		for field, v := range get(&m) {
			if want := map[bool]string{true: "set", false: "kept"}[field == name]; v != want {
				t.Errorf("SetFields(%s): %s = %q, want %q", name, field, v, want)
			}
		}
		if m.ID != 7 || m.RemindedFor != "kept" {
			t.Errorf("SetFields(%s) changed the server's fields: %+v", name, m)
		}
	}
}
