package chaos

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/kvharness/kvharness/cluster"
)

// fault is one kind of fault: what it does and what it needs.
type fault struct {
	// About says what it does (the README's table says the same).
	About          string
	needsProcesses bool
	why            string
	// needsLazyStores: the nodes' stores must be on lazyfs (see
	// cluster.ProcessConfig.LazyStores); needsSystemAccount: the nodes
	// must have the harness's system account (ProcessConfig.SystemAccount).
	needsLazyStores, needsSystemAccount bool
	// run injects the fault on nodes, holds it, heals it, and describes
	// what it did.
	run func(ctx context.Context, n *injection, nodes []int) (string, error)
}

var faults = map[string]fault{
	"kill": {
		About:          "SIGKILL the target nodes (a crash: no shutdown, no flush), restart them on the same store after the fault duration",
		needsProcesses: true, why: "it kills processes",
		run: downAndUp("killed, restarted", (*cluster.Processes).Kill, (*cluster.Processes).Restart),
	},
	"stop": {
		About:          "stop the target nodes gracefully (SIGTERM, as an operator would), start them again after the fault duration",
		needsProcesses: true, why: "it stops processes",
		run: downAndUp("stopped, started", func(p *cluster.Processes, i int) error { return p.Shutdown(i, 10*time.Second) }, (*cluster.Processes).Restart),
	},
	"pause": {
		About:          "freeze the target nodes with SIGSTOP (sockets open, nothing answers: a GC pause or a stalled VM), SIGCONT after the fault duration",
		needsProcesses: true, why: "it signals processes",
		run: downAndUp("SIGSTOP, SIGCONT", (*cluster.Processes).Pause, (*cluster.Processes).Resume),
	},
	"partition": {
		About: "cut the cluster routes between the target nodes and the rest (target bridge: two halves that both reach one node; all: every node alone) " +
			"in the harness's route proxies, by reset or blackhole, or one way only (mute: the targets are not heard; deaf: they do not hear); heal after the fault duration. Client links stay up",
		needsProcesses: true, why: "it cuts the route proxies of spawned clusters",
		run: func(ctx context.Context, n *injection, nodes []int) (string, error) {
			if len(n.nodeNames()) < 2 { // spawned nodes have route proxies (Links) from two on
				return "", fmt.Errorf("a single node has no links to cut")
			}
			mode := n.partitionMode()
			groups := n.partitionGroups(nodes)
			if sides := len(slices.DeleteFunc(slices.Clone(groups), func(g []int) bool { return len(g) == 0 })); sides < 2 {
				return "", fmt.Errorf("not injected: every node is on one side of the partition (target %q), so it would cut nothing", n.step.Target)
			}
			l := n.Target.Processes.Links
			var err error
			switch mode.OneWay {
			case "mute":
				err = l.CutOneWay(groups[0], groups[1])
			case "deaf":
				err = l.CutOneWay(groups[1], groups[0])
			default:
				err = l.Partition(groups, mode.Link)
			}
			if err != nil {
				return "", err
			}
			n.hold(ctx)
			l.Heal()
			if mode.OneWay != "" {
				from, to := groups[0], groups[1]
				if mode.OneWay == "deaf" {
					from, to = to, from
				}
				return fmt.Sprintf("%s: {%s} not heard by {%s}, who still reach them", mode, n.names(from), n.names(to)), nil
			}
			return fmt.Sprintf("%s: %s", mode, n.describeGroups(groups)), nil
		},
	},
	"latency": {
		About:          "delay every cluster route of the target nodes by the fault latency plus random jitter, both ways, in the route proxies; restore after the fault duration",
		needsProcesses: true, why: "it slows the route proxies of spawned clusters",
		run: func(ctx context.Context, n *injection, nodes []int) (string, error) {
			l := n.Target.Processes.Links
			if l == nil {
				return "", fmt.Errorf("a single node has no links to slow")
			}
			l.Slow(nodes, n.Schedule.Latency, n.Schedule.Jitter)
			n.hold(ctx)
			l.Heal()
			return fmt.Sprintf("+%s ±%s on their routes", n.Schedule.Latency, n.Schedule.Jitter), nil
		},
	},
	"leader-stepdown": {
		About: "ask the bucket stream's leader to step down through the JetStream API ($JS.API.STREAM.LEADER.STEPDOWN) and wait (up to 15 s) for a new leader: the fault window is the election; works on any target, external servers included",
		run: func(ctx context.Context, n *injection, nodes []int) (string, error) {
			old, _ := n.ops.leader(ctx)
			if err := n.ops.stepDown(ctx); err != nil {
				return "", err
			}
			stepped := time.Now()
			// The window is the election: step-down to a new leader, bounded
			// (the fault duration does not apply).
			const electionBound = 15 * time.Second
			wctx, cancel := context.WithTimeout(ctx, electionBound)
			defer cancel()
			last := ""
			for {
				leader, err := n.ops.leader(wctx)
				if err == nil && leader != old {
					return fmt.Sprintf("leader %s -> %s", old, leader), nil
				}
				if err == nil {
					last = leader
				} else {
					last = err.Error()
				}
				select {
				case <-wctx.Done():
					return fmt.Sprintf("leader %s stepped down; %s later: %s", old, time.Since(stepped).Round(time.Millisecond), last), nil
				case <-time.After(100 * time.Millisecond):
				}
			}
		},
	},
	"corrupt": {
		About: "SIGKILL the target nodes, damage the bucket stream's files in their stores (flip bits in or truncate a message block, damage the index) " +
			"and restart them after the fault duration; a minority of an R3 bucket must recover from its peers",
		needsProcesses: true, why: "it edits the store of a stopped process",
		run: func(ctx context.Context, n *injection, nodes []int) (string, error) {
			p := n.Target.Processes
			err := eachNode(nodes, p.Kill)
			var done []string
			for _, i := range nodes {
				what, path, cerr := corruptStore(p.StoreDir(i), n.Stream, n.rng)
				err = errors.Join(err, cerr)
				if what != "" {
					done = append(done, p.Names()[i]+": "+what)
					// The damage is on the disk: a later power loss must
					// not put the file back from before it.
					err = errors.Join(err, p.Settle(i, path))
				}
			}
			n.hold(ctx)
			return strings.Join(done, "; "), errors.Join(err, eachNode(nodes, p.Restart))
		},
	},
	"power-loss": {
		About: "SIGKILL the target nodes and throw away every write they had not fsynced, as a power cut or kernel crash does " +
			"(their stores are on a FUSE pass-through filesystem that keeps track of unsynced data), restart them after the fault duration; " +
			"one node is an OS crash, all a coordinated power failure; the record says what each node lost; needs /dev/fuse",
		needsProcesses: true, why: "it kills processes and drops what their stores did not fsync", needsLazyStores: true,
		run: func(ctx context.Context, n *injection, nodes []int) (string, error) {
			p := n.Target.Processes
			err := eachNode(nodes, p.Kill)
			var lost []string
			for _, i := range nodes {
				loss, lerr := p.LosePower(i)
				err = errors.Join(err, lerr)
				lost = append(lost, fmt.Sprintf("%s lost %d unsynced bytes in %d files", p.Names()[i], loss.Bytes, loss.Files))
			}
			n.hold(ctx)
			return strings.Join(lost, "; "), errors.Join(err, eachNode(nodes, p.Restart))
		},
	},
	"replicas": {
		About: "change the bucket stream's replica count through the JetStream API ($JS.API.STREAM.UPDATE) — to every node (R3 → R5 on five nodes), " +
			"or to 1 where it already has every node — wait (up to 30 s) until the new group is current, hold for the fault duration, change it back and wait again: " +
			"membership changes of the stream's group; works on any target, external servers included",
		run: func(ctx context.Context, n *injection, _ []int) (string, error) {
			info, err := n.ops.info(ctx)
			if err != nil {
				return "", err
			}
			from, to := info.Config.Replicas, len(n.nodeNames())
			if from >= to {
				to = 1
			}
			if from == to {
				return "", fmt.Errorf("a stream on one node has no other replica count")
			}
			step := func(ctx context.Context, r int) string {
				started := time.Now()
				if err := n.ops.setReplicas(ctx, r); err != nil {
					return fmt.Sprintf("R%d refused: %v", r, err)
				}
				wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				defer cancel()
				if err := n.ops.waitStreamHealthy(wctx); err != nil {
					return fmt.Sprintf("R%d (not current after %.1f s: %v)", r, time.Since(started).Seconds(), err)
				}
				return fmt.Sprintf("R%d (current after %.1f s)", r, time.Since(started).Seconds())
			}
			up := step(ctx, to)
			n.hold(ctx)
			// Back whatever happened, also once the run ended: the checks
			// read the bucket as the scenario made it.
			bctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
			defer cancel()
			back := step(bctx, from)
			detail := fmt.Sprintf("R%d -> %s -> %s", from, up, back)
			if strings.Contains(up, "refused") || strings.Contains(back, "refused") {
				return detail, fmt.Errorf("a replica change was refused")
			}
			return detail, nil
		},
	},
	"replace": {
		About: "take the target nodes out of the cluster for good — SIGKILL, then remove them from the JetStream meta group ($JS.API.SERVER.REMOVE, " +
			"as a system account the harness gives the nodes) — and after the fault duration start a fresh node with an empty store, " +
			"under a new name (n6 on five nodes), in each one's place: membership changes of the meta group",
		needsProcesses: true, why: "it kills processes and starts new ones", needsSystemAccount: true,
		run: func(ctx context.Context, n *injection, nodes []int) (string, error) {
			p := n.Target.Processes
			var done []string
			var removed []int
			var err error
			for _, i := range nodes {
				name := p.Names()[i]
				took, rerr := p.Remove(ctx, i)
				err = errors.Join(err, rerr)
				if rerr == nil {
					removed = append(removed, i)
					done = append(done, fmt.Sprintf("%s removed from the meta group in %.1f s", name, took.Seconds()))
				}
			}
			n.hold(ctx)
			for _, i := range removed {
				old := p.Names()[i]
				name, rerr := p.Renew(i)
				err = errors.Join(err, rerr)
				done = append(done, fmt.Sprintf("%s replaced by %s, empty", old, name))
			}
			// A node not removed (the request failed) comes back as it was.
			for _, i := range nodes {
				if !slices.Contains(removed, i) {
					err = errors.Join(err, p.Restart(i))
				}
			}
			return strings.Join(done, "; "), err
		},
	},
	"rolling-restart": {
		About: "restart every node in turn, gracefully, waiting until it is healthy and the stream current before the next; " +
			"with an upgrade binary (--upgrade-bin) each node comes back on that release: the upgrade-validation scenario",
		needsProcesses: true, why: "it restarts processes",
		run: func(ctx context.Context, n *injection, nodes []int) (string, error) {
			p := n.Target.Processes
			var steps []string
			for _, i := range nodes {
				if ctx.Err() != nil { // the run ended: the heal starts what is down
					break
				}
				started := time.Now()
				if err := p.Shutdown(i, 10*time.Second); err != nil {
					return strings.Join(steps, ", "), err
				}
				if n.Schedule.UpgradeBin != "" {
					p.SetBin(i, n.Schedule.UpgradeBin)
				}
				if err := p.Restart(i); err != nil {
					return strings.Join(steps, ", "), err
				}
				wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
				err := n.waitHealthy(wctx)
				cancel()
				if err != nil {
					return strings.Join(steps, ", "), fmt.Errorf("%s not healthy after restart: %w", p.Names()[i], err)
				}
				steps = append(steps, fmt.Sprintf("%s %.1fs", p.Names()[i], time.Since(started).Seconds()))
			}
			on := ""
			if n.Schedule.UpgradeBin != "" {
				on = " onto " + filepath.Base(n.Schedule.UpgradeBin)
			}
			return "restarted" + on + ": " + strings.Join(steps, ", "), nil
		},
	},
}

// Kinds lists the fault kinds, sorted.
func Kinds() []string {
	var k []string
	for name := range faults {
		k = append(k, name)
	}
	slices.Sort(k)
	return k
}

// NeedProcesses reports whether any of kinds needs spawned servers.
func NeedProcesses(kinds []string) bool {
	for _, k := range kinds {
		if faults[k].needsProcesses {
			return true
		}
	}
	return false
}

// NeedSystemAccount reports whether any of kinds needs the nodes' system
// account.
func NeedSystemAccount(kinds []string) bool {
	return slices.ContainsFunc(kinds, func(k string) bool { return faults[k].needsSystemAccount })
}

// NeedLazyStores reports whether any of kinds needs the nodes' stores on
// lazyfs.
func NeedLazyStores(kinds []string) bool {
	return slices.ContainsFunc(kinds, func(k string) bool { return faults[k].needsLazyStores })
}

// downAndUp is a fault that takes each target node down, holds, and brings
// it back, whatever happens in between.
func downAndUp(detail string, down, up func(*cluster.Processes, int) error) func(context.Context, *injection, []int) (string, error) {
	return func(ctx context.Context, n *injection, nodes []int) (string, error) {
		p := n.Target.Processes
		err := eachNode(nodes, func(i int) error { return down(p, i) })
		n.hold(ctx)
		return detail, errors.Join(err, eachNode(nodes, func(i int) error { return up(p, i) }))
	}
}

// eachNode applies f to every node and joins the errors: one node failing
// must not leave the others broken.
func eachNode(nodes []int, f func(int) error) error {
	var err error
	for _, i := range nodes {
		err = errors.Join(err, f(i))
	}
	return err
}

func (n *injection) describeGroups(groups [][]int) string {
	var parts []string
	for _, g := range groups {
		parts = append(parts, "{"+n.names(g)+"}")
	}
	s := strings.Join(parts, " | ")
	if t, _ := parseTarget(n.step.Target); t.selector == "bridge" {
		s += " (the target bridges both)"
	}
	return s
}
