package main

import (
	"context"
	"fmt"
	"os"
)

// postgres runs pgstore and the original runtime's algorithm on the
// PostgreSQL database LIVEFOLD_PG_URL names, at 1, 16 and 64 producers over
// the key space and at 64 on one hot key; each row is compared with
// pg-naive's. Without the variable the cells are skipped, and the report
// says so.
func (h *harness) postgres(ctx context.Context) {
	h.section("PostgreSQL: durable Apply through pgstore and the original runtime's algorithm")
	url := os.Getenv(pgURLEnv)
	if url == "" {
		h.note("PostgreSQL cells skipped: " + pgURLEnv + " is not set.")
		return
	}
	server, err := pgServer(ctx, url)
	if err != nil {
		h.fail("postgres", "server", err)
		return
	}
	h.note("PostgreSQL cells: " + server + ".")
	var kinds []systemKind
	for _, k := range pgKinds(url) {
		if h.cfg.uses(k.name, false) {
			kinds = append(kinds, k)
		}
	}
	keys := keyNames(h.cfg.keys)
	specs := []applySpec{}
	for _, p := range []int{1, 16, 64} {
		specs = append(specs, applySpec{group: "postgres", workload: fmt.Sprintf("pg apply p=%d keys=%d", p, len(keys)),
			producers: p, keys: keys, opts: openOptions{stateBytes: 100}, checkAll: true, base: pgBaseline})
	}
	specs = append(specs, applySpec{group: "postgres", workload: "pg apply p=64 keys=1 (hot key)",
		producers: 64, keys: keyNames(1), opts: openOptions{stateBytes: 100}, checkAll: true, base: pgBaseline})
	for _, s := range specs {
		for _, k := range kinds {
			h.applyCell(ctx, k, s)
		}
	}
}
