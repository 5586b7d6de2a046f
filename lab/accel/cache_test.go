package accel

import (
	"encoding/json"
	"testing"
)

func FuzzDecodeEntry(f *testing.F) {
	key := cacheKey{Probe: probeVersion, BootID: "b", QEMU: "/usr/bin/qemu-system-x86_64", QEMUMtime: 1, QEMUSize: 2}
	for _, v := range []verdict{{Usable: true}, {Reason: "no /dev/kvm"}} {
		b, _ := json.Marshal(cacheEntry{Key: key, Verdict: v})
		f.Add(b)
	}
	f.Add([]byte(`{"key":{"probe":1,"boot_id":"b"},"verdict":{"usable":false}}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, ok := decodeEntry(b, key)
		if !ok {
			return
		}
		// A verdict is only ever taken for the key it was made for, and a
		// refusal always says why.
		var e cacheEntry
		if err := json.Unmarshal(b, &e); err != nil || e.Key != key {
			t.Fatalf("decodeEntry took a verdict made for %+v (%v)", e.Key, err)
		}
		if !v.Usable && v.Reason == "" {
			t.Fatalf("decodeEntry took a refusal without a reason")
		}
	})
}
