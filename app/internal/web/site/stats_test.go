package site

import (
	"testing"
	"time"
)

// TestSaltChangesDaily: one salt a UTC day, so a visitor's hash is the
// same all day and another the next day; and another chapter's.
func TestSaltChangesDaily(t *testing.T) {
	var vc visitCounter
	day := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	const addr = "203.0.113.7"
	agent := sumAgent("Mozilla/5.0 Firefox/128.0")
	morning := vc.salt(day.Add(time.Hour))
	evening := vc.salt(day.Add(23*time.Hour + 59*time.Minute))
	next := vc.salt(day.Add(24 * time.Hour))
	if morning != evening || morning.day != "2026-12-03" {
		t.Errorf("two salts in one day (%s, %s)", morning.day, evening.day)
	}
	if next == morning || next.day != "2026-12-04" || next.salt == morning.salt {
		t.Errorf("the next day kept the salt of %s", morning.day)
	}
	if morning.visitor("a", addr, agent) != evening.visitor("a", addr, agent) {
		t.Error("one visitor, two hashes in a day")
	}
	if next.visitor("a", addr, agent) == morning.visitor("a", addr, agent) {
		t.Error("the same hash on two days: visitors can be followed")
	}
	if morning.visitor("a", addr, agent) == morning.visitor("b", addr, agent) {
		t.Error("the same hash on two chapters")
	}
	if morning.visitor("a", addr, agent) == morning.visitor("a", "203.0.113.8", agent) ||
		morning.visitor("a", addr, agent) == morning.visitor("a", addr, sumAgent("Mozilla/5.0 Firefox/129.0")) {
		t.Error("two addresses or two browsers, one visitor")
	}
	// A clock that goes back (a restart, NTP) gets a salt of its own day.
	if back := vc.salt(day.Add(time.Hour)); back.day != "2026-12-03" {
		t.Errorf("after going back: the salt of %s", back.day)
	}
}

func TestIsBot(t *testing.T) {
	var a agents
	for ua, want := range map[string]bool{
		"": true, "curl/8.5.0": true, "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)": true,
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0 Safari/537.36": true,
		"Go-http-client/1.1": true, "python-requests/2.31": true,
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Version/17.0 Mobile/15E148 Safari/604.1": false,
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0":                                    false,
	} {
		if got := isBot(ua); got != want {
			t.Errorf("isBot(%q) = %v, want %v", ua, got, want)
		}
		// Remembered: the second answer is the first.
		for range 2 {
			if got := a.lookup(ua); got.bot != want || !want && got.sum != sumAgent(ua) {
				t.Errorf("agents.lookup(%q) = %v, want bot %v and its digest", ua, got, want)
			}
		}
	}
}
