package projection

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/livefold/livefold/store"
	"github.com/vmihailenco/msgpack/v5"
)

// metaBucket holds one record per projection that says which generation of
// its snapshots is current. A projection name is a channel token, which has
// no space, so no projection's bucket can be this one.
const metaBucket = "livefold generations"

// genSuffixRoom is what a generation's bucket name may add to the
// projection's name: " #" and up to 20 digits.
const genSuffixRoom = 22

// generation is one set of a projection's snapshots: the bucket that holds
// them and the cache of their decoded states. RebuildAll builds a new
// generation beside the current one and switches to it in one step.
type generation[S, D any] struct {
	n      uint64 // 0 for the projection's first generation
	bucket string
	cache  *cache[S, D]
}

// genBucket returns the bucket of generation n of the projection name: the
// name itself for the first, so files written before generations existed
// read as generation 0.
func genBucket(name string, n uint64) string {
	if n == 0 {
		return name
	}
	return name + " #" + strconv.FormatUint(n, 10)
}

// genMeta is the record of metaBucket for one projection.
type genMeta struct {
	Current  uint64 `msgpack:"current"`  // the generation reads and writes use
	Revision string `msgpack:"revision"` // the projection code's revision that built Current
	Building uint64 `msgpack:"building"` // a generation RebuildAll was building, 0 if none
	// Old is a previous generation not yet removed, if HasOld: after the
	// first RebuildAll it is 0, the projection's first generation, so 0
	// alone cannot mean none.
	Old    uint64 `msgpack:"old"`
	HasOld bool   `msgpack:"has_old"`
}

// leftovers returns the generations m names as left to remove.
func (m genMeta) leftovers() []uint64 {
	var gens []uint64
	if m.Building != 0 {
		gens = append(gens, m.Building)
	}
	if m.HasOld {
		gens = append(gens, m.Old)
	}
	return gens
}

// metaRecord is genMeta as stored, with the record version a write of it
// must expect.
type metaRecord struct {
	genMeta
	version, stamp uint64
}

// readMeta reads the projection's generation record; absent, it is the
// first generation with no revision.
func (r *Runtime[E, S, D]) readMeta(ctx context.Context) (metaRecord, error) {
	rec, ok, err := r.store.Get(ctx, metaBucket, r.name)
	if err != nil || !ok {
		return metaRecord{}, err
	}
	var m metaRecord
	if err := msgpack.Unmarshal(rec.State, &m.genMeta); err != nil {
		return metaRecord{}, fmt.Errorf("%w: projection %q: generation record: %w", ErrCorrupt, r.name, err)
	}
	m.version, m.stamp = rec.Version, rec.Stamp
	return m, nil
}

// writeMeta replaces the projection's generation record with m, if it is
// still the one read as old.
func (r *Runtime[E, S, D]) writeMeta(ctx context.Context, old metaRecord, m genMeta) (metaRecord, error) {
	b, err := msgpack.Marshal(&m)
	if err != nil {
		return old, fmt.Errorf("%w: generation record: %w", ErrEncode, err)
	}
	next := metaRecord{genMeta: m, version: old.version + 1, stamp: newStamp()}
	err = r.commit(ctx, []store.Write{{
		Bucket: metaBucket, Key: r.name, Expect: old.version, ExpectStamp: old.stamp,
		Record: store.Record{Version: next.version, Stamp: next.stamp, UpdatedAt: r.now(), State: b},
	}})
	if err != nil {
		return old, r.storeErr("", fmt.Errorf("generation record: %w", err))
	}
	return next, nil
}

// commit submits writes as one request and waits for its outcome, which it
// returns. Once queued it waits even if ctx ends: the writes may be durable.
func (r *Runtime[E, S, D]) commit(ctx context.Context, writes []store.Write) error {
	done := make(chan error, 1)
	if err := r.store.Submit(ctx, writes, func(err error) { done <- err }); err != nil {
		return err
	}
	return <-done
}

// current returns the generation in use.
func (r *Runtime[E, S, D]) current() *generation[S, D] { return r.gen.Load() }

// GenerationsBucket is the bucket in which a store records, per projection
// (the key is the projection's name), which generation of its snapshots is
// current. Tools that read a store (cmd/livefold) list it apart.
const GenerationsBucket = metaBucket

// Generations is what a store records of a projection's generations (see
// RebuildAll).
type Generations struct {
	// Current is the generation reads and writes use, and Bucket the bucket
	// that holds its snapshots: the projection's name for generation 0.
	Current uint64
	Bucket  string
	// Revision is the revision of the code that built Current (see
	// Revisioned); empty before the first RebuildAll.
	Revision string
	// Building is a generation a RebuildAll is building or was building
	// when its process stopped (0: none), and Leftover the buckets of
	// generations that are no longer current and not yet removed.
	Building uint64
	Leftover []string
}

// ReadGenerations returns what st records of the generations of the
// projection name; a projection never rebuilt has generation 0 and no
// record. Errors: the store's, and ErrCorrupt for a record it cannot read.
func ReadGenerations(ctx context.Context, st store.Store, name string) (Generations, error) {
	g := Generations{Bucket: name}
	rec, ok, err := st.Get(ctx, metaBucket, name)
	if err != nil || !ok {
		return g, err
	}
	var m genMeta
	if err := msgpack.Unmarshal(rec.State, &m); err != nil {
		return g, fmt.Errorf("%w: projection %q: generation record: %w", ErrCorrupt, name, err)
	}
	g.Current, g.Bucket, g.Revision, g.Building = m.Current, genBucket(name, m.Current), m.Revision, m.Building
	for _, n := range m.leftovers() {
		g.Leftover = append(g.Leftover, genBucket(name, n))
	}
	return g, nil
}

// GenerationOf returns the projection whose generation bucket names, and
// which generation it holds; ok is false when bucket is not a later
// generation's bucket (it may be a projection's first generation).
func GenerationOf(bucket string) (name string, n uint64, ok bool) {
	i := strings.LastIndex(bucket, " #")
	if i <= 0 {
		return "", 0, false
	}
	n, err := strconv.ParseUint(bucket[i+2:], 10, 64)
	if err != nil || n == 0 || genBucket(bucket[:i], n) != bucket {
		return "", 0, false
	}
	return bucket[:i], n, true
}
