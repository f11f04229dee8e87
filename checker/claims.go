package checker

import "math"

// revClaims is, per revision, which key some record placed it in: 1 + the
// key's id, 0 while no record has. It is the largest thing held while the
// file is read, and it grows with the run, so it is kept small:
//   - in pages of claimPage revisions, so that it grows without copying (a
//     slice grown by append would, for a moment, be there twice);
//   - each page in the narrowest width its ids need: a byte a revision while
//     the run has fewer than 255 keys (17 MB for an hour at full speed, 70 MB
//     at 4 bytes), 2 bytes below 65535, else 4.
type revClaims struct {
	pages []claimsPage
}

// claimPage is how many revisions a page of claims holds.
const claimPage = 1 << 16

// claimsPage holds its revisions' ids in one of three widths (nil: none
// claimed yet).
type claimsPage struct {
	ids8  []uint8
	ids16 []uint16
	ids32 []uint32
}

// at is rev's claim (0: none).
func (c *revClaims) at(rev uint64) uint32 {
	page := int(rev / claimPage)
	if page >= len(c.pages) {
		return 0
	}
	p, i := &c.pages[page], rev%claimPage
	switch {
	case p.ids8 != nil:
		return uint32(p.ids8[i])
	case p.ids16 != nil:
		return uint32(p.ids16[i])
	case p.ids32 != nil:
		return p.ids32[i]
	}
	return 0
}

// set makes rev's claim v (not 0), widening its page if v needs it.
func (c *revClaims) set(rev uint64, v uint32) {
	page := int(rev / claimPage)
	for page >= len(c.pages) {
		c.pages = append(c.pages, claimsPage{})
	}
	p, i := &c.pages[page], rev%claimPage
	switch {
	case v <= math.MaxUint8 && p.ids16 == nil && p.ids32 == nil:
		if p.ids8 == nil {
			p.ids8 = make([]uint8, claimPage)
		}
		p.ids8[i] = uint8(v)
	case v <= math.MaxUint16 && p.ids32 == nil:
		if p.ids16 == nil {
			p.ids16, p.ids8 = widened[uint16](p.ids8), nil
		}
		p.ids16[i] = uint16(v)
	default:
		if p.ids32 == nil {
			if p.ids16 != nil {
				p.ids32 = widened[uint32](p.ids16)
			} else {
				p.ids32 = widened[uint32](p.ids8)
			}
			p.ids8, p.ids16 = nil, nil
		}
		p.ids32[i] = v
	}
}

// widened is a page of ids (all of them 0 if nil) at a wider width.
func widened[W uint16 | uint32, N uint8 | uint16](ids []N) []W {
	out := make([]W, claimPage)
	for i, id := range ids {
		out[i] = W(id)
	}
	return out
}
