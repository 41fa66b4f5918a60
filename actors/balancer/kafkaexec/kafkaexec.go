// Package kafkaexec is the plan executor's side of Kafka (franz-go's kadm): it reads the
// state of a plan's topics and changes it — reassignments, log directory moves, preferred
// leader elections, replication throttles. Every call is bounded by the Admin's timeout (or
// the caller's earlier deadline) and is safe to repeat: the plan executor is a reconciler
// that reads, compares with its target and acts again, also after a restart. Reading a
// cluster's layout to plan on is package kafkaload's.
package kafkaexec

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// ErrUnavailable wraps every failure to read Kafka's state: unreachable brokers, timeouts,
// request errors. The caller reads again later.
var ErrUnavailable = errors.New("kafka unavailable")

// TP names a partition.
type TP struct {
	Topic     string
	Partition int32
}

func (tp TP) String() string { return tp.Topic + "-" + strconv.Itoa(int(tp.Partition)) }

// Admin executes plans through a kadm client it does not own.
type Admin struct {
	adm     *kadm.Client
	timeout time.Duration
}

// DefaultCallTimeout bounds one Admin call when none is given.
const DefaultCallTimeout = 15 * time.Second

// brokerTimeout bounds the reading of one broker's log directories.
const brokerTimeout = 5 * time.Second

// maxPerRequest keeps each reassignment or election request well under the KRaft
// controller's 10,000 records per request.
const maxPerRequest = 1000

// NewAdmin returns an Admin; timeout bounds every call (0 means DefaultCallTimeout).
func NewAdmin(adm *kadm.Client, timeout time.Duration) *Admin {
	if timeout <= 0 {
		timeout = DefaultCallTimeout
	}
	return &Admin{adm: adm, timeout: timeout}
}

func (a *Admin) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, a.timeout)
}

// Retriable reports whether a failed call or partition result may succeed if tried again:
// Kafka's retriable errors and anything that is not a Kafka error code (timeouts, lost
// connections, an unreachable broker). A non-retriable Kafka error (an invalid assignment,
// an unknown directory) will fail again. Kafka counts UNKNOWN_TOPIC_OR_PARTITION as
// retriable (metadata may lag); a partition that is really gone is the reconciler's to see
// in its next reading.
func Retriable(err error) bool {
	if err == nil {
		return true
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Retriable || errors.Is(err, kerr.ReplicaNotAvailable) || errors.Is(err, kerr.PreferredLeaderNotAvailable) ||
			errors.Is(err, kerr.ReassignmentInProgress) || errors.Is(err, kerr.KafkaStorageError)
	}
	return true
}
