package pgstore

// Channel returns the channel s's table's commits are announced on, for
// tests that find the connection listening on it.
func Channel(s *Store) string { return s.channel }
