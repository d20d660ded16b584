package sqlitefile

import (
	"context"
	"errors"
	"hash/fnv"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// LockFile serialises migrations across processes. Each database owns
// one byte of it (by hash of its name) under an open file description lock:
// unlike POSIX record locks, those are not dropped when the process closes
// some other descriptor of the file, and unlike flock they lock ranges, so
// unrelated tenants Migrate in parallel.
const LockFile = ".migrate.lock"

// LockMigration takes the cross-process migration lock of name in dir,
// waiting until ctx is done.
func LockMigration(ctx context.Context, dir, name string) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(dir, LockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	h := fnv.New64a()
	h.Write([]byte(name))
	lk := unix.Flock_t{
		Type:   unix.F_WRLCK,
		Whence: 0,
		Start:  int64(h.Sum64() >> 2), // a positive offset
		Len:    1,
	}
	wait := time.Millisecond
	for {
		err = unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLK, &lk)
		if err == nil {
			break
		}
		if !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EACCES) {
			f.Close()
			return nil, err
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 50*time.Millisecond)
	}
	return func() {
		lk.Type = unix.F_UNLCK
		unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLK, &lk)
		f.Close()
	}, nil
}
