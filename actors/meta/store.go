package meta

import (
	"encoding/json"
	"fmt"
)

// OldStoreVersion is undermoon 0.3.0's format: no enable_ordered_proxy, no proxy index.
const OldStoreVersion = "mem-broker-0.1"

// ErrInvalidMetadata wraps what is wrong with a metadata document that cannot be restored.
var ErrInvalidMetadata = &Error{"INVALID_METADATA"}

// ParseStore reads a whole-state document (PUT /metadata, the meta file). The version is
// checked first (INVALID_META_VERSION); then every field must be present, as undermoon
// requires. allowOld accepts mem-broker-0.1 and upgrades it the way undermoon's script does.
// The epoch and the invariants are CheckStore's, which a restore calls next.
func ParseStore(data []byte, allowOld bool) (*MetaStore, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidMetadata, err)
	}
	var version string
	if err := json.Unmarshal(fields["version"], &version); err != nil {
		return nil, fmt.Errorf("%w: version: %v", ErrInvalidMetadata, err)
	}
	old := allowOld && version == OldStoreVersion
	if version != StoreVersion && !old {
		return nil, fmt.Errorf("%w: %q", ErrInvalidMetaVersion, version)
	}
	required := []string{"global_epoch", "clusters", "all_proxies", "failed_proxies", "failures", "enable_ordered_proxy"}
	if old {
		required = required[:5]
	}
	for _, f := range required {
		if v, ok := fields[f]; !ok || (f != "global_epoch" && f != "enable_ordered_proxy" && string(v) == "null") {
			return nil, fmt.Errorf("%w: field %s is required", ErrInvalidMetadata, f)
		}
	}
	var ms MetaStore
	if err := json.Unmarshal(data, &ms); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidMetadata, err)
	}
	ms.Version = StoreVersion
	for addr, m := range ms.Failures {
		if m == nil {
			delete(ms.Failures, addr)
		}
	}
	return &ms, nil
}

// CheckStore is what a restore checks after the version, in undermoon's order: the epoch
// (not above MaxEpoch, not below the current one: EPOCH_SMALLER_THAN_CURRENT), then every
// invariant (INVALID_METADATA). So a stale document is refused as stale, whatever else is
// wrong with it.
func CheckStore(ms *MetaStore, current uint64) error {
	if err := CheckStoreEpoch(ms, current); err != nil {
		return err
	}
	if err := Validate(ms); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidMetadata, err)
	}
	return nil
}

// CheckStoreEpoch is the epoch part of CheckStore.
func CheckStoreEpoch(ms *MetaStore, current uint64) error {
	if err := CheckEpoch("global_epoch", ms.GlobalEpoch); err != nil {
		return err
	}
	if ms.GlobalEpoch < current {
		return fmt.Errorf("%w: %d < %d", ErrEpochSmallerThanCurrent, ms.GlobalEpoch, current)
	}
	return nil
}
