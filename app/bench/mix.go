package bench

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
)

// Op is one kind of request the generator makes.
type Op string

// The operations, each one request:
const (
	OpList     Op = "list"     // GET /api/tasks?limit=20
	OpGet      Op = "get"      // GET /api/tasks/{id} of one of the user's tasks
	OpCreate   Op = "create"   // POST /api/tasks
	OpUpdate   Op = "update"   // PATCH /api/tasks/{id} {"title"}
	OpComplete Op = "complete" // PATCH /api/tasks/{id}/complete of a pending task
	OpDelete   Op = "delete"   // DELETE /api/tasks/{id} of a task the client created
	OpStats    Op = "stats"    // GET /api/dashboard/stats
	OpOverview Op = "overview" // GET /api/dashboard/overview
	OpSession  Op = "session"  // GET /api/auth/session
	OpLogin    Op = "login"    // POST /api/auth/login with the right password

	// OpSetup counts the task creations a client makes, unmeasured as far
	// as the other operations go, because complete or delete had no task of
	// its own to work on.
	OpSetup Op = "create(setup)"
	// OpBaseline is the request of the baseline server.
	OpBaseline Op = "baseline"
)

// Ops lists the operations --op and --mix accept, in report order.
var Ops = []Op{OpList, OpGet, OpCreate, OpUpdate, OpComplete, OpDelete, OpStats, OpOverview, OpSession, OpLogin}

// DefaultMix is the "realistic" mix: mostly reads, as a web app that lists
// and opens tasks and now and then changes one.
const DefaultMix = "list=35,get=25,create=10,update=10,complete=5,delete=5,stats=4,overview=3,session=3"

// Mix is a weighted choice of operations.
type Mix struct {
	ops []Op
	cum []int // cumulative weights, same order as ops
}

// Weight is one entry of a mix.
type Weight struct {
	Op     Op  `json:"op"`
	Weight int `json:"weight"`
}

// SingleOp is the mix of one operation only.
func SingleOp(op Op) Mix { return Mix{ops: []Op{op}, cum: []int{1}} }

// ParseOp checks an operation's name.
func ParseOp(s string) (Op, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	for _, op := range Ops {
		if string(op) == s {
			return op, nil
		}
	}
	return "", fmt.Errorf("unknown operation %q (want one of %s, or mix)", s, opNames())
}

func opNames() string {
	names := make([]string, len(Ops))
	for i, op := range Ops {
		names[i] = string(op)
	}
	return strings.Join(names, ", ")
}

// ParseMix reads "op=weight,op=weight,...": weights are non-negative
// integers, relative to their sum; each operation at most once; an operation
// left out has weight 0.
func ParseMix(s string) (Mix, error) {
	var m Mix
	seen := map[Op]bool{}
	total := 0
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, num, ok := strings.Cut(part, "=")
		if !ok {
			return Mix{}, fmt.Errorf("mix entry %q: want op=weight", part)
		}
		op, err := ParseOp(name)
		if err != nil {
			return Mix{}, fmt.Errorf("mix: %w", err)
		}
		if seen[op] {
			return Mix{}, fmt.Errorf("mix: %s is given twice", op)
		}
		seen[op] = true
		w, err := strconv.Atoi(strings.TrimSpace(num))
		if err != nil || w < 0 || w > 1_000_000 {
			return Mix{}, fmt.Errorf("mix entry %q: the weight must be a whole number from 0 to 1000000", part)
		}
		if w == 0 {
			continue
		}
		total += w
		m.ops = append(m.ops, op)
		m.cum = append(m.cum, total)
	}
	if total == 0 {
		return Mix{}, fmt.Errorf("mix %q: no operation has a weight above 0", s)
	}
	return m, nil
}

// Pick chooses an operation with probability proportional to its weight.
func (m Mix) Pick(r *rand.Rand) Op {
	if len(m.ops) == 1 {
		return m.ops[0]
	}
	n := r.IntN(m.cum[len(m.cum)-1])
	i := sort.SearchInts(m.cum, n+1)
	return m.ops[i]
}

// Weights lists the mix's operations and their weights.
func (m Mix) Weights() []Weight {
	out := make([]Weight, len(m.ops))
	prev := 0
	for i, op := range m.ops {
		out[i] = Weight{Op: op, Weight: m.cum[i] - prev}
		prev = m.cum[i]
	}
	return out
}

// String is the mix in ParseMix's syntax (just the name for a single op).
func (m Mix) String() string {
	if len(m.ops) == 1 {
		return string(m.ops[0])
	}
	parts := make([]string, 0, len(m.ops))
	for _, w := range m.Weights() {
		parts = append(parts, fmt.Sprintf("%s=%d", w.Op, w.Weight))
	}
	return strings.Join(parts, ",")
}

// Has reports whether the mix can choose op.
func (m Mix) Has(op Op) bool {
	for _, o := range m.ops {
		if o == op {
			return true
		}
	}
	return false
}
