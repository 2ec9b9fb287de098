package projection

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/livefold/livefold/pubsub"
)

// envelope is what a runtime publishes on its keys' channels. The type is
// unexported, and the bus delivers a message only to subscriptions of its
// exact type, so only a runtime's own subscriptions receive it: no raw bus
// subscriber, and so no user callback, can attach to the update path.
type envelope[S, D any] struct {
	// origin is the id of the runtime that committed the update. Runtimes of
	// one projection that share a store and a bus see each other's
	// envelopes; a subscription resyncs on a foreign one instead of
	// delivering it, as its seq belongs to another runtime's order.
	origin uint64
	// seq orders one runtime's envelopes in commit order across all keys; a
	// subscription uses it to drop updates older than a resync it sent.
	// Versions cannot serve: a rebuild may lower a key's version.
	seq  uint64
	kind envKind
	u    Update[S, D]
}

// envKind says what a subscription does with an envelope.
type envKind uint8

const (
	// envUpdate: deliver u.
	envUpdate envKind = iota
	// envStale: resync u.Key instead; u carries no state. The runtime
	// reloaded the key after another writer changed it, or committed it
	// before anyone subscribed.
	envStale
	// envRebuilt: RebuildAll switched generations; resync u.Key as a
	// KindRebuild (KindDeleted when it is gone).
	envRebuilt
	// envRebuiltScan: as envRebuilt, for subscriptions of every key that
	// have not resynced u.Key since the switch; the walk of both
	// generations after a switch sends one per key.
	envRebuiltScan
	// envSwitch, on the control channel: a subscription of every key
	// resyncs as a rebuild each key it meets, until envSwitchDone.
	envSwitch
	envSwitchDone
	// envResyncAll, on the control channel: a subscription of every key
	// resyncs every key, as it did at its start with WithInitialState; the
	// store's feed of other writers' commits was lost for a while.
	envResyncAll
)

// publisher hands a runtime's committed updates to the bus in commit order,
// on a goroutine of its own that runs only while there is something to
// deliver. Commits enqueue and return at once: no subscriber ever runs on, or
// is waited for by, the store's goroutine or a holder of a runtime lock.
// Delivery itself never waits either, as every subscription of envelopes
// drops its oldest message when its buffer is full (and resyncs).
type publisher[S, D any] struct {
	bus   *pubsub.Bus
	count *atomic.Uint64 // counts envelopes the bus accepted
	onErr func(u Update[S, D], err error)
	// seq is the last sequence number given out; published the highest seq
	// such that every envelope up to it has been handed to the bus.
	seq       atomic.Uint64
	published atomic.Uint64

	mu sync.Mutex // guards queue, spare and running
	// queue holds envelopes not yet delivered, in seq order; spare is the
	// delivery goroutine's last batch, reused to avoid allocating.
	queue, spare []queued[S, D]
	running      bool           // the delivery goroutine is running
	wg           sync.WaitGroup // the delivery goroutine, for wait
}

type queued[S, D any] struct {
	channel string
	env     envelope[S, D]
}

func newPublisher[S, D any](bus *pubsub.Bus, count *atomic.Uint64, onErr func(Update[S, D], error)) *publisher[S, D] {
	return &publisher[S, D]{bus: bus, count: count, onErr: onErr}
}

// push numbers env and queues it for channel, and returns its seq. Calls
// must come in commit order per key; the caller holds the key's shard lock,
// so that a reader of the key's state under that lock sees, with seq.Load,
// exactly which envelopes its state includes.
func (p *publisher[S, D]) push(channel string, env envelope[S, D]) uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	env.seq = p.seq.Add(1)
	p.queue = append(p.queue, queued[S, D]{channel: channel, env: env})
	if !p.running {
		p.running = true
		p.wg.Add(1)
		go p.run()
	}
	return env.seq
}

// run delivers batches until the queue is empty, then ends.
func (p *publisher[S, D]) run() {
	defer p.wg.Done()
	for {
		p.mu.Lock()
		if len(p.queue) == 0 {
			p.running = false
			p.mu.Unlock()
			return
		}
		batch := p.queue
		p.queue, p.spare = p.spare[:0], nil
		p.mu.Unlock()

		for i := range batch {
			q := &batch[i]
			_, err := pubsub.Publish(context.Background(), p.bus, q.channel, q.env)
			switch {
			case err == nil:
				p.count.Add(1)
			case !errors.Is(err, pubsub.ErrClosed): // a closed bus has nobody to tell
				p.onErr(q.env.u, err)
			}
			p.published.Store(q.env.seq)
		}
		clear(batch)
		p.mu.Lock()
		if p.spare == nil {
			p.spare = batch[:0]
		}
		p.mu.Unlock()
	}
}

// wait returns once the delivery goroutine, if running, has delivered
// everything queued and ended.
func (p *publisher[S, D]) wait() { p.wg.Wait() }
