package tenantdb

import "context"

// Space is how a tenant's file uses its room, read in one snapshot.
type Space struct {
	PageSize  int64 // bytes
	Pages     int64 // the database's size in pages, WAL frames not yet checkpointed included
	FreePages int64 // pages on the freelist: deleted rows' room, reused before the file grows
	// MediaBytes and MessageBytes are the stored images' bytes and the
	// contact messages' text, without SQLite's overhead.
	MediaBytes int64 // the images and their smaller copies
	MediaCount int64
	// DocumentBytes are the document library's files.
	DocumentBytes int64
	DocumentCount int64
	MessageBytes  int64
	MessageCount  int64
}

// Used is the room the rows take: the file's pages less its free ones.
// The file on disk is never smaller, but SQLite fills free pages before
// it grows the file, so a deletion makes room at once.
func (s Space) Used() int64 { return (s.Pages - s.FreePages) * s.PageSize }

// Space reads how the tenant's file uses its room. It costs a few page
// reads plus one pass over the media and messages rows (not the images'
// bytes, which are stored after the columns read).
func (db *DB) Space(ctx context.Context) (Space, error) {
	var s Space
	err := db.queryRow(ctx, `SELECT
		(SELECT page_size FROM pragma_page_size()),
		(SELECT page_count FROM pragma_page_count()),
		(SELECT freelist_count FROM pragma_freelist_count()),
		(SELECT coalesce(sum(size), 0) FROM media) + (SELECT coalesce(sum(size), 0) FROM media_variants),
		(SELECT count(*) FROM media),
		(SELECT coalesce(sum(size), 0) FROM documents),
		(SELECT count(*) FROM documents),
		(SELECT coalesce(sum(length(CAST(name AS BLOB)) + length(CAST(email AS BLOB)) + length(CAST(subject AS BLOB))
			+ length(CAST(body AS BLOB)) + length(CAST(ip AS BLOB))), 0) FROM messages),
		(SELECT count(*) FROM messages)`).
		Scan(&s.PageSize, &s.Pages, &s.FreePages, &s.MediaBytes, &s.MediaCount, &s.DocumentBytes, &s.DocumentCount,
			&s.MessageBytes, &s.MessageCount)
	return s, err
}
