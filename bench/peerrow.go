package main

import (
	"os"
	"path/filepath"

	"github.com/vmihailenco/msgpack/v5"
)

// peerRow is what the key-value peers (pebble-*, badger-sync) store under a
// key, as a competent user of such a store would write it: the state and its
// version in one msgpack value, with the same msgpack module livefold
// encodes its states with.
type peerRow struct {
	State   account `msgpack:"state"`
	Version uint64  `msgpack:"version"`
}

// peerKey returns the store key of key: the projection's name as a prefix,
// as an application sharing the store with other data would write it.
func peerKey(key string) []byte { return []byte(projectionName + "/" + key) }

// encodePeerRow returns r's encoding in a new slice.
func encodePeerRow(r *peerRow) ([]byte, error) { return msgpack.Marshal(r) }

// decodePeerRow decodes v, which the caller may reuse afterwards: the
// decoded row shares no memory with it.
func decodePeerRow(v []byte) (peerRow, error) {
	var r peerRow
	err := msgpack.Unmarshal(v, &r)
	return r, err
}

// foldPeerRows folds events into the rows of the keys they touch, loading
// each key's row once through load, so that a batch writes every key once
// with its last state. It returns the keys in the order of their first
// event and their rows.
func foldPeerRows(f folder, events []event, load func(key string) (peerRow, error)) ([]string, map[string]*peerRow, error) {
	rows := make(map[string]*peerRow)
	var keys []string
	for _, e := range events {
		r, ok := rows[e.Key]
		if !ok {
			loaded, err := load(e.Key)
			if err != nil {
				return nil, nil, err
			}
			r = &loaded
			rows[e.Key] = r
			keys = append(keys, e.Key)
		}
		f.fold(&r.State, e)
		r.Version++
	}
	return keys, rows, nil
}

// dirFiles returns the files in the directory path, for the systems whose
// database is a directory.
func dirFiles(path string) []string {
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil
	}
	out := make([]string, 0, len(entries))
	for _, e := range entries {
		if !e.IsDir() {
			out = append(out, filepath.Join(path, e.Name()))
		}
	}
	return out
}
