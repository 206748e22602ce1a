//go:build race

package rawsock

// The race detector learns that a write on one socket happens before the
// read that receives it from annotations in package syscall's Read and
// Write. Raw calls carry none, so a race-enabled build keeps the net
// package's I/O and the detector's view of the program.
const raceEnabled = true
