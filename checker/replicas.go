package checker

import (
	"fmt"
	"sort"
	"strings"

	"github.com/kvharness/kvharness/history"
)

// CheckReplicasConverge: after the run, healed, every node's own replica
// holds the same last message (revision and value, or marker) for every
// key, and it is the one the stream leader holds. A difference that
// outlives the workload is split brain, or a replica that lost data or
// stopped applying and still answers reads.
const CheckReplicasConverge = "replicas-converge"

// CheckBucketIntact: after the run the bucket still exists and every key
// can be read through the stream leader.
const CheckBucketIntact = "bucket-intact"

func checkReplicasConverge(h *history.History) (CheckResult, []string) {
	c := CheckResult{Name: CheckReplicasConverge}
	if h.End == nil {
		c.Result, c.Detail = Unknown, "the run did not finish: replicas were not read"
		return c, nil
	}
	if len(h.End.ReplicaNodes) == 0 {
		c.Result, c.Detail = Skipped, "replicas were not read (one node or an R1 bucket)"
		return c, nil
	}
	byKey := map[string][]history.Record{}
	var unreadable []string
	for _, r := range h.Replicas {
		if r.Error != "" {
			what := r.Node
			if r.Key != "" {
				what += " for " + fmt.Sprintf("%q", r.Key)
			}
			unreadable = append(unreadable, what+": "+r.Error)
			continue
		}
		byKey[r.Key] = append(byKey[r.Key], r)
	}
	leader := map[string]history.Record{}
	for _, f := range h.Final {
		leader[f.Key] = f
	}
	var differ []string
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		recs := byKey[key]
		same := true
		for _, r := range recs[1:] {
			if !history.SameMessage(recs[0], r) {
				same = false
			}
		}
		// Histories without leader rounds: the final read came first, so a
		// replica may be ahead of it (a late write), never behind it.
		if f, ok := leader[key]; ok && !hasNode(recs, history.PathLeader) {
			for _, r := range recs {
				if r.Rev < f.Rev || (r.Rev == f.Rev && !history.SameMessage(r, f)) {
					same = false
				}
			}
		}
		if same {
			continue
		}
		var parts []string
		for _, r := range recs {
			parts = append(parts, r.Node+" "+describeLast(r))
		}
		if f, ok := leader[key]; ok && !hasNode(recs, history.PathLeader) {
			parts = append(parts, "leader (final read) "+describeLast(f))
		}
		differ = append(differ, fmt.Sprintf("key %q differs: %s", key, strings.Join(parts, "; ")))
	}
	nodes := strings.Join(h.End.ReplicaNodes, ", ")
	switch {
	case len(differ) > 0:
		c.Result = Fail
		c.Detail = fmt.Sprintf("%d of %d keys differ between replicas (%s); first: %s", len(differ), len(keys), nodes, differ[0])
		return c, notesFor(CheckReplicasConverge, append(differ, unreadable...))
	case len(unreadable) > 0:
		c.Result = Unknown
		c.Detail = fmt.Sprintf("%d replica reads failed; first: %s", len(unreadable), unreadable[0])
		return c, notesFor(CheckReplicasConverge, unreadable)
	}
	c.Result = Pass
	leaderToo := ""
	if len(byKey) > 0 && hasNode(byKey[keys[0]], history.PathLeader) {
		leaderToo = " and the stream leader"
	}
	c.Detail = fmt.Sprintf("%d keys, same last revision and value on %s%s", len(keys), nodes, leaderToo)
	return c, nil
}

func hasNode(recs []history.Record, node string) bool {
	for _, r := range recs {
		if r.Node == node {
			return true
		}
	}
	return false
}

// describeLast says what a read of a key's last message saw.
func describeLast(r history.Record) string {
	switch {
	case r.Rev == 0:
		return "never written"
	case r.Marker != "":
		return fmt.Sprintf("rev %d %s marker", r.Rev, r.Marker)
	}
	return fmt.Sprintf("rev %d %s", r.Rev, r.Read)
}

func checkBucketIntact(h *history.History) (CheckResult, []string) {
	c := CheckResult{Name: CheckBucketIntact}
	if h.End == nil {
		c.Result, c.Detail = Unknown, "the run did not finish: the bucket was not read"
		return c, nil
	}
	if h.End.BucketMissing {
		c.Result, c.Detail = Fail, "the bucket's stream could not be found after the run"
		return c, nil
	}
	read := map[string]bool{}
	for _, f := range h.Final {
		read[f.Key] = true
	}
	var missing []string
	if h.Meta != nil {
		for _, k := range h.Meta.Keys {
			if !read[k] {
				missing = append(missing, fmt.Sprintf("key %q could not be read through the stream leader", k))
			}
		}
	}
	if len(missing) > 0 && h.End.Interrupted {
		c.Result = Unknown
		c.Detail = fmt.Sprintf("the run was interrupted before %d keys were read", len(missing))
		return c, nil
	}
	if len(missing) > 0 {
		c.Result = Fail
		c.Detail = fmt.Sprintf("%d keys could not be read after the run", len(missing))
		return c, notesFor(CheckBucketIntact, missing)
	}
	c.Result = Pass
	c.Detail = fmt.Sprintf("bucket found, all %d keys readable through the stream leader", len(read))
	return c, nil
}
