package s3

// Waiting returns how many transfers wait for a buffer, for the tests
// that need to know one does before they go on.
func (b *Buffers) Waiting() int { return int(b.waiting.Load()) }
