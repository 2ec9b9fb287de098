package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/livefold/livefold/store"
)

func getCommand() command {
	return command{
		name:     "get",
		synopsis: "[-timeout d] FILE PROJECTION KEY",
		summary:  "print one snapshot as JSON",
		help: `
Prints the snapshot of KEY in PROJECTION as one JSON object:

  {"key": ..., "version": ..., "updated_at": ..., "position": ..., "state": ...}

updated_at is RFC 3339 in UTC (null for the zero time). state is the record's
msgpack bytes decoded without the Go type: maps become objects (a Go struct is
an object of its field names; non-string map keys are written as fmt prints
them, binary keys in base64), []byte values become base64 strings, timestamps
RFC 3339 strings, NaN and infinities the strings "NaN", "+Inf", "-Inf".

The record is verified (format, checksum, version) first: a damaged record is
reported, never decoded, and a record of a projection none of whose records is
a livefold record (a bucket of a bbolt file that livefold did not write) is
reported as that. If the state is not decodable msgpack, the object has
"state": null, "state_msgpack" (the raw bytes in base64) and "state_error", and
the command exits with status 1. Give KEY after "--" if it starts with "-".

  -timeout d   wait at most d for a file locked by a writer (default 500ms)`,
		run: runGet,
	}
}

// snapshotJSON is the output of get.
type snapshotJSON struct {
	Key          string  `json:"key"`
	Version      uint64  `json:"version"`
	UpdatedAt    *string `json:"updated_at"`
	Position     uint64  `json:"position"`
	State        any     `json:"state"`
	StateMsgpack string  `json:"state_msgpack,omitempty"`
	StateError   string  `json:"state_error,omitempty"`
}

func runGet(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("get")
	timeout := timeoutFlag(fs)
	pos, err := parseArgs(fs, args, "FILE", "PROJECTION", "KEY")
	if err != nil {
		return err
	}
	file, projection, key := pos[0], pos[1], pos[2]
	if key == "" {
		return fmt.Errorf("%w: KEY must not be empty", errUsage)
	}
	st, err := e.openStore(file, *timeout, false)
	if err != nil {
		return err
	}
	defer st.Close()
	bucket, err := currentBucket(ctx, st, projection)
	if err != nil {
		return readError(file, err)
	}

	rec, found, err := st.Get(ctx, bucket, key)
	if errors.Is(err, store.ErrCorrupt) {
		// A damaged record, or one of a bucket another program wrote.
		if f, foreign, perr := probeForeign(ctx, st, bucket); perr == nil && foreign {
			return foreignProjectionError(file, f)
		}
	}
	if err != nil {
		return readError(file, err)
	}
	if !found {
		if err := checkProjection(ctx, st, file, bucket); err != nil {
			return err
		}
		return fmt.Errorf("%w: %s in projection %s of %s", errNoKey, displayKey(key), displayKey(projection), file)
	}

	out := snapshotJSON{
		Key:       key,
		Version:   rec.Version,
		UpdatedAt: jsonTime(rec.UpdatedAt),
		Position:  rec.Position,
	}
	state, serr := decodeState(rec.State)
	if serr != nil {
		out.StateMsgpack = base64.StdEncoding.EncodeToString(rec.State)
		out.StateError = serr.Error()
	} else {
		out.State = state
	}
	if err := writeJSON(e.stdout, out); err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("%w: %s key %s of %s: %w", errState, displayKey(projection), displayKey(key), file, serr)
	}
	return nil
}
