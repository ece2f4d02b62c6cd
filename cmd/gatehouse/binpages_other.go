//go:build !linux

package main

// releaseBinaryPages does nothing outside Linux.
func releaseBinaryPages() int64 { return 0 }
