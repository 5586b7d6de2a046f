#!/usr/bin/env python3
# Regenerates the dmesg fixture (../root/dev/kmsg, ../root/proc/stat) and
# the golden outputs (*.golden) from the kernel log of the machine it runs
# on, with util-linux's dmesg as the reference.
#
# It needs root and a kernel with /dev/kmsg: it WRITES test records into
# the machine's kernel log. For each option set it runs the real dmesg
# before and after writing; the golden output is what the new records
# added. The fixture holds exactly those records.
#
#   sudo python3 internal/cli/testdata/loaded/dmesg/gen.py
import os, re, subprocess, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "root")

# name -> dmesg arguments. The tests read this list from cases.txt.
CASES = {
    "default": [],
    "decode": ["-x"],
    "raw": ["-r"],
    "notime": ["-t"],
    "level": ["-l", "err,warn"],
    "level-num": ["--level=7,0"],
    "facility": ["-f", "daemon,user"],
    "kernel": ["-k"],
    "userspace": ["-u", "-x"],
    "json": ["--json"],
    "json-decode": ["-J", "-x"],
    "ctime": ["-T"],
    "ctime-berlin": ["-T"],
    "iso": ["--time-format", "iso"],
    "delta": ["-d"],
    "delta-only": ["--time-format", "delta"],
    "force-prefix": ["-p", "-x"],
    "raw-prefix": ["-r", "-p"],
    "noescape": ["--noescape", "-t"],
    "decode-notime": ["-xt"],
}
TZ = {"ctime-berlin": "Europe/Berlin"}

RECORDS = [
    b"<14>modlab-fixture: start",
    b"<11>modlab-fixture: an error line",
    b"<12>modlab-fixture: a warning",
    b"<30>daemon[1]: userspace message through the daemon facility",
    b"<14>modlab-fixture: first line\nsecond line\n  third line, indented",
    b"<14>modlab-fixture: tab\there bell\x07 escape\x1b del\x7f",
    b"<14>modlab-fixture: unicode \xc3\xbcn\xc3\xafc\xc3\xb6d\xc3\xa9 \xe2\x9c\x93",
    b"<14>modlab-fixture: invalid utf-8 \xff\xfe end",
    None,  # pause: /dev/kmsg writers are rate-limited to 10 per 5 s
    b"<14>modlab-fixture: back\\slash \"quoted\" and \\x41 literal",
    b"<134>local0 facility message",
    b"<15>modlab-fixture: debug level",
    b"<8>modlab-fixture: emerg level of the user facility",
    b"<14>modlab-fixture: blank line inside\n\nafter blank",
    b"<86>authpriv message",
    "drop_caches",  # a kernel-facility record
    b"<14>modlab-fixture: end",
]


def dmesg(name):
    env = dict(os.environ, TZ=TZ.get(name, "UTC"), LC_ALL="C.UTF-8")
    return subprocess.run(["dmesg"] + CASES[name], env=env, check=True,
                          capture_output=True).stdout


def golden_fixer(dump):
    """Two deliberate differences from bookworm's dmesg 2.38 are applied to
    its output here:

    - "<N>" of --raw and "pri" of --json: 2.38 prints facility|level (a bug,
      fixed upstream in "dmesg: -r LOG_MAKEPRI needs fac << 3"); modlab
      prints (facility << 3) | level, the kernel's own value. They agree for
      kernel (facility 0) records. For facilities dmesg has no name for
      (local0 and up) 2.38 prints -1; modlab prints the record's priority.
      Continuation lines are indented to the (possibly longer) prefix.
    - the delta of the first record (-d): the reference saw the records
      before the fixture's first one; in the fixture there are none, so it
      is 0.
    """
    prio = {}
    for rec in dump.split(b"\n"):
        if rec and not rec.startswith(b" "):
            f = rec.split(b";")[0].split(b",")
            us = int(f[2])
            prio[b"%5d.%06d" % (us // 1000000, us % 1000000)] = int(f[0])

    def fix(name, gold):
        if name.startswith("raw"):
            out, indent = [], None
            for line in gold.split(b"\n"):
                m = re.match(rb"^<-?\d+>\[([ \d.]+)\] ", line)
                if m:
                    pre = b"<%d>[%s] " % (prio[m.group(1)], m.group(1))
                    old_indent, indent = len(m.group(0)), len(pre)
                    line = pre + line[len(m.group(0)):]
                elif indent is not None and line.startswith(b" " * old_indent):
                    line = b" " * indent + line[old_indent:]
                out.append(line)
            gold = b"\n".join(out)
        if name == "json":
            gold = re.sub(rb'"pri": \d+,\n( +)"time": ([ \d.]+),',
                          lambda m: b'"pri": %d,\n%s"time": %s,' % (
                              prio[m.group(2)], m.group(1), m.group(2)), gold)
        if name.startswith("delta"):
            gold = re.sub(rb"<[ \d.]+>", b"<    0.000000>", gold, count=1)
        return gold
    return fix


def main():
    with open("/dev/kmsg", "rb", buffering=0) as f:
        os.set_blocking(f.fileno(), False)
        last = -1
        while True:
            try:
                rec = f.read(8192)
            except BlockingIOError:
                break
            except BrokenPipeError:
                continue
            if rec is None:
                break
            if rec:
                last = int(rec.split(b",")[1])
    before = {n: dmesg(n) for n in CASES}
    fd = os.open("/dev/kmsg", os.O_WRONLY)
    for r in RECORDS:
        if r is None:
            time.sleep(6)
        elif r == "drop_caches":
            with open("/proc/sys/vm/drop_caches", "w") as d:
                d.write("1")
        else:
            os.write(fd, r)
    os.close(fd)
    time.sleep(0.2)
    # The fixture: every record after `last`, as /dev/kmsg hands them out.
    dump = b""
    with open("/dev/kmsg", "rb", buffering=0) as f:
        os.set_blocking(f.fileno(), False)
        while True:
            try:
                rec = f.read(8192)
            except BlockingIOError:
                break
            except BrokenPipeError:
                continue
            if rec is None:
                break
            if rec and int(rec.split(b",")[1]) > last:
                dump += rec
    # dmesg ignores the dictionary; give the kernel record one anyway so
    # the fixture exercises it (records written from user space have none).
    dump = dump.replace(b": drop_caches: 1\n",
                        b": drop_caches: 1\n SUBSYSTEM=modlab\n DEVICE=+modlab:fixture\n")
    with open(os.path.join(ROOT, "dev", "kmsg"), "wb") as f:
        f.write(dump)
    # util-linux's boot time: now - CLOCK_BOOTTIME (+ suspended time).
    now = time.time()
    boot = int(now - time.clock_gettime(time.CLOCK_BOOTTIME)) + int(
        time.clock_gettime(time.CLOCK_BOOTTIME) - time.clock_gettime(time.CLOCK_MONOTONIC))
    with open(os.path.join(ROOT, "proc", "stat"), "w") as f:
        f.write("cpu  1 0 1 100 0 0 0 0 0 0\nbtime %d\nprocesses 1\n" % boot)
    with open(os.path.join(HERE, "cases.txt"), "w") as f:
        for n, args in CASES.items():
            f.write("%s TZ=%s %s\n" % (n, TZ.get(n, "UTC"), " ".join(args)))
    fix_golden = golden_fixer(dump)
    for n in CASES:
        after = dmesg(n)
        b = before[n]
        if n.startswith("json"):
            # JSON output is one document: rebuild it from the new objects.
            head = b'{\n   "dmesg": [\n'
            objs = after[len(head):].rsplit(b"\n   ]\n}\n", 1)[0].split(b"},{\n")
            nold = b.count(b"},{\n") + 1 if b else 0
            new = objs[nold:]
            if nold:
                new[0] = b"      {\n" + new[0]
            gold = head + b"},{\n".join(new) + b"\n   ]\n}\n" if new else b""
        else:
            if not after.startswith(b):
                sys.exit("%s: the output before the new records changed" % n)
            gold = after[len(b):]
        with open(os.path.join(HERE, n + ".golden"), "wb") as f:
            f.write(fix_golden(n, gold))


main()
