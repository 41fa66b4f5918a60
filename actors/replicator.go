package actors

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/seed248d40c9/fulcrum/persist"
)

// ReplicatorActor pushes the whole durable state to the replica brokers with
// PUT /api/v2/metadata, as undermoon's replication does: every sync interval, and — unlike
// undermoon — soon after every change. One push is in flight at a time; changes that arrive
// during a push make another one follow it. Failures are logged, counted and retried on the
// next change or tick. A replica whose epoch is larger refuses the push (409).
type ReplicatorActor struct {
	cfg      *engineConfig
	log      zerolog.Logger
	store    persist.Backend
	replicas []string
	client   *http.Client
	stop     chan struct{}

	pushing, dirty, scheduled bool
}

// Messages of the replicator.
type (
	replicaState struct{ Replicas []string } // from the pool after every durable change
	replicaTick  struct{}
	replicaPush  struct{}
	replicaDone  struct{ Errs map[string]error }
)

// replicationDebounce lets a burst of changes go out as one push.
const replicationDebounce = 50 * time.Millisecond

func newReplicator(cfg *engineConfig, store persist.Backend, replicas []string) *ReplicatorActor {
	return &ReplicatorActor{cfg: cfg, log: cfg.log.With().Str("actor", "replicator").Logger(), store: store,
		replicas: replicas, client: &http.Client{Timeout: cfg.replicationTimeout}}
}

func (a *ReplicatorActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.stop = make(chan struct{})
		self, root, stop, every := ctx.Self(), ctx.ActorSystem().Root, a.stop, a.cfg.syncInterval
		go func() {
			t := time.NewTicker(every)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
					root.Send(self, &replicaTick{})
				}
			}
		}()
		a.schedule(ctx)
	case *actor.Stopping:
		close(a.stop)
	case *replicaState:
		a.replicas = m.Replicas
		a.schedule(ctx)
	case *replicaTick:
		a.dirty = true
		a.push(ctx)
	case *replicaPush:
		a.scheduled = false
		a.push(ctx)
	case *replicaDone:
		a.pushing = false
		for replica, err := range m.Errs {
			result := "ok"
			switch {
			case errors.Is(err, errRefused):
				result = "refused"
				a.log.Error().Err(err).Str("replica", replica).Msg("replica refused the push; it diverges until someone acts")
			case err != nil:
				result = "error"
				a.log.Warn().Err(err).Str("replica", replica).Msg("replication push failed; retrying on the next change or tick")
			}
			a.cfg.metrics.replicationPushes.WithLabelValues(replica, result).Inc()
		}
		if a.dirty {
			a.schedule(ctx)
		}
	}
}

// schedule pushes shortly, once, whatever arrives meanwhile.
func (a *ReplicatorActor) schedule(ctx actor.Context) {
	a.dirty = true
	if a.scheduled || len(a.replicas) == 0 {
		return
	}
	a.scheduled = true
	self, root := ctx.Self(), ctx.ActorSystem().Root
	time.AfterFunc(replicationDebounce, func() { root.Send(self, &replicaPush{}) })
}

func (a *ReplicatorActor) push(ctx actor.Context) {
	if a.pushing || !a.dirty || len(a.replicas) == 0 {
		return
	}
	a.pushing, a.dirty = true, false
	replicas := append([]string(nil), a.replicas...)
	self, root, store, client, timeout := ctx.Self(), ctx.ActorSystem().Root, a.store, a.client, a.cfg.replicationTimeout
	token := ""
	if a.cfg.replicationToken != nil {
		token = a.cfg.replicationToken()
	}
	go func() {
		errs := map[string]error{}
		body, err := metadataJSON(store)
		var mu sync.Mutex
		var wg sync.WaitGroup
		for _, r := range replicas {
			if err != nil {
				errs[r] = err
				continue
			}
			wg.Add(1)
			go func(r string) {
				defer wg.Done()
				perr := pushTo(client, r, body, token, timeout)
				mu.Lock()
				errs[r] = perr
				mu.Unlock()
			}(r)
		}
		wg.Wait()
		root.Send(self, &replicaDone{Errs: errs})
	}()
}

// errRefused is a push the replica answered with a 4xx: it is up but will not take the
// state (its epoch is ahead, it wants a token), so retrying will not help until someone acts.
var errRefused = errors.New("push refused")

func pushTo(client *http.Client, replica string, body []byte, token string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, "http://"+replica+"/api/v2/metadata", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode >= 400 && resp.StatusCode < 500 {
		return fmt.Errorf("%w: replica answered %d: %s", errRefused, resp.StatusCode, msg)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("replica answered %d: %s", resp.StatusCode, msg)
	}
	return nil
}

func replicationCounter() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "fulcrum_replication_pushes_total", Help: "Pushes of the whole state to replica brokers, by replica and result: ok, refused (the replica answered 4xx) or error."},
		[]string{"replica", "result"})
}
