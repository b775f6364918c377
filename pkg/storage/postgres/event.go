package postgres

// Event types, as stored in sluice.events.type.
const (
	evGap      int16 = 0
	evCreate   int16 = 1
	evUpdate   int16 = 2
	evDelete   int16 = 3
	evProgress int16 = -1 // not stored: a bookmark marker in a watcher's queue
)

// event is one row of sluice.events. Once read or written it never changes.
type event struct {
	rv        int64
	key       string
	typ       int16
	value     []byte
	prevValue []byte
	prevRV    int64
	createRV  int64
}
