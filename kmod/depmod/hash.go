package depmod

import "sort"

// superFastHash is Paul Hsieh's hash as kmod's shared/hash.c computes it.
// depmod prints modules.symbols in the iteration order of its symbol hash
// table (and orders modules missing from modules.order by its module hash
// table), so reproducing Debian's files byte for byte needs the same
// function and bucket counts.
func superFastHash(key string) uint32 {
	n := uint32(len(key))
	hash := n
	rem := n & 3
	k := []byte(key)
	u16 := func(i int) uint32 { return uint32(k[i]) | uint32(k[i+1])<<8 }
	i := 0
	for l := n / 4; l > 0; l-- {
		hash += u16(i)
		tmp := (u16(i+2) << 11) ^ hash
		hash = (hash << 16) ^ tmp
		i += 4
		hash += hash >> 11
	}
	switch rem {
	case 3:
		hash += u16(i)
		hash ^= hash << 16
		hash ^= uint32(int32(int8(k[i+2]))) << 18
		hash += hash >> 11
	case 2:
		hash += u16(i)
		hash ^= hash << 11
		hash += hash >> 17
	case 1:
		hash += uint32(int32(int8(k[i])))
		hash ^= hash << 10
		hash += hash >> 1
	}
	hash ^= hash << 3
	hash += hash >> 5
	hash ^= hash << 4
	hash += hash >> 17
	hash ^= hash << 25
	hash += hash >> 6
	return hash
}

// hashOrder sorts keys in the iteration order of a kmod hash table with
// nBuckets buckets (a power of two): by bucket, then by strcmp order.
func hashOrder(keys []string, nBuckets uint32) {
	type kb struct {
		k string
		b uint32
	}
	tmp := make([]kb, len(keys))
	for i, k := range keys {
		tmp[i] = kb{k, superFastHash(k) & (nBuckets - 1)}
	}
	sort.Slice(tmp, func(i, j int) bool {
		if tmp[i].b != tmp[j].b {
			return tmp[i].b < tmp[j].b
		}
		return tmp[i].k < tmp[j].k
	})
	for i := range tmp {
		keys[i] = tmp[i].k
	}
}
