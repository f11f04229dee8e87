package workload

import (
	"testing"
)

func TestGeneratorIsReproducible(t *testing.T) {
	mix := Mix{"put": 2, "update": 3, "get": 3, "delete": 1}
	ks := NewKeySpace(10, 1.3)
	a := NewGenerator(42, 3, mix, ks, 64)
	b := NewGenerator(42, 3, mix, ks, 64)
	c := NewGenerator(43, 3, mix, ks, 64)
	same := true
	for i := 0; i < 1000; i++ {
		pa, pb, pc := a.Next(), b.Next(), c.Next()
		if pa != pb {
			t.Fatalf("op %d differs for the same seed: %+v vs %+v", i, pa, pb)
		}
		if pa != pc {
			same = false
		}
	}
	if same {
		t.Fatal("different seeds gave the same 1000 ops")
	}
}

func TestGeneratorMixAndSkew(t *testing.T) {
	mix := Mix{"put": 1, "get": 3}
	g := NewGenerator(1, 1, mix, NewKeySpace(100, 1.5), 16)
	ops, keys := map[string]int{}, map[string]int{}
	for i := 0; i < 20000; i++ {
		p := g.Next()
		ops[p.Op]++
		keys[p.Key]++
	}
	if ops["update"] != 0 || ops["put"] < 4000 || ops["put"] > 6000 {
		t.Errorf("mix put=1,get=3 gave %v", ops)
	}
	if keys["k0000"] < keys["k0050"]*5 {
		t.Errorf("zipf not skewed: k0000=%d k0050=%d", keys["k0000"], keys["k0050"])
	}
}

func TestValuesAreUniqueAndDecodable(t *testing.T) {
	seen := map[string]bool{}
	for c := 1; c <= 3; c++ {
		g := NewGenerator(1, c, Mix{"put": 1}, NewKeySpace(1, 0), 100)
		for i := 0; i < 1000; i++ {
			id, payload := g.NextValue()
			if seen[id] {
				t.Fatalf("value %s written twice", id)
			}
			seen[id] = true
			if len(payload) != 100 || DecodeValue(payload) != id {
				t.Fatalf("payload %q (len %d) does not decode to %s", payload, len(payload), id)
			}
		}
	}
	if got := DecodeValue([]byte("foreign value")); got != "foreign value" {
		t.Errorf("foreign value decoded as %q", got)
	}
}

func TestParseMix(t *testing.T) {
	m, err := ParseMix("put=2, update=3,get=0")
	if err != nil || m["put"] != 2 || m["update"] != 3 || m.String() != "put=2,update=3" {
		t.Fatalf("%v %v %q", m, err, m.String())
	}
	for _, bad := range []string{"put", "put=x", "put=-1", "jump=1", "get=0"} {
		if _, err := ParseMix(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
