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
// requires, and the state must keep every invariant (Validate). allowOld accepts
// mem-broker-0.1 and upgrades it the way undermoon's script does.
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
	if err := Validate(&ms); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidMetadata, err)
	}
	return &ms, nil
}
