package tenantdb

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestAlbumValidateChecksEveryField: an album's description and
// visibility are checked like any other field, and a photo's place takes
// the bounds it names, inclusive.
func TestAlbumValidateChecksEveryField(t *testing.T) {
	ok := Album{Title: "Picnic", Dated: "2026-07-04", Description: "Fun", Visibility: Public}
	if err := ok.Validate(); err != nil {
		t.Fatalf("a sound album: %v", err)
	}
	long := ok
	long.Description = strings.Repeat("x", 5001)
	if f := field(long.Validate()); f != "description" {
		t.Errorf("a description of 5001 characters: field %q, want description", f)
	}
	bad := ok
	bad.Visibility = "everyone"
	if f := field(bad.Validate()); f != "visibility" {
		t.Errorf("visibility %q: field %q, want visibility", bad.Visibility, f)
	}
	for _, pos := range []int{-1_000_000, 0, 1_000_000} {
		p := AlbumPhoto{Position: pos, Caption: strings.Repeat("c", 500)}
		if err := p.Validate(); err != nil {
			t.Errorf("position %d, caption of 500: %v", pos, err)
		}
	}
	for _, pos := range []int{-1_000_001, 1_000_001} {
		p := AlbumPhoto{Position: pos}
		if f := field(p.Validate()); f != "position" {
			t.Errorf("position %d: field %q, want position", pos, f)
		}
	}
}

// albumPlaces is the photos of album id in order, as "media@place" joined
// by spaces.
func albumPlaces(t *testing.T, db *DB, id int64) string {
	t.Helper()
	photos, err := db.AlbumPhotos(context.Background(), id, 0)
	must(t, err)
	var s []string
	for _, p := range photos {
		s = append(s, p.Media.ID+"@"+strconv.Itoa(p.Position))
	}
	return strings.Join(s, " ")
}

// addImages adds n small images to db's media library and returns their ids.
func addImages(t *testing.T, db *DB, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range ids {
		m := &Media{Name: "p.jpg", ContentType: "image/jpeg", Width: 10, Height: 10}
		must(t, db.AddMedia(context.Background(), m, []byte("jpeg")))
		ids[i] = m.ID
	}
	return ids
}

// TestAddAlbumPhotosAppendsAfterTheLast: new photos take the places after
// the album's last one, in the order given; a photo already in the album
// keeps its place and takes none.
func TestAddAlbumPhotosAppendsAfterTheLast(t *testing.T) {
	ctx := context.Background()
	db := openTenant(t)
	ids := addImages(t, db, 3)
	a := &Album{Title: "Parade", Dated: "2026-07-04"}
	must(t, db.SaveAlbum(ctx, a))
	must(t, db.AddAlbumPhotos(ctx, a.ID, ids[:1]))
	must(t, db.AddAlbumPhotos(ctx, a.ID, []string{ids[0], ids[1], ids[0], ids[2]}))
	got := albumPlaces(t, db, a.ID)
	want := []string{ids[0] + "@1", ids[1] + "@2", ids[2] + "@3"}
	if got != strings.Join(want, " ") {
		t.Errorf("places:\n got %v\nwant %v", got, want)
	}
}

// TestAlbumHoldsExactlyMaxAlbumPhotos: an album takes MaxAlbumPhotos
// photos, counting those it holds and not the ones already in it given
// again, and refuses one more without adding any of that call's photos.
func TestAlbumHoldsExactlyMaxAlbumPhotos(t *testing.T) {
	ctx := context.Background()
	db := openTenant(t)
	ids := addImages(t, db, MaxAlbumPhotos+1)
	a := &Album{Title: "Reunion", Dated: "2026-07-04"}
	must(t, db.SaveAlbum(ctx, a))
	must(t, db.AddAlbumPhotos(ctx, a.ID, ids[:10]))
	// The ten again, then the rest up to the limit: 500 in all.
	must(t, db.AddAlbumPhotos(ctx, a.ID, ids[:MaxAlbumPhotos]))
	if got, _ := db.Album(ctx, a.ID); got.Photos != MaxAlbumPhotos {
		t.Fatalf("%d photos, want %d", got.Photos, MaxAlbumPhotos)
	}
	err := db.AddAlbumPhotos(ctx, a.ID, ids[MaxAlbumPhotos-1:])
	if f := field(err); f != "media_ids" {
		t.Errorf("photo %d: %v (field %q), want a refusal of media_ids", MaxAlbumPhotos+1, err, f)
	}
	if got, _ := db.Album(ctx, a.ID); got.Photos != MaxAlbumPhotos {
		t.Errorf("after the refusal: %d photos, want %d", got.Photos, MaxAlbumPhotos)
	}
	// A full album can be put in any order: here, backwards.
	reversed := slices.Clone(ids[:MaxAlbumPhotos])
	slices.Reverse(reversed)
	must(t, db.OrderAlbumPhotos(ctx, a.ID, reversed))
	if photos, _ := db.AlbumPhotos(ctx, a.ID, 1); len(photos) != 1 || photos[0].Media.ID != reversed[0] {
		t.Errorf("after ordering the %d photos backwards the first is %+v, want %s", MaxAlbumPhotos, photos, reversed[0])
	}
}
