package planner_test

import (
	"strings"
	"testing"

	"github.com/seed248d40c9/fulcrum/planner"
)

func TestParseFunctions(t *testing.T) {
	good := map[string]planner.Functions{
		"ReplicaSizeCost": {{Function: planner.ReplicaSizeCost, Weight: 1}},
		"ReplicaSizeCost:2,ReplicaLeaderCost:1": {
			{Function: planner.ReplicaSizeCost, Weight: 2}, {Function: planner.ReplicaLeaderCost, Weight: 1},
		},
		" DirectorySizeCost : 0.5 , ReplicaLeaderCost": {
			{Function: planner.DirectorySizeCost, Weight: 0.5}, {Function: planner.ReplicaLeaderCost, Weight: 1},
		},
		"org.astraea.common.cost.ReplicaLeaderCost:3": {{Function: planner.ReplicaLeaderCost, Weight: 3}},
	}
	for text, want := range good {
		got, err := planner.ParseFunctions(text)
		if err != nil {
			t.Errorf("ParseFunctions(%q): %v", text, err)
			continue
		}
		if got.String() != want.String() {
			t.Errorf("ParseFunctions(%q) = %v, want %v", text, got, want)
		}
		again, err := planner.ParseFunctions(got.String())
		if err != nil || again.String() != got.String() {
			t.Errorf("round trip of %q: %v, %v", got, again, err)
		}
	}

	bad := map[string]string{
		"":                                "no cost function",
		"NoSuchCost":                      `unknown cost function "NoSuchCost"`,
		"ReplicaSizeCost:x":               `bad weight "x"`,
		"ReplicaSizeCost:0":               "must be a finite number > 0",
		"ReplicaSizeCost:-1":              "must be a finite number > 0",
		"ReplicaSizeCost:NaN":             "must be a finite number > 0",
		"ReplicaSizeCost:Inf":             "must be a finite number > 0",
		"ReplicaSizeCost,":                "empty cost function name",
		"ReplicaSizeCost,ReplicaSizeCost": "given twice",
	}
	for text, want := range bad {
		_, err := planner.ParseFunctions(text)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseFunctions(%q) error = %v, want it to mention %q", text, err, want)
		}
	}
}

func TestFunctionsText(t *testing.T) {
	var fs planner.Functions
	if err := fs.UnmarshalText([]byte("ReplicaSizeCost:2,ReplicaLeaderCost")); err != nil {
		t.Fatal(err)
	}
	text, _ := fs.MarshalText()
	if string(text) != "ReplicaSizeCost:2,ReplicaLeaderCost:1" {
		t.Errorf("MarshalText = %s", text)
	}
	if err := fs.UnmarshalText([]byte("Bogus")); err == nil {
		t.Error("UnmarshalText accepted an unknown function")
	}
}
