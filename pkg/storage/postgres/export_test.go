package postgres

import "k8s.io/apiserver/pkg/storage/value"

// SetTransformer replaces the value transformer, as the upstream suite's
// key-rotation and corrupt-data tests need.
func (s *Store) SetTransformer(t value.Transformer) { s.transformer.Store(&transformerBox{t}) }
