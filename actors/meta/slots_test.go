package meta

import (
	"reflect"
	"testing"
)

func TestSplitSlots(t *testing.T) {
	f := func(chunks int, want [][2]RangeList) {
		t.Helper()
		if got := SplitSlots(chunks); !reflect.DeepEqual(got, want) {
			t.Errorf("SplitSlots(%d) = %v, want %v", chunks, got, want)
		}
	}
	f(1, [][2]RangeList{{{{0, 8191}}, {{8192, 16383}}}})
	f(2, [][2]RangeList{{{{0, 4095}}, {{4096, 8191}}}, {{{8192, 12287}}, {{12288, 16383}}}})
	f(3, [][2]RangeList{{{{0, 2730}}, {{2731, 5461}}}, {{{5462, 8192}}, {{8193, 10923}}}, {{{10924, 13653}}, {{13654, 16383}}}})
}

func TestSplitSlotsCoversEverySlotOnce(t *testing.T) {
	for chunks := 1; chunks <= 64; chunks++ {
		next := 0
		for _, parts := range SplitSlots(chunks) {
			for _, l := range parts {
				if len(l) != 1 || l[0][0] != next {
					t.Fatalf("%d chunks: range %v does not start at %d", chunks, l, next)
				}
				next = l[0][1] + 1
			}
		}
		if next != SlotCount {
			t.Fatalf("%d chunks: slots end at %d", chunks, next)
		}
	}
}

func TestCompact(t *testing.T) {
	f := func(in, want RangeList) {
		t.Helper()
		if got := in.Compact(); !reflect.DeepEqual(got, want) {
			t.Errorf("Compact(%v) = %v, want %v", in, got, want)
		}
	}
	f(RangeList{{5, 9}, {0, 4}}, RangeList{{0, 9}})
	f(RangeList{{9, 5}}, RangeList{{5, 9}})
	f(RangeList{{0, 10}, {3, 4}, {20, 30}}, RangeList{{0, 10}, {20, 30}})
	f(RangeList{{0, 1}, {3, 4}}, RangeList{{0, 1}, {3, 4}})
	f(RangeList{}, RangeList{})
}

func TestValidClusterName(t *testing.T) {
	f := func(name string, want bool) {
		t.Helper()
		if got := ValidClusterName(name); got != want {
			t.Errorf("ValidClusterName(%q) = %v", name, got)
		}
	}
	f("mydb", true)
	f("a@b_c-D9", true)
	f("1234567890123456789012345678901", true)
	f("12345678901234567890123456789012", false)
	f("", false)
	f("my.db", false)
	f("my/db", false)
}

func TestProxyHost(t *testing.T) {
	f := func(addr, host string, ok bool) {
		t.Helper()
		h, err := ProxyHost(addr)
		if (err == nil) != ok || h != host {
			t.Errorf("ProxyHost(%q) = %q, %v", addr, h, err)
		}
		if err != nil && Code(err) != "INVALID_PROXY_ADDRESS" {
			t.Errorf("ProxyHost(%q) error code %q", addr, Code(err))
		}
	}
	f("127.0.0.1:6000", "127.0.0.1", true)
	f("localhost1:6000", "localhost1", true)
	f("127.0.0.1", "", false)
	f("a:b:c", "", false)
	f(":6000", "", false)
	f("h:6000/x", "", false)
}

func TestApplyConfig(t *testing.T) {
	cfg, err := ApplyConfig(DefaultClusterConfig(), map[string]string{"compression_strategy": "Set_Get_Only", "migration_scan_count": "32"})
	if err != nil || cfg.CompressionStrategy != "set_get_only" || cfg.MigrationConfig.ScanCount != 32 {
		t.Fatalf("got %+v, %v", cfg, err)
	}
	f := func(changes map[string]string, key, msg string) {
		t.Helper()
		_, err := ApplyConfig(DefaultClusterConfig(), changes)
		ce, ok := err.(*ConfigError)
		if !ok || ce.Key != key || ce.Message != msg || Code(err) != "" && Code(err) != "INVALID_CONFIG" {
			t.Errorf("ApplyConfig(%v) = %v, want %s on %s", changes, err, msg, key)
		}
	}
	f(map[string]string{"compression_strategy": "zip"}, "compression_strategy", ConfigInvalidValue)
	f(map[string]string{"migration_scan_count": "0"}, "migration_scan_count", ConfigInvalidValue)
	f(map[string]string{"migration_max_blocking_time": "-1"}, "migration_max_blocking_time", ConfigInvalidValue)
	f(map[string]string{"colour": "blue"}, "colour", ConfigFieldNotFound)
}
