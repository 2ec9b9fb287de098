module github.com/livefold/livefold/bench

go 1.25.0

require (
	github.com/cskr/pubsub/v2 v2.0.2
	github.com/livefold/livefold v0.0.0
	github.com/mattn/go-sqlite3 v1.14.53
	go.etcd.io/bbolt v1.5.0
	go.uber.org/goleak v1.3.0
)

require (
	github.com/puzpuzpuz/xsync/v3 v3.5.1 // indirect
	github.com/vmihailenco/msgpack/v5 v5.4.1 // indirect
	github.com/vmihailenco/tagparser/v2 v2.0.0 // indirect
	golang.org/x/sys v0.45.0 // indirect
)

replace github.com/livefold/livefold => ../
