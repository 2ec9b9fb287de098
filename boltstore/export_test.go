package boltstore

// Fdatasync is the sync the write-ahead log makes after each frame, for the
// benchmarks that set the commit rate against the disk's raw sync rate.
var Fdatasync = fdatasync
