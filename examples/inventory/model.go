package main

import "maps"

// StockMoved is the one event type of the stream: Qty units of SKU entered
// (or, when negative, left) Warehouse.
type StockMoved struct {
	Warehouse string
	SKU       string
	Qty       int
}

// Level is the delta of the stock and SKU projections: the new level of the
// entry that an event changed.
type Level struct {
	Of    string // the SKU in a warehouse's stock, the warehouse in a SKU's
	Units int
}

// Stock is the read model of one warehouse.
type Stock struct {
	Units map[string]int // by SKU
	Total int
}

// Clone lets the runtime copy states without a msgpack round trip.
func (s Stock) Clone() Stock {
	s.Units = maps.Clone(s.Units)
	return s
}

// warehouseStock folds movements per warehouse.
type warehouseStock struct{}

func (warehouseStock) Name() string            { return "inventory.stock" }
func (warehouseStock) Key(e StockMoved) string { return e.Warehouse }
func (warehouseStock) Apply(s *Stock, e StockMoved) Level {
	if s.Units == nil {
		s.Units = map[string]int{}
	}
	s.Units[e.SKU] += e.Qty
	s.Total += e.Qty
	return Level{Of: e.SKU, Units: s.Units[e.SKU]}
}

// skuStock folds the same movements per article, across warehouses. It
// shares Stock as its state: there Units is keyed by warehouse.
type skuStock struct{}

func (skuStock) Name() string            { return "inventory.sku" }
func (skuStock) Key(e StockMoved) string { return e.SKU }
func (skuStock) Apply(s *Stock, e StockMoved) Level {
	if s.Units == nil {
		s.Units = map[string]int{}
	}
	s.Units[e.Warehouse] += e.Qty
	s.Total += e.Qty
	return Level{Of: e.Warehouse, Units: s.Units[e.Warehouse]}
}

// dashboardKey is the only key of the dashboard projection.
const dashboardKey = "all"

// Totals is the dashboard: the whole inventory in one snapshot.
type Totals struct {
	Units       int
	Movements   int
	ByWarehouse map[string]int
}

// Clone lets the runtime copy states without a msgpack round trip.
func (t Totals) Clone() Totals {
	t.ByWarehouse = maps.Clone(t.ByWarehouse)
	return t
}

// Movement is the dashboard's delta: the event and the inventory total
// after it.
type Movement struct {
	StockMoved
	Units int
}

// dashboard folds every movement into the one key "all", so that a screen
// can subscribe to a single channel for the whole inventory.
type dashboard struct{}

func (dashboard) Name() string          { return "inventory.dashboard" }
func (dashboard) Key(StockMoved) string { return dashboardKey }
func (dashboard) Apply(t *Totals, e StockMoved) Movement {
	if t.ByWarehouse == nil {
		t.ByWarehouse = map[string]int{}
	}
	t.ByWarehouse[e.Warehouse] += e.Qty
	t.Units += e.Qty
	t.Movements++
	return Movement{StockMoved: e, Units: t.Units}
}

// firstDay is the stream before the restart.
func firstDay() []StockMoved {
	return []StockMoved{
		{"berlin", "apple", 40},
		{"berlin", "pear", 25},
		{"lyon", "apple", 10},
		{"oslo", "plum", 12},
		{"berlin", "apple", -15},
		{"lyon", "pear", 8},
		{"lyon", "apple", -4},
	}
}

// secondDay is the stream after the restart.
func secondDay() []StockMoved {
	return []StockMoved{
		{"oslo", "plum", -5},
		{"berlin", "pear", -10},
		{"lyon", "apple", 20},
	}
}
