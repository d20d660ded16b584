package tenantdb

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode"

	"github.com/chapterhouse/chapterhouse/tenantdb/sqlitefile"
)

// Site holds a chapter's settings: who it is, where and when it meets, how
// to join, and how its site looks.
type Site struct {
	Name           string       `json:"name"`
	Tagline        string       `json:"tagline"`
	About          string       `json:"about"` // markdown
	Address        string       `json:"address"`
	Phone          string       `json:"phone"`
	Email          string       `json:"email"`
	MeetingInfo    string       `json:"meeting_info"`    // markdown
	MembershipInfo string       `json:"membership_info"` // markdown
	SocialLinks    []SocialLink `json:"social_links"`
	AccentColor    string       `json:"accent_color"` // #rrggbb
	LogoID         string       `json:"logo_id"`
	HeroID         string       `json:"hero_id"`  // the home page's wide photo
	Timezone       string       `json:"timezone"` // IANA name
	// OfficersChange is the day of the year new officers take office,
	// MM-DD ("07-01"), "" for none.
	OfficersChange string `json:"officers_change"`
	// Banner is an announcement shown on every page of the site until
	// BannerUntil (nil: until it is cleared).
	Banner      string     `json:"banner"`
	BannerUntil *time.Time `json:"banner_until"`
	UpdatedAt   time.Time  `json:"updated_at"`
}

// BannerShown says whether the banner is on at now.
func (s *Site) BannerShown(now time.Time) bool {
	return s.Banner != "" && (s.BannerUntil == nil || now.Before(*s.BannerUntil))
}

// NextChangeover is the first day after day (YYYY-MM-DD) on which new
// officers take office, as a date; false when the site sets none.
func (s *Site) NextChangeover(day string) (time.Time, bool) {
	if s.OfficersChange == "" {
		return time.Time{}, false
	}
	today, err := time.Parse(DateLayout, day)
	if err != nil {
		return time.Time{}, false
	}
	for y := today.Year(); y <= today.Year()+1; y++ {
		t, err := time.Parse(DateLayout, fmt.Sprintf("%d-%s", y, s.OfficersChange))
		if err == nil && t.After(today) {
			return t, true
		}
	}
	return time.Time{}, false
}

// SocialLink is a labelled link to the chapter elsewhere.
type SocialLink struct {
	Label string `json:"label"`
	URL   string `json:"url"`
}

// DefaultAccent is the theme colour of a new site.
const DefaultAccent = "#1f4e79"

var colorPattern = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

// Validate checks every field of s.
func (s *Site) Validate() error {
	checks := []struct {
		field, value string
		min, max     int
	}{
		{"name", s.Name, 1, 200},
		{"tagline", s.Tagline, 0, 300},
		{"about", s.About, 0, 20000},
		{"address", s.Address, 0, 500},
		{"phone", s.Phone, 0, 50},
		{"email", s.Email, 0, 254},
		{"meeting_info", s.MeetingInfo, 0, 5000},
		{"membership_info", s.MembershipInfo, 0, 10000},
	}
	for _, c := range checks {
		if err := checkLen(c.field, c.value, c.min, c.max); err != nil {
			return err
		}
	}
	// The markdown fields also have the shape of markdown checked.
	for _, c := range []struct{ field, value string }{
		{"about", s.About}, {"meeting_info", s.MeetingInfo}, {"membership_info", s.MembershipInfo},
	} {
		if err := CheckMarkdown(c.field, c.value, MaxMarkdownChars); err != nil {
			return err
		}
	}
	if s.Email != "" {
		if err := ValidateEmail("email", s.Email); err != nil {
			return err
		}
	}
	if !colorPattern.MatchString(s.AccentColor) {
		return invalid("accent_color", "%q must be a colour like #1f4e79", s.AccentColor)
	}
	if _, err := time.LoadLocation(s.Timezone); err != nil || s.Timezone == "" || s.Timezone == "Local" {
		return invalid("timezone", "%q is not a time zone name like America/Chicago", s.Timezone)
	}
	if s.OfficersChange != "" {
		// 2024 is a leap year, so 02-29 is a day of the year.
		if t, err := time.Parse(DateLayout, "2024-"+s.OfficersChange); err != nil || t.Format("01-02") != s.OfficersChange {
			return invalid("officers_change", "%q is not a day of the year like 07-01", s.OfficersChange)
		}
	}
	if err := checkLen("banner", s.Banner, 0, 300); err != nil {
		return err
	}
	if strings.ContainsAny(s.Banner, "\r\n") {
		return invalid("banner", "must be one line")
	}
	if s.BannerUntil != nil && s.Banner == "" {
		return invalid("banner_until", "is set but there is no banner text")
	}
	if len(s.SocialLinks) > 20 {
		return invalid("social_links", "at most 20 links")
	}
	for _, l := range s.SocialLinks {
		if err := checkLen("social_links", l.Label, 1, 50); err != nil {
			return err
		}
		if err := ValidateWebURL("social_links", l.URL); err != nil {
			return err
		}
	}
	return nil
}

// ValidateWebURL accepts absolute http and https URLs only.
func ValidateWebURL(field, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(raw) > 2000 {
		return invalid(field, "%q must be a web address starting with https://", raw)
	}
	return nil
}

// emailDomain is the domain of an address as mail servers know it: dot-
// separated labels of letters, digits and hyphens (IDN letters too), so
// that "?", "&", "=" and "%" never pass for part of one.
var emailDomain = regexp.MustCompile(`^[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?(?:\.[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?)+$`)

// ValidateEmail accepts one bare address, name@example.org: RFC 5322 as
// net/mail parses it, with no display name, angle brackets, comments,
// quotes, spaces or control characters (so no CR/LF), and a domain of
// host-name labels. It guards every stored address (contact messages,
// admins, officers, the site's own), since they end up in mailto: links
// and mail headers.
func ValidateEmail(field, email string) error {
	bad := invalid(field, "%q is not an email address", email)
	if len(email) > 254 || strings.ContainsAny(email, "\"<>()[]\\,;: \t\r\n") || strings.ContainsFunc(email, unicode.IsControl) {
		return bad
	}
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Name != "" || addr.Address != email {
		return bad
	}
	at := strings.LastIndexByte(email, '@')
	if at < 1 || !emailDomain.MatchString(email[at+1:]) {
		return bad
	}
	return nil
}

const siteColumns = `name, tagline, about, address, phone, email, meeting_info, membership_info,
	social_links, accent_color, logo_id, timezone, updated_at, officers_change, banner, banner_until, hero_id`

// Site returns the site settings.
func (db *DB) Site(ctx context.Context) (Site, error) {
	var s Site
	var links, updated, until string
	var logo, hero sql.NullString
	err := db.queryRow(ctx, `SELECT `+siteColumns+` FROM site WHERE id = 1`).Scan(
		&s.Name, &s.Tagline, &s.About, &s.Address, &s.Phone, &s.Email, &s.MeetingInfo, &s.MembershipInfo,
		&links, &s.AccentColor, &logo, &s.Timezone, &updated, &s.OfficersChange, &s.Banner, &until, &hero)
	if err == sql.ErrNoRows {
		return Site{AccentColor: DefaultAccent, Timezone: "America/New_York", SocialLinks: []SocialLink{}}, nil
	}
	if err != nil {
		return s, err
	}
	s.LogoID, s.HeroID = logo.String, hero.String
	s.UpdatedAt = sqlitefile.ParseTime(updated)
	if until != "" {
		t := sqlitefile.ParseTime(until)
		s.BannerUntil = &t
	}
	if err := json.Unmarshal([]byte(links), &s.SocialLinks); err != nil || s.SocialLinks == nil {
		s.SocialLinks = []SocialLink{}
	}
	return s, nil
}

// UpdateSite validates and saves the site settings.
func (db *DB) UpdateSite(ctx context.Context, s *Site) error {
	if s.SocialLinks == nil {
		s.SocialLinks = []SocialLink{}
	}
	if err := s.Validate(); err != nil {
		return err
	}
	links, err := json.Marshal(s.SocialLinks)
	if err != nil {
		return err
	}
	s.UpdatedAt = db.now().UTC()
	until := ""
	if s.BannerUntil != nil {
		until = sqlitefile.FormatTime(*s.BannerUntil)
	}
	return db.write(ctx, func(tx *sql.Tx) error {
		if s.LogoID != "" {
			if err := mediaExists(ctx, tx, "logo_id", s.LogoID); err != nil {
				return err
			}
		}
		if s.HeroID != "" {
			if err := mediaExists(ctx, tx, "hero_id", s.HeroID); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO site (id, `+siteColumns+`) VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name, tagline = excluded.tagline, about = excluded.about,
			address = excluded.address, phone = excluded.phone, email = excluded.email,
			meeting_info = excluded.meeting_info, membership_info = excluded.membership_info,
			social_links = excluded.social_links, accent_color = excluded.accent_color,
			logo_id = excluded.logo_id, timezone = excluded.timezone, updated_at = excluded.updated_at,
			officers_change = excluded.officers_change, banner = excluded.banner, banner_until = excluded.banner_until,
			hero_id = excluded.hero_id`,
			s.Name, s.Tagline, s.About, s.Address, s.Phone, s.Email, s.MeetingInfo, s.MembershipInfo,
			string(links), s.AccentColor, nullString(s.LogoID), s.Timezone, sqlitefile.FormatTime(s.UpdatedAt),
			s.OfficersChange, s.Banner, until, nullString(s.HeroID))
		return err
	})
}

// mediaExists checks that a referenced image exists in this tenant.
func mediaExists(ctx context.Context, tx *sql.Tx, field, id string) error {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM media WHERE id = ?`, id).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return invalid(field, "no image %q in the media library", id)
	}
	return nil
}
