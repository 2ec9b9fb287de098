// Package fuzz holds livefold's Go native fuzz targets, one file each, with
// their seed corpora under testdata/fuzz:
//
//   - FuzzDecodeRecord: boltstore's record decoder on arbitrary bytes;
//   - FuzzModel: random sequences of Apply, ApplyBatch, Rebuild, Read,
//     evictions and reopen against an in-memory model, with a client that
//     subscribes, disconnects and resumes at its cursor and must always
//     end equal to the server;
//   - FuzzChannelToken: the escape of keys into channel tokens;
//   - FuzzPatternMatch: pubsub's channel index against a plain matcher;
//   - FuzzLockMap: lockmap under random lock, unlock and cancel sequences.
//
// go test runs the corpora; go test -fuzz=FuzzModel ./fuzz explores further.
package fuzz
