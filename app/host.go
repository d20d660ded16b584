package main

import (
	"errors"
	"strings"
)

var errBadHost = errors.New("malformed host")

// normalizeHost turns a Host header into the name routing compares: the port
// and one trailing dot stripped, lower-cased, every label 1-63 letters,
// digits or hyphens not at either end (internationalised names only in
// their xn-- form), 253 characters at most. Anything else is errBadHost.
func normalizeHost(h string) (string, error) {
	if i := strings.LastIndexByte(h, ':'); i >= 0 {
		port := h[i+1:]
		if port == "" || len(port) > 5 || strings.Trim(port, "0123456789") != "" {
			return "", errBadHost
		}
		h = h[:i]
	}
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return "", errBadHost
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
				return "", errBadHost
			}
		case c == '.':
			if label == 0 {
				return "", errBadHost
			}
			label = 0
			continue
		default:
			return "", errBadHost
		}
		label++
		if label > 63 {
			return "", errBadHost
		}
	}
	if label == 0 {
		return "", errBadHost
	}
	return string(b), nil
}

// hostKind says what a normalised host is to the platform.
type hostKind int

const (
	hostUnknown  hostKind = iota
	hostPlatform          // the bare base domain: the platform's own pages
	hostTenant            // a tenant's platform subdomain or verified custom domain
)
