package boltstore

import (
	bolt "go.etcd.io/bbolt"
)

// openReadOnly opens an existing file and its log for reading only; see
// WithReadOnly. The Store it returns has no committer: Submit and Commit
// refuse before anything is queued, and Close only closes the file.
func openReadOnly(path string, cfg config) (*Store, error) {
	db, err := openBolt(osFS{}, path, &bolt.Options{
		ReadOnly:        true,
		Timeout:         lockTimeout(cfg.openTimeout),
		InitialMmapSize: cfg.initialMmapSize,
	}, cfg.openTimeout)
	if err != nil {
		return nil, err
	}
	s, err := readOnlyStore(db, path, cfg)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

// readOnlyStore reads the log files beside the open file into memory; they
// are read only now that the lock is held: no writer can append to them or
// fold them into the file until Close releases the lock. A log that Open
// would refuse is refused here too.
func readOnlyStore(db *bolt.DB, path string, cfg config) (*Store, error) {
	// A file without a fold point has the zero one, to which no log of the
	// current format belongs.
	fp, _, err := loadFoldPoint(db, path)
	if err != nil {
		return nil, err
	}
	sc, err := scanLogs(osFS{}, path, fp, false, false)
	if err != nil {
		return nil, err
	}
	s := newStore(db, path, cfg)
	s.readOnly = true
	s.overlay = newOverlay()
	s.overlay.replay(sc.writes)
	s.logRecords = len(sc.writes)
	return s, nil
}
