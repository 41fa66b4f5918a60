package kafkaexec

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// The calls themselves run against real Kafka in httpapi's and cmd/fulcrum's execution
// tests; these are the pure parts they rely on.

func TestMergeReplicaList(t *testing.T) {
	tests := []struct {
		had  string
		add  []string
		want string
	}{
		{"", []string{"0:1", "0:2"}, "0:1,0:2"},
		{"1:3", []string{"0:1"}, "1:3,0:1"},
		{" 1:3 , 0:1 ", []string{"0:1", "0:2"}, "1:3,0:1,0:2"},
		{"1:3,1:3", nil, "1:3"},
		{"*", []string{"0:1"}, "*"},
		{" * ", []string{"0:1"}, "*"},
	}
	for _, tt := range tests {
		if got := mergeReplicaList(tt.had, tt.add); got != tt.want {
			t.Errorf("mergeReplicaList(%q, %q) = %q, want %q", tt.had, tt.add, got, tt.want)
		}
	}
}

func TestChunksAreSortedAndBounded(t *testing.T) {
	m := map[TP][]int32{}
	for p := range int32(maxPerRequest + 1) {
		m[TP{"b", p}] = nil
	}
	m[TP{"a", 7}] = nil
	got := chunks(m)
	if len(got) != 2 || len(got[0]) != maxPerRequest || len(got[1]) != 2 {
		t.Fatalf("chunk sizes: %d chunks, want %d and 2", len(got), maxPerRequest)
	}
	if got[0][0] != (TP{"a", 7}) || got[0][1] != (TP{"b", 0}) || got[1][1] != (TP{"b", maxPerRequest}) {
		t.Errorf("order: first %v %v, last %v", got[0][0], got[0][1], got[1][1])
	}
}

func TestRetriable(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{nil, true},
		{context.DeadlineExceeded, true},
		{errors.New("connection reset"), true},
		{kerr.NotLeaderForPartition, true},
		{kerr.ReplicaNotAvailable, true},
		{kerr.PreferredLeaderNotAvailable, true},
		{kerr.ReassignmentInProgress, true},
		{kerr.KafkaStorageError, true},
		{fmt.Errorf("t-0: %w", kerr.ReassignmentInProgress), true},
		{kerr.InvalidReplicaAssignment, false},
		{kerr.LogDirNotFound, false},
		{kerr.UnknownTopicOrPartition, true}, // Kafka calls it retriable: metadata may lag
		{fmt.Errorf("t-0: %w", kerr.InvalidReplicaAssignment), false},
	}
	for _, tt := range tests {
		if got := Retriable(tt.err); got != tt.want {
			t.Errorf("Retriable(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
