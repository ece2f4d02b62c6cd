package main

import (
	"slices"
	"strings"
	"testing"
)

func TestBinaryMappingsOnlyCleanReadOnlyPagesOfTheBinary(t *testing.T) {
	const smaps = `00400000-015b6000 r-xp 00000000 fe:00 9992120                            /usr/bin/gatehouse
Size:              18136 kB
Rss:               12948 kB
Anonymous:             0 kB
015b6000-02878000 r--p 011b6000 fe:00 9992120                            /usr/bin/gatehouse
Size:              19208 kB
Anonymous:             0 kB
02878000-02938000 rw-p 02478000 fe:00 9992120                            /usr/bin/gatehouse
Anonymous:           216 kB
02938000-02940000 r--p 02538000 fe:00 9992120                            /usr/bin/gatehouse
Anonymous:             8 kB
7f0000000000-7f0000100000 r-xp 00000000 fe:00 123                        /usr/lib/libc.so.6
Anonymous:             0 kB
7f0000200000-7f0000300000 rw-p 00000000 00:00 0 
Anonymous:          1024 kB
7f0000400000-7f0000500000 r--p 00000000 fe:00 9992120                    /usr/bin/gatehouse-other
Anonymous:             0 kB
7f0000600000-7f0000601000 r--p 00000000 fe:00 9992120                    /usr/bin/gatehouse`
	got := binaryMappings(strings.NewReader(smaps), "/usr/bin/gatehouse")
	want := []mapping{{0x400000, 0x15b6000}, {0x15b6000, 0x2878000}, {0x7f0000600000, 0x7f0000601000}}
	if !slices.Equal(got, want) {
		t.Fatalf("binaryMappings = %x, want %x (the writable mapping, the one with private pages, other files and anonymous memory stay)", got, want)
	}
}

func TestReleaseBinaryPagesKeepsTheProcessRunning(t *testing.T) {
	if releaseBinaryPages() <= 0 {
		t.Fatal("releaseBinaryPages dropped nothing: the test binary's own code was not found in /proc/self/smaps")
	}
	// The code and data dropped come back on use.
	if got := gcPercent(8 << 20); got != 200 {
		t.Fatalf("gcPercent after the release = %d, want 200", got)
	}
}
