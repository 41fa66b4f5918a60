package main

import "testing"

func TestProcsFloor(t *testing.T) {
	tests := []struct {
		name    string
		env     string
		current int
		want    int
	}{
		{"one core raised", "", 1, 2},
		{"two cores kept", "", 2, 0},
		{"many cores kept", "", 16, 0},
		{"explicit one kept", "1", 1, 0},
		{"explicit four kept", "4", 4, 0},
		{"junk variable ignored", "lots", 1, 2},
		{"zero variable ignored", "0", 1, 2},
	}
	for _, tt := range tests {
		if got := procsFloor(tt.env, tt.current); got != tt.want {
			t.Errorf("%s: procsFloor(%q, %d) = %d, want %d", tt.name, tt.env, tt.current, got, tt.want)
		}
	}
}
