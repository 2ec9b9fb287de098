package stockdash

import "maps"

// StockMoved is the event the page's buttons send: Qty units of SKU entered
// (or, when negative, left) Warehouse.
type StockMoved struct {
	Warehouse string
	SKU       string
	Qty       int
}

// Stock is the read model the page shows: one warehouse's units by SKU.
// The JSON names are what the page's script reads.
type Stock struct {
	Units map[string]int `json:"units"`
	Total int            `json:"total"`
}

// Clone lets the runtime copy states without a msgpack round trip.
func (s Stock) Clone() Stock {
	s.Units = maps.Clone(s.Units)
	return s
}

// Change is the delta of one movement: enough for the page to update its
// copy of the state without the full snapshot.
type Change struct {
	SKU   string `json:"sku"`
	Qty   int    `json:"qty"`
	Units int    `json:"units"` // the SKU's units after the movement
	Total int    `json:"total"` // the warehouse's units after the movement
}

// warehouseStock folds movements per warehouse.
type warehouseStock struct{}

func (warehouseStock) Name() string            { return "dashboard.stock" }
func (warehouseStock) Key(e StockMoved) string { return e.Warehouse }
func (warehouseStock) Apply(s *Stock, e StockMoved) Change {
	if s.Units == nil {
		s.Units = map[string]int{}
	}
	s.Units[e.SKU] += e.Qty
	s.Total += e.Qty
	return Change{SKU: e.SKU, Qty: e.Qty, Units: s.Units[e.SKU], Total: s.Total}
}

// BroadcastEventName names the delta frames the page receives.
func (warehouseStock) BroadcastEventName() string { return "stock.moved" }
