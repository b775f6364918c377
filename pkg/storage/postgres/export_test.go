package postgres

import "k8s.io/apiserver/pkg/storage/value"

// SetTransformer replaces the value transformer, as the upstream suite's
// key-rotation and corrupt-data tests need.
func (s *Store) SetTransformer(t value.Transformer) { s.transformer.Store(&transformerBox{t}) }

// wrote tells the publisher that a row was written to the events table
// behind its back: it reads the table.
func (p *publisher) wrote() {
	p.mu.Lock()
	p.localWrite = true
	p.mu.Unlock()
	p.pokeDB()
}
