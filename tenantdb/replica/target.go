package replica

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path"
	"path/filepath"
	"strings"

	"github.com/benbjohnson/litestream"
	"github.com/benbjohnson/litestream/file"
	_ "github.com/benbjohnson/litestream/s3" // registers s3:// with litestream

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Target is where replicas go: a directory (file:///abs/dir), a NATS
// JetStream object store bucket (nats://[user:pass@]host:port/bucket) or
// S3-compatible storage (s3://bucket/prefix?endpoint=...). Each database
// gets its own prefix under it: <tenant id>/ or catalog/.
type Target struct {
	raw    string
	u      *url.URL
	scheme string
	nats   natsShared // the connection of every NATS client (natsclient.go)
}

// ParseURL reads a --replica URL. Its errors say what is wrong with it.
func ParseURL(s string) (*Target, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("replica URL %q: %v", redact(s), err)
	}
	t := &Target{raw: s, u: u, scheme: u.Scheme}
	switch u.Scheme {
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return nil, fmt.Errorf("replica URL %q: a file:// URL names a local directory: file:///abs/dir", redact(s))
		}
		if u.Path == "" || !filepath.IsAbs(u.Path) {
			return nil, fmt.Errorf("replica URL %q: a file:// URL needs an absolute directory: file:///abs/dir", redact(s))
		}
	case "nats":
		bucket := strings.Trim(u.Path, "/")
		if u.Host == "" || bucket == "" || strings.Contains(bucket, "/") {
			return nil, fmt.Errorf("replica URL %q: want nats://[user:pass@]host:port/bucket (one path element, the bucket)", redact(s))
		}
	case "s3":
		if u.Host == "" {
			return nil, fmt.Errorf("replica URL %q: want s3://bucket[/prefix][?endpoint=...]", redact(s))
		}
	case "":
		return nil, fmt.Errorf("replica URL %q: no scheme; use file:///abs/dir, nats://host:port/bucket or s3://bucket/prefix", redact(s))
	default:
		return nil, fmt.Errorf("replica URL %q: scheme %q is not one of file, nats, s3", redact(s), u.Scheme)
	}
	return t, nil
}

// String is the URL without its password.
func (t *Target) String() string { return redact(t.raw) }

// Scheme is the target's kind: "file", "nats" or "s3".
func (t *Target) Scheme() string { return t.scheme }

func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// client is a new Litestream replica client for the database name (a
// tenant id or "catalog"), not yet initialised.
func (t *Target) client(name string) (litestream.ReplicaClient, error) {
	switch t.scheme {
	case "file":
		return file.NewReplicaClient(filepath.Join(t.u.Path, name)), nil
	case "nats":
		return &natsClient{t: t, path: name}, nil
	default:
		u := *t.u
		u.Path = path.Join("/", u.Path, name)
		return litestream.NewReplicaClientFromURL(u.String())
	}
}

// Prepare makes sure the target can take replicas: the directory exists
// (it is created), the NATS bucket exists (it is created with file
// storage if missing; an operator who wants R3 creates it first), or the
// S3 bucket can be listed with the credentials given (AWS_ACCESS_KEY_ID
// and AWS_SECRET_ACCESS_KEY; it is not created: a bucket's region,
// policy and lifecycle are the operator's).
func (t *Target) Prepare(ctx context.Context) error {
	switch t.scheme {
	case "s3":
		c, err := t.client(CatalogName)
		if err != nil {
			return fmt.Errorf("replica %s: %w", t, err)
		}
		if err := c.Init(ctx); err != nil {
			return fmt.Errorf("replica %s: %w", t, err)
		}
		itr, err := c.LTXFiles(ctx, 0, 0, false)
		if err == nil {
			for itr.Next() {
			}
			err = itr.Close()
		}
		if err != nil {
			return fmt.Errorf("replica %s: cannot list the bucket (does it exist, and do AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY allow it?): %w", t, err)
		}
	case "nats":
		opts := []nats.Option{nats.Name("chapterhouse replica setup")}
		if t.u.User != nil {
			pw, _ := t.u.User.Password()
			opts = append(opts, nats.UserInfo(t.u.User.Username(), pw))
		}
		nc, err := nats.Connect("nats://"+t.u.Host, opts...)
		if err != nil {
			return fmt.Errorf("replica %s: %w", t, err)
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			return fmt.Errorf("replica %s: %w", t, err)
		}
		bucket := strings.Trim(t.u.Path, "/")
		if _, err := js.ObjectStore(ctx, bucket); err == nil {
			return nil
		} else if !errors.Is(err, jetstream.ErrBucketNotFound) {
			return fmt.Errorf("replica %s: bucket %s: %w", t, bucket, err)
		}
		if _, err := js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: bucket, Storage: jetstream.FileStorage}); err != nil && !errors.Is(err, jetstream.ErrBucketExists) {
			return fmt.Errorf("replica %s: creating bucket %s: %w", t, bucket, err)
		}
	}
	return nil
}
