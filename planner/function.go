package planner

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Function is a cluster cost function. Each one is the coefficient of variation of one
// aggregate (Astraea's formulas), so 0 means perfectly even.
type Function uint8

const (
	// ReplicaLeaderCost is the spread of preferred-leader counts per broker.
	ReplicaLeaderCost Function = iota + 1
	// ReplicaSizeCost is the spread of bytes per broker.
	ReplicaSizeCost
	// DirectorySizeCost is the spread of bytes per log directory, over all directories.
	DirectorySizeCost
	// ReplicaCountCost is the spread of replica counts per broker (Cruise Control's
	// ReplicaDistributionGoal).
	ReplicaCountCost
	// TopicSpreadCost is the mean, over topics, of the spread of each topic's replica counts
	// per broker (Cruise Control's TopicReplicaDistributionGoal): a topic's load lands on
	// many brokers, not a few. A topic with fewer replicas than brokers cannot reach 0.
	TopicSpreadCost

	functionCount = iota + 1 // size of arrays indexed by Function
)

var functionNames = map[Function]string{
	ReplicaLeaderCost: "ReplicaLeaderCost",
	ReplicaSizeCost:   "ReplicaSizeCost",
	DirectorySizeCost: "DirectorySizeCost",
	ReplicaCountCost:  "ReplicaCountCost",
	TopicSpreadCost:   "TopicSpreadCost",
}

func (f Function) String() string {
	if n, ok := functionNames[f]; ok {
		return n
	}
	return fmt.Sprintf("Function(%d)", uint8(f))
}

// ParseFunction accepts a function's name, optionally with a Java package in front
// (org.astraea.common.cost.ReplicaLeaderCost), as Astraea's clients send class names.
func ParseFunction(name string) (Function, error) {
	short := name[strings.LastIndexByte(name, '.')+1:]
	for f, n := range functionNames {
		if n == short {
			return f, nil
		}
	}
	return 0, fmt.Errorf("unknown cost function %q (known: ReplicaLeaderCost, ReplicaSizeCost, DirectorySizeCost, ReplicaCountCost, TopicSpreadCost)", name)
}

// WeightedFunction is one term of a weighted cost.
type WeightedFunction struct {
	Function Function
	Weight   float64
}

// Functions is a weighted combination of cost functions. Its value is Σ wᵢ·cᵢ / Σ wᵢ, as
// Astraea's composite cost, so it stays on the scale of its terms.
type Functions []WeightedFunction

// DefaultFunctions is what Astraea's handler used at the seed time: ReplicaSizeCost alone.
func DefaultFunctions() Functions {
	return Functions{{Function: ReplicaSizeCost, Weight: 1}}
}

// ParseFunctions parses "ReplicaSizeCost:2,ReplicaLeaderCost:1". A term without ":weight"
// has weight 1. Blanks around names and weights are ignored. Weights must be finite and
// positive, and a function may appear once.
func ParseFunctions(s string) (Functions, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("no cost function given")
	}
	var fs Functions
	for term := range strings.SplitSeq(s, ",") {
		name, weightText, hasWeight := strings.Cut(term, ":")
		name = strings.TrimSpace(name)
		if name == "" {
			return nil, fmt.Errorf("empty cost function name in %q", s)
		}
		f, err := ParseFunction(name)
		if err != nil {
			return nil, err
		}
		weight := 1.0
		if hasWeight {
			weight, err = strconv.ParseFloat(strings.TrimSpace(weightText), 64)
			if err != nil {
				return nil, fmt.Errorf("bad weight %q for %s: not a number", weightText, name)
			}
		}
		fs = append(fs, WeightedFunction{Function: f, Weight: weight})
	}
	return fs, fs.Validate()
}

// Validate checks that there is at least one function, each known, used once, with a finite
// positive weight.
func (fs Functions) Validate() error {
	if len(fs) == 0 {
		return errors.New("no cost function given")
	}
	seen := map[Function]bool{}
	for _, wf := range fs {
		if _, ok := functionNames[wf.Function]; !ok {
			return fmt.Errorf("unknown cost function %v", wf.Function)
		}
		if seen[wf.Function] {
			return fmt.Errorf("cost function %v given twice", wf.Function)
		}
		seen[wf.Function] = true
		if math.IsNaN(wf.Weight) || math.IsInf(wf.Weight, 0) || wf.Weight <= 0 {
			return fmt.Errorf("bad weight %v for %v: must be a finite number > 0", wf.Weight, wf.Function)
		}
	}
	return nil
}

// String renders the functions in the syntax ParseFunctions reads.
func (fs Functions) String() string {
	var b strings.Builder
	for i, wf := range fs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(wf.Function.String())
		b.WriteByte(':')
		b.WriteString(strconv.FormatFloat(wf.Weight, 'g', -1, 64))
	}
	return b.String()
}

// MarshalText renders the functions as ParseFunctions syntax, for JSON and flags.
func (fs Functions) MarshalText() ([]byte, error) { return []byte(fs.String()), nil }

// UnmarshalText parses ParseFunctions syntax.
func (fs *Functions) UnmarshalText(text []byte) error {
	parsed, err := ParseFunctions(string(text))
	if err != nil {
		return err
	}
	*fs = parsed
	return nil
}

// weights returns the normalised weight of each function (Σ = 1), indexed by Function.
func (fs Functions) weights() [functionCount]float64 {
	var w [functionCount]float64
	var total float64
	for _, wf := range fs {
		total += wf.Weight
	}
	for _, wf := range fs {
		w[wf.Function] += wf.Weight / total
	}
	return w
}
