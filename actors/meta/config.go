package meta

import (
	"sort"
	"strconv"
	"strings"
)

// Messages of a ConfigError.
const (
	ConfigFieldNotFound = "FIELD_NOT_FOUND"
	ConfigInvalidValue  = "INVALID_VALUE"
)

// ApplyConfig returns cfg with the changes of PATCH /clusters/config applied, all or nothing.
// Keys are lower-cased; numbers arrive as strings, as undermoon requires.
func ApplyConfig(cfg ClusterConfig, changes map[string]string) (ClusterConfig, error) {
	keys := make([]string, 0, len(changes))
	for k := range changes {
		keys = append(keys, k)
	}
	sort.Strings(keys) // report the same offending key every time
	for _, k := range keys {
		v := changes[k]
		bad := &ConfigError{Key: k, Value: v, Message: ConfigInvalidValue}
		num := func(dst *uint64, positive bool) error {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			if err != nil || (positive && n == 0) {
				return bad
			}
			*dst = n
			return nil
		}
		var err error
		switch strings.ToLower(k) {
		case "compression_strategy":
			switch s := strings.ToLower(v); s {
			case "disabled", "set_get_only", "allow_all":
				cfg.CompressionStrategy = s
			default:
				err = bad
			}
		case "migration_max_migration_time":
			err = num(&cfg.MigrationConfig.MaxMigrationTime, false)
		case "migration_max_blocking_time":
			err = num(&cfg.MigrationConfig.MaxBlockingTime, false)
		case "migration_scan_interval":
			err = num(&cfg.MigrationConfig.ScanInterval, false)
		case "migration_scan_count":
			err = num(&cfg.MigrationConfig.ScanCount, true)
		default:
			err = &ConfigError{Key: k, Value: v, Message: ConfigFieldNotFound}
		}
		if err != nil {
			return cfg, err
		}
	}
	return cfg, nil
}
