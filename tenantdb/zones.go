package tenantdb

import (
	"sync"
	"time"
)

// zones remembers loaded time zones: time.LoadLocation reads and parses a
// tz file on every call, and every event read needs its zone.
var zones sync.Map // name -> *time.Location

// LoadZone is time.LoadLocation with the result kept for the life of the
// process (only successful loads are kept, so the set is bounded by the tz
// database).
func LoadZone(name string) (*time.Location, error) {
	if loc, ok := zones.Load(name); ok {
		return loc.(*time.Location), nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	zones.Store(name, loc)
	return loc, nil
}
