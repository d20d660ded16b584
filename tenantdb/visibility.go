package tenantdb

// Visibility is who may see a post, page or event (and, after the library
// work, a document or album) on the public site: everyone, or only the
// chapter's signed-in members. The column is NOT NULL with a CHECK, so a
// stored row always holds one of the two.
type Visibility string

const (
	// Public items are shown to every visitor, listed in feeds, the
	// sitemap and the calendar, and kept in the page cache.
	Public Visibility = "public"
	// Members items exist, for anyone who is not a signed-in member of
	// this chapter, nowhere: not in lists, counts, feeds, the sitemap or
	// the calendar, and their addresses answer 404.
	Members Visibility = "members"
)

// Visibilities are the values a Visibility may take, for forms.
var Visibilities = []Visibility{Public, Members}

// VisibleTo reports whether an item of visibility v may be shown to a
// visitor who is (member) or is not a signed-in member of the chapter.
// Anything but Public is treated as Members: an item that somehow carries
// no visibility stays hidden rather than leaks.
func (v Visibility) VisibleTo(member bool) bool { return v == Public || member }

// check validates v for field, an empty v becoming Public (an API client
// that sends no visibility creates a public item, as before the column
// existed; an update keeps the stored value, see the API's PATCH).
func (v *Visibility) check(field string) error {
	switch *v {
	case "":
		*v = Public
	case Public, Members:
	default:
		return invalid(field, "%q is not one of public, members", string(*v))
	}
	return nil
}

// publicOnlyCond is the SQL condition of the rows an anonymous visitor may
// see, for the queries that take a PublicOnly flag.
const publicOnlyCond = "visibility = 'public'"
