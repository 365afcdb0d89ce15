// Package index is the on-disk form of one partition of the web index: a
// term dictionary sorted by term, with a sparse block index for lookup, the
// terms' posting lists (package postings), and the document table. Files
// are memory-mapped when opened, so opening costs milliseconds whatever the
// index size; only the block index (one term in BlockTerms) is decoded.
//
// Terms file (terms-NNNNN.idx):
//
//	"SSIX" u32 version
//	posting lists, concatenated
//	dictionary: blocks of BlockTerms entries, each entry
//	            uvarint len, term bytes, uvarint df, uvarint offset, uvarint length
//	block index: per block uvarint dictionary offset, uvarint len, first term
//	footer: u64 dict offset, u64 block index offset, u64 block index length,
//	        u32 blocks, u32 CRC-32C of dictionary and block index, "SSIX"
//
// Documents file (docs.idx):
//
//	"SSDT" u32 version u64 count
//	u64 offsets[count+1] (from the start of the records)
//	records: uvarint len, URL, uvarint len, title, u32 length in tokens,
//	         f64 PageRank (little endian), uvarint len, text
//
// The whole index directory (manifest, document table, one terms file per
// partition) is described in docs/index-format.md; Open opens it.
package index
