package uevent

import (
	"bytes"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"
)

// Property is one KEY=VALUE pair of an event.
type Property struct {
	Key, Value string
}

// Event is one kernel uevent.
type Event struct {
	// Action is what happened: add, remove, change, move, online,
	// offline, bind or unbind.
	Action string
	// DevPath is the device's path under /sys, as in the message's header
	// ("/devices/virtual/chardev/chardev").
	DevPath string
	// Properties in the order the kernel sent them, ACTION, DEVPATH and
	// SUBSYSTEM among them.
	Properties []Property
	// Received is when the event was read, on the monotonic clock
	// (CLOCK_MONOTONIC, the clock of the kernel log's timestamps); zero
	// for a parsed message.
	Received time.Duration
}

// Get returns the value of a property and whether the event has it. When
// a key appears twice, the last value counts, as in an environment.
func (e *Event) Get(key string) (string, bool) {
	for i := len(e.Properties) - 1; i >= 0; i-- {
		if e.Properties[i].Key == key {
			return e.Properties[i].Value, true
		}
	}
	return "", false
}

// Value is Get without the flag: "" when the event has no such property.
func (e *Event) Value(key string) string {
	v, _ := e.Get(key)
	return v
}

// Subsystem is the SUBSYSTEM property: the class or bus of the device
// ("chardev", "block", "module").
func (e *Event) Subsystem() string { return e.Value("SUBSYSTEM") }

// Kernel is the device's kernel name: the last element of DevPath, what
// udev's KERNEL key matches.
func (e *Event) Kernel() string { return path.Base(e.DevPath) }

// Environ is the properties as "KEY=VALUE" strings, for a command's
// environment.
func (e *Event) Environ() []string {
	out := make([]string, len(e.Properties))
	for i, p := range e.Properties {
		out[i] = p.Key + "=" + p.Value
	}
	return out
}

// ErrNotKernel is returned by Parse for a message that udev (or another
// program) sent, not the kernel: those start with "libudev\0" and carry a
// binary header.
var ErrNotKernel = errors.New("not a kernel uevent")

// MaxMessage bounds a message: the kernel's own limit is 2048 bytes of
// properties (UEVENT_BUFFER_SIZE) plus the header.
const MaxMessage = 8192

// Parse reads one kernel uevent message: "ACTION@DEVPATH", then
// "KEY=VALUE" strings, each ended by a NUL byte (the last NUL may be
// missing). It checks what a consumer relies on: a header with an action
// and an absolute device path, properties with a key, and ACTION and
// DEVPATH properties, where present, that agree with the header.
func Parse(msg []byte) (*Event, error) {
	if len(msg) > MaxMessage {
		return nil, fmt.Errorf("uevent: message of %d bytes is longer than %d", len(msg), MaxMessage)
	}
	if bytes.HasPrefix(msg, []byte("libudev\x00")) {
		return nil, ErrNotKernel
	}
	fields := bytes.Split(bytes.TrimSuffix(msg, []byte{0}), []byte{0})
	head := string(fields[0])
	action, devpath, ok := strings.Cut(head, "@")
	if !ok {
		return nil, fmt.Errorf("uevent: header %q is not ACTION@DEVPATH", head)
	}
	if action == "" || !validText(action) {
		return nil, fmt.Errorf("uevent: header %q has no action", head)
	}
	if !strings.HasPrefix(devpath, "/") || !validText(devpath) {
		return nil, fmt.Errorf("uevent: header %q has no device path", head)
	}
	e := &Event{Action: action, DevPath: devpath}
	for i, f := range fields[1:] {
		if len(f) == 0 {
			continue
		}
		k, v, ok := bytes.Cut(f, []byte("="))
		if !ok || len(k) == 0 {
			return nil, fmt.Errorf("uevent: property %d of %s is %q, not KEY=VALUE", i+1, head, f)
		}
		if !validKey(k) {
			return nil, fmt.Errorf("uevent: property %d of %s has the key %q", i+1, head, k)
		}
		e.Properties = append(e.Properties, Property{Key: string(k), Value: string(v)})
	}
	if a, ok := e.Get("ACTION"); ok && a != action {
		return nil, fmt.Errorf("uevent: ACTION=%s in a message whose header says %s", a, head)
	}
	if d, ok := e.Get("DEVPATH"); ok && d != devpath {
		return nil, fmt.Errorf("uevent: DEVPATH=%s in a message whose header says %s", d, head)
	}
	return e, nil
}

// validKey: what the kernel and udev use as property names, and what an
// environment can carry (no '=', no control characters, no spaces).
func validKey(k []byte) bool {
	for _, c := range k {
		if c <= ' ' || c == '=' || c >= 0x7f {
			return false
		}
	}
	return true
}

// validText: no control characters (a header is printed on one line).
func validText(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] == 0x7f {
			return false
		}
	}
	return true
}
