package meta

import (
	"fmt"
	"math"
)

// MaxEpoch is the largest epoch a client may set (PUT /epoch, a restored document, a proxy's
// epoch in a recovery). Every change adds to the global epoch, and undermoon proxies ignore
// any change whose epoch is not above the one they hold, so an epoch that wraps past 2^64-1
// would silence every proxy for good. Capping what is set at 2^63 leaves 2^63 changes of room.
const MaxEpoch uint64 = 1 << 63

// CheckEpoch refuses an epoch that leaves no room to grow.
func CheckEpoch(what string, e uint64) error {
	if e > MaxEpoch {
		return fmt.Errorf("%w: %s %d is above 2^63", ErrEpochOutOfRange, what, e)
	}
	return nil
}

// AddEpoch is e + n, or ErrEpochExhausted when the sum would wrap.
func AddEpoch(e, n uint64) (uint64, error) {
	if e > math.MaxUint64-n {
		return e, ErrEpochExhausted
	}
	return e + n, nil
}
