package main

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// memLimitShare is the part of the container's memory limit given to the
// Go runtime as its soft limit (GOMEMLIMIT): the rest is for what the
// runtime does not count (the binary's pages, thread stacks outside the
// heap, the kernel's socket buffers charged to the cgroup), and at least
// memLimitReserve of it.
const memLimitShare = 0.9

// memLimitReserve is the least part of the container's limit kept out of
// the soft limit: the binary's own pages alone are about 27 MiB.
const memLimitReserve = 32 << 20

// memLimitFloor is the smallest soft limit worth setting: below it the
// heap of a loaded sidecar (and a password check's 19 MiB) would keep the
// collector running all the time; the container's own limit is left to
// decide then.
const memLimitFloor = 48 << 20

// noLimit is where a cgroup v1 limit means "unlimited": the kernel reports
// a page-rounded maximum int64 (9223372036854771712), never a real size.
const noLimit = 1 << 62

// cgroupMemoryLimit returns the memory limit of the cgroup this process
// runs in, in bytes, and whether there is one. root is where the cgroup
// file system is mounted (/sys/fs/cgroup) and self is the content of
// /proc/self/cgroup.
//
// It is a small reader of two files rather than a dependency
// (automemlimit): the binary needs only the limit of its own cgroup, which
// cgroup v2 keeps in memory.max and v1 in memory.limit_in_bytes, at the
// path /proc/self/cgroup names (or at the mount's root inside a container
// with its own cgroup namespace, where that path is "/").
func cgroupMemoryLimit(root string, self []byte) (int64, bool) {
	var v2, v1 string // the process's cgroup paths
	haveV2, haveV1 := false, false
	sc := bufio.NewScanner(bytes.NewReader(self))
	for sc.Scan() {
		// hierarchy-ID:controller-list:path
		f := strings.SplitN(sc.Text(), ":", 3)
		if len(f) != 3 {
			continue
		}
		switch {
		case f[0] == "0" && f[1] == "":
			v2, haveV2 = f[2], true
		case containsController(f[1], "memory"):
			v1, haveV1 = f[2], true
		}
	}
	// A v1 memory controller wins over the v2 line of a hybrid mount,
	// which then holds no memory controller.
	if haveV1 {
		for _, dir := range candidates(filepath.Join(root, "memory"), v1) {
			if n, ok := readLimit(filepath.Join(dir, "memory.limit_in_bytes")); ok {
				return n, n < noLimit
			}
		}
	}
	if haveV2 {
		for _, dir := range candidates(root, v2) {
			if n, ok := readLimit(filepath.Join(dir, "memory.max")); ok {
				return n, n < noLimit
			}
		}
	}
	return 0, false
}

// candidates are the directories that may hold a cgroup's files: at its
// path under the mount, then the mount's root (a container's namespaced
// view, where the host's path does not exist).
func candidates(mount, path string) []string {
	dirs := []string{filepath.Join(mount, filepath.Clean("/"+path))}
	if dirs[0] != filepath.Clean(mount) {
		dirs = append(dirs, mount)
	}
	return dirs
}

func containsController(list, name string) bool {
	for c := range strings.SplitSeq(list, ",") {
		if c == name {
			return true
		}
	}
	return false
}

// readLimit reads a limit file: a number of bytes, or "max" (v2's
// unlimited). ok is false when the file is missing or unreadable.
func readLimit(file string) (int64, bool) {
	data, err := os.ReadFile(file)
	if err != nil {
		return 0, false
	}
	s := strings.TrimSpace(string(data))
	if s == "max" {
		return noLimit, true
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, false
	}
	return n, true
}

// memoryLimit is the soft memory limit serve sets: memLimitShare of the
// cgroup's limit, keeping at least memLimitReserve out of it, and the
// cgroup's limit. It is 0 (none) when the operator set GOMEMLIMIT (the
// runtime has applied it already, and it wins), when there is no limit,
// or when the soft limit would be under memLimitFloor.
func memoryLimit(gomemlimit string, root string, self []byte) (soft, container int64) {
	if gomemlimit != "" {
		return 0, 0
	}
	n, ok := cgroupMemoryLimit(root, self)
	if !ok {
		return 0, 0
	}
	soft = min(int64(float64(n)*memLimitShare), n-memLimitReserve)
	if soft < memLimitFloor {
		return 0, n
	}
	return soft, n
}
