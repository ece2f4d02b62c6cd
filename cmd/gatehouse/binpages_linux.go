package main

import (
	"bufio"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// releaseBinaryPages drops this process's mappings of its own binary's
// read-only pages (code and read-only data) and returns how many bytes were
// mapped. They are clean copies of the executable file: the kernel keeps
// them in the page cache and maps them back on the next use, so dropping
// them loses nothing. What it changes is the resident set: start-up runs
// code that serving never runs again (the store's migrations, the SQL
// driver's and the libraries' initialization, the policy's parsing), and
// its pages, mapped in 64 KiB runs, would otherwise stay counted for the
// life of the process; after a drop only what serving uses comes back.
//
// Only mappings that are not writable and hold no private (anonymous) page
// are dropped: a page the process changed, such as relocated data of a
// position-independent binary, exists nowhere else.
func releaseBinaryPages() int64 {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return 0
	}
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return 0
	}
	defer f.Close()
	var released int64
	for _, m := range binaryMappings(f, exe) {
		if _, _, errno := syscall.Syscall(syscall.SYS_MADVISE, m.start, m.end-m.start, syscall.MADV_DONTNEED); errno == 0 {
			released += int64(m.end - m.start)
		}
	}
	return released
}

// mapping is an address range of /proc/self/smaps.
type mapping struct{ start, end uintptr }

// binaryMappings returns the ranges of smaps (the content of
// /proc/self/smaps) that map the file exe read-only and hold no anonymous
// page.
func binaryMappings(smaps io.Reader, exe string) []mapping {
	var out []mapping
	var cur mapping
	candidate := false
	sc := bufio.NewScanner(smaps)
	for sc.Scan() {
		line := sc.Text()
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if addr, ok := strings.CutSuffix(f[0], ":"); ok && !strings.Contains(addr, "-") {
			// A field of the current mapping ("Anonymous:   0 kB").
			if addr == "Anonymous" && candidate && (len(f) < 2 || f[1] != "0") {
				candidate = false
			}
			continue
		}
		// A mapping's header: range perms offset dev inode [path].
		if candidate {
			out = append(out, cur)
		}
		candidate = false
		lo, hi, ok := strings.Cut(f[0], "-")
		if !ok || len(f) < 6 || f[5] != exe || len(f[1]) < 2 || f[1][1] == 'w' {
			continue
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			continue
		}
		cur, candidate = mapping{uintptr(start), uintptr(end)}, true
	}
	if candidate {
		out = append(out, cur)
	}
	return out
}
