package chaos

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Targets are the node selectors a schedule can name. Each fault draws its
// nodes afresh, so "random" and "minority" move around the cluster.
var Targets = []string{"random", "leader", "minority", "majority", "all", "bridge"}

// target is a parsed selector: one of Targets, or explicit node names.
type target struct {
	selector string
	names    []string
}

func parseTarget(s string) (target, error) {
	if s == "" {
		return target{selector: "random"}, nil
	}
	if slices.Contains(Targets, s) {
		return target{selector: s}, nil
	}
	names := strings.Split(s, ",")
	for _, n := range names {
		if num, err := strconv.Atoi(strings.TrimPrefix(n, "n")); !strings.HasPrefix(n, "n") || err != nil || num < 1 {
			return target{}, fmt.Errorf("fault target %q: want one of %s, or node names like n1,n2", s, strings.Join(Targets, ", "))
		}
	}
	return target{names: names}, nil
}

// pickTargets draws the nodes one fault hits, among those not busy (held
// by faults in progress). For a partition they are the side cut off from
// the rest (see partitionGroups).
func (n *injection) pickTargets(ctx context.Context, kind string, busy map[int]bool) ([]int, error) {
	all := n.nodeNames()
	count := len(all)
	switch kind {
	case "leader-stepdown", "replicas":
		return nil, nil // it acts on the stream, whichever servers hold it (its detail names them)
	case "rolling-restart":
		var nodes []int
		for i := range all {
			nodes = append(nodes, i)
		}
		return nodes, nil
	}
	t, _ := parseTarget(n.step.Target)
	perm := n.rng.Perm(count)
	if len(busy) > 0 {
		perm = slices.DeleteFunc(perm, func(i int) bool { return busy[i] })
		if len(perm) == 0 {
			return nil, fmt.Errorf("not injected: every node is held by another fault")
		}
	}
	switch t.selector {
	case "random", "bridge":
		return perm[:1], nil
	case "leader":
		leader, err := n.ops.leader(ctx)
		if err != nil {
			return nil, fmt.Errorf("finding the leader: %w", err)
		}
		i := slices.Index(all, leader)
		if i < 0 {
			return nil, fmt.Errorf("leader %q is not a node of this cluster", leader)
		}
		return []int{i}, nil
	case "minority", "majority", "all":
		want := map[string]int{"minority": max(1, (count-1)/2), "majority": count/2 + 1, "all": count}[t.selector]
		if len(perm) < want {
			return nil, fmt.Errorf("not injected: %s needs %d nodes, %d are not held by another fault", t.selector, want, len(perm))
		}
		return sorted(perm[:want]), nil
	}
	var nodes []int
	for _, name := range t.names {
		i := slices.Index(all, name)
		if i < 0 {
			return nil, fmt.Errorf("no node %q (nodes: %s)", name, strings.Join(all, ","))
		}
		nodes = append(nodes, i)
	}
	return nodes, nil
}

// partitionGroups turns a fault's targets into the sides of a partition:
// the targets against the rest; with target all, every node alone; with
// bridge, the target stays linked to both halves of the rest, which cannot
// reach each other.
func (n *injection) partitionGroups(nodes []int) [][]int {
	count := len(n.nodeNames())
	in := make([]bool, count)
	for _, i := range nodes {
		in[i] = true
	}
	var rest []int
	for i := 0; i < count; i++ {
		if !in[i] {
			rest = append(rest, i)
		}
	}
	t, _ := parseTarget(n.step.Target)
	switch {
	case t.selector == "all":
		var groups [][]int
		for i := 0; i < count; i++ {
			groups = append(groups, []int{i})
		}
		return groups
	case t.selector == "bridge":
		half := (len(rest) + 1) / 2
		return [][]int{rest[:half], rest[half:]} // the bridge node is in neither: linked to both
	}
	return [][]int{nodes, rest}
}

func sorted(s []int) []int {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
