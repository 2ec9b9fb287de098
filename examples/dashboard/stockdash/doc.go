// Package stockdash is the dashboard of livefold's examples: one web page
// that shows a warehouse's stock live, and the server behind it, over any
// [store.Store]. The page follows the projection's Server-Sent Events
// stream and its buttons POST movements that the server dispatches to the
// runtime, so every open page updates without a reload.
//
// Two commands serve it: examples/dashboard on a bbolt file, and
// pgstore/examples/dashboard on PostgreSQL, where several instances share
// one database and a movement posted to one shows on the pages of all.
// Package stockdashtest drives the page in a headless browser for tests.
//
// # Routes
//
//	GET  /                      the page (?warehouse=KEY, default berlin)
//	GET  /stock/{key}           a warehouse's snapshot as JSON
//	GET  /stock/{key}/events    the warehouse's live updates (Server-Sent Events)
//	POST /stock/{key}/moves     a movement (form fields sku and qty)
//	GET  /debug/vars            the process's expvar variables
//
// # Ownership
//
// [New] takes a store it does not own: close the store after the Server.
// [Serve] owns the HTTP server it runs and closes the Server when it
// returns.
package stockdash
