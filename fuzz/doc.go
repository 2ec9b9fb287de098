// Package fuzz holds livefold's Go native fuzz targets, one file each, with
// their seed corpora under testdata/fuzz:
//
//   - FuzzDecodeRecord: boltstore's record decoder on arbitrary bytes;
//   - FuzzModel: random sequences of Apply, ApplyBatch, Rebuild, Read and
//     reopen against an in-memory model;
//   - FuzzPatternMatch: pubsub's channel index against a plain matcher;
//   - FuzzLockMap: lockmap under random lock, unlock and cancel sequences.
//
// go test runs the corpora; go test -fuzz=FuzzModel ./fuzz explores further.
package fuzz
