// Package planner searches for a cheaper layout of a Kafka cluster's partitions, in the
// manner of Astraea's balancer (GET /balancer; README "Balancer walk-through"), with the standard library only:
// no Kafka client, no actors, no HTTP.
//
// # Model
//
// A Cluster is an immutable snapshot: brokers with their log directories, and partitions
// whose first replica is the preferred leader. It keeps per-broker bytes, per-broker
// preferred-leader counts and per-directory bytes. A partition's planning size is the
// largest of its replica sizes, so that a moved replica copies the whole log and the bytes
// leaving brokers equal the bytes arriving.
//
// # Cost
//
// ReplicaLeaderCost, ReplicaSizeCost, DirectorySizeCost and ReplicaCountCost are each the
// coefficient of variation (population standard deviation over mean) of leaders per broker,
// bytes per broker, bytes per directory and replicas per broker; TopicSpreadCost is the mean
// over topics of the CV of each topic's replicas per broker (one counter array per topic, so
// a move still changes O(1) counters and one topic's CV); a weighted combination is
// Σ wᵢ·cᵢ / Σ wᵢ. Every move
// transfers an amount between two counters, so the mean never changes and only Σ(x−ref)²
// does: a candidate is scored in O(1) from two counters per aggregate, without touching the
// rest of the cluster.
//
// # Search
//
// Astraea builds each candidate from the original layout with 30 random steps and keeps the
// best of N. Random steps mostly undo each other's good, so the best of N barely improves
// on a skewed cluster. Here the search is one hill-climbing chain instead (a Climb): each
// candidate is one move applied to the best layout so far, kept only if it lowers the
// objective strictly and stays within the budgets (maxMoves, maxMoveBytes, maxLeaderMoves)
// and the hard constraints. A plan of thousands of moves is thus built one useful move at
// a time.
//
// The moves are: a follower becomes the preferred leader; a replica goes to another broker,
// into that broker's emptiest directory; a replica goes to another directory of its broker
// (which Astraea never generated); and, once the climb is stuck, two replicas on two brokers
// trade places (exchange.go), which moves the difference of their sizes. Only kinds that can
// change the chosen functions are proposed. Choices are random but tilted, in O(1): the more
// loaded of two random brokers gives and the less loaded of two takes, and of a few replicas
// drawn on the giving side the one whose size is closest to half the gap moves. Big
// replicas therefore move first, small ones fine-tune, and no draw is ever stuck on one pair
// of brokers. A climb stuck even with exchanges keeps its best layout aside and kicks itself
// out with a few random moves, up to 8 times: every seed of the 3-broker layout that
// stopped at 0.0196 now reaches the optimum.
//
// # Parallelism and determinism
//
// A climb runs in rounds of RoundChunks chunks of ChunkSize candidates. The chunks of a round
// are proposed and scored against the layout as it was at the start of the round, each with
// its own random stream (seed, round, chunk) and its own copy of the aggregates, updated
// with the moves the chunk keeps (the layout itself is shared and only read), so they run on
// any number of goroutines or planner actors at once and find the same moves. The copy is
// made in the scorer's View (one per goroutine or planner actor, so that it stays in one
// core's cache); Commit then
// re-scores the improving ones in chunk order on the layout the earlier ones left and keeps
// those that still improve it. The plan depends on the seed only: more cores give the same
// plan sooner, never a worse one (splitting the limit into independent chains, as before,
// cost quality). RunClimb's workers wait between rounds by spinning, not parking: a round
// is ~0.1 ms of work per core. A finished climb (and NewSearch's repair, and a batch) gives
// its layout buffers (all but the result's slotDir) to a pool for the next one: a climb then
// allocates ~105 KB, not ~480 KB, and the collector, whose cycles stall a round's other
// worker, runs a quarter as often.
// Astraea's shuffle (Strategy Shuffle, for comparison) still splits the
// limit into Options.Batches batches.
//
// Without a limit (AutoEffort) the effort scales with the replicas of the topics in scope: up
// to 10 candidates per replica, ending once one candidate per replica in a row kept nothing.
//
// # Movement
//
// With Options.MinGain > 0 the climb minimises cost + penalty·bytes copied (relative to the
// original layout), the penalty being MinGain times the cost drop per byte of the layout's
// best first move (bestGainPerByte). A cost that is a coefficient of variation is scale-free,
// so a fixed price per byte would stop every move on one layout and none on another; "at
// least half as good as the best move" (MinGain 0.5, GET /balancer's default) means the same
// on every layout. Results are then compared by objective, not cost.
//
// # Hard constraints
//
// Racks, directory capacity and excluded brokers (constraint.go) are never broken: NewSearch
// first repairs a layout that breaks them, deterministically, and every climb starts from the
// repaired layout and accepts only moves that keep them. A leadership-only search
// (Options.LeadershipOnly) proposes only changes of preferred leader and copies nothing.
//
// # Results
//
// A climb (or a shuffle batch) returns a small Result (costs, counts, and its layout); Best
// keeps the cheapest of a shuffle's batches, and Plan renders only that one in the report's shape: the cost before (every topic
// counted, even when Options.Topics limits what may change) and after, the changed
// partitions with their placement before (broker, directory, size) and after (broker,
// directory), and the migration costs "size" (bytes in positive, bytes out negative, per
// broker) and "leader" (leaders gained and lost).
package planner
