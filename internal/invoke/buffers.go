package invoke

import "sync"

// chunkSize is the size of one streamed payload chunk, as in Dapr.
const chunkSize = 64 << 10

// chunkPool recycles chunk buffers so streaming a body allocates nothing
// per chunk on the sending side.
var chunkPool = sync.Pool{New: func() any {
	b := make([]byte, chunkSize)
	return &b
}}

func getChunk() *[]byte { return chunkPool.Get().(*[]byte) }

func putChunk(b *[]byte) {
	if b != nil && cap(*b) == chunkSize {
		*b = (*b)[:chunkSize]
		chunkPool.Put(b)
	}
}
