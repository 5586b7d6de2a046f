package compression

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/crc64"
	"io"
	"sync"

	"github.com/ulikunitz/xz"
)

// The kernel compresses modules with "xz --check=crc32 --lzma2=dict=1MiB":
// one stream, one block, one LZMA2 filter. Decoding those is most of what
// modinfo does on such a kernel, so this file decodes exactly that shape
// straight into an output buffer sized from the stream's index, with no
// interface calls in the inner loop. Any other shape (filters such as BCJ,
// several streams, padding) goes to the general decoder (ulikunitz/xz),
// and so does a stream this decoder rejects, so the fast path can never
// turn a valid file into an error.

var errXZFormat = errors.New("unsupported or corrupt xz stream")

// decodeXZ decodes a whole .xz file held in memory.
func decodeXZ(b []byte) ([]byte, error) {
	if out, err := decodeXZFast(b); err == nil {
		return out, nil
	}
	r, err := xz.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

var crc64Table = crc64.MakeTable(crc64.ECMA)

// xzVarint reads an xz multibyte integer.
func xzVarint(b []byte) (uint64, int, bool) {
	var v uint64
	for i := 0; i < len(b) && i < 9; i++ {
		v |= uint64(b[i]&0x7f) << (7 * i)
		if b[i]&0x80 == 0 {
			if i > 0 && b[i] == 0 {
				return 0, 0, false
			}
			return v, i + 1, true
		}
	}
	return 0, 0, false
}

// decodeXZFast decodes a single-stream, single-block, LZMA2-only .xz file.
func decodeXZFast(b []byte) ([]byte, error) {
	const hdr = 12
	if len(b) < 2*hdr || !bytes.HasPrefix(b, xzMagic) {
		return nil, errXZFormat
	}
	if b[6] != 0 || crc32.ChecksumIEEE(b[6:8]) != binary.LittleEndian.Uint32(b[8:12]) {
		return nil, errXZFormat
	}
	check := b[7] & 0x0f
	var checkSize int
	switch check {
	case 0:
		checkSize = 0
	case 1:
		checkSize = 4
	case 4:
		checkSize = 8
	default:
		return nil, errXZFormat
	}
	// Stream footer: CRC32, backward size, flags, "YZ".
	foot := b[len(b)-hdr:]
	if foot[10] != 'Y' || foot[11] != 'Z' || foot[8] != b[6] || foot[9] != b[7] {
		return nil, errXZFormat
	}
	if crc32.ChecksumIEEE(foot[4:10]) != binary.LittleEndian.Uint32(foot[0:4]) {
		return nil, errXZFormat
	}
	backward := (uint64(binary.LittleEndian.Uint32(foot[4:8])) + 1) * 4
	if backward > uint64(len(b)-2*hdr) {
		return nil, errXZFormat
	}
	index := b[len(b)-hdr-int(backward) : len(b)-hdr]
	if index[0] != 0 {
		return nil, errXZFormat
	}
	if crc32.ChecksumIEEE(index[:len(index)-4]) != binary.LittleEndian.Uint32(index[len(index)-4:]) {
		return nil, errXZFormat
	}
	p := 1
	nrec, n, ok := xzVarint(index[p:])
	if !ok || nrec != 1 {
		return nil, errXZFormat
	}
	p += n
	unpadded, n, ok := xzVarint(index[p:])
	if !ok {
		return nil, errXZFormat
	}
	p += n
	usize, _, ok := xzVarint(index[p:])
	// The output is allocated up front from the index's word: refuse
	// sizes no real stream of this length could decode to (LZMA2 packs at
	// most a few thousand to one) and leave them to the general decoder.
	if !ok || usize > 1<<31 || usize > uint64(len(b))<<14 {
		return nil, errXZFormat
	}

	// Block header.
	blk := b[hdr : len(b)-hdr-int(backward)]
	if len(blk) < 8 || blk[0] == 0 {
		return nil, errXZFormat
	}
	hsize := (int(blk[0]) + 1) * 4
	if hsize > len(blk) || crc32.ChecksumIEEE(blk[:hsize-4]) != binary.LittleEndian.Uint32(blk[hsize-4:hsize]) {
		return nil, errXZFormat
	}
	flags := blk[1]
	if flags&0x3c != 0 || flags&0x03 != 0 { // one filter only, no reserved bits
		return nil, errXZFormat
	}
	q := 2
	if flags&0x40 != 0 {
		_, n, ok := xzVarint(blk[q:hsize])
		if !ok {
			return nil, errXZFormat
		}
		q += n
	}
	if flags&0x80 != 0 {
		v, n, ok := xzVarint(blk[q:hsize])
		if !ok || v != usize {
			return nil, errXZFormat
		}
		q += n
	}
	id, n, ok := xzVarint(blk[q:hsize])
	if !ok || id != 0x21 {
		return nil, errXZFormat
	}
	q += n
	if q+2 > hsize-4 || blk[q] != 1 || blk[q+1] > 40 {
		return nil, errXZFormat
	}
	if unpadded < uint64(hsize+checkSize) || unpadded > uint64(len(blk)) {
		return nil, errXZFormat
	}
	csize := int(unpadded) - hsize - checkSize
	data := blk[hsize : hsize+csize]
	padded := (int(unpadded) + 3) &^ 3
	if padded != len(blk) {
		return nil, errXZFormat
	}
	out := getBuffer(int(usize))
	if err := decodeLZMA2(out, data); err != nil {
		putBuffer(out)
		return nil, err
	}
	sum := blk[padded-checkSize : padded]
	switch check {
	case 1:
		if crc32.ChecksumIEEE(out) != binary.LittleEndian.Uint32(sum) {
			putBuffer(out)
			return nil, errors.New("xz: CRC32 mismatch")
		}
	case 4:
		if crc64.Checksum(out, crc64Table) != binary.LittleEndian.Uint64(sum) {
			putBuffer(out)
			return nil, errors.New("xz: CRC64 mismatch")
		}
	}
	return out, nil
}

// LZMA constants.
const (
	lzmaStates       = 12
	lzmaPosStatesMax = 16
	lzmaLowSyms      = 8
	lzmaMidSyms      = 8
	lzmaHighSyms     = 256
	lzmaDistStates   = 4
	lzmaDistSlots    = 64
	lzmaDistModelEnd = 14
	lzmaFullDist     = 128
	lzmaAlignBits    = 4
	probInit         = 1 << 10
)

type lenCoder struct {
	choice  uint16
	choice2 uint16
	low     [lzmaPosStatesMax][lzmaLowSyms]uint16
	mid     [lzmaPosStatesMax][lzmaMidSyms]uint16
	high    [lzmaHighSyms]uint16
}

type lzmaProbs struct {
	isMatch     [lzmaStates * lzmaPosStatesMax]uint16
	isRep       [lzmaStates]uint16
	isRep0      [lzmaStates]uint16
	isRep1      [lzmaStates]uint16
	isRep2      [lzmaStates]uint16
	isRep0Long  [lzmaStates * lzmaPosStatesMax]uint16
	distSlot    [lzmaDistStates][lzmaDistSlots]uint16
	distSpecial [1 + lzmaFullDist - lzmaDistModelEnd]uint16
	distAlign   [1 << lzmaAlignBits]uint16
	matchLen    lenCoder
	repLen      lenCoder
	// literal holds 0x300 probabilities per coder (lc+lp <= 4 in LZMA2),
	// and 0x100 more at the end so that a coder can be read as a
	// [0x400]uint16 without bounds checks.
	literal [0x300<<4 + 0x100]uint16
}

func (p *lzmaProbs) reset(lc, lp int) {
	fill := func(s []uint16) {
		for i := range s {
			s[i] = probInit
		}
	}
	fill(p.isMatch[:])
	fill(p.isRep[:])
	fill(p.isRep0[:])
	fill(p.isRep1[:])
	fill(p.isRep2[:])
	fill(p.isRep0Long[:])
	for i := range p.distSlot {
		fill(p.distSlot[i][:])
	}
	fill(p.distSpecial[:])
	fill(p.distAlign[:])
	for _, l := range []*lenCoder{&p.matchLen, &p.repLen} {
		l.choice, l.choice2 = probInit, probInit
		for i := range l.low {
			fill(l.low[i][:])
			fill(l.mid[i][:])
		}
		fill(l.high[:])
	}
	fill(p.literal[:0x300<<(lc+lp)])
}

// rangeDec is the LZMA range decoder over one chunk's input, copied into
// a buffer of the largest chunk size (64 KiB) so that reading needs no
// bounds check: a corrupt chunk that reads past its end wraps around and
// is caught afterwards by comparing pos with the chunk size.
type rangeDec struct {
	rng  uint32
	code uint32
	pos  uint32
	in   *[1 << 16]byte
}

// init copies a chunk's input into buf and reads the first five bytes (a
// zero, then the initial code).
func (rc *rangeDec) init(buf *[1 << 16]byte, in []byte) bool {
	if len(in) < 5 || len(in) > len(buf) || in[0] != 0 {
		return false
	}
	copy(buf[:], in)
	rc.in = buf
	rc.rng = 0xffffffff
	rc.code = binary.BigEndian.Uint32(in[1:5])
	rc.pos = 5
	return true
}

// bit decodes one bit with probability p. It branches on the bit: it
// serves the bits that choose between literal, match and repeats, which
// a branch follows anyway.
func (rc rangeDec) bit(p *uint16) (rangeDec, uint32) {
	if rc.rng < 1<<24 {
		rc.rng <<= 8
		rc.code = rc.code<<8 | uint32(rc.in[uint16(rc.pos)])
		rc.pos++
	}
	bound := (rc.rng >> 11) * uint32(*p)
	if rc.code < bound {
		rc.rng = bound
		*p += (2048 - *p) >> 5
		return rc, 0
	}
	rc.rng -= bound
	rc.code -= bound
	*p -= *p >> 5
	return rc, 1
}

// tree decodes an n-bit symbol with a bit tree of probabilities.
//
// tree, reverse and the literal loop in chunk decode bits without a
// branch on their value, which is hard to predict: mask is all ones for
// a 0 (code < bound), and the probability update, p += (2048-p)>>5 for a
// 0 and p -= p>>5 for a 1, becomes p -= (p - (2048-31)&mask) >> 5 with an
// arithmetic shift.
func (rc rangeDec) tree(probs []uint16, n uint) (rangeDec, uint32) {
	rng, code, ipos, in := rc.rng, rc.code, rc.pos, rc.in
	sym := uint32(1)
	for i := uint(0); i < n; i++ {
		if rng < 1<<24 {
			rng <<= 8
			code = code<<8 | uint32(in[uint16(ipos)])
			ipos++
		}
		pr := &probs[sym&(1<<n-1)]
		pv := uint32(*pr)
		bound := (rng >> 11) * pv
		mask := uint32(int64(uint64(code)-uint64(bound)) >> 63)
		code -= bound &^ mask
		rng = bound&mask | (rng-bound)&^mask
		*pr = uint16(pv - uint32(int32(pv-2048&mask+31&mask)>>5))
		sym = sym<<1 | (mask + 1)
	}
	rc.rng, rc.code, rc.pos = rng, code, ipos
	return rc, sym - 1<<n
}

// reverse decodes an n-bit symbol with a reverse bit tree; probs[1] is
// the first probability used.
func (rc rangeDec) reverse(probs []uint16, n uint) (rangeDec, uint32) {
	rng, code, ipos, in := rc.rng, rc.code, rc.pos, rc.in
	sym := uint32(1)
	var v uint32
	for i := uint(0); i < n; i++ {
		if rng < 1<<24 {
			rng <<= 8
			code = code<<8 | uint32(in[uint16(ipos)])
			ipos++
		}
		pr := &probs[sym&(1<<n-1)]
		pv := uint32(*pr)
		bound := (rng >> 11) * pv
		mask := uint32(int64(uint64(code)-uint64(bound)) >> 63)
		code -= bound &^ mask
		rng = bound&mask | (rng-bound)&^mask
		*pr = uint16(pv - uint32(int32(pv-2048&mask+31&mask)>>5))
		b := mask + 1
		sym = sym<<1 | b
		v |= b << i
	}
	rc.rng, rc.code, rc.pos = rng, code, ipos
	return rc, v
}

// direct decodes n bits of even probability.
func (rc *rangeDec) direct(n uint) uint32 {
	var v uint32
	for ; n > 0; n-- {
		if rc.rng < 1<<24 {
			rc.rng <<= 8
			rc.code = rc.code<<8 | uint32(rc.in[uint16(rc.pos)])
			rc.pos++
		}
		rc.rng >>= 1
		if rc.code >= rc.rng {
			rc.code -= rc.rng
			v = v<<1 | 1
		} else {
			v <<= 1
		}
	}
	return v
}

// length decodes a match length, 2 to 273.
func (rc rangeDec) length(l *lenCoder, posState uint32) (rangeDec, uint32) {
	var v uint32
	var b1 uint32
	if rc, b1 = rc.bit(&l.choice); b1 == 0 {
		rc, v = rc.tree(l.low[posState][:], 3)
		return rc, 2 + v
	}
	var b2 uint32
	if rc, b2 = rc.bit(&l.choice2); b2 == 0 {
		rc, v = rc.tree(l.mid[posState][:], 3)
		return rc, 2 + lzmaLowSyms + v
	}
	rc, v = rc.tree(l.high[:], 8)
	return rc, 2 + lzmaLowSyms + lzmaMidSyms + v
}

// lzmaState is what carries over between LZMA2 chunks.
type lzmaState struct {
	probs      lzmaProbs
	state      uint32
	rep        [4]uint32
	lc, lp, pb uint
	buf        [1 << 16]byte // the current chunk's input
}

// statePool recycles decoder states: each holds about 90 KiB of
// probabilities and chunk buffer, and modinfo decodes one per module.
var statePool = sync.Pool{New: func() any { return new(lzmaState) }}

// decodeLZMA2 decodes LZMA2 chunks from in into out, which must be
// exactly the size of the decoded data.
func decodeLZMA2(out, in []byte) error {
	s := statePool.Get().(*lzmaState)
	defer statePool.Put(s)
	s.state, s.rep = 0, [4]uint32{}
	pos := 0
	dictStart := 0
	needDict, needProps := true, true
	ip := 0
	for {
		if ip >= len(in) {
			return errXZFormat
		}
		ctl := in[ip]
		ip++
		if ctl == 0 {
			break
		}
		if ctl == 1 || ctl == 2 {
			if ip+2 > len(in) {
				return errXZFormat
			}
			size := int(binary.BigEndian.Uint16(in[ip:])) + 1
			ip += 2
			if ctl == 1 {
				dictStart = pos
				needDict = false
			} else if needDict {
				return errXZFormat
			}
			if ip+size > len(in) || pos+size > len(out) {
				return errXZFormat
			}
			copy(out[pos:], in[ip:ip+size])
			ip += size
			pos += size
			continue
		}
		if ctl < 0x80 {
			return errXZFormat
		}
		if ip+4 > len(in) {
			return errXZFormat
		}
		usize := int(ctl&0x1f)<<16 + int(binary.BigEndian.Uint16(in[ip:])) + 1
		csize := int(binary.BigEndian.Uint16(in[ip+2:])) + 1
		ip += 4
		reset := (ctl >> 5) & 3
		if reset == 3 {
			dictStart = pos
			needDict = false
		} else if needDict {
			return errXZFormat
		}
		if reset >= 2 {
			if ip >= len(in) {
				return errXZFormat
			}
			d := int(in[ip])
			ip++
			if d >= 9*5*5 {
				return errXZFormat
			}
			s.pb = uint(d / 45)
			d %= 45
			s.lp = uint(d / 9)
			s.lc = uint(d % 9)
			if s.lc+s.lp > 4 {
				return errXZFormat
			}
			needProps = false
		} else if needProps {
			return errXZFormat
		}
		if reset >= 1 {
			s.probs.reset(int(s.lc), int(s.lp))
			s.state = 0
			s.rep = [4]uint32{}
		}
		if ip+csize > len(in) || pos+usize > len(out) {
			return errXZFormat
		}
		var err error
		pos, err = s.chunk(out[:pos+usize], pos, dictStart, in[ip:ip+csize])
		if err != nil {
			return err
		}
		ip += csize
	}
	if pos != len(out) {
		return errXZFormat
	}
	return nil
}

// chunk decodes one LZMA chunk: symbols until out is full.
func (s *lzmaState) chunk(out []byte, pos, dictStart int, in []byte) (int, error) {
	var rc rangeDec
	if !rc.init(&s.buf, in) {
		return pos, errXZFormat
	}
	p := &s.probs
	state := s.state
	rep0, rep1, rep2, rep3 := s.rep[0], s.rep[1], s.rep[2], s.rep[3]
	pbMask := uint32(1)<<s.pb - 1
	lpMask := 1<<s.lp - 1
	lc := s.lc
	end := len(out)
	var bit uint32
	for pos < end {
		posState := uint32(pos-dictStart) & pbMask
		if rc, bit = rc.bit(&p.isMatch[state<<4|posState]); bit == 0 {
			// Literal.
			var prev byte
			if pos > dictStart {
				prev = out[pos-1]
			}
			base := 0x300 * (((pos-dictStart)&lpMask)<<lc + int(prev)>>(8-lc))
			probs := (*[0x400]uint16)(p.literal[base : base+0x400])
			// The literal coder, with the range decoder written out in
			// local variables and no branch on the decoded bits (see
			// tree): this loop decodes most of the bits of a module.
			sym := uint32(1)
			rng, code, ipos, ib := rc.rng, rc.code, rc.pos, rc.in
			if state >= 7 {
				// A matched literal follows the bits of the byte at rep0
				// until the first mismatch (offs then drops to 0 and the
				// rest is a plain literal).
				d := int(rep0) + 1
				if d > pos-dictStart {
					return pos, errXZFormat
				}
				match := uint32(out[pos-d])
				offs := uint32(0x100)
				for sym < 0x100 && offs != 0 {
					match <<= 1
					mb := match & offs
					if rng < 1<<24 {
						rng <<= 8
						code = code<<8 | uint32(ib[uint16(ipos)])
						ipos++
					}
					pr := &probs[(offs+mb+sym)&0x3ff]
					pv := uint32(*pr)
					bound := (rng >> 11) * pv
					mask := uint32(int64(uint64(code)-uint64(bound)) >> 63)
					code -= bound &^ mask
					rng = bound&mask | (rng-bound)&^mask
					*pr = uint16(pv - uint32(int32(pv-2048&mask+31&mask)>>5))
					b := mask + 1
					sym = sym<<1 | b
					// 1 keeps offs = mb, 0 clears mb.
					m := -b
					offs = mb&m | (offs^mb)&^m
				}
			}
			for sym < 0x100 {
				if rng < 1<<24 {
					rng <<= 8
					code = code<<8 | uint32(ib[uint16(ipos)])
					ipos++
				}
				pr := &probs[sym&0xff]
				pv := uint32(*pr)
				bound := (rng >> 11) * pv
				mask := uint32(int64(uint64(code)-uint64(bound)) >> 63)
				code -= bound &^ mask
				rng = bound&mask | (rng-bound)&^mask
				*pr = uint16(pv - uint32(int32(pv-2048&mask+31&mask)>>5))
				sym = sym<<1 | (mask + 1)
			}
			rc.rng, rc.code, rc.pos = rng, code, ipos
			out[pos] = byte(sym)
			pos++
			switch {
			case state < 4:
				state = 0
			case state < 10:
				state -= 3
			default:
				state -= 6
			}
			continue
		}
		var length uint32
		if rc, bit = rc.bit(&p.isRep[state]); bit == 0 {
			// A match with a new distance.
			rep3, rep2, rep1 = rep2, rep1, rep0
			rc, length = rc.length(&p.matchLen, posState)
			if state < 7 {
				state = 7
			} else {
				state = 10
			}
			ls := length - 2
			if ls > lzmaDistStates-1 {
				ls = lzmaDistStates - 1
			}
			var slot uint32
			rc, slot = rc.tree(p.distSlot[ls][:], 6)
			if slot < 4 {
				rep0 = slot
			} else {
				nbits := uint(slot>>1) - 1
				dist := (2 | slot&1) << nbits
				if slot < lzmaDistModelEnd {
					base := int(dist) - int(slot)
					var v uint32
					rc, v = rc.reverse(p.distSpecial[base:], nbits)
					dist += v
				} else {
					dist += rc.direct(nbits-lzmaAlignBits) << lzmaAlignBits
					var v uint32
					rc, v = rc.reverse(p.distAlign[:], lzmaAlignBits)
					dist += v
				}
				rep0 = dist
			}
		} else {
			if rc, bit = rc.bit(&p.isRep0[state]); bit == 0 {
				if rc, bit = rc.bit(&p.isRep0Long[state<<4|posState]); bit == 0 {
					// A one-byte repeat of rep0.
					if state < 7 {
						state = 9
					} else {
						state = 11
					}
					d := int(rep0) + 1
					if d > pos-dictStart {
						return pos, errXZFormat
					}
					out[pos] = out[pos-d]
					pos++
					continue
				}
			} else {
				var dist uint32
				if rc, bit = rc.bit(&p.isRep1[state]); bit == 0 {
					dist = rep1
				} else {
					if rc, bit = rc.bit(&p.isRep2[state]); bit == 0 {
						dist = rep2
					} else {
						dist = rep3
						rep3 = rep2
					}
					rep2 = rep1
				}
				rep1 = rep0
				rep0 = dist
			}
			if state < 7 {
				state = 8
			} else {
				state = 11
			}
			rc, length = rc.length(&p.repLen, posState)
		}
		d := int(rep0) + 1
		if rep0 == 0xffffffff || d > pos-dictStart || int(length) > end-pos {
			return pos, errXZFormat
		}
		n := int(length)
		src := pos - d
		if d >= n {
			copy(out[pos:pos+n], out[src:src+n])
		} else {
			for i := 0; i < n; i++ {
				out[pos+i] = out[src+i]
			}
		}
		pos += n
	}
	// Like liblzma, require the chunk's input to be used up exactly, with
	// the range decoder finished: after a last normalisation, code is 0.
	if rc.rng < 1<<24 {
		rc.code = rc.code<<8 | uint32(rc.in[uint16(rc.pos)])
		rc.pos++
	}
	if rc.pos != uint32(len(in)) || rc.code != 0 {
		return pos, fmt.Errorf("%w: chunk input not used up exactly", errXZFormat)
	}
	s.state = state
	s.rep = [4]uint32{rep0, rep1, rep2, rep3}
	return pos, nil
}
