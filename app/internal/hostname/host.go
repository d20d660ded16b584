// Package hostname turns a Host header into the name routing compares.
package hostname

import (
	"errors"
	"strings"
)

var ErrBad = errors.New("malformed host")

// Normalize turns a Host header into the name routing compares: the port
// and one trailing dot stripped, lower-cased, every label 1-63 letters,
// digits or hyphens not at either end (internationalised names only in
// their xn-- form), 253 characters at most. Anything else is ErrBad.
func Normalize(h string) (string, error) {
	if i := strings.LastIndexByte(h, ':'); i >= 0 {
		port := h[i+1:]
		if port == "" || len(port) > 5 || strings.Trim(port, "0123456789") != "" {
			return "", ErrBad
		}
		h = h[:i]
	}
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return "", ErrBad
	}
	b := []byte(h)
	label := 0
	for i, c := range b {
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case 'A' <= c && c <= 'Z':
			b[i] = c + 'a' - 'A'
		case c == '-':
			if label == 0 || i+1 == len(b) || b[i+1] == '.' {
				return "", ErrBad
			}
		case c == '.':
			if label == 0 {
				return "", ErrBad
			}
			label = 0
			continue
		default:
			return "", ErrBad
		}
		label++
		if label > 63 {
			return "", ErrBad
		}
	}
	if label == 0 {
		return "", ErrBad
	}
	return string(b), nil
}
