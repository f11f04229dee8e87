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

type replicasConverge struct {
	end                *history.End
	keys               int
	leaderToo          bool
	differ, unreadable []string
}

func (c *replicasConverge) add(g *keyGroup) {
	h := g.h
	c.end = h.End
	if cut(h.End) || len(h.End.ReplicaNodes) == 0 {
		return
	}
	byKey := map[string][]history.Record{}
	for _, r := range h.Replicas {
		if r.Error != "" {
			what := r.Node
			if r.Key != "" {
				what += " for " + fmt.Sprintf("%q", r.Key)
			}
			c.unreadable = append(c.unreadable, what+": "+r.Error)
			continue
		}
		byKey[r.Key] = append(byKey[r.Key], r)
	}
	leader := map[string]history.Record{}
	for _, f := range h.Final {
		leader[f.Key] = f
	}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	c.keys += len(keys)
	for _, key := range keys {
		recs := byKey[key]
		if hasNode(recs, history.PathLeader) {
			c.leaderToo = true
		}
		same := true
		for _, r := range recs[1:] {
			if !history.SameMessage(recs[0], r) {
				same = false
			}
		}
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
		c.differ = append(c.differ, fmt.Sprintf("key %q differs: %s", key, strings.Join(parts, "; ")))
	}
}

func (c *replicasConverge) result() (CheckResult, []string) {
	cr := CheckResult{Name: CheckReplicasConverge}
	if cut(c.end) {
		cr.Result, cr.Detail = Unknown, notRecorded(c.end, "which nodes' replicas were read is not recorded")
		return cr, nil
	}
	if len(c.end.ReplicaNodes) == 0 {
		cr.Result, cr.Detail = Skipped, "replicas were not read (one node or an R1 bucket)"
		return cr, nil
	}
	nodes := strings.Join(c.end.ReplicaNodes, ", ")
	switch {
	case len(c.differ) > 0:
		cr.Result = Fail
		cr.Detail = fmt.Sprintf("%d of %d keys differ between replicas (%s); first: %s", len(c.differ), c.keys, nodes, c.differ[0])
		return cr, notesFor(CheckReplicasConverge, append(c.differ, c.unreadable...))
	case len(c.unreadable) > 0:
		cr.Result = Unknown
		cr.Detail = fmt.Sprintf("%d replica reads failed; first: %s", len(c.unreadable), c.unreadable[0])
		return cr, notesFor(CheckReplicasConverge, c.unreadable)
	}
	cr.Result = Pass
	leaderToo := ""
	if c.leaderToo {
		leaderToo = " and the stream leader"
	}
	cr.Detail = fmt.Sprintf("%d keys, same last revision and value on %s%s", c.keys, nodes, leaderToo)
	return cr, nil
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

type bucketIntact struct {
	end     *history.End
	read    int
	missing []string
}

func (c *bucketIntact) add(g *keyGroup) {
	c.end = g.h.End
	if g.span != nil && !g.span.last {
		return // the final reads are the last span's
	}
	read := map[string]bool{}
	for _, f := range g.h.Final {
		read[f.Key] = true
	}
	c.read += len(read)
	if g.h.Meta != nil {
		for _, k := range g.h.Meta.Keys {
			if !read[k] {
				c.missing = append(c.missing, fmt.Sprintf("key %q could not be read through the stream leader", k))
			}
		}
	}
}

func (c *bucketIntact) result() (CheckResult, []string) {
	cr := CheckResult{Name: CheckBucketIntact}
	switch {
	case c.end == nil || c.end.Cut && !c.end.FinalReads:
		cr.Result, cr.Detail = Unknown, notRecorded(c.end, "the bucket was not read whole")
	case c.end.BucketMissing:
		cr.Result, cr.Detail = Fail, "the bucket's stream could not be found after the run"
	case len(c.missing) > 0 && c.end.Interrupted:
		cr.Result = Unknown
		cr.Detail = fmt.Sprintf("the run was interrupted before %d keys were read", len(c.missing))
	case len(c.missing) > 0:
		cr.Result = Fail
		cr.Detail = fmt.Sprintf("%d keys could not be read after the run", len(c.missing))
		return cr, notesFor(CheckBucketIntact, c.missing)
	default:
		cr.Result = Pass
		cr.Detail = fmt.Sprintf("bucket found, all %d keys readable through the stream leader", c.read)
	}
	return cr, nil
}
