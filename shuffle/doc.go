// Package shuffle is Superstep's data plane between supersteps. It is
// type-agnostic: it moves Arrow record batches whose column 0 is the shuffle
// key (binary, order-preserving key bytes) and never interprets the other
// columns.
//
// A map task writes one file (FileWriter) holding, for each reduce
// partition, zero or more sorted runs of blocks — one run per spill — and an
// index. A block is one record batch as a self-contained Arrow IPC stream
// compressed with zstd or lz4 as a whole, framed with a CRC-32C checksum that readers verify
// before parsing. Reducers read runs (NewRunIterator), merge them by key
// (NewMerger), and bound the number of runs open at once by merging in
// passes through temporary files (MergeAll).
package shuffle
