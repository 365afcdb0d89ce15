package bsp

// SetMessagePlane turns the in-memory message plane on or off for the
// tests of this package and returns how many supersteps ran from published
// blocks so far.
func SetMessagePlane(on bool) int64 {
	planeOff.Store(!on)
	return planeHits.Load()
}
