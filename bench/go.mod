module github.com/livefold/livefold/bench

go 1.25.0

require (
	github.com/cskr/pubsub/v2 v2.0.2
	github.com/jackc/pgx/v5 v5.12.0
	github.com/livefold/livefold v0.0.0
	github.com/livefold/livefold/pgstore v0.0.0
	github.com/mattn/go-sqlite3 v1.14.53
	go.etcd.io/bbolt v1.5.0
	go.uber.org/goleak v1.3.0
)

require (
	github.com/jackc/pgpassfile v1.0.0 // indirect
	github.com/jackc/pgservicefile v0.0.0-20240606120523-5a60cdf6a761 // indirect
	github.com/jackc/puddle/v2 v2.2.3 // indirect
	github.com/puzpuzpuz/xsync/v3 v3.5.1 // indirect
	github.com/vmihailenco/msgpack/v5 v5.4.1 // indirect
	github.com/vmihailenco/tagparser/v2 v2.0.0 // indirect
	golang.org/x/sync v0.22.0 // indirect
	golang.org/x/sys v0.45.0 // indirect
	golang.org/x/text v0.41.0 // indirect
)

replace github.com/livefold/livefold => ../

replace github.com/livefold/livefold/pgstore => ../pgstore
